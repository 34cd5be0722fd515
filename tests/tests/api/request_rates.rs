//! Every request's rates: a tenant's database work, a member's requests and
//! an anonymous client's, in-process and in Redis; and a tenant's own rate.

use crate::helpers::{Setup, TestApp, assert_code, spawn_setup_with};
use domain::TenantId;
use domain::ports::TenantRates;
use domain::rates::RequestRates;
use serde_json::{Value, json};
use std::time::Duration;

/// 41 database round trips: the page, and per project its tasks and count.
const HEAVY: &str = "{ projects(first: 20) { edges { node { tasks(first: 1) { totalCount } } } } }";

fn retry_after(body: &Value) -> u64 {
    assert_code(body, "RATE_LIMITED");
    body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("no retryAfter in {body}"))
}

async fn set_own_rates(app: &TestApp, tenant: &str, rates: RequestRates) {
    app.platform()
        .await
        .tenant_rates()
        .set_request_rates(tenant.parse::<TenantId>().unwrap(), rates)
        .await
        .unwrap();
}

/// Waits until the tenant sees its own rate: every node follows the change
/// feed, within its poll interval. Polls slower than the rates refill.
async fn applied(app: &TestApp, token: &str, field: &str, value: u64) {
    let q = format!("{{ tenant {{ limits {{ {field} }} }} }}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let body = app.gql(Some(token), &q, json!({})).await;
        if body["data"]["tenant"]["limits"][field] == value {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "not applied: {body}");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

async fn a_tenants_database_work_is_rated_and_its_own_rate_replaces_the_default(setup: Setup) {
    let app = spawn_setup_with(setup, |s| {
        let r = &mut s.rate_limit.requests;
        r.tenant_work_per_second = 45;
    })
    .await;
    let busy = app.sign_up().await;
    let other = app.sign_up().await;
    let t = Some(busy.token.as_str());
    assert!(app.gql(t, HEAVY, json!({})).await.get("errors").is_none());
    // The burst is spent: the next one waits for the rate to refill.
    let body = app.gql(t, HEAVY, json!({})).await;
    assert!(retry_after(&body) >= 1, "{body}");
    assert!(body["data"].is_null(), "nothing ran: {body}");
    // A light request of the tenant still fits meanwhile, and so does
    // another tenant's heavy one.
    app.data(t, "{ me { id } }", json!({})).await;
    app.data(Some(&other.token), HEAVY, json!({})).await;

    // Its own rate replaces the default.
    let rates = RequestRates {
        tenant_work: Some(1_000),
        per_user: None,
    };
    set_own_rates(&app, &busy.tenant_id, rates).await;
    applied(&app, &busy.token, "tenantWorkPerSecond", 1_000).await;
    for _ in 0..3 {
        app.data(t, HEAVY, json!({})).await;
    }
}

async fn members_and_anonymous_clients_are_rated(setup: Setup) {
    let app = spawn_setup_with(setup, |s| {
        let r = &mut s.rate_limit.requests;
        r.user_per_second = 3;
        r.anonymous_per_second = 3;
        s.fixtures.secret = Some("rates-fixtures-secret-0123456789abcdef".to_owned().into());
    })
    .await;
    let f = app
        .fixture(
            "rates-fixtures-secret-0123456789abcdef",
            json!({ "users": [{ "role": "member" }, { "role": "member" }] }),
        )
        .await;
    let first = f["users"][0]["accessToken"].as_str().unwrap();
    let second = f["users"][1]["accessToken"].as_str().unwrap();
    for _ in 0..3 {
        app.data(Some(first), "{ me { id } }", json!({})).await;
    }
    let body = app.gql(Some(first), "{ me { id } }", json!({})).await;
    assert!(retry_after(&body) >= 1);
    // Another member of the same tenant has a rate of their own.
    app.data(Some(second), "{ me { id } }", json!({})).await;

    for _ in 0..3 {
        app.data(None, "{ __typename }", json!({})).await;
    }
    let res = app
        .client()
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    let header: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        header,
        retry_after(&body),
        "the header says what the body says"
    );

    // A member's own rate, set for the tenant.
    let tenant = f["tenant"]["id"].as_str().unwrap();
    let rates = RequestRates {
        tenant_work: None,
        per_user: Some(100),
    };
    set_own_rates(&app, tenant, rates).await;
    applied(&app, second, "requestsPerMemberPerSecond", 100).await;
    for _ in 0..5 {
        app.data(Some(second), "{ me { id } }", json!({})).await;
    }
}

crate::for_every_setup!(
    a_tenants_database_work_is_rated_and_its_own_rate_replaces_the_default,
    members_and_anonymous_clients_are_rated
);
