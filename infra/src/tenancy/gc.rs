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

/// Storage without a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Orphan {
    Schema(TenantId),
    Database { server: String, tenant: TenantId },
}

impl std::fmt::Display for Orphan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Orphan::Schema(t) => write!(f, "schema {}", schema::schema_name(*t)),
            Orphan::Database { server, tenant } => {
                write!(f, "database of tenant {tenant} on server {server}")
            }
        }
    }
}

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

/// Removes one orphan.
///
/// # Errors
/// When the drop fails.
pub async fn remove(
    db: &DatabaseConnection,
    databases: Option<&TenantDatabases>,
    orphan: &Orphan,
) -> Result<(), domain::Error> {
    match orphan {
        Orphan::Schema(t) => {
            let run = async {
                let tx = db.begin().await?;
                schema::drop(&tx, *t).await?;
                tx.commit().await
            };
            run.await.map_err(|e: DbErr| domain::Error::unexpected(e))
        }
        Orphan::Database { server, tenant } => match databases {
            Some(d) => d.drop_orphan(server, *tenant).await,
            None => Ok(()),
        },
    }
}
