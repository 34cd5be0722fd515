//! PostgreSQL databases for tests: a migrated template made once per set of
//! migrations, and a clone of it per test, dropped when the test ends.

use sea_orm::{ConnectionTrait, Database};

/// The server part of a PostgreSQL URL and its admin connection (one
/// connection, so a session-level advisory lock stays held).
pub async fn admin(base: &str) -> sea_orm::DatabaseConnection {
    let mut opts = sea_orm::ConnectOptions::new(format!("{base}/postgres"));
    opts.max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    match Database::connect(opts).await {
        Ok(db) => db,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {base} ({e}).\n\
             Start it (e.g. `pg_ctlcluster 15 main start`, or `docker compose up -d postgres`) \
             or point TEST_DATABASE_URL at a server where the user may create databases."
        ),
    }
}

pub fn server_of(url: &str) -> String {
    url.rsplit_once('/')
        .expect("TEST_DATABASE_URL ends with /<database>")
        .0
        .to_owned()
}

/// A hash of the migrations' names and source text: a migration edited
/// before it ships gets fresh templates.
fn migrations_hash() -> u64 {
    static HASH: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *HASH.get_or_init(|| {
        use migration::MigratorTrait;
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for m in migration::ControlPlane::migrations()
            .iter()
            .chain(migration::TenantPlane::migrations().iter())
        {
            m.name().hash(&mut h);
        }
        // And their text: a migration edited before it ships gets a fresh template.
        let mut files = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../migration/src"
        ))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir)
                .expect("migration sources")
                .flatten()
            {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files.sort();
        for f in files {
            std::fs::read(&f).expect("a migration source").hash(&mut h);
        }
        h.finish()
    })
}

/// The template database-strategy tenants of test servers are copied from
/// (the server makes it on first use).
pub fn tenant_template_name() -> String {
    format!("tenantry_ttpl_{:016x}", migrations_hash())
}

/// A migrated template database, made once per set of migrations: each test
/// clones it (`CREATE DATABASE … TEMPLATE`), which is much faster than
/// migrating, and drops its clone when done, so nothing is left behind.
async fn template(base: &str) -> String {
    static NAME: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    NAME.get_or_init(|| async {
        let name = format!("tenantry_tpl_{:016x}", migrations_hash());
        let admin = admin(base).await;
        // Test binaries running at once take turns making it.
        admin
            .execute_unprepared("SELECT pg_advisory_lock(7401)")
            .await
            .expect("lock");
        let exists = admin
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
            ))
            .await
            .expect("query pg_database")
            .is_some();
        if !exists {
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create the template");
            let storage = infra::db::Storage::connect(&infra::db::DbSettings {
                url: format!("{base}/{name}"),
                max_connections: 1,
                acquire_timeout: std::time::Duration::from_secs(10),
                log_statements: false,
                tenant_statement_timeout: None,
                tenant_databases: Default::default(),
                admission: None,
            })
            .await
            .expect("connect to the template");
            storage.migrate().await.expect("migrate the template");
            storage.close().await;
        }
        admin
            .execute_unprepared("SELECT pg_advisory_unlock(7401)")
            .await
            .expect("unlock");
        name
    })
    .await
    .clone()
}

/// A fresh database for one test, cloned from the template.
pub async fn clone_database(base: &str) -> String {
    let template = template(base).await;
    let name = format!("tenantry_t_{}", uuid::Uuid::new_v4().simple());
    let admin = admin(base).await;
    admin
        .execute_unprepared(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
        ))
        .await
        .expect("clone the template database");
    name
}

/// Runs `work` with an admin connection to `base`, on a thread of its own
/// with its own runtime: `Drop` cannot wait on the test's runtime.
fn on_admin_thread<F, Fut>(base: String, work: F)
where
    F: FnOnce(sea_orm::DatabaseConnection) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async { work(admin(&base).await).await });
    });
    let _ = handle.join();
}

async fn drop_named(admin: &sea_orm::DatabaseConnection, name: &str) {
    let _ = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
}

/// Drops every database whose name is `LIKE pattern` (a test server's
/// database-strategy tenants).
pub fn drop_databases_like(base: String, pattern: String) {
    on_admin_thread(base, |admin| async move {
        let rows = admin
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT datname FROM pg_database WHERE datname LIKE $1",
                [pattern.into()],
            ))
            .await
            .unwrap_or_default();
        for row in rows {
            if let Ok(name) = row.try_get::<String>("", "datname") {
                drop_named(&admin, &name).await;
            }
        }
    });
}

/// Drops a test's database once the test is over.
pub fn drop_database(base: String, name: String) {
    on_admin_thread(base, |admin| async move { drop_named(&admin, &name).await });
}

/// The `n` column of `sql`'s one row, with `value` as `$1` (PostgreSQL).
pub async fn count(db: &sea_orm::DatabaseConnection, sql: &str, value: String) -> i64 {
    db.query_one_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        sql,
        [value.into()],
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap()
}
