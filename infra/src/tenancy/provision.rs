//! A tenant's own storage, made and removed together with its directory row
//! (the identity store calls these as it records or deletes a tenant): a
//! schema tenant's schema inside the transaction that records the tenant, a
//! database tenant's database before it (outside any transaction, and
//! dropped again when recording fails).

use super::database::TenantDatabases;
use super::schema;
use crate::entities::tenant;
use crate::errors::DbResultExt;
use domain::ports::NewTenant;
use domain::{Error, Isolation, Result, TenantId};
use sea_orm::{DatabaseConnection, DatabaseTransaction, EntityTrait};
use std::sync::Arc;

pub(crate) struct Provisioner {
    postgres: bool,
    /// Where database-strategy tenants are created and dropped.
    databases: Option<Arc<TenantDatabases>>,
}

impl Provisioner {
    pub(crate) fn new(db: &DatabaseConnection, databases: Option<Arc<TenantDatabases>>) -> Self {
        Self {
            postgres: db.get_database_backend() == sea_orm::DbBackend::Postgres,
            databases,
        }
    }

    /// Runs `create` (the control-plane transaction that records a new
    /// tenant) with the tenant's storage made first where it cannot be made
    /// inside that transaction: a database tenant's database, which
    /// `CREATE DATABASE` makes outside any transaction. If `create` fails the
    /// database is dropped again, so no database outlives a tenant never made.
    pub(crate) async fn with_storage<T>(
        &self,
        t: &NewTenant,
        create: impl AsyncFnOnce(TenantId, Option<&str>) -> Result<T>,
    ) -> Result<T> {
        let id = TenantId::generate();
        match (t.isolation, &self.databases) {
            (Isolation::Row, _) => create(id, None).await,
            (Isolation::Schema, _) if self.postgres => create(id, None).await,
            (Isolation::Schema, _) => Err(Error::invalid(
                "isolation",
                "schema isolation needs PostgreSQL",
            )),
            (Isolation::Database, Some(databases)) => {
                let placement = databases.provision(id).await?;
                // Dropped unless disarmed: also when the request is cancelled mid-way.
                let mut orphan = Orphan(Some((databases.clone(), id, placement.clone())));
                let made = create(id, Some(&placement)).await;
                orphan.0 = None;
                if made.is_err()
                    && let Err(e) = databases.remove(id, &placement).await
                {
                    tracing::error!(tenant = %id, error = %e, "dropping the database of a tenant not created");
                }
                made
            }
            (Isolation::Database, None) => Err(Error::invalid(
                "isolation",
                "database isolation needs tenancy.database.servers (or a file-backed SQLite database)",
            )),
        }
    }

    /// Drops a database tenant's database, if `tenant` is one; the tenant's
    /// row stays for [`remove_in`], so a failed drop can be run again.
    pub(crate) async fn remove_database(
        &self,
        db: &DatabaseConnection,
        tenant: TenantId,
    ) -> Result<()> {
        let Some(t) = tenant::Entity::find_by_id(tenant.as_uuid())
            .one(db)
            .await
            .or_unexpected()?
        else {
            return Ok(());
        };
        if t.isolation != Isolation::Database.as_str() {
            return Ok(());
        }
        let (Some(databases), Some(placement)) = (&self.databases, &t.placement) else {
            return Err(Error::unexpected(format!(
                "database tenant {tenant} has no database server to drop it from"
            )));
        };
        databases.remove(tenant, placement).await
    }
}

/// Makes what a new tenant needs inside the transaction recording it: a
/// schema tenant's schema, migrated.
pub(crate) async fn make_in(
    tx: &DatabaseTransaction,
    tenant: TenantId,
    isolation: Isolation,
) -> Result<()> {
    if isolation == Isolation::Schema {
        schema::provision(tx, tenant).await.or_unexpected()?;
    }
    Ok(())
}

/// Removes what a tenant's deletion can remove inside its transaction: a
/// schema tenant's schema (`isolation` as stored).
pub(crate) async fn remove_in(
    tx: &DatabaseTransaction,
    tenant: TenantId,
    isolation: &str,
) -> Result<()> {
    if isolation == Isolation::Schema.as_str() {
        schema::drop(tx, tenant).await.or_unexpected()?;
    }
    Ok(())
}

/// A database made for a tenant whose creation did not complete: dropped
/// in the background when this goes out of scope still armed.
struct Orphan(Option<(Arc<TenantDatabases>, TenantId, String)>);

impl Drop for Orphan {
    fn drop(&mut self) {
        if let Some((databases, id, placement)) = self.0.take() {
            tokio::spawn(async move {
                if let Err(e) = databases.remove(id, &placement).await {
                    tracing::error!(tenant = %id, error = %e, "dropping the database of a tenant not created");
                }
            });
        }
    }
}
