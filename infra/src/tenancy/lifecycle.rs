//! The tenant lifecycle for operators: which tenant lives where at which
//! migration version, and migrating every tenant.
//!
//! Row tenants share the tables in `public`, migrated with the control plane.
//! Each schema tenant and each database tenant has its own ledger; migrating all of them runs each in
//! its own transaction, several at once, skips those with nothing to apply,
//! and reports a failed tenant without stopping the others. A rerun picks up
//! where the last one failed.

use super::database::TenantDatabases;
use super::schema::{self, schema_name};
use crate::entities::{membership, tenant};
use domain::{Isolation, TenantId};
use futures::StreamExt;
use migration::{MigratorTrait, TenantPlane};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Statement, TransactionTrait,
};

/// One tenant, as `tenantry tenants list` shows it.
#[derive(Debug, Clone)]
pub struct TenantInfo {
    pub id: TenantId,
    pub slug: String,
    pub isolation: String,
    /// Where its rows are: `public` or its schema.
    pub placement: String,
    /// Its last applied tenant-plane migration.
    pub version: Option<String>,
    pub members: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    UpToDate,
    Migrated { applied: usize },
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct TenantMigration {
    pub tenant: TenantId,
    pub slug: String,
    pub outcome: Outcome,
}

fn all_versions() -> Vec<String> {
    TenantPlane::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

/// The tenant-plane migrations recorded in `schema`'s ledger.
async fn applied(db: &impl ConnectionTrait, schema: &str) -> Result<Vec<String>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT version FROM \"{schema}\".seaql_tenant_migrations ORDER BY version"),
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "version"))
        .collect()
}

/// Every tenant with its strategy, placement, version and member count.
///
/// # Errors
/// When a query fails.
pub async fn list(
    db: &DatabaseConnection,
    databases: Option<&TenantDatabases>,
) -> Result<Vec<TenantInfo>, DbErr> {
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let shared_version = TenantPlane::get_applied_migrations(db)
        .await?
        .last()
        .map(|m| m.name().to_owned());
    let mut out = Vec::new();
    for t in tenant::Entity::find()
        .order_by_asc(tenant::Column::CreatedAt)
        .all(db)
        .await?
    {
        let id = TenantId::from_uuid(t.id);
        let members = membership::Entity::find()
            .filter(membership::Column::TenantId.eq(t.id))
            .count(db)
            .await?;
        let (placement, version) = if postgres && t.isolation == Isolation::Schema.as_str() {
            let s = schema_name(id);
            let v = applied(db, &s).await.ok().and_then(|v| v.last().cloned());
            (s, v)
        } else if t.isolation == Isolation::Database.as_str() {
            let Some(databases) = databases else {
                return Err(DbErr::Custom(
                    "database tenants exist but no database server is configured".into(),
                ));
            };
            (
                databases.describe(id, t.placement.as_deref()),
                databases.version(id).await.ok().flatten(),
            )
        } else {
            ("public".to_owned(), shared_version.clone())
        };
        out.push(TenantInfo {
            id,
            slug: t.slug,
            isolation: t.isolation,
            placement,
            version,
            members,
        });
    }
    Ok(out)
}

/// Brings one schema tenant up to date in its own transaction.
async fn migrate_schema(db: &DatabaseConnection, tenant: TenantId) -> Outcome {
    let run = async {
        let done = applied(db, &schema_name(tenant)).await?;
        let pending = all_versions()
            .into_iter()
            .filter(|v| !done.contains(v))
            .count();
        if pending == 0 {
            return Ok(Outcome::UpToDate);
        }
        let tx = db.begin().await?;
        schema::migrate(&tx, tenant).await?;
        tx.commit().await?;
        Ok::<_, DbErr>(Outcome::Migrated { applied: pending })
    };
    run.await.unwrap_or_else(|e| Outcome::Failed(e.to_string()))
}

/// Brings one database tenant's own database up to date.
async fn migrate_database(databases: Option<&TenantDatabases>, tenant: TenantId) -> Outcome {
    let Some(databases) = databases else {
        return Outcome::Failed("no database server is configured".into());
    };
    match databases.migrate(tenant).await {
        Ok(0) => Outcome::UpToDate,
        Ok(applied) => Outcome::Migrated { applied },
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Migrates every schema and database tenant, `concurrency` at a time,
/// calling `done` after each. Row tenants are migrated with the shared tables.
///
/// # Errors
/// When the tenants cannot be listed; a tenant's own failure is its outcome.
pub async fn migrate_all(
    db: &DatabaseConnection,
    databases: Option<&TenantDatabases>,
    concurrency: usize,
    done: impl Fn(&TenantMigration, usize),
) -> Result<Vec<TenantMigration>, DbErr> {
    let mut own = vec![Isolation::Database.as_str()];
    if db.get_database_backend() == DbBackend::Postgres {
        own.push(Isolation::Schema.as_str());
    }
    let tenants = tenant::Entity::find()
        .filter(tenant::Column::Isolation.is_in(own))
        .order_by_asc(tenant::Column::CreatedAt)
        .all(db)
        .await?;
    let total = tenants.len();
    let mut results = futures::stream::iter(tenants)
        .map(|t| async move {
            let id = TenantId::from_uuid(t.id);
            let outcome = if t.isolation == Isolation::Database.as_str() {
                migrate_database(databases, id).await
            } else {
                migrate_schema(db, id).await
            };
            TenantMigration {
                tenant: id,
                slug: t.slug,
                outcome,
            }
        })
        .buffer_unordered(concurrency.max(1));
    let mut out = Vec::with_capacity(total);
    while let Some(m) = results.next().await {
        done(&m, total);
        out.push(m);
    }
    Ok(out)
}

/// Every tenant of the directory, as the system acts for it.
pub(crate) async fn tenants_of(
    control: &DatabaseConnection,
) -> domain::Result<Vec<domain::TenantContext>> {
    contexts(control, false).await
}

/// Tenants neither suspended nor deleted: a suspended tenant's webhooks wait
/// until it is resumed (its events and deliveries stay where they are).
pub(crate) async fn tenants_in_service(
    control: &DatabaseConnection,
) -> domain::Result<Vec<domain::TenantContext>> {
    contexts(control, true).await
}

async fn contexts(
    control: &DatabaseConnection,
    in_service_only: bool,
) -> domain::Result<Vec<domain::TenantContext>> {
    use crate::errors::DbResultExt;
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let mut q = tenant::Entity::find();
    if in_service_only {
        use domain::identity::Standing;
        q = q.filter(
            tenant::Column::Standing
                .is_in([Standing::Active.as_str(), Standing::ReadOnly.as_str()]),
        );
    }
    let rows: Vec<(uuid::Uuid, String)> = q
        .select_only()
        .column(tenant::Column::Id)
        .column(tenant::Column::Isolation)
        .into_tuple()
        .all(control)
        .await
        .or_unexpected()?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, isolation)| {
            let isolation = isolation.parse::<Isolation>().ok()?;
            Some(domain::TenantContext::system(
                TenantId::from_uuid(id),
                isolation,
            ))
        })
        .collect())
}
