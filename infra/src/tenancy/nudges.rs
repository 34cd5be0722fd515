//! Nudges: a commit that wrote outbox events names its tenant here, and this
//! node's outbox worker visits it at once instead of at its next sweep.

use domain::{Isolation, TenantContext, TenantId};
use std::collections::HashMap;
use std::sync::Mutex;

/// Tenants whose commits on this node wrote events, for the worker to visit now.
#[derive(Default)]
pub struct Nudges {
    pending: Mutex<HashMap<TenantId, Isolation>>,
    notify: tokio::sync::Notify,
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
}
