//! Redis going away mid-run and coming back. The server talks to Redis
//! through a TCP proxy the test cuts and restores: while cut, requests keep
//! working (the revocation list falls back to the database, rate limiting
//! follows its fail-open or fail-closed rule); once restored, Redis is used
//! again without a restart.

use crate::helpers::{Backend, TestApp, assert_code, redis_url, spawn_with, unique};
use crate::proxy::Proxy;
use serde_json::{Value, json};
use std::time::Duration;

const SIGN_IN: &str = "mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }";

async fn redis_keys(pattern: &str) -> Vec<String> {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.expect(
        "Redis is not reachable; start it (`redis-server --daemonize yes`) or set TEST_REDIS_URL",
    );
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .unwrap()
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Value {
    app.gql(
        None,
        SIGN_IN,
        json!({ "i": { "email": email, "password": password } }),
    )
    .await
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let res = app.client().get(app.url("/readyz")).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn spawn_behind(proxy: &Proxy, prefix: &str, closed: bool) -> TestApp {
    let (url, prefix) = (proxy.route(&redis_url()), prefix.to_owned());
    spawn_with(Backend::Postgres, move |s| {
        s.redis.url = Some(url);
        s.redis.key_prefix = prefix;
        // Every membership lookup asks Redis: none is answered in-process.
        s.cache.local_entries = 0;
        if closed {
            s.rate_limit.on_redis_failure = api::config::FailMode::Closed;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_through_a_redis_outage_and_uses_redis_again_after() {
    let proxy = Proxy::to(&redis_url()).await;
    let prefix = unique("outage");
    let app = spawn_behind(&proxy, &prefix, false).await;
    let acc = app.sign_up().await;
    let body = sign_in(&app, &acc.email, &acc.password).await;
    assert!(body["data"]["signIn"]["accessToken"].is_string(), "{body}");
    assert!(
        !redis_keys(&format!("{prefix}:rl:*")).await.is_empty(),
        "rate limits live in Redis"
    );
    app.data(Some(&acc.token), "{ me { id } }", json!({})).await;
    let member_key = format!("{prefix}:{{t:{}}}:member:{}", acc.tenant_id, acc.user_id);
    assert_eq!(
        redis_keys(&member_key).await,
        std::slice::from_ref(&member_key),
        "the membership lookup is cached in Redis"
    );

    proxy.cut().await;
    // Reads and writes, sign-in (fail-open) and sign-out all still work.
    let project = app.create_project(&acc.token, "During the outage").await;
    let d = app
        .data(Some(&acc.token), "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(d["projects"]["totalCount"], 1);
    let body = sign_in(&app, &acc.email, &acc.password).await;
    let second = body["data"]["signIn"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("sign-in fails open: {body}"))
        .to_owned();
    let (status, r) = ready(&app).await;
    assert_eq!(
        (status, r["redis"].clone()),
        (503, json!("unreachable")),
        "{r}"
    );
    let d = app
        .data(Some(&second), "mutation { signOut }", json!({}))
        .await;
    assert_eq!(d["signOut"], true);
    // The revocation reached the database: the token is refused even now.
    let body = app.gql(Some(&second), "{ me { id } }", json!({})).await;
    assert_code(&body, "UNAUTHENTICATED");
    assert!(project.len() > 10);

    proxy.restore();
    // Back without a restart: readiness says so, and a new account's
    // sign-in attempts are counted in Redis again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, r) = ready(&app).await;
        if status == 200 && r["redis"] == "ok" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Redis never came back: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The sign-out Redis missed was written to the database and is replayed
    // to Redis now: the token stays refused, not only while Redis was away.
    loop {
        if !redis_keys(&format!("{prefix}:revoked:*")).await.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sign-out made during the outage never reached Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = app.gql(Some(&second), "{ me { id } }", json!({})).await;
    assert_code(&body, "UNAUTHENTICATED");
    let other = app.sign_up().await;
    // The membership cache, which leaves Redis alone for a while after a
    // failure, caches lookups there again.
    let member_key = format!(
        "{prefix}:{{t:{}}}:member:{}",
        other.tenant_id, other.user_id
    );
    loop {
        let d = app
            .data(Some(&other.token), "{ me { id } }", json!({}))
            .await;
        assert_eq!(d["me"]["id"], other.user_id.as_str());
        if !redis_keys(&member_key).await.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline + Duration::from_secs(15),
            "membership lookups were never cached in Redis again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let account_key = format!("{prefix}:rl:signin-account:{{{}}}", other.email);
    assert!(redis_keys(&account_key).await.is_empty());
    let body = sign_in(&app, &other.email, &other.password).await;
    assert!(body["data"]["signIn"]["accessToken"].is_string(), "{body}");
    assert_eq!(
        redis_keys(&account_key).await,
        [account_key],
        "the new account's attempts are counted in Redis"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_rate_limits_refuse_sign_in_while_redis_is_away() {
    let proxy = Proxy::to(&redis_url()).await;
    let app = spawn_behind(&proxy, &unique("closed"), true).await;
    let acc = app.sign_up().await;
    proxy.cut().await;
    let body = sign_in(&app, &acc.email, &acc.password).await;
    assert_code(&body, "RATE_LIMITED");
    // Everything that does not need a rate limit still works.
    let d = app.data(Some(&acc.token), "{ me { id } }", json!({})).await;
    assert_eq!(d["me"]["id"], acc.user_id.as_str());
    proxy.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let body = sign_in(&app, &acc.email, &acc.password).await;
        if body["data"]["signIn"]["accessToken"].is_string() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "sign-in never recovered: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
