//! Graceful shutdown: a request in flight when the signal comes still gets its
//! answer; new connections are refused afterwards.

use crate::helpers::unique;
use api::app::Application;
use api::config::Settings;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_after_the_shutdown_signal() {
    let file = std::env::temp_dir().join(format!("tenantry-shutdown-{}.db", uuid::Uuid::new_v4()));
    let figment = Settings::figment()
        .merge(("app_env", "test"))
        .merge(("server.port", 0))
        .merge((
            "database.url",
            format!("sqlite://{}?mode=rwc", file.display()),
        ))
        .merge(("log.filter", "off"));
    let app = Application::build(Settings::from_figment(figment).unwrap())
        .await
        .unwrap();
    let url = format!("http://{}/graphql", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));

    // signUp hashes a password (tens of milliseconds): long enough to be in flight.
    let client = reqwest::Client::new();
    let request = client.post(&url).json(&json!({
        "query": "mutation($i: SignUpInput!) { signUp(input: $i) { user { email } } }",
        "variables": { "i": { "email": format!("{}@example.test", unique("u")), "password": "correct horse battery",
                              "displayName": "Ada", "tenantName": "Acme", "tenantSlug": unique("t") } }
    }));
    let in_flight = tokio::spawn(request.send());
    tokio::time::sleep(Duration::from_millis(5)).await;
    stop.send(()).unwrap();

    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["data"]["signUp"]["user"]["email"].is_string(),
        "{body}"
    );

    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    assert!(
        client
            .post(&url)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .is_err(),
        "no new connections"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
