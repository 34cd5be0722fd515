//! PostgreSQL row-level security behind the row strategy: a query that forgets
//! its tenant filter sees only the bound tenant's rows, and a pooled
//! connection carries no tenant (nor the restricted role) from one
//! transaction to the next.

use crate::helpers::{Backend, TestApp, spawn_with};
use domain::{Isolation, TenantContext, TenantId};
use infra::db::{DbSettings, Storage};
use infra::platform::Platform;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait};
use serde_json::json;
use std::time::Duration;

const SECRET: &str = "rls-fixtures-secret-0123456789abcdef";

async fn tenant_with_projects(app: &TestApp, projects: usize) -> TenantId {
    let body =
        json!({ "users": [{ "role": "owner" }], "projects": projects, "tasksPerProject": 2 });
    let f = app.fixture(SECRET, body).await;
    f["tenant"]["id"].as_str().unwrap().parse().unwrap()
}

async fn scalar(tx: &impl ConnectionTrait, sql: &str) -> String {
    let row = tx
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<Option<String>>(0)
        .unwrap()
        .unwrap_or_default()
}

async fn count(tx: &DatabaseTransaction, sql: &str) -> i64 {
    let row = tx
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

/// `sql`'s count as the restricted role in a transaction bound to no tenant.
async fn without_tenant(app: &TestApp, sql: &str) -> i64 {
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let tx = db.begin().await.unwrap();
    tx.execute_unprepared(&format!("SET LOCAL ROLE {}", migration::APP_ROLE))
        .await
        .unwrap();
    let n = count(&tx, sql).await;
    tx.rollback().await.unwrap();
    n
}

/// Adapters over a pool of exactly one connection.
async fn one_connection(app: &TestApp, tenant_statement_timeout: Option<Duration>) -> Platform {
    let storage = Storage::connect(&DbSettings {
        url: app.database_url.clone(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(10),
        log_statements: false,
        tenant_statement_timeout,
        tenant_databases: Default::default(),
        admission: None,
    })
    .await
    .unwrap();
    Platform::compose(storage, infra::platform::Settings::local())
        .await
        .unwrap()
}

/// A PostgreSQL server with tenants of 2 and 3 projects, and a one-connection pool.
async fn two_tenants() -> (TestApp, TenantId, TenantId, Platform) {
    let app = spawn_with(Backend::Postgres, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await;
    let a = tenant_with_projects(&app, 2).await;
    let b = tenant_with_projects(&app, 3).await;
    let storage = one_connection(&app, None).await;
    (app, a, b, storage)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_without_its_tenant_filter_sees_only_the_bound_tenant() {
    let (app, a, b, storage) = two_tenants().await;
    let tenancy = storage.tenancy();

    let tx = tenancy
        .unscoped_probe(&TenantContext::system(a, Isolation::Row))
        .await
        .unwrap();
    // On purpose: no tenant filter at all.
    assert_eq!(count(&tx, "SELECT count(*) FROM projects").await, 2);
    assert_eq!(count(&tx, "SELECT count(*) FROM tasks").await, 4);
    assert_eq!(
        count(
            &tx,
            &format!("SELECT count(*) FROM projects WHERE tenant_id = '{b}'")
        )
        .await,
        0,
        "another tenant's rows do not exist for this transaction"
    );
    let updated = tx
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("UPDATE projects SET name = 'taken' WHERE tenant_id = '{b}'"),
        ))
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 0);
    let forged = tx
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "INSERT INTO projects (tenant_id, id, name, description, created_at, updated_at, version)
                 VALUES ('{b}', gen_random_uuid(), 'planted', '', now(), now(), 1)"
            ),
        ))
        .await;
    assert!(
        forged.is_err(),
        "writing a row of another tenant is refused"
    );
    drop(tx);

    // Without a tenant, the restricted role sees nothing at all.
    assert_eq!(
        without_tenant(&app, "SELECT count(*) FROM projects").await,
        0
    );
    storage.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_transaction_reads_its_own_members_and_no_user_table() {
    let (app, a, b, storage) = two_tenants().await;
    let tenancy = storage.tenancy();
    let tx = tenancy
        .unscoped_probe(&TenantContext::system(a, Isolation::Row))
        .await
        .unwrap();
    // On purpose: no tenant condition. Each fixture tenant has one owner.
    assert_eq!(count(&tx, "SELECT count(*) FROM tenant_members").await, 1);
    assert_eq!(
        count(
            &tx,
            &format!("SELECT count(*) FROM tenant_members WHERE member_tenant_id = '{b}'")
        )
        .await,
        0,
        "another tenant's members do not exist for this transaction"
    );
    let hashes = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) FROM users",
        ))
        .await;
    assert!(
        hashes.is_err(),
        "the users table, with its password hashes, is not readable by the app role"
    );
    drop(tx);
    // Without a tenant the view shows no one.
    assert_eq!(
        without_tenant(&app, "SELECT count(*) FROM tenant_members").await,
        0
    );
    storage.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_carries_no_tenant_into_the_next_transaction() {
    let (_app, a, b, storage) = two_tenants().await;
    let tenancy = storage.tenancy();

    let tx = tenancy
        .unscoped_probe(&TenantContext::system(a, Isolation::Row))
        .await
        .unwrap();
    let pid = scalar(&tx, "SELECT pg_backend_pid()::text").await;
    assert_eq!(count(&tx, "SELECT count(*) FROM projects").await, 2);
    tx.commit().await.unwrap();

    let tx = tenancy
        .unscoped_probe(&TenantContext::system(b, Isolation::Row))
        .await
        .unwrap();
    assert_eq!(
        scalar(&tx, "SELECT pg_backend_pid()::text").await,
        pid,
        "the same backend"
    );
    assert_eq!(
        count(&tx, "SELECT count(*) FROM projects").await,
        3,
        "B sees only B"
    );
    tx.commit().await.unwrap();

    // After the transaction, the same backend is bound to nothing and is its login role again.
    let tx = tenancy_free(storage.storage()).await;
    assert_eq!(scalar(&tx, "SELECT pg_backend_pid()::text").await, pid);
    assert_eq!(
        scalar(&tx, "SELECT current_setting('app.tenant_id', true)").await,
        ""
    );
    assert_ne!(
        scalar(&tx, "SELECT current_user::text").await,
        migration::APP_ROLE
    );
    tx.execute_unprepared(&format!("SET LOCAL ROLE {}", migration::APP_ROLE))
        .await
        .unwrap();
    assert_eq!(
        count(&tx, "SELECT count(*) FROM projects").await,
        0,
        "no tenant, no rows"
    );
    tx.rollback().await.unwrap();
    storage.close().await;
}

/// A plain transaction on the storage's one pooled connection.
async fn tenancy_free(storage: &Storage) -> DatabaseTransaction {
    storage.connection().begin().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_statement_is_cut_off_at_the_tenant_timeout() {
    let app = spawn_with(Backend::Postgres, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await;
    let a = tenant_with_projects(&app, 1).await;
    let storage = one_connection(&app, Some(Duration::from_millis(200))).await;
    let tx = storage
        .tenancy()
        .unscoped_probe(&TenantContext::system(a, Isolation::Row))
        .await
        .unwrap();
    let slow = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_sleep(1)",
        ))
        .await;
    let err = slow.expect_err("a one-second statement outlives a 200 ms limit");
    assert!(err.to_string().contains("statement timeout"), "{err}");
    drop(tx);
    // The limit is the tenant transaction's own: the connection is back to none.
    let tx = tenancy_free(storage.storage()).await;
    tx.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT pg_sleep(0.3)",
    ))
    .await
    .expect("no limit outside tenant transactions");
    tx.rollback().await.unwrap();
    storage.close().await;
}
