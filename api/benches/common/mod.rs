//! What the benchmarks share: knobs from the environment, medians, and a
//! fresh PostgreSQL database on the test server. Each bench uses a part.
#![allow(dead_code)]

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// `name` from the environment, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A fresh database `name` on `TEST_DATABASE_URL`'s server: the server's
/// `postgres` database (to drop it afterwards with [`drop_database`]) and the
/// new database's URL.
///
/// # Errors
/// When PostgreSQL is unreachable or refuses.
pub async fn fresh_database(name: &str) -> anyhow::Result<(DatabaseConnection, String)> {
    let base = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/tenantry_test".into());
    let (server, _) = base
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("TEST_DATABASE_URL must end with /<database>"))?;
    let admin = Database::connect(format!("{server}/postgres"))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "PostgreSQL is not reachable at {server} ({e}); start it or set TEST_DATABASE_URL"
            )
        })?;
    drop_database(&admin, name).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    Ok((admin, format!("{server}/{name}")))
}

/// # Errors
/// When the statement fails.
pub async fn drop_database(admin: &DatabaseConnection, name: &str) -> anyhow::Result<()> {
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

/// Drops every database whose name starts with `prefix` (a bench's tenant
/// databases, also those an interrupted run left).
///
/// # Errors
/// When a statement fails.
pub async fn drop_databases_with_prefix(
    admin: &DatabaseConnection,
    prefix: &str,
) -> anyhow::Result<()> {
    let rows = admin
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'"),
        ))
        .await?;
    for r in rows {
        drop_database(admin, &r.try_get::<String>("", "datname")?).await?;
    }
    Ok(())
}
