//! Moving a tenant between strategies while the server serves it: every row
//! copied, the old copy removed, and no write lost to a move in progress.

use crate::databases::count;
use crate::helpers::{Backend, TestApp, assert_code, spawn_with_platform};
use api::config::Settings;
use domain::lifecycle::TenantLifecycle;
use domain::{Isolation, TenantId};
use infra::platform::Platform;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const SECRET: &str = "moves-fixtures-secret-0123456789abcdef";

/// A PostgreSQL server, and the adapters of the same settings for the moves.
async fn setup() -> (TestApp, Platform, Settings) {
    spawn_with_platform(Backend::Postgres, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into());
    })
    .await
}

/// The tenant's task titles and project count, as its owner sees them.
/// Until the node has heard of a move (within `authz.poll_interval_ms`), a
/// request still aimed at the old place is asked to retry.
async fn seen(app: &TestApp, token: &str) -> (u64, BTreeSet<String>, String) {
    const QUERY: &str = "{ tenant { isolation } projects { totalCount } tasks(first: 100) { totalCount edges { node { title } } } }";
    let mut body = app.gql(Some(token), QUERY, json!({})).await;
    for _ in 0..100 {
        if body.get("errors").is_none() {
            break;
        }
        let codes = crate::helpers::codes(&body);
        assert!(codes.iter().all(|c| c == "RATE_LIMITED"), "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        body = app.gql(Some(token), QUERY, json!({})).await;
    }
    assert!(body.get("errors").is_none(), "{body}");
    let d = &body["data"];
    let titles: BTreeSet<String> = d["tasks"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        d["tasks"]["totalCount"].as_u64().unwrap() as usize,
        titles.len()
    );
    (
        d["projects"]["totalCount"].as_u64().unwrap(),
        titles,
        d["tenant"]["isolation"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_moves_row_schema_database_row_with_every_row() {
    let (app, platform, settings) = setup().await;
    let f = app
        .fixture(SECRET, json!({ "isolation": "row", "users": [{ "role": "owner" }], "projects": 2, "tasksPerProject": 3 }))
        .await;
    let other = app
        .fixture(SECRET, json!({ "isolation": "row", "users": [{ "role": "owner" }], "projects": 1, "tasksPerProject": 4 }))
        .await;
    let token = f["users"][0]["accessToken"].as_str().unwrap().to_owned();
    let other_token = other["users"][0]["accessToken"].as_str().unwrap();
    let id: TenantId = f["tenant"]["id"].as_str().unwrap().parse().unwrap();
    let uuid = id.as_uuid();
    let control = Database::connect(&app.database_url).await.unwrap();
    let admin = crate::databases::admin(&crate::databases::server_of(&app.database_url)).await;
    let database = format!("{}{}", settings.tenancy.database.name_prefix, uuid.simple());
    let project = f["projects"][0]["id"].as_str().unwrap().to_owned();

    let (projects, mut titles, _) = seen(&app, &token).await;
    assert_eq!((projects, titles.len()), (2, 6));
    let before_other = seen(&app, other_token).await;

    for (step, to) in [Isolation::Schema, Isolation::Database, Isolation::Row]
        .into_iter()
        .enumerate()
    {
        let report = platform
            .lifecycle()
            .move_tenant(id, to, None)
            .await
            .unwrap();
        assert_eq!(report.to, to);
        assert_eq!(
            report.rows.iter().find(|(t, _)| *t == "tasks").map(|r| r.1),
            Some(titles.len() as u64),
            "step {step}: every task copied: {report:?}"
        );
        // Served from its new place, with every row, to the token it had.
        let (projects, now, isolation) = seen(&app, &token).await;
        assert_eq!(isolation, to.as_str().to_uppercase(), "step {step}");
        assert_eq!((projects, &now), (2, &titles), "step {step}");
        // And writable there.
        let title = format!("after move {step}");
        app.create_task(&token, json!({ "projectId": project, "title": title }))
            .await;
        titles.insert(title);
        assert_eq!(seen(&app, &token).await.1, titles, "step {step}");

        // The old copy is gone.
        let shared_rows = count(
            &control,
            "SELECT count(*) AS n FROM tasks WHERE tenant_id = $1::uuid",
            uuid.to_string(),
        )
        .await;
        let schemas = count(
            &control,
            "SELECT count(*) AS n FROM pg_namespace WHERE nspname = $1",
            format!("t_{}", uuid.simple()),
        )
        .await;
        let databases = count(
            &admin,
            "SELECT count(*) AS n FROM pg_database WHERE datname = $1",
            database.clone(),
        )
        .await;
        let expected = match to {
            Isolation::Row => (titles.len() as i64, 0, 0),
            Isolation::Schema => (0, 1, 0),
            Isolation::Database => (0, 0, 1),
        };
        assert_eq!(
            (shared_rows, schemas, databases),
            expected,
            "step {step} (shared rows, schema, database)"
        );
        let moved = count(
            &control,
            "SELECT count(*) AS n FROM audit_log WHERE tenant_id = $1::uuid AND action = 'tenant.moved'",
            uuid.to_string(),
        )
        .await;
        assert_eq!(moved, step as i64 + 1, "each move is audited");
    }
    // The neighbour never noticed.
    assert_eq!(seen(&app, other_token).await, before_other);
    // Moving to where it is already is refused.
    let err = platform
        .lifecycle()
        .move_tenant(id, Isolation::Row, None)
        .await
        .unwrap_err();
    assert!(matches!(err, domain::Error::Invalid(_)), "{err}");
}

/// Creates a task, retrying while a move turns it away; returns its title.
async fn create_retrying(app: &TestApp, token: &str, project: &str, title: String) -> String {
    for _ in 0..400 {
        let body = app
            .gql(
                Some(token),
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                json!({ "i": { "projectId": project, "title": title } }),
            )
            .await;
        if body.get("errors").is_none() {
            return title;
        }
        assert_code(&body, "RATE_LIMITED");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("a write waited too long for a move");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_moves_are_not_lost() {
    let (app, platform, _) = setup().await;
    let f: Value = app
        .fixture(SECRET, json!({ "isolation": "row", "users": [{ "role": "owner" }], "projects": 1, "tasksPerProject": 0 }))
        .await;
    let token = f["users"][0]["accessToken"].as_str().unwrap().to_owned();
    let project = f["projects"][0]["id"].as_str().unwrap().to_owned();
    let id: TenantId = f["tenant"]["id"].as_str().unwrap().parse().unwrap();

    let writer = async {
        let mut made = BTreeSet::new();
        for i in 0..60 {
            made.insert(create_retrying(&app, &token, &project, format!("w{i}")).await);
        }
        made
    };
    let mover = async {
        for to in [
            Isolation::Schema,
            Isolation::Database,
            Isolation::Row,
            Isolation::Database,
        ] {
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            platform
                .lifecycle()
                .move_tenant(id, to, None)
                .await
                .unwrap();
        }
    };
    let (made, ()) = tokio::join!(writer, mover);
    let (_, titles, isolation) = seen(&app, &token).await;
    assert_eq!(isolation, "DATABASE");
    assert_eq!(
        titles, made,
        "every acknowledged write is in the tenant's final place"
    );
}

/// Storage a crashed creation or move left behind is found and removed;
/// a live tenant's, or one younger than the minimum age, never is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_storage_no_tenant_owns() {
    let (app, platform, settings) = setup().await;
    let live = app
        .fixture(
            SECRET,
            json!({ "isolation": "database", "users": [{ "role": "owner" }], "projects": 1 }),
        )
        .await;
    let live_schema = app
        .fixture(
            SECRET,
            json!({ "isolation": "schema", "users": [{ "role": "owner" }], "projects": 1 }),
        )
        .await;
    // What a process that died half-way leaves: a database and a schema
    // named for tenants that do not exist.
    let (ghost_db, ghost_schema) = (TenantId::generate(), TenantId::generate());
    let admin = crate::databases::admin(&crate::databases::server_of(&app.database_url)).await;
    admin
        .execute_unprepared(&format!(
            "CREATE DATABASE \"{}{}\"",
            settings.tenancy.database.name_prefix,
            ghost_db.as_uuid().simple()
        ))
        .await
        .unwrap();
    let control = Database::connect(&app.database_url).await.unwrap();
    control
        .execute_unprepared(&format!(
            "CREATE SCHEMA \"t_{}\"",
            ghost_schema.as_uuid().simple()
        ))
        .await
        .unwrap();

    // Too young to be an orphan: could be a tenant being created.
    let young = platform
        .lifecycle()
        .orphans(std::time::Duration::from_secs(600))
        .await
        .unwrap();
    assert!(young.is_empty(), "{young:?}");
    let found = platform
        .lifecycle()
        .orphans(std::time::Duration::ZERO)
        .await
        .unwrap();
    let expected = vec![
        domain::lifecycle::Orphan::Schema(ghost_schema),
        domain::lifecycle::Orphan::Database {
            server: "main".into(),
            tenant: ghost_db,
        },
    ];
    assert_eq!(found, expected);
    for o in &found {
        assert!(
            platform.lifecycle().remove_orphan(o).await.unwrap(),
            "{o} removed"
        );
    }
    // A live tenant's storage is never removed, even when named as an orphan
    // (as a move's target looks until the directory switches).
    let live_id: TenantId = live["tenant"]["id"].as_str().unwrap().parse().unwrap();
    let live_schema_id: TenantId = live_schema["tenant"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for o in [
        domain::lifecycle::Orphan::Database {
            server: "main".into(),
            tenant: live_id,
        },
        domain::lifecycle::Orphan::Schema(live_schema_id),
    ] {
        assert!(
            !platform.lifecycle().remove_orphan(&o).await.unwrap(),
            "{o} was removed"
        );
    }
    assert!(
        platform
            .lifecycle()
            .orphans(std::time::Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    // The live tenants are untouched and served.
    for f in [&live, &live_schema] {
        let token = f["users"][0]["accessToken"].as_str().unwrap();
        let d = app
            .data(Some(token), "{ projects { totalCount } }", json!({}))
            .await;
        assert_eq!(d["projects"]["totalCount"], 1);
    }
}

/// Two moves of one tenant at once: one moves it, the other finds it
/// already there, and every row survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_moves_at_once_do_not_lose_the_tenant() {
    let (app, platform, _) = setup().await;
    let f = app
        .fixture(SECRET, json!({ "isolation": "row", "users": [{ "role": "owner" }], "projects": 2, "tasksPerProject": 3 }))
        .await;
    let token = f["users"][0]["accessToken"].as_str().unwrap().to_owned();
    let id: TenantId = f["tenant"]["id"].as_str().unwrap().parse().unwrap();
    let before = seen(&app, &token).await.1;
    let lifecycle = platform.lifecycle();
    let (a, b) = tokio::join!(
        lifecycle.move_tenant(id, Isolation::Schema, None),
        lifecycle.move_tenant(id, Isolation::Schema, None)
    );
    // Exactly one moves it; the other is refused.
    let refused = match (a, b) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
        other => panic!("expected one move and one refusal: {other:?}"),
    };
    assert!(matches!(refused, domain::Error::Invalid(_)), "{refused}");
    let (projects, titles, isolation) = seen(&app, &token).await;
    assert_eq!(
        (projects, titles, isolation.as_str()),
        (2, before, "SCHEMA")
    );
}
