//! The options every pool shares — the shared pool, tenant databases' pools —
//! and what a `sqlite:` URL names.

use sea_orm::{ConnectOptions, DbErr};
use std::time::Duration;

/// The options every pool shares, shared pool and tenant pools alike.
pub(crate) fn pool_options(url: &str) -> Result<ConnectOptions, DbErr> {
    pool_options_with(url, true)
}

/// [`pool_options`]; with `create` false a missing SQLite file is an error,
/// not a new empty database (a deleted tenant's file must stay deleted).
pub(crate) fn pool_options_with(url: &str, create: bool) -> Result<ConnectOptions, DbErr> {
    if let Some(path) = sqlite_file(url)
        && let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("creating {}: {e}", dir.display())))?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .sqlx_logging_level(tracing::log::LevelFilter::Debug);
    opts.map_sqlx_sqlite_opts(move |o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            .create_if_missing(create)
    });
    Ok(opts)
}

/// The file path of a `sqlite:` URL, unless it is in-memory.
pub(crate) fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}
