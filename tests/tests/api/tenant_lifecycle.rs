//! Migrating every tenant: each schema tenant in its own transaction, a failed
//! one reported while the others finish, and a rerun completing the work.

use crate::helpers::{Backend, TestApp, spawn_with};
use infra::tenancy::lifecycle::Outcome;
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::{Value, json};

const SECRET: &str = "lifecycle-fixtures-secret-0123456789abcdef";

/// The newest tenant-plane migration, whichever it is (a fork adds its own).
fn last() -> String {
    migration::TenantPlane::migrations()
        .last()
        .expect("tenant-plane migrations")
        .name()
        .to_owned()
}

async fn schema_tenant(app: &TestApp) -> (uuid::Uuid, String) {
    let f: Value = app
        .fixture(
            SECRET,
            json!({ "isolation": "schema", "users": [{ "role": "owner" }], "projects": 1 }),
        )
        .await;
    let id: uuid::Uuid = f["tenant"]["id"].as_str().unwrap().parse().unwrap();
    (id, format!("t_{}", id.simple()))
}

/// Makes the last migration pending again in `schema`, by its own `down`.
async fn unapply_last(db: &sea_orm::DatabaseConnection, schema: &str) {
    let tx = db.begin().await.unwrap();
    tx.execute_unprepared(&format!("SET LOCAL search_path TO \"{schema}\""))
        .await
        .unwrap();
    migration::TenantPlane::down(&tx, Some(1)).await.unwrap();
    tx.commit().await.unwrap();
}

/// Makes applying the last migration in `schema` fail (its ledger refuses
/// the entry, so the migration's transaction rolls back), or work again.
async fn break_ledger(db: &sea_orm::DatabaseConnection, schema: &str, broken: bool) {
    let sql = if broken {
        format!(
            "ALTER TABLE \"{schema}\".seaql_tenant_migrations ADD CONSTRAINT not_last CHECK (version <> '{}')",
            last()
        )
    } else {
        format!("ALTER TABLE \"{schema}\".seaql_tenant_migrations DROP CONSTRAINT not_last")
    };
    db.execute_unprepared(&sql).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_all_reports_a_failed_tenant_finishes_the_rest_and_a_rerun_completes() {
    let app = spawn_with(Backend::Postgres, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await;
    let (broken, broken_schema) = schema_tenant(&app).await;
    let (behind, behind_schema) = schema_tenant(&app).await;
    let (current, _) = schema_tenant(&app).await;
    let db = Database::connect(&app.database_url).await.unwrap();
    // Both lack the last migration; applying it to `broken` fails.
    unapply_last(&db, &broken_schema).await;
    break_ledger(&db, &broken_schema, true).await;
    unapply_last(&db, &behind_schema).await;

    let storage = app.storage().await;
    let outcome = |results: &[infra::tenancy::lifecycle::TenantMigration], id: uuid::Uuid| {
        results
            .iter()
            .find(|m| m.tenant.as_uuid() == id)
            .map(|m| m.outcome.clone())
            .expect("every schema tenant is reported")
    };
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let first = storage
        .migrate_tenants(2, |_, _| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(calls.into_inner(), 3, "progress reported once per tenant");
    assert!(
        matches!(outcome(&first, broken), Outcome::Failed(_)),
        "{first:?}"
    );
    assert_eq!(outcome(&first, behind), Outcome::Migrated { applied: 1 });
    assert_eq!(outcome(&first, current), Outcome::UpToDate);
    // The failed tenant is left as it was: still behind, still serving.
    let listed = storage.tenants().await.unwrap();
    let version = |id: uuid::Uuid| {
        listed
            .iter()
            .find(|t| t.id.as_uuid() == id)
            .unwrap()
            .version
            .clone()
    };
    assert_ne!(version(broken), Some(last()));
    assert_eq!(version(behind), Some(last()));
    let placement = &listed
        .iter()
        .find(|t| t.id.as_uuid() == current)
        .unwrap()
        .placement;
    assert_eq!(placement, &format!("t_{}", current.simple()));

    // Fix the cause; the rerun completes, touching only the one left behind.
    break_ledger(&db, &broken_schema, false).await;
    let second = storage.migrate_tenants(2, |_, _| {}).await.unwrap();
    assert_eq!(outcome(&second, broken), Outcome::Migrated { applied: 1 });
    assert_eq!(outcome(&second, behind), Outcome::UpToDate);
    assert_eq!(outcome(&second, current), Outcome::UpToDate);
    storage.close().await;
}
