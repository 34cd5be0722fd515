//! Pruning what a tenant no longer needs, for the housekeeping job.

use super::{Check, SqlTenancy};
use crate::entities::idempotency_key as key_row;
use crate::entities::invitation;
use chrono::{DateTime, Utc};
use domain::ports::{TenantTx, TxMode};
use domain::{Result, TenantContext};
use sea_orm::{ColumnTrait, QueryFilter};

impl SqlTenancy {
    /// Deletes the tenant's idempotency keys made before `keys_before` and
    /// its unaccepted invitations that expired before `invitations_before`,
    /// in one transaction; returns how many rows went.
    ///
    /// # Errors
    /// Storage errors; a retry is asked for while the tenant moves.
    pub async fn prune_tenant_data(
        &self,
        ctx: &TenantContext,
        keys_before: DateTime<Utc>,
        invitations_before: DateTime<Utc>,
    ) -> Result<u64> {
        let tx = self
            .open(ctx, TxMode::Write, None, Check::LockAndDirectory)
            .await?;
        let keys = tx
            .exec_delete(
                tx.delete::<key_row::Entity>()
                    .and(|q| q.filter(key_row::Column::CreatedAt.lt(keys_before))),
            )
            .await?;
        let invitations = tx
            .exec_delete(tx.delete::<invitation::Entity>().and(|q| {
                q.filter(invitation::Column::AcceptedAt.is_null())
                    .filter(invitation::Column::ExpiresAt.lt(invitations_before))
            }))
            .await?;
        Box::new(tx).commit().await?;
        Ok(keys + invitations)
    }
}
