//! The HTTP contract: content types, methods, limits, health, metrics, request ids.

use crate::helpers::{Backend, assert_code, codes, spawn, spawn_with};
use serde_json::{Value, json};

async fn only_json_bodies_are_accepted_on_post(backend: Backend) {
    let app = spawn(backend).await;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let res = app
            .client()
            .post(app.url("/graphql"))
            .header("content-type", ct)
            .body(r#"{"query":"{ __typename }"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 415, "{ct} must be refused");
    }
    let res = app
        .client()
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

async fn get_runs_queries_but_never_mutations(backend: Backend) {
    let app = spawn(backend).await;
    let res = app
        .client()
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["__typename"], "Query");

    let res = app
        .client()
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { signIn(input: {email: \"a@b.cd\", password: \"xxxxxxxxxx\"}) { accessToken } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let res = app
        .client()
        .get(app.url("/graphql"))
        .query(&[
            (
                "query",
                "query Q { __typename } mutation M { deleteTask(id: \"x\") }",
            ),
            ("operationName", "M"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);

    // A browser gets GraphiQL, with its assets from this server.
    let res = app
        .client()
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("/graphiql/graphiql.min.js"));
    let res = app
        .client()
        .get(app.url("/graphiql/graphiql.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().len() > 100_000);
}

async fn depth_complexity_aliases_and_batches_are_limited(backend: Backend) {
    let app = spawn_with(backend, |s| {
        s.graphql.max_depth = 5;
        s.graphql.max_aliases = 3;
        s.graphql.max_batch = 2;
    })
    .await;
    let acc = app.sign_up().await;
    let t = Some(acc.token.as_str());

    let deep = "{ projects { edges { node { tasks { edges { node { project { name } } } } } } } }";
    assert_code(&app.gql(t, deep, json!({})).await, "QUERY_TOO_COMPLEX");

    let aliases = "{ a: me { id } b: me { id } c: me { id } d: me { id } }";
    assert_code(&app.gql(t, aliases, json!({})).await, "QUERY_TOO_COMPLEX");

    // Mutations are costed so that aliasing one many times is refused before any runs.
    let many: String = (0..11)
        .map(|i| format!("m{i}: createProject(input: {{name: \"p{i}\"}}) {{ id }} "))
        .collect();
    let app2 = spawn(backend).await;
    let acc2 = app2.sign_up().await;
    let body = app2
        .gql(
            Some(&acc2.token),
            &format!("mutation {{ {many} }}"),
            json!({}),
        )
        .await;
    assert_code(&body, "QUERY_TOO_COMPLEX");
    let d = app2
        .data(Some(&acc2.token), "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(d["projects"]["totalCount"], 0, "nothing ran");

    // A list's cost grows with its page size.
    let wide = "{ projects(first: 100) { edges { node { tasks(first: 100) { edges { node { id title } } } } } } }";
    assert_code(
        &app2.gql(Some(&acc2.token), wide, json!({})).await,
        "QUERY_TOO_COMPLEX",
    );

    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }, { "query": "{ __typename }" }]);
    let res = app
        .client()
        .post(app.url("/graphql"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let ok = json!([{ "query": "{ __typename }" }, { "query": "{ me { id } }" }]);
    let res = app
        .client()
        .post(app.url("/graphql"))
        .bearer_auth(&acc.token)
        .json(&ok)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body[1]["data"]["me"]["id"], acc.user_id.as_str());
}

async fn oversized_bodies_are_refused(backend: Backend) {
    let app = spawn_with(backend, |s| s.server.body_limit_bytes = 4096).await;
    let big = json!({ "query": "{ __typename }", "variables": { "pad": "x".repeat(10_000) } });
    let res = app
        .client()
        .post(app.url("/graphql"))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

async fn health_readiness_metrics_and_request_ids(backend: Backend) {
    let app = spawn(backend).await;
    let res = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok");

    // A client's request id is echoed; one is made when absent.
    let res = app
        .client()
        .post(app.url("/graphql"))
        .header("x-request-id", "my-request-1")
        .json(&json!({ "query": "query MetricsProbe { __typename }", "operationName": "MetricsProbe" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "my-request-1");
    let res = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert!(!res.headers()["x-request-id"].is_empty());

    let text = app.metrics_text().await;
    assert!(
        text.contains(r#"graphql_operations_total{operation="MetricsProbe",outcome="ok"}"#),
        "{text}"
    );
    assert!(
        text.contains("graphql_operation_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains(r#"path="/graphql""#), "{text}");
}

async fn unknown_fields_and_bad_variables_are_bad_user_input(backend: Backend) {
    let app = spawn(backend).await;
    let body = app.gql(None, "{ nope }", json!({})).await;
    assert_eq!(codes(&body), ["BAD_USER_INPUT"]);
    let acc = app.sign_up().await;
    let body = app
        .gql(
            Some(&acc.token),
            "query($n: Int) { projects(first: $n) { totalCount } }",
            json!({ "n": "ten" }),
        )
        .await;
    let c = codes(&body);
    assert!(
        !c.is_empty() && c.iter().all(|c| c == "BAD_USER_INPUT"),
        "{body}"
    );
}

crate::on_one_backend!(
    only_json_bodies_are_accepted_on_post,
    get_runs_queries_but_never_mutations,
    depth_complexity_aliases_and_batches_are_limited,
    oversized_bodies_are_refused,
    health_readiness_metrics_and_request_ids,
    unknown_fields_and_bad_variables_are_bad_user_input,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_configured_origins_and_security_headers_are_set() {
    let app = spawn_with(Backend::Sqlite, |s| {
        s.server.cors_origins = vec!["https://app.example.test".into()]
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client()
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
    };
    let ok = preflight("https://app.example.test").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.test"
    );
    assert!(
        ok.headers()
            .get("access-control-allow-credentials")
            .is_none(),
        "no cookies, no credentials"
    );
    let other = preflight("https://evil.example.test").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let res = app
        .client()
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(
        res.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    // GraphiQL keeps the policy its page needs.
    let page = app
        .client()
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
}

/// Apollo's Automatic Persisted Queries: a hash alone is answered once the
/// document was sent with it, over POST and GET; a wrong hash is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persisted_queries_are_found_by_their_hash_once_registered() {
    use sha2::{Digest, Sha256};
    let app = spawn(Backend::Sqlite).await;
    let query = "query Typename { __typename }";
    let hash: String = Sha256::digest(query.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let post = |body: Value| {
        let app = &app;
        async move {
            app.client()
                .post(app.url("/graphql"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let unknown = post(json!({ "extensions": ext })).await;
    assert_code(&unknown, "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound");

    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": "0".repeat(64) } });
    assert_code(
        &post(json!({ "query": query, "extensions": wrong })).await,
        "BAD_USER_INPUT",
    );

    let registered = post(json!({ "query": query, "extensions": ext })).await;
    assert_eq!(registered["data"]["__typename"], "Query", "{registered}");
    let by_hash = post(json!({ "extensions": ext })).await;
    assert_eq!(by_hash["data"]["__typename"], "Query", "{by_hash}");

    let got: Value = app
        .client()
        .get(app.url("/graphql"))
        .query(&[("extensions", ext.to_string())])
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["data"]["__typename"], "Query", "{got}");
}
