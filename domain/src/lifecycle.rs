//! A tenant's life after it is made: moved between strategies and servers,
//! exported, deleted (in an order that leaves nothing behind and can be run
//! again if it stops half-way), and storage no tenant owns collected. One
//! port, [`TenantLifecycle`], for whoever drives it: the CLI today, an
//! operator's API tomorrow.

use crate::error::Result;
use crate::identity::Tenant;
use crate::ids::TenantId;
use crate::moves::{MovePlan, MoveProgress};
use crate::ports::{Directory, Tenancy, TxMode};
use crate::tenancy::{Isolation, TenantContext};
use crate::usage::StoredRows;
use async_trait::async_trait;
use std::time::Duration;

/// What a move copied, table by table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub from: Isolation,
    pub to: Isolation,
    /// Where it lives now: `public`, its schema, or `server/database`.
    pub placement: String,
    pub rows: Vec<(&'static str, u64)>,
}

/// Storage without a tenant: a schema or a database left by a creation that
/// never committed, or by a move or deletion that stopped half-way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Orphan {
    Schema(TenantId),
    Database { server: String, tenant: TenantId },
}

impl std::fmt::Display for Orphan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Orphan::Schema(t) => write!(f, "schema of tenant {t}"),
            Orphan::Database { server, tenant } => {
                write!(f, "database of tenant {tenant} on server {server}")
            }
        }
    }
}

/// The operator's side of a tenant's life.
///
/// # Errors (every method)
/// [`crate::Error::NotFound`] for an unknown tenant, [`crate::Error::Invalid`]
/// for a strategy or server this deployment cannot hold, and
/// [`crate::Error::Unexpected`] when storage fails (a move or deletion then
/// leaves the tenant where it was, or can be run again).
#[async_trait]
pub trait TenantLifecycle: Send + Sync {
    /// Copies the tenant's rows to `to` (on `server`, for databases), points
    /// its directory entry there and drops the old copy; writes wait meanwhile.
    async fn move_tenant(
        &self,
        tenant: TenantId,
        to: Isolation,
        server: Option<&str>,
    ) -> Result<Moved> {
        let plan = MovePlan {
            to,
            server: server.map(str::to_owned),
            actor: None,
        };
        self.move_with(tenant, &plan, &()).await
    }
    /// [`Self::move_tenant`], telling `progress` how far it got, with the
    /// plan's actor named in the tenant's audit log.
    async fn move_with(
        &self,
        tenant: TenantId,
        plan: &MovePlan,
        progress: &dyn MoveProgress,
    ) -> Result<Moved>;
    /// Whether a tenant living at `from` can be moved to `to` (onto
    /// `server`), as far as can be told before trying.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when it cannot.
    async fn check_move(&self, from: Isolation, to: Isolation, server: Option<&str>) -> Result<()>;
    /// Writes the tenant as JSON lines: its directory entry, members and
    /// custom roles, then every exported table's rows (secrets blanked);
    /// returns the table rows written.
    async fn export(&self, tenant: &Tenant, out: &mut (dyn std::io::Write + Send)) -> Result<u64>;
    /// Deletes the tenant and everything it owns (see [`delete_tenant`]);
    /// returns the tenant-plane rows removed.
    async fn delete(&self, tenant: &Tenant) -> Result<u64>;
    /// Storage no tenant owns, at least `min_age` old (judged by the time in
    /// its tenant id, so a tenant being made right now is never one).
    async fn orphans(&self, min_age: Duration) -> Result<Vec<Orphan>>;
    /// Removes an orphan; `false` when it was left alone (its tenant owns it
    /// after all, or is being moved).
    async fn remove_orphan(&self, orphan: &Orphan) -> Result<bool>;
    /// Removes a copy of the tenant at `isolation` (on `placement`) that a
    /// move left behind; `false` when the directory says the tenant lives
    /// there (then nothing is removed).
    async fn remove_old_copy(
        &self,
        tenant: TenantId,
        isolation: Isolation,
        placement: Option<&str>,
    ) -> Result<bool>;
    /// The rows the tenant stores as its plan counts them, for operators
    /// (who are no members of it).
    async fn stored_rows(&self, tenant: TenantId, isolation: Isolation) -> Result<StoredRows>;
}

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
