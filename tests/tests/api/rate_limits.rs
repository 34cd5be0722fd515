//! Sign-in rate limits: per account (registered or not, alike) and per client
//! address, in-process and in Redis; and what happens when Redis is down.

use crate::helpers::{Backend, Setup, TestApp, assert_code, spawn_setup_with, spawn_with};
use api::config::FailMode;
use serde_json::{Value, json};

const SIGN_IN: &str = "mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }";

async fn attempt(app: &TestApp, email: &str, password: &str, xff: Option<&str>) -> Value {
    let mut req = app
        .client()
        .post(app.url("/graphql"))
        .json(&json!({ "query": SIGN_IN, "variables": { "i": { "email": email, "password": password } } }));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    req.send().await.unwrap().json().await.unwrap()
}

fn retry_after(body: &Value) -> u64 {
    assert_code(body, "RATE_LIMITED");
    body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter in seconds")
}

async fn an_account_is_limited_whether_or_not_it_exists(setup: Setup) {
    let app = spawn_setup_with(setup, |s| {
        s.rate_limit.sign_in_per_account = 3;
        s.rate_limit.sign_in_per_client = 1000;
    })
    .await;
    let acc = app.sign_up().await;
    for email in [acc.email.as_str(), "nobody-here@example.test"] {
        for _ in 0..3 {
            assert_code(
                &attempt(&app, email, "wrong password!!", None).await,
                "UNAUTHENTICATED",
            );
        }
        let body = attempt(&app, email, "wrong password!!", None).await;
        let wait = retry_after(&body);
        assert!(
            (1..=20).contains(&wait),
            "3 a minute: the next one in about 20 s, got {wait}"
        );
    }
    // Limited means limited: even the right password waits.
    let body = attempt(&app, &acc.email, &acc.password, None).await;
    retry_after(&body);
    // The limit is per account: another one signs in.
    let other = app.sign_up().await;
    let body = attempt(&app, &other.email, &other.password, None).await;
    assert!(body["data"]["signIn"]["accessToken"].is_string(), "{body}");
}

async fn a_client_address_is_limited_and_cannot_forge_another(setup: Setup) {
    let app = spawn_setup_with(setup, |s| {
        s.rate_limit.sign_in_per_account = 1000;
        s.rate_limit.sign_in_per_client = 3;
    })
    .await;
    for i in 0..3 {
        let body = attempt(
            &app,
            &format!("user{i}@example.test"),
            "wrong password!!",
            Some(&format!("9.9.9.{i}")),
        )
        .await;
        assert_code(&body, "UNAUTHENTICATED");
    }
    // X-Forwarded-For from an untrusted peer is ignored: a new value does not help.
    retry_after(
        &attempt(
            &app,
            "user9@example.test",
            "wrong password!!",
            Some("8.8.8.8"),
        )
        .await,
    );
}

async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(setup: Setup) {
    let app = spawn_setup_with(setup, |s| {
        s.rate_limit.sign_in_per_account = 1000;
        s.rate_limit.sign_in_per_client = 2;
        s.server.trusted_proxies =
            vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()];
    })
    .await;
    for _ in 0..2 {
        assert_code(
            &attempt(
                &app,
                "a@example.test",
                "wrong password!!",
                Some("203.0.113.1"),
            )
            .await,
            "UNAUTHENTICATED",
        );
    }
    retry_after(
        &attempt(
            &app,
            "a@example.test",
            "wrong password!!",
            Some("203.0.113.1"),
        )
        .await,
    );
    assert_code(
        &attempt(
            &app,
            "a@example.test",
            "wrong password!!",
            Some("203.0.113.2"),
        )
        .await,
        "UNAUTHENTICATED",
    );
}

crate::for_every_setup!(
    an_account_is_limited_whether_or_not_it_exists,
    a_client_address_is_limited_and_cannot_forge_another,
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit,
);

/// Redis refuses connections: requests still work; sign-in follows the rule.
async fn with_redis_down(mode: FailMode) -> TestApp {
    spawn_with(Backend::Postgres, |s| {
        // Port 1: nothing listens, connections are refused at once.
        s.redis.url = Some("redis://127.0.0.1:1".into());
        s.rate_limit.on_redis_failure = mode;
        s.rate_limit.closed_retry_after_secs = 7;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fail_open_lets_sign_in_through_and_requests_work() {
    let app = with_redis_down(FailMode::Open).await;
    let acc = app.sign_up().await;
    let body = attempt(&app, &acc.email, &acc.password, None).await;
    let token = body["data"]["signIn"]["accessToken"]
        .as_str()
        .expect("signed in")
        .to_owned();
    // The revocation list is unreachable: the database answers instead.
    let d = app.data(Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!(d["me"]["id"], acc.user_id.as_str());
    app.data(Some(&token), "mutation { signOut }", json!({}))
        .await;
    assert_code(
        &app.gql(Some(&token), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED",
    );
    // And readiness says so.
    let res = app.client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["redis"], "unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fail_closed_refuses_sign_in_with_a_retry_after() {
    let app = with_redis_down(FailMode::Closed).await;
    let acc = app.sign_up().await;
    let body = attempt(&app, &acc.email, &acc.password, None).await;
    assert_eq!(retry_after(&body), 7);
    // Everything but sign-in still works.
    let d = app.data(Some(&acc.token), "{ me { id } }", json!({})).await;
    assert_eq!(d["me"]["id"], acc.user_id.as_str());
}
