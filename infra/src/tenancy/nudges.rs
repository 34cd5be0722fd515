//! Nudges: a commit that wrote outbox events names its tenant here, and this
//! node's outbox worker visits it at once instead of at its next sweep.
//!
//! A node that runs a worker also hands its sink here: a commit whose events
//! need no webhook delivery and wait behind no older ones then publishes them
//! itself (see `Bound::commit`), and neither writes them to the outbox nor
//! wakes the worker.

use crate::outbox::EventSink;
use domain::{Isolation, TenantContext, TenantId};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Tenants whose commits on this node wrote events, for the worker to visit now.
#[derive(Default)]
pub struct Nudges {
    pending: Mutex<HashMap<TenantId, Isolation>>,
    notify: tokio::sync::Notify,
    direct: OnceLock<EventSink>,
}

impl Nudges {
    pub(crate) fn nudge(&self, ctx: &TenantContext) {
        self.pending
            .lock()
            .expect("nudges lock")
            .insert(ctx.tenant_id(), ctx.isolation());
        self.notify.notify_one();
    }

    /// Until a tenant is nudged.
    pub(crate) async fn notified(&self) {
        self.notify.notified().await;
    }

    pub(crate) fn drain(&self) -> Vec<(TenantId, Isolation)> {
        self.pending.lock().expect("nudges lock").drain().collect()
    }

    /// Lets commits publish their own events through `sink` (the worker's).
    pub(crate) fn relay_directly(&self, sink: EventSink) {
        // A node runs one worker; a second one's sink is the same hub anyway.
        let _ = self.direct.set(sink);
    }

    /// Where a commit may publish its own events, if this node relays.
    pub(crate) fn direct(&self) -> Option<&EventSink> {
        self.direct.get()
    }
}
