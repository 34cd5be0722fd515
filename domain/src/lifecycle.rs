//! Deleting a tenant and everything it owns, in an order that leaves nothing
//! behind and can be run again if it stops half-way.

use crate::error::Result;
use crate::identity::Tenant;
use crate::ports::{Directory, Tenancy, TxMode};
use crate::tenancy::{Isolation, TenantContext};

/// Purges the tenant's data, removes its control-plane rows (members,
/// sessions, roles, its schema, the tenant itself, leaving an audit record),
/// then purges the shared tables once more for rows written meanwhile by
/// requests that had already passed their membership check. Until the second
/// step the tenant still exists, so a failed run can be repeated. Returns
/// the tenant-plane rows removed.
///
/// # Errors
/// When a store fails.
pub async fn delete_tenant(
    tenancy: &dyn Tenancy,
    directory: &dyn Directory,
    tenant: &Tenant,
) -> Result<u64> {
    let ctx = TenantContext::system(tenant.id, tenant.isolation);
    let purge = || async {
        let tx = tenancy.begin(&ctx, TxMode::Write).await?;
        let n = tx.purge().await?;
        tx.commit().await?;
        Ok::<_, crate::Error>(n)
    };
    let mut removed = purge().await?;
    directory.delete_tenant(tenant.id).await?;
    // A schema tenant's late rows went with its schema.
    if tenant.isolation == Isolation::Row {
        removed += purge().await?;
    }
    Ok(removed)
}
