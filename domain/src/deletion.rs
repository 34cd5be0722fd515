//! Deleting a tenant with a grace period: an owner (naming its slug to
//! confirm) or an operator marks it deleted; its members are refused
//! `TENANT_DELETED` at once, on every node; an operator can restore it
//! (`resumeTenant`) until the purge job deletes it for good once
//! `purge_after` has passed (see [`crate::lifecycle::delete_tenant`]).

use crate::error::{Error, Result};
use crate::identity::Tenant;
use crate::lifecycle::TenantLifecycle;
use crate::operator::{OperatorContext, Operators, TenantSummary};
use crate::ports::Directory;
use crate::tenancy::TenantContext;
use crate::{TenantId, UserId};
use chrono::{DateTime, Duration, Utc};

/// Deletion use cases.
pub struct Deletions<'a> {
    pub operators: &'a dyn Operators,
    pub directory: &'a dyn Directory,
    /// How long a deleted tenant can be restored.
    pub grace: Duration,
}

impl Deletions<'_> {
    /// An owner deletes the request's tenant; returns when it is purged.
    ///
    /// # Errors
    /// `Forbidden` without a signed-in member; `BAD_USER_INPUT` on
    /// `confirmSlug` when it is not the tenant's slug.
    pub async fn by_owner(&self, ctx: &TenantContext, confirm_slug: &str) -> Result<DateTime<Utc>> {
        let actor = ctx.user_id().ok_or(Error::Forbidden)?;
        let tenant = self.directory.tenant(ctx.tenant_id()).await?;
        if confirm_slug != tenant.slug.as_str() {
            return Err(Error::invalid(
                "confirmSlug",
                "type the tenant's slug to confirm its deletion",
            ));
        }
        let done = self.schedule(actor, tenant.id, None).await?;
        done.tenant
            .purge_after
            .ok_or_else(|| Error::unexpected("no purge time"))
    }

    /// An operator deletes a tenant.
    ///
    /// # Errors
    /// `NotFound(Tenant)`; `CONFLICT` when it is deleted already.
    pub async fn by_operator(
        &self,
        operator: &OperatorContext,
        tenant: TenantId,
        reason: Option<&str>,
    ) -> Result<TenantSummary> {
        let reason = crate::operator::recorded_reason(reason)?;
        self.schedule(operator.user_id, tenant, reason).await
    }

    async fn schedule(
        &self,
        actor: UserId,
        tenant: TenantId,
        reason: Option<&str>,
    ) -> Result<TenantSummary> {
        self.operators
            .schedule_deletion(actor, tenant, Utc::now() + self.grace, reason)
            .await
    }
}

/// Deletes every tenant whose grace period is over; returns how many went.
/// One that fails is left for the next run (deletion can be repeated).
///
/// # Errors
/// When the list of due tenants cannot be read.
pub async fn purge_due(
    operators: &dyn Operators,
    lifecycle: &dyn TenantLifecycle,
    now: DateTime<Utc>,
) -> Result<(u64, Vec<(Tenant, Error)>)> {
    let mut purged = 0;
    let mut failed = Vec::new();
    for tenant in operators.due_for_purge(now).await? {
        match lifecycle.delete(&tenant).await {
            Ok(_) => purged += 1,
            Err(e) => failed.push((tenant, e)),
        }
    }
    Ok((purged, failed))
}
