//! The Redis side of following other nodes' authorization changes.

use crate::redis_conn::{Followed, follow};
use std::ops::ControlFlow;
use tokio::sync::mpsc::Sender;

/// Subscribes to `channel` and wakes the syncer on every message, and on every
/// (re)subscription to catch up on what was missed (see [`follow`]). Ends
/// when the syncer is gone.
pub async fn subscribe(client: redis::Client, channel: String, wake: Sender<()>) {
    let closed = {
        let wake = wake.clone();
        async move { wake.closed().await }
    };
    follow(
        client,
        channel,
        "authorization channel",
        closed,
        |_: Followed| {
            // Full means a sync is already due: nothing lost.
            match wake.try_send(()) {
                Err(tokio::sync::mpsc::error::TrySendError::Closed(())) => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        },
    )
    .await;
}
