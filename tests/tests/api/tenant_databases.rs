//! The database strategy end to end: placement over several PostgreSQL
//! servers, a tenant's database removed with it, pools handed between
//! tenants within the connection budget.

use crate::databases::count;
use crate::helpers::{Backend, TestApp, spawn_with};
use infra::tenancy::database::ServerSpec;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SECRET: &str = "fixture-secret-for-tests-0123456789abcdef";

/// The second PostgreSQL server (`.ci/run` starts one on port 5433).
fn second_server_url() -> String {
    std::env::var("TEST_SECOND_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5433/postgres".into())
}

async fn connect_or_explain(url: &str) -> DatabaseConnection {
    match Database::connect(url).await {
        Ok(db) => db,
        Err(e) => panic!(
            "the second PostgreSQL server is not reachable at {url} ({e}).\n\
             Start one (e.g. `pg_createcluster 15 second --port 5433 --start`, with trust \
             authentication for 127.0.0.1 as .ci/run sets up) or point TEST_SECOND_DATABASE_URL at one."
        ),
    }
}

async fn fixture(app: &TestApp, body: Value) -> Value {
    app.fixture(SECRET, body).await
}

/// Makes a project as the fixture's first user and lists the projects.
async fn served(app: &TestApp, f: &Value, name: &str) -> Value {
    let token = f["users"][0]["accessToken"].as_str().unwrap();
    app.create_project(token, name).await;
    app.data(
        Some(token),
        "{ projects { totalCount edges { node { name } } } }",
        json!({}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_tenants_are_spread_over_two_servers_and_served_on_both() {
    let second = second_server_url();
    let second_db = connect_or_explain(&second).await;
    let mut prefix = String::new();
    let app = spawn_with(Backend::PostgresDatabase, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into());
        s.tenancy.database.servers = vec![
            ServerSpec {
                name: "one".into(),
                url: s.database.url.clone(),
            },
            ServerSpec {
                name: "two".into(),
                url: second.clone(),
            },
        ];
        prefix = s.tenancy.database.name_prefix.clone();
    })
    .await;
    let mut fixtures = Vec::new();
    for i in 0..4 {
        let f = fixture(
            &app,
            json!({ "users": [{ "role": "owner" }], "projects": 0 }),
        )
        .await;
        assert_eq!(f["tenant"]["isolation"], "database");
        let d = served(&app, &f, &format!("p{i}")).await;
        assert_eq!(
            d["projects"],
            json!({ "totalCount": 1, "edges": [{ "node": { "name": format!("p{i}") } }] }),
            "tenant {i} sees exactly its own project"
        );
        fixtures.push(f);
    }

    // Fewest tenants first: two on each server.
    let control = Database::connect(&app.database_url).await.unwrap();
    let rows = control
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT placement, count(*) AS n FROM tenants WHERE isolation = 'database' GROUP BY placement",
        ))
        .await
        .unwrap();
    let placed: BTreeMap<String, i64> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "placement").unwrap(),
                r.try_get("", "n").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        placed,
        BTreeMap::from([("one".into(), 2), ("two".into(), 2)])
    );
    // And the second server really holds two tenant databases, with their rows.
    let like = format!("{prefix}%");
    assert_eq!(
        count(
            &second_db,
            "SELECT count(*) AS n FROM pg_database WHERE datname LIKE $1",
            like.clone()
        )
        .await,
        2
    );
    // Their rows are in the tenant databases, not in the shared tables.
    assert_eq!(
        count(
            &control,
            "SELECT count(*) AS n FROM projects WHERE name LIKE $1",
            "p%".into()
        )
        .await,
        0
    );

    // Deleting them drops their databases on whichever server they were.
    for f in &fixtures {
        let status = app
            .delete_fixture(SECRET, f["tenant"]["id"].as_str().unwrap())
            .await;
        assert_eq!(status, 204);
    }
    assert_eq!(
        count(
            &second_db,
            "SELECT count(*) AS n FROM pg_database WHERE datname LIKE $1",
            like
        )
        .await,
        0
    );
}

async fn deleting_a_database_tenant_removes_its_database(backend: Backend) {
    let mut prefix = String::new();
    let app = spawn_with(backend, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into());
        prefix = s.tenancy.database.name_prefix.clone();
    })
    .await;
    let f = fixture(
        &app,
        json!({ "users": [{ "role": "owner" }], "projects": 2, "tasksPerProject": 3 }),
    )
    .await;
    let tenant: uuid::Uuid = f["tenant"]["id"].as_str().unwrap().parse().unwrap();
    let name = format!("{prefix}{}", tenant.simple());
    let exists = || async {
        if backend.is_postgres() {
            let admin =
                crate::databases::admin(&crate::databases::server_of(&app.database_url)).await;
            count(
                &admin,
                "SELECT count(*) AS n FROM pg_database WHERE datname = $1",
                name.clone(),
            )
            .await
                == 1
        } else {
            let main = app.database_url.trim_start_matches("sqlite://");
            let main = std::path::Path::new(main.split('?').next().unwrap());
            main.parent()
                .unwrap()
                .join("tenants")
                .join(format!("{name}.db"))
                .exists()
        }
    };
    assert!(exists().await, "the tenant's database {name} was not made");
    assert_eq!(app.delete_fixture(SECRET, &tenant.to_string()).await, 204);
    assert!(!exists().await, "the tenant's database {name} outlived it");
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_a_database_tenant_removes_its_database() {
        super::deleting_a_database_tenant_removes_its_database(
            crate::helpers::Backend::PostgresDatabase,
        )
        .await;
    }
}
mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_a_database_tenant_removes_its_database() {
        super::deleting_a_database_tenant_removes_its_database(
            crate::helpers::Backend::SqliteDatabase,
        )
        .await;
    }
}

/// With room for one tenant pool, tenants take turns: each request retires
/// the idle pool of the one before, and the metrics show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_take_turns_when_the_budget_holds_one_pool() {
    let app = spawn_with(Backend::PostgresDatabase, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into());
        // Shared pool 5 + one admin connection + one pool of 2.
        s.tenancy.connection_budget = s.database.max_connections + 1 + 2;
    })
    .await;
    let a = fixture(
        &app,
        json!({ "users": [{ "role": "owner" }], "projects": 1 }),
    )
    .await;
    let b = fixture(
        &app,
        json!({ "users": [{ "role": "owner" }], "projects": 1 }),
    )
    .await;
    for round in 0..3 {
        for f in [&a, &b] {
            let token = f["users"][0]["accessToken"].as_str().unwrap();
            let d = app
                .data(Some(token), "{ projects { totalCount } }", json!({}))
                .await;
            assert_eq!(d["projects"]["totalCount"], 1, "round {round}");
        }
    }
    let ready: Value = app
        .client()
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pools = &ready["tenantPools"];
    assert_eq!(
        (pools["open"].as_u64(), pools["freeSlots"].as_u64()),
        (Some(1), Some(0)),
        "{ready}"
    );
    // Every switch between A and B retired the other's pool.
    assert!(pools["retired"].as_u64().unwrap() >= 5, "{ready}");
    assert_eq!(pools["rejected"], 0, "{ready}");
    let metrics = app.metrics_text().await;
    for name in [
        "tenantry_tenant_pools_open",
        "tenantry_tenant_pools_retired_total",
        "tenantry_tenant_pool_admission_seconds",
    ] {
        assert!(
            metrics.contains(name),
            "{name} is not in /metrics:\n{metrics}"
        );
    }
}
