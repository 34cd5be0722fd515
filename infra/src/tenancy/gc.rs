//! Finding and removing storage no tenant owns: a database made for a tenant
//! whose creation never committed (the process died in between), a schema
//! or database a move or deletion left behind when it stopped half-way.
//!
//! Only storage older than a minimum age is considered, judged by the time
//! in its tenant id (UUIDv7), so a tenant being created right now — whose
//! storage exists a moment before its row — is never taken for an orphan.

use super::database::{TenantDatabases, older_than};
use super::schema;
use crate::entities::tenant;
use domain::{Isolation, TenantId};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    Statement, TransactionTrait,
};
use std::collections::HashSet;
use std::time::Duration;

pub use domain::lifecycle::Orphan;

/// Every orphan at least `min_age` old.
///
/// # Errors
/// When the directory, the catalog or a server cannot be read.
pub async fn find(
    db: &DatabaseConnection,
    databases: Option<&TenantDatabases>,
    min_age: Duration,
) -> Result<Vec<Orphan>, domain::Error> {
    let mut out = Vec::new();
    if db.get_database_backend() == DbBackend::Postgres {
        let owned: HashSet<uuid::Uuid> = tenant::Entity::find()
            .filter(tenant::Column::Isolation.eq(Isolation::Schema.as_str()))
            .all(db)
            .await
            .map_err(domain::Error::unexpected)?
            .into_iter()
            .map(|t| t.id)
            .collect();
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT nspname FROM pg_namespace WHERE nspname ~ '^t_[0-9a-f]{32}$'",
            ))
            .await
            .map_err(domain::Error::unexpected)?;
        for r in rows {
            let name: String = r
                .try_get("", "nspname")
                .map_err(domain::Error::unexpected)?;
            if let Ok(id) = uuid::Uuid::try_parse(&name[2..]) {
                let tenant = TenantId::from_uuid(id);
                if !owned.contains(&id) && older_than(tenant, min_age) {
                    out.push(Orphan::Schema(tenant));
                }
            }
        }
    }
    if let Some(d) = databases {
        out.extend(
            d.orphans(min_age)
                .await?
                .into_iter()
                .map(|(server, tenant)| Orphan::Database { server, tenant }),
        );
    }
    Ok(out)
}

/// Removes one orphan, unless its tenant turns out to own it or to be in
/// the middle of a move (whose target looks like an orphan until the
/// directory switches): then it is left alone and `false` returned. On
/// PostgreSQL the tenant's move lock is held exclusively meanwhile, so no
/// move can begin while the storage is judged and dropped.
///
/// # Errors
/// When the check or the drop fails.
pub async fn remove(
    db: &DatabaseConnection,
    databases: Option<&TenantDatabases>,
    orphan: &Orphan,
) -> Result<bool, domain::Error> {
    let tenant = match orphan {
        Orphan::Schema(t) | Orphan::Database { tenant: t, .. } => *t,
    };
    let tx = db.begin().await.map_err(domain::Error::unexpected)?;
    if db.get_database_backend() == DbBackend::Postgres
        && !super::moving::try_lock_exclusive(&tx, tenant).await?
    {
        return Ok(false);
    }
    let owner = tenant::Entity::find_by_id(tenant.as_uuid())
        .one(&tx)
        .await
        .map_err(domain::Error::unexpected)?;
    let owned = owner.is_some_and(|t| match orphan {
        Orphan::Schema(_) => t.isolation == Isolation::Schema.as_str(),
        Orphan::Database { server, .. } => {
            t.isolation == Isolation::Database.as_str() && t.placement.as_deref() == Some(server)
        }
    });
    if owned {
        return Ok(false);
    }
    match orphan {
        Orphan::Schema(t) => schema::drop(&tx, *t)
            .await
            .map_err(|e: DbErr| domain::Error::unexpected(e))?,
        Orphan::Database { server, tenant } => {
            if let Some(d) = databases {
                d.drop_orphan(server, *tenant).await?;
            }
        }
    }
    tx.commit().await.map_err(domain::Error::unexpected)?;
    Ok(true)
}
