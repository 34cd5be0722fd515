//! Housekeeping jobs that go through use cases, beside the storage's own
//! (see `infra::housekeeping`).

use crate::services::Services;
use async_trait::async_trait;
use domain::invitation::EmailRetry;
use infra::db::Storage;
use infra::housekeeping::{Job, tenants_in_service};
use std::sync::Arc;
use std::time::Duration;

/// Every tenant's failed invitation emails, sent again when due; not while
/// a tenant is suspended or deleted (they go once it is back, if still due).
pub struct RetryInvitationEmails {
    pub services: Arc<Services>,
    pub storage: Storage,
    pub retry: EmailRetry,
    pub every: Duration,
}

#[async_trait]
impl Job for RetryInvitationEmails {
    fn name(&self) -> &'static str {
        "retry_invitation_emails"
    }

    fn every(&self) -> Duration {
        self.every
    }

    async fn run(&self) -> domain::Result<u64> {
        let mut sent = 0;
        for ctx in tenants_in_service(&self.storage).await? {
            match self
                .services
                .invitations()
                .retry_failed_emails(&ctx, &self.retry)
                .await
            {
                Ok(n) => sent += n,
                // A tenant being moved or deleted is tried at the next turn.
                Err(e) => {
                    tracing::debug!(tenant = %ctx.tenant_id(), error = %e, "retrying invitation emails: tenant skipped");
                }
            }
        }
        Ok(sent)
    }
}

/// Deleted tenants whose grace period is over, purged with everything they
/// hold (see `domain::deletion`).
pub struct PurgeDeletedTenants {
    pub services: Arc<Services>,
    pub lifecycle: Arc<dyn domain::lifecycle::TenantLifecycle>,
    pub every: Duration,
}

#[async_trait]
impl Job for PurgeDeletedTenants {
    fn name(&self) -> &'static str {
        "purge_deleted_tenants"
    }

    fn every(&self) -> Duration {
        self.every
    }

    async fn run(&self) -> domain::Result<u64> {
        let (purged, failed) = domain::deletion::purge_due(
            &*self.services.operators,
            &*self.lifecycle,
            chrono::Utc::now(),
        )
        .await?;
        // Deletion can be repeated: a failed one is tried again next run.
        for (tenant, e) in failed {
            tracing::warn!(tenant = %tenant.id, error = %e, "purging a deleted tenant failed");
        }
        Ok(purged)
    }
}
