//! The Redis side of following other nodes' authorization changes.

use futures::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc::Sender;

/// Subscribes to `channel` and wakes the syncer on every message, reconnecting
/// with a growing pause when Redis goes away. Ends when the syncer is gone.
pub async fn subscribe(client: redis::Client, channel: String, wake: Sender<()>) {
    let mut pause = Duration::from_millis(250);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    pause = Duration::from_millis(250);
                    // Changes made while unsubscribed: catch up at once.
                    if wake.try_send(()).is_err() && wake.is_closed() {
                        return;
                    }
                    let mut messages = pubsub.on_message();
                    loop {
                        tokio::select! {
                            m = messages.next() => if m.is_none() { break },
                            () = wake.closed() => return,
                        }
                        // Full means a sync is already due: nothing lost.
                        let _ = wake.try_send(());
                    }
                }
                Err(e) => tracing::warn!(error = %e, "authorization channel: subscribe failed"),
            },
            Err(e) => tracing::warn!(error = %e, "authorization channel: Redis unreachable"),
        }
        if wake.is_closed() {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}
