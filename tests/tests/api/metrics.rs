//! `/metrics` is never public: on the API's port only to the configured
//! bearer token (else like any unknown path), and on a listener of its own.

use crate::helpers::{Backend, TEST_METRICS_TOKEN, spawn_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_port_serves_metrics_only_to_the_token() {
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    let get = |token: Option<&str>| {
        let mut req = app.client().get(app.url("/metrics"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap() }
    };
    assert_eq!(get(None).await.status(), 401);
    assert_eq!(
        get(Some("not-the-token-not-the-token-not-the"))
            .await
            .status(),
        401
    );
    let res = get(Some(TEST_METRICS_TOKEN)).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("http_requests_total"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_metrics_live_on_their_own_listener_only() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_with(Backend::Sqlite, |s| {
        s.metrics.token = None;
        s.metrics.listen = format!("127.0.0.1:{port}");
    })
    .await;
    let on_api = app.client().get(app.url("/metrics")).send().await.unwrap();
    let unknown = app
        .client()
        .get(app.url("/no-such-path"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status(), 404);
    assert_eq!(unknown.status(), 404);
    let own = app
        .client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert!(own.text().await.unwrap().contains("http_requests_total"));
}
