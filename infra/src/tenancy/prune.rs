//! Pruning what a tenant no longer needs, for the housekeeping job.

use super::{Check, SqlTenancy};
use crate::entities::idempotency_key as key_row;
use crate::entities::{invitation, project, task};
use chrono::{DateTime, Utc};
use domain::ports::{TenantTx, TxMode};
use domain::{Result, TenantContext};
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};

/// What goes: made (keys), expired (invitations) or deleted (projects)
/// before these times.
pub struct Before {
    pub keys: DateTime<Utc>,
    pub invitations: DateTime<Utc>,
    pub deleted_projects: DateTime<Utc>,
}

/// Projects purged per statement, so an id list stays a bounded parameter list.
const PURGE_BATCH: u64 = 500;

impl SqlTenancy {
    /// Deletes the tenant's idempotency keys, unaccepted invitations and
    /// soft-deleted projects (their tasks first) from before `before`, in
    /// one transaction; returns how many rows went.
    ///
    /// # Errors
    /// Storage errors; a retry is asked for while the tenant moves.
    pub async fn prune_tenant_data(&self, ctx: &TenantContext, before: &Before) -> Result<u64> {
        let tx = self
            .open(ctx, TxMode::Write, None, Check::LockAndDirectory)
            .await?;
        let keys = tx
            .exec_delete(
                tx.delete::<key_row::Entity>()
                    .and(|q| q.filter(key_row::Column::CreatedAt.lt(before.keys))),
            )
            .await?;
        let invitations = tx
            .exec_delete(tx.delete::<invitation::Entity>().and(|q| {
                q.filter(invitation::Column::AcceptedAt.is_null())
                    .filter(invitation::Column::ExpiresAt.lt(before.invitations))
            }))
            .await?;
        let mut purged = 0;
        loop {
            let ids: Vec<uuid::Uuid> = tx
                .all(tx.select::<project::Entity>().and(|q| {
                    q.filter(project::Column::DeletedAt.lt(before.deleted_projects))
                        .limit(PURGE_BATCH)
                }))
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect();
            if ids.is_empty() {
                break;
            }
            purged += tx
                .exec_delete(
                    tx.delete::<task::Entity>()
                        .and(|q| q.filter(task::Column::ProjectId.is_in(ids.clone()))),
                )
                .await?;
            purged += tx
                .exec_delete(
                    tx.delete::<project::Entity>()
                        .and(|q| q.filter(project::Column::Id.is_in(ids))),
                )
                .await?;
        }
        Box::new(tx).commit().await?;
        Ok(keys + invitations + purged)
    }
}
