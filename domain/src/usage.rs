//! What a tenant holds, for its owners to see beside its limits.

use crate::error::Result;
use crate::plan::Stored;
use crate::ports::{Memberships, Tenancy, TenantTx, TxMode};
use crate::project::ProjectFilter;
use crate::task::TaskFilter;
use crate::tenancy::TenantContext;

/// Counts of the context's tenant; live projects and their tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantUsage {
    pub members: u64,
    pub projects: u64,
    pub tasks: u64,
    pub webhooks: u64,
    /// Projects and tasks as the plan counts them: deleted ones included
    /// until they are purged.
    pub stored_projects: u64,
    pub stored_tasks: u64,
}

/// Reads the counts in one tenant transaction (and the members from the
/// control plane).
///
/// # Errors
/// When a store fails.
pub async fn usage(
    tenancy: &dyn Tenancy,
    memberships: &dyn Memberships,
    ctx: &TenantContext,
) -> Result<TenantUsage> {
    let members = memberships.member_ids(ctx.tenant_id()).await?.len() as u64;
    let tx = tenancy.begin(ctx, TxMode::Read).await?;
    let stored = stored_in(&*tx).await?;
    Ok(TenantUsage {
        members,
        projects: tx.count_projects(&ProjectFilter::default()).await?,
        tasks: tx.count_tasks(&TaskFilter::default()).await?,
        webhooks: tx.webhooks().await?.len() as u64,
        stored_projects: stored.projects,
        stored_tasks: stored.tasks,
    })
}

/// Projects and tasks as the plan counts them: deleted ones included until
/// they are purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRows {
    pub projects: u64,
    pub tasks: u64,
}

/// The stored rows of the context's tenant, in one read transaction: what
/// operators see beside its limits (with a system context, as they are no
/// member).
///
/// # Errors
/// When the store fails.
pub async fn stored_rows(tenancy: &dyn Tenancy, ctx: &TenantContext) -> Result<StoredRows> {
    let tx = tenancy.begin(ctx, TxMode::Read).await?;
    stored_in(&*tx).await
}

async fn stored_in(tx: &dyn TenantTx) -> Result<StoredRows> {
    Ok(StoredRows {
        projects: tx.stored(Stored::Projects, u32::MAX).await?,
        tasks: tx.stored(Stored::Tasks, u32::MAX).await?,
    })
}
