//! The fixture endpoint for end-to-end suites.

use crate::helpers::{Backend, TestApp, assert_code, spawn_with};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const SECRET: &str = "fixture-secret-for-tests-0123456789abcdef";

async fn spawn_fixtures(backend: Backend) -> TestApp {
    spawn_with(backend, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await
}

async fn create(app: &TestApp, secret: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app.client().post(app.url("/_fixtures/tenants")).json(&body);
    if let Some(s) = secret {
        req = req.header("x-fixtures-secret", s);
    }
    req.send().await.unwrap()
}

/// In the deployment's default isolation (row, or schema on the schema backend).
const STANDARD: fn() -> Value = || json!({ "users": [{ "role": "admin" }, { "role": "viewer" }], "projects": 2, "tasksPerProject": 5 });

async fn without_the_secret_the_endpoint_does_not_exist(backend: Backend) {
    let app = spawn_fixtures(backend).await;
    assert_eq!(create(&app, None, STANDARD()).await.status(), 404);
    assert_eq!(create(&app, Some("wrong"), STANDARD()).await.status(), 404);
    let res = app
        .client()
        .delete(app.url("/_fixtures/tenants/00000000-0000-0000-0000-000000000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // Not configured at all: 404 even with a secret.
    let plain = crate::helpers::spawn(backend).await;
    assert_eq!(create(&plain, Some(SECRET), STANDARD()).await.status(), 404);
}

/// Status, headers (but the request id and date) and body of a request.
async fn answer(app: &TestApp, method: &str, path: &str, secret: Option<&str>) -> String {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app
        .client()
        .request(method, app.url(path))
        .header("content-type", "application/json")
        .body(STANDARD().to_string());
    if let Some(s) = secret {
        req = req.header("x-fixtures-secret", s);
    }
    let res = req.send().await.unwrap();
    let mut headers: Vec<String> = res
        .headers()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "x-request-id" | "date"))
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
        .collect();
    headers.sort();
    format!(
        "{} {headers:?} {:?}",
        res.status(),
        res.text().await.unwrap()
    )
}

/// With the endpoint off, or without the right secret, no method on any
/// `/_fixtures` path can tell it from a path that never existed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_endpoint_answers_every_method_like_an_unknown_path() {
    let plain = crate::helpers::spawn(Backend::Sqlite).await;
    let production = spawn_with(Backend::Sqlite, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into());
        s.app_env = api::config::AppEnv::Production;
    })
    .await;
    let on = spawn_fixtures(Backend::Sqlite).await;
    let wrong = format!("{SECRET}x");
    let cases: [(&TestApp, Option<&str>); 6] = [
        (&plain, None),
        (&plain, Some(SECRET)),
        (&production, Some(SECRET)),
        (&on, None),
        (&on, Some(&wrong)),
        (&on, Some("")),
    ];
    let tenant = "/_fixtures/tenants/00000000-0000-0000-0000-000000000000";
    for (app, secret) in cases {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] {
            let unknown = answer(app, method, "/no-such-path", secret).await;
            for path in [
                "/_fixtures/tenants",
                tenant,
                "/_fixtures/other",
                "/_fixtures/",
            ] {
                assert_eq!(
                    answer(app, method, path, secret).await,
                    unknown,
                    "{method} {path} with secret {secret:?}"
                );
            }
        }
    }
    // Nor do the metrics name the path.
    assert!(!on.metrics_text().await.contains("_fixtures"));
}

/// A tenant made by signing up is nobody's fixture: the endpoint answers as
/// for an unknown tenant and leaves it whole.
async fn deleting_a_tenant_not_made_by_the_endpoint_is_a_404(backend: Backend) {
    let app = spawn_fixtures(backend).await;
    let owner = app.sign_up().await;
    let project = app.create_project(&owner.token, "Keep me").await;
    let unknown = app
        .delete_fixture(SECRET, "00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(unknown, 404);
    assert_eq!(app.delete_fixture(SECRET, &owner.tenant_id).await, unknown);
    let d = app
        .data(
            Some(&owner.token),
            "{ tenant { id } myTenants { role } projects { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["tenant"]["id"], owner.tenant_id.as_str());
    assert_eq!(d["myTenants"], json!([{ "role": "owner" }]));
    assert_eq!(d["projects"]["edges"][0]["node"]["id"], project.as_str());
    app.create_project(&owner.token, "Still works").await;

    // A fixture tenant still goes, once.
    let f = app.fixture(SECRET, STANDARD()).await;
    let id = f["tenant"]["id"].as_str().unwrap();
    assert_eq!(app.delete_fixture(SECRET, id).await, 204);
    assert_eq!(app.delete_fixture(SECRET, id).await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_production_the_endpoint_does_not_exist_even_with_the_secret() {
    let app = spawn_with(Backend::Sqlite, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into());
        s.app_env = api::config::AppEnv::Production;
    })
    .await;
    assert_eq!(create(&app, Some(SECRET), STANDARD()).await.status(), 404);
}

async fn a_bad_body_is_a_400_that_says_why(backend: Backend) {
    let app = spawn_fixtures(backend).await;
    for (body, says) in [
        (json!({ "users": [{ "role": "emperor" }] }), "users[0].role"),
        (json!({ "projects": 1000 }), "projects"),
        (json!({ "isolation": "galaxy" }), "isolation"),
        (json!({ "usres": [] }), "unknown field"),
    ] {
        let res = create(&app, Some(SECRET), body).await;
        assert_eq!(res.status(), 400);
        let text = res.text().await.unwrap();
        assert!(text.contains(says), "{text} should mention {says}");
    }
}

async fn fixture_users_sign_in_and_see_exactly_the_fixture(backend: Backend) {
    let app = spawn_fixtures(backend).await;
    let res = create(&app, Some(SECRET), STANDARD()).await;
    assert_eq!(res.status(), 201);
    let f: Value = res.json().await.unwrap();
    assert_eq!(f["tenant"]["isolation"], backend.isolation());
    let users = f["users"].as_array().unwrap();
    assert_eq!(
        users
            .iter()
            .map(|u| u["role"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["admin", "viewer"]
    );
    let expected_projects: BTreeSet<String> = f["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let expected_tasks: BTreeSet<String> = f["projects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["taskIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!((expected_projects.len(), expected_tasks.len()), (2, 10));

    for u in users {
        // The returned password signs in; the returned token works as is.
        let d = app
            .data(None, "mutation($i: SignInInput!) { signIn(input: $i) { accessToken tenant { id } } }",
                  json!({ "i": { "email": u["email"], "password": u["password"], "tenantSlug": f["tenant"]["slug"] } }))
            .await;
        assert_eq!(d["signIn"]["tenant"]["id"], f["tenant"]["id"]);
        let token = u["accessToken"].as_str().unwrap();
        let d = app
            .data(Some(token), "{ myTenants { role } projects(first: 100) { edges { node { id } } } tasks(first: 100) { edges { node { id } } } }", json!({}))
            .await;
        assert_eq!(d["myTenants"], json!([{ "role": u["role"] }]));
        let seen = |list: &str| -> BTreeSet<String> {
            d[list]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(seen("projects"), expected_projects);
        assert_eq!(seen("tasks"), expected_tasks);
        // And the refresh token is live.
        let d = app
            .data(
                None,
                "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
                json!({ "t": u["refreshToken"] }),
            )
            .await;
        assert!(d["refreshSession"]["accessToken"].is_string());
    }
}

async fn the_same_seed_gives_the_same_data(backend: Backend) {
    let app = spawn_fixtures(backend).await;
    let body =
        json!({ "users": [{ "role": "owner" }], "projects": 1, "tasksPerProject": 8, "seed": 7 });
    let mut shapes = Vec::new();
    for _ in 0..2 {
        let f: Value = create(&app, Some(SECRET), body.clone())
            .await
            .json()
            .await
            .unwrap();
        let d = app
            .data(Some(f["users"][0]["accessToken"].as_str().unwrap()),
                  "{ tasks(first: 50, orderBy: {field: CREATED_AT, direction: ASC}) { edges { node { title status priority } } } }", json!({}))
            .await;
        shapes.push(d);
    }
    assert_eq!(shapes[0], shapes[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_tenant_and_everything_it_owns() {
    let app = spawn_fixtures(Backend::Postgres).await;
    let f: Value = create(&app, Some(SECRET), STANDARD())
        .await
        .json()
        .await
        .unwrap();
    let tenant = f["tenant"]["id"].as_str().unwrap().to_owned();
    let token = f["users"][0]["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(app.delete_fixture(SECRET, &tenant).await, 204);

    let db = Database::connect(&app.database_url).await.unwrap();
    let tid: uuid::Uuid = tenant.parse().unwrap();
    for table in [
        "tenants WHERE id",
        "memberships WHERE tenant_id",
        "sessions WHERE tenant_id",
        "projects WHERE tenant_id",
        "tasks WHERE tenant_id",
    ] {
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!("SELECT count(*) AS n FROM {table} = $1"),
                [tid.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        assert_eq!(n, 0, "{table} still has rows of the deleted tenant");
    }
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.deleted'",
            [tid.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<i64>("", "n").unwrap(),
        1,
        "the record of the deletion outlives the tenant"
    );
    for u in f["users"].as_array().unwrap() {
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM users WHERE email = $1",
                [u["email"].as_str().unwrap().into()],
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.try_get::<i64>("", "n").unwrap(),
            0,
            "fixture users go with their tenant"
        );
    }
    assert_code(
        &app.gql(Some(&token), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED",
    );
    assert_eq!(app.delete_fixture(SECRET, &tenant).await, 404);
}

async fn fixtures_created_at_once_never_share_data(backend: Backend) {
    let app = spawn_fixtures(backend).await;
    let made =
        futures::future::join_all((0..4).map(|_| create(&app, Some(SECRET), STANDARD()))).await;
    let mut fixtures = Vec::new();
    for res in made {
        assert_eq!(res.status(), 201);
        fixtures.push(res.json::<Value>().await.unwrap());
    }
    let tenants: BTreeSet<_> = fixtures
        .iter()
        .map(|f| f["tenant"]["id"].to_string())
        .collect();
    assert_eq!(tenants.len(), 4);
    for f in &fixtures {
        let token = f["users"][0]["accessToken"].as_str().unwrap();
        let d = app.data(Some(token), "{ projects { totalCount } tasks(first: 100) { totalCount edges { node { project { id } } } } }", json!({})).await;
        assert_eq!(
            (
                d["projects"]["totalCount"].as_u64(),
                d["tasks"]["totalCount"].as_u64()
            ),
            (Some(2), Some(10))
        );
        let own: BTreeSet<String> = f["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        for e in d["tasks"]["edges"].as_array().unwrap() {
            assert!(own.contains(e["node"]["project"]["id"].as_str().unwrap()));
        }
    }
}

crate::on_every_backend!(
    without_the_secret_the_endpoint_does_not_exist,
    deleting_a_tenant_not_made_by_the_endpoint_is_a_404,
    a_bad_body_is_a_400_that_says_why,
    fixture_users_sign_in_and_see_exactly_the_fixture,
    the_same_seed_gives_the_same_data,
    fixtures_created_at_once_never_share_data,
);
