//! The schema strategy: a PostgreSQL schema per tenant, chosen per tenant, in
//! the same deployment as row tenants.

use crate::helpers::{Backend, TestApp, assert_code, bad_fields, spawn_with};
use domain::Isolation;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};

const SECRET: &str = "schema-fixtures-secret-0123456789abcdef";

async fn app(backend: Backend) -> TestApp {
    spawn_with(backend, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await
}

async fn fixture(app: &TestApp, isolation: &str, projects: usize) -> Value {
    let body = json!({ "isolation": isolation, "users": [{ "role": "owner" }], "projects": projects, "tasksPerProject": 3 });
    app.fixture(SECRET, body).await
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_tenant_lives_in_its_own_schema_and_goes_with_it() {
    let app = app(Backend::Postgres).await;
    let f = fixture(&app, "schema", 2).await;
    assert_eq!(f["tenant"]["isolation"], "schema");
    let id: uuid::Uuid = f["tenant"]["id"].as_str().unwrap().parse().unwrap();
    let schema = format!("t_{}", id.simple());
    let db = Database::connect(&app.database_url).await.unwrap();
    assert_eq!(
        count(&db, &format!("SELECT count(*) FROM \"{schema}\".projects")).await,
        2
    );
    assert_eq!(
        count(&db, &format!("SELECT count(*) FROM \"{schema}\".tasks")).await,
        6
    );
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM public.projects WHERE tenant_id = '{id}'")
        )
        .await,
        0,
        "nothing of it in the shared tables"
    );
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM \"{schema}\".seaql_tenant_migrations")
        )
        .await,
        count(&db, "SELECT count(*) FROM public.seaql_tenant_migrations").await,
        "its own ledger, at the same version"
    );
    let token = f["users"][0]["accessToken"].as_str().unwrap();
    let d = app
        .data(
            Some(token),
            "{ projects { totalCount } tasks { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d,
        json!({ "projects": { "totalCount": 2 }, "tasks": { "totalCount": 6 } })
    );
    let d = app
        .data(
            Some(token),
            "mutation { createProject(input: {name: \"In its schema\"}) { id } }",
            json!({}),
        )
        .await;
    assert!(d["createProject"]["id"].is_string());
    assert_eq!(
        count(&db, &format!("SELECT count(*) FROM \"{schema}\".projects")).await,
        3
    );

    assert_eq!(app.delete_fixture(SECRET, &id.to_string()).await, 204);
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM information_schema.schemata WHERE schema_name = '{schema}'"
            )
        )
        .await,
        0,
        "the schema is dropped with its tenant"
    );
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM tenants WHERE id = '{id}'")
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_and_schema_tenants_share_a_server_and_never_mix() {
    let app = app(Backend::Postgres).await;
    let row = fixture(&app, "row", 2).await;
    let schema = fixture(&app, "schema", 3).await;
    let (row_token, schema_token) = (
        row["users"][0]["accessToken"].as_str().unwrap(),
        schema["users"][0]["accessToken"].as_str().unwrap(),
    );
    const COUNTS: &str = "{ projects { totalCount } tasks { totalCount } }";
    assert_eq!(
        app.data(Some(row_token), COUNTS, json!({})).await,
        json!({ "projects": { "totalCount": 2 }, "tasks": { "totalCount": 6 } })
    );
    assert_eq!(
        app.data(Some(schema_token), COUNTS, json!({})).await,
        json!({ "projects": { "totalCount": 3 }, "tasks": { "totalCount": 9 } })
    );
    // Each holds the other's ids and reaches nothing.
    for (token, other) in [(row_token, &schema), (schema_token, &row)] {
        let p = other["projects"][0]["id"].as_str().unwrap();
        let t = other["projects"][0]["taskIds"][0].as_str().unwrap();
        assert_code(
            &app.gql(
                Some(token),
                "query($id: ID!) { project(id: $id) { id } }",
                json!({ "id": p }),
            )
            .await,
            "NOT_FOUND",
        );
        assert_code(
            &app.gql(
                Some(token),
                "query($id: ID!) { task(id: $id) { id } }",
                json!({ "id": t }),
            )
            .await,
            "NOT_FOUND",
        );
        assert_code(
            &app.gql(
                Some(token),
                "mutation($id: ID!) { deleteProject(id: $id) }",
                json!({ "id": p }),
            )
            .await,
            "NOT_FOUND",
        );
    }
}

async fn create_tenant_picks_the_isolation(backend: Backend) {
    // Users choose only where the deployment lets them (budgets.rs tests the refusal).
    let app = spawn_with(backend, |s| {
        s.tenancy.self_service.isolations =
            vec![Isolation::Row, Isolation::Schema, Isolation::Database];
    })
    .await;
    let acc = app.sign_up().await;
    let create = |isolation: &'static str| {
        let slug = crate::helpers::unique("iso");
        let app = &app;
        let token = acc.token.clone();
        async move {
            app.gql(
                Some(&token),
                "mutation($i: CreateTenantInput!) { createTenant(input: $i) { id isolation } }",
                json!({ "i": { "name": "Isolated", "slug": slug, "isolation": isolation } }),
            )
            .await
        }
    };
    let mut served = vec!["ROW", "DATABASE"];
    if backend.is_postgres() {
        served.push("SCHEMA");
    } else {
        let body = create("SCHEMA").await;
        assert_eq!(bad_fields(&body), ["isolation"], "{body}");
    }
    // One server, one user, a tenant of each kind side by side: each sees
    // its own project only.
    for isolation in served {
        let body = create(isolation).await;
        assert_eq!(
            body["data"]["createTenant"]["isolation"], isolation,
            "{body}"
        );
        let tenant = body["data"]["createTenant"]["id"].as_str().unwrap();
        let d = app
            .data(
                Some(&acc.token),
                "mutation($t: ID!) { switchTenant(tenantId: $t) { accessToken } }",
                json!({ "t": tenant }),
            )
            .await;
        let token = d["switchTenant"]["accessToken"].as_str().unwrap();
        app.data(
            Some(token),
            "mutation($n: String!) { createProject(input: {name: $n}) { id } }",
            json!({ "n": isolation }),
        )
        .await;
        let d = app
            .data(
                Some(token),
                "{ tenant { isolation } projects { totalCount edges { node { name } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            d,
            json!({ "tenant": { "isolation": isolation },
                    "projects": { "totalCount": 1, "edges": [{ "node": { "name": isolation } }] } })
        );
    }
}

crate::on_every_backend!(create_tenant_picks_the_isolation);

/// Anyone may sign up, so sign-up cannot ask for a strategy that makes the
/// server run DDL: only the deployment's default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_takes_only_the_default_isolation() {
    let app = app(Backend::Postgres).await;
    let body = app
        .gql(
            None,
            "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
            json!({ "i": { "email": format!("{}@example.test", crate::helpers::unique("s")),
                           "password": "correct horse battery", "displayName": "S",
                           "tenantName": "S", "tenantSlug": crate::helpers::unique("s"),
                           "isolation": "SCHEMA" } }),
        )
        .await;
    assert_eq!(bad_fields(&body), ["isolation"], "{body}");
}
