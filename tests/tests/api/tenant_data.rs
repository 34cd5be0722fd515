//! The registry of tenant data (`infra::tenancy::registry`, named by
//! `migration::TENANT_TABLES`) held to the live PostgreSQL catalog, and to
//! a tenant holding a row in every table it lists: a table a fork adds and
//! forgets to declare fails here, instead of being left behind by a move.

use crate::databases::count;
use crate::helpers::{Backend, TestApp, assert_code, spawn_with_platform};
use domain::lifecycle::TenantLifecycle;
use domain::{Isolation, TenantContext, TenantId};
use infra::platform::Platform;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "tenant-data-fixtures-secret-0123456789";

/// Control-plane tables that name a tenant but are not its data: who
/// belongs to it, who is signed in to it, what was done in it, and the change
/// feed. They stay in the shared database when it moves.
const CONTROL_TABLES_NAMING_A_TENANT: [&str; 7] = [
    "memberships",
    "sessions",
    "audit_log",
    "policy_changes",
    "tenant_domains",
    "tenant_moves",
    "tenant_request_counts",
];

async fn spawn(worker: bool) -> (TestApp, Platform) {
    let (app, platform, _) = spawn_with_platform(Backend::Postgres, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into());
        s.webhooks.worker = worker;
        s.webhooks.sweep_interval_ms = 200;
    })
    .await;
    (app, platform)
}

async fn rows(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) -> Vec<Value> {
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let mut o = serde_json::Map::new();
        for c in r.column_names() {
            let v = r
                .try_get::<String>("", &c)
                .map(Value::from)
                .or_else(|_| r.try_get::<bool>("", &c).map(Value::from))
                .unwrap_or(Value::Null);
            o.insert(c, v);
        }
        Value::Object(o)
    })
    .collect()
}

/// The tables of `schema`, with whether each has a `tenant_id` column and
/// is under forced row-level security.
async fn tables(db: &DatabaseConnection, schema: &str) -> BTreeMap<String, (bool, bool)> {
    rows(
        db,
        "SELECT c.relname::text AS name,
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                        AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant,
                c.relrowsecurity AND c.relforcerowsecurity AS forced
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
        vec![schema.into()],
    )
    .await
    .into_iter()
    .map(|r| {
        (
            r["name"].as_str().unwrap().to_owned(),
            (r["has_tenant"] == true, r["forced"] == true),
        )
    })
    .collect()
}

/// The indexes (the primary key and unique ones among them) and foreign keys
/// of `table` that do not lead with `tenant_id`; and whether it has a
/// primary key. Leading with it keeps a tenant's rows together in every
/// index, lets rows move between strategies as they are, and is what a
/// distributed PostgreSQL sharding by `tenant_id` asks of keys.
async fn keys_without_tenant(
    db: &DatabaseConnection,
    schema: &str,
    table: &str,
) -> (Vec<String>, bool) {
    let found = rows(
        db,
        "SELECT i.relname::text AS name, x.indisprimary AS primary_key,
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                        AND a.attname = 'tenant_id' AND a.attnum = x.indkey[0]) AS has_tenant
         FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
           JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2
         UNION ALL
         SELECT con.conname::text, false,
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                        AND a.attname = 'tenant_id' AND a.attnum = con.conkey[1])
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2 AND con.contype = 'f'",
        vec![schema.into(), table.into()],
    )
    .await;
    let has_primary = found.iter().any(|r| r["primary_key"] == true);
    let lacking = found
        .into_iter()
        .filter(|r| r["has_tenant"] != true)
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    (lacking, has_primary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_of_tenant_data_is_registered_isolated_and_keyed_by_tenant() {
    let (app, _platform) = spawn(true).await;
    let f = app
        .fixture(
            SECRET,
            json!({ "isolation": "schema", "users": [{ "role": "owner" }], "projects": 1 }),
        )
        .await;
    let id: uuid::Uuid = f["tenant"]["id"].as_str().unwrap().parse().unwrap();
    let tenant_schema = format!("t_{}", id.simple());
    let db = Database::connect(&app.database_url).await.unwrap();
    let shared = rows(&db, "SELECT current_schema()::text AS s", vec![]).await[0]["s"]
        .as_str()
        .unwrap()
        .to_owned();
    let registered: BTreeSet<String> = migration::TENANT_TABLES
        .iter()
        .map(|t| (*t).to_owned())
        .collect();

    // A schema tenant's schema holds its data and its migration ledger only.
    let own = tables(&db, &tenant_schema).await;
    let data: BTreeSet<String> = own
        .keys()
        .filter(|t| *t != "seaql_tenant_migrations")
        .cloned()
        .collect();
    assert_eq!(
        data, registered,
        "the tenant plane's tables and the registry differ: declare each table once in infra/src/tenancy/registry.rs and migration::TENANT_TABLES"
    );
    for t in &registered {
        assert!(own[t].0, "{t} has no tenant_id column");
    }

    // In the shared schema, every table naming a tenant is its data, under
    // forced row-level security, or one of the control plane's own.
    let common = tables(&db, &shared).await;
    for (t, (has_tenant, forced)) in &common {
        if registered.contains(t) {
            assert!(
                *has_tenant && *forced,
                "{t}: tenant_id column and forced row-level security"
            );
        } else {
            assert!(
                !has_tenant || CONTROL_TABLES_NAMING_A_TENANT.contains(&t.as_str()),
                "{t} names a tenant but is not in the registry: a move would leave its rows behind"
            );
        }
    }
    for t in &registered {
        assert!(common.contains_key(t), "{t} missing from the shared schema");
        for schema in [&shared, &tenant_schema] {
            let (lacking, has_primary) = keys_without_tenant(&db, schema, t).await;
            assert!(has_primary, "{schema}.{t} has no primary key");
            assert!(
                lacking.is_empty(),
                "{schema}.{t}: indexes or foreign keys not led by tenant_id: {lacking:?}"
            );
        }
    }
}

/// Rows of the tenant in every registered table, read as the database owner.
async fn held(db: &DatabaseConnection, tenant: uuid::Uuid) -> BTreeMap<&'static str, u64> {
    let mut n = BTreeMap::new();
    for &t in migration::TENANT_TABLES {
        let c = count(
            db,
            &format!("SELECT count(*) AS n FROM {t} WHERE tenant_id = $1::uuid"),
            tenant.to_string(),
        )
        .await;
        n.insert(t, u64::try_from(c).unwrap());
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_with_a_row_in_every_table_moves_exports_and_is_deleted_whole() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let (mut first, platform) = spawn(true).await;
    let f = first
        .fixture(
            SECRET,
            json!({ "users": [{ "role": "owner" }], "projects": 1, "tasksPerProject": 2 }),
        )
        .await;
    let token = f["users"][0]["accessToken"].as_str().unwrap().to_owned();
    let tenant: TenantId = f["tenant"]["id"].as_str().unwrap().parse().unwrap();
    let project = f["projects"][0]["id"].as_str().unwrap().to_owned();

    // Webhooks and their deliveries, an idempotency key, an invitation.
    first
        .data(
            Some(&token),
            "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }",
            json!({ "i": { "url": format!("{}/hook", receiver.uri()), "events": ["project.created"], "secret": "whsec-0123456789abcdef" } }),
        )
        .await;
    first
        .data(
            Some(&token),
            "mutation { createProject(input: {name: \"Keyed\"}, idempotencyKey: \"k-1\") { id } }",
            json!({}),
        )
        .await;
    first
        .data(
            Some(&token),
            "mutation { inviteMember(input: {email: \"new@example.com\", role: \"member\"}) { id } }",
            json!({}),
        )
        .await;
    // generate: tenant-data-rows
    let db = Database::connect(&first.database_url).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while held(&db, tenant.as_uuid()).await["webhook_deliveries"] == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no delivery made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An event still in the outbox: served on by a node without a worker.
    let app = first.another_node(|s| s.webhooks.worker = false).await;
    first.kill().await;
    app.create_task(
        &token,
        json!({ "projectId": project, "title": "In flight" }),
    )
    .await;

    let before = held(&db, tenant.as_uuid()).await;
    for (t, n) in &before {
        assert!(
            *n > 0,
            "the tenant holds no row of {t}: make one above, so the round trip covers it"
        );
    }

    for to in [Isolation::Schema, Isolation::Database, Isolation::Row] {
        let report = platform
            .lifecycle()
            .move_tenant(tenant, to, None)
            .await
            .unwrap();
        let copied: BTreeMap<&str, u64> = report.rows.iter().copied().collect();
        assert_eq!(copied, before, "moving to {to}: every table copied whole");
    }
    assert_eq!(
        held(&db, tenant.as_uuid()).await,
        before,
        "back in the shared tables"
    );

    let mut out = Vec::new();
    platform
        .tenancy()
        .export(&TenantContext::system(tenant, Isolation::Row), &mut out)
        .await
        .unwrap();
    let mut exported: BTreeMap<String, u64> = BTreeMap::new();
    for line in String::from_utf8(out).unwrap().lines() {
        let l: Value = serde_json::from_str(line).unwrap();
        if l["table"] == "webhooks" {
            assert_eq!(l["row"]["secret"], Value::Null, "secrets stay home");
        }
        *exported
            .entry(l["table"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for (t, n) in &before {
        // Events in flight mean nothing elsewhere.
        let expected = if *t == "outbox_events" { None } else { Some(n) };
        assert_eq!(exported.get(*t), expected, "export of {t}");
    }

    assert_eq!(
        app.delete_fixture(SECRET, &tenant.to_string()).await,
        reqwest::StatusCode::NO_CONTENT
    );
    let left: Vec<_> = held(&db, tenant.as_uuid())
        .await
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(
        left.is_empty(),
        "rows left behind by the deletion: {left:?}"
    );
    assert_code(
        &app.gql(Some(&token), "{ tasks { totalCount } }", json!({}))
            .await,
        "UNAUTHENTICATED",
    );
}
