//! The schema strategy: a PostgreSQL schema per tenant, `t_<tenant id>`,
//! holding the tenant-plane tables with their own migration ledger.
//!
//! Provisioning runs inside the transaction that creates the tenant (DDL is
//! transactional on PostgreSQL), so a tenant never exists without its schema.
//! Requests reach it with a transaction-local `search_path`.

use domain::TenantId;
use migration::{MigratorTrait, TenantPlane};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};

/// The tenant's schema name: `t_` and the id's 32 hex digits.
pub fn schema_name(tenant: TenantId) -> String {
    format!("t_{}", tenant.as_uuid().simple())
}

/// Creates the tenant's schema and applies the tenant-plane migrations in it.
///
/// # Errors
/// When a statement fails; the caller's transaction then leaves nothing.
pub async fn provision(tx: &DatabaseTransaction, tenant: TenantId) -> Result<(), DbErr> {
    tx.execute_unprepared(&format!("CREATE SCHEMA \"{}\"", schema_name(tenant)))
        .await?;
    migrate(tx, tenant).await
}

/// Applies the tenant-plane migrations its schema lacks, per its own ledger.
///
/// # Errors
/// When a migration fails.
pub async fn migrate(tx: &DatabaseTransaction, tenant: TenantId) -> Result<(), DbErr> {
    let schema = schema_name(tenant);
    let saved = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('search_path') AS p",
        ))
        .await?
        .map(|r| r.try_get::<String>("", "p"))
        .transpose()?
        .unwrap_or_else(|| "\"$user\", public".into());
    // Only the tenant's schema: the migrator looks for its ledger in the
    // current schema and must not find the shared one.
    tx.execute_unprepared(&format!("SET LOCAL search_path TO \"{schema}\""))
        .await?;
    TenantPlane::up(tx, None).await?;
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('search_path', $1, true)",
        [saved.into()],
    ))
    .await?;
    Ok(())
}

/// Drops the tenant's schema and everything in it.
///
/// # Errors
/// When the statement fails.
pub async fn drop(tx: &DatabaseTransaction, tenant: TenantId) -> Result<(), DbErr> {
    tx.execute_unprepared(&format!(
        "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
        schema_name(tenant)
    ))
    .await?;
    Ok(())
}
