//! Budgets of the mutations anyone can call or that cost real work: sign-up
//! per client address, sign-in (an address its own budget refuses cannot
//! lock an account), password changes, refreshes, invitations and tenant
//! creation; in-process and in Redis. And the tenant policy: what users may
//! create for themselves, checked before anything is made.

use crate::helpers::{
    Account, Backend, Setup, TestApp, assert_code, bad_fields, spawn_setup_with, spawn_with, unique,
};
use serde_json::{Value, json};

const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }";
const SIGN_IN: &str =
    "mutation($i: SignInInput!) { signIn(input: $i) { accessToken refreshToken } }";
const CREATE_TENANT: &str =
    "mutation($i: CreateTenantInput!) { createTenant(input: $i) { id isolation } }";

fn retry_after(body: &Value) -> u64 {
    assert_code(body, "RATE_LIMITED");
    body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter in seconds")
}

async fn sign_up(app: &TestApp, email: &str, isolation: Option<&str>) -> Value {
    let mut input = json!({ "email": email, "password": "correct horse battery",
                            "displayName": "S", "tenantName": "S", "tenantSlug": unique("s") });
    if let Some(i) = isolation {
        input["isolation"] = json!(i);
    }
    app.gql(None, SIGN_UP, json!({ "i": input })).await
}

async fn sign_in(app: &TestApp, email: &str, password: &str, client: &str) -> Value {
    app.client()
        .post(app.url("/graphql"))
        .header("x-forwarded-for", client)
        .json(&json!({ "query": SIGN_IN, "variables": { "i": { "email": email, "password": password } } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn create_tenant(app: &TestApp, acc: &Account, isolation: Option<&str>) -> Value {
    let mut input = json!({ "name": "More", "slug": unique("m") });
    if let Some(i) = isolation {
        input["isolation"] = json!(i);
    }
    app.gql(Some(&acc.token), CREATE_TENANT, json!({ "i": input }))
        .await
}

async fn sign_ups_from_one_address_are_limited(setup: Setup) {
    let app = spawn_setup_with(setup, |s| s.rate_limit.hourly.sign_ups_per_client = 2).await;
    for _ in 0..2 {
        let body = sign_up(&app, &format!("{}@example.test", unique("u")), None).await;
        assert!(body["data"]["signUp"]["accessToken"].is_string(), "{body}");
    }
    let refused = format!("{}@example.test", unique("u"));
    let wait = retry_after(&sign_up(&app, &refused, None).await);
    assert!(
        (1..=1800).contains(&wait),
        "2 an hour: the next in about 30 min, got {wait}"
    );
    // Nothing was made for the refused one: its email is still free to sign
    // in with (and fails as unknown, not as a wrong password of an account).
    let body = sign_in(&app, &refused, "correct horse battery", "127.0.0.1").await;
    assert_code(&body, "UNAUTHENTICATED");
}

async fn an_address_refused_by_its_own_budget_does_not_lock_the_account(setup: Setup) {
    let app = spawn_setup_with(setup, |s| {
        s.rate_limit.sign_in_per_client = 2;
        s.rate_limit.sign_in_per_account = 3;
        s.server.trusted_proxies =
            vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()];
    })
    .await;
    let victim = app.sign_up().await;
    // The attacker's address may try twice, each spending the account's budget...
    for _ in 0..2 {
        let body = sign_in(&app, &victim.email, "guess guess guess", "203.0.113.66").await;
        assert_code(&body, "UNAUTHENTICATED");
    }
    // ...and is refused from then on, without spending it any further.
    for _ in 0..10 {
        let body = sign_in(&app, &victim.email, "guess guess guess", "203.0.113.66").await;
        retry_after(&body);
    }
    // So the victim, from their own address, still signs in (3rd of 3).
    let body = sign_in(&app, &victim.email, &victim.password, "198.51.100.7").await;
    assert!(body["data"]["signIn"]["accessToken"].is_string(), "{body}");
    // And that was the account's last attempt in this period.
    let body = sign_in(&app, &victim.email, &victim.password, "198.51.100.8").await;
    retry_after(&body);
}

const CHANGE_PASSWORD: &str =
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

async fn password_changes_are_limited_and_spend_the_sign_in_budget(setup: Setup) {
    let app = spawn_setup_with(setup, |s| {
        s.rate_limit.hourly.password_changes_per_user = 3;
        s.rate_limit.sign_in_per_account = 100;
    })
    .await;
    let acc = app.sign_up().await;
    let vars = json!({ "c": "not my password", "n": "a new long password" });
    for _ in 0..3 {
        let body = app
            .gql(Some(&acc.token), CHANGE_PASSWORD, vars.clone())
            .await;
        assert_eq!(bad_fields(&body), ["currentPassword"], "{body}");
    }
    let body = app.gql(Some(&acc.token), CHANGE_PASSWORD, vars).await;
    retry_after(&body);
    // Even the right one waits now: the budget counts attempts.
    let right = json!({ "c": acc.password, "n": "a new long password" });
    retry_after(&app.gql(Some(&acc.token), CHANGE_PASSWORD, right).await);

    // Wrong current passwords are sign-in attempts of the account too.
    let app = spawn_setup_with(setup, |s| {
        s.rate_limit.hourly.password_changes_per_user = 100;
        s.rate_limit.sign_in_per_account = 3;
    })
    .await;
    let acc = app.sign_up().await;
    for _ in 0..3 {
        let body = app
            .gql(
                Some(&acc.token),
                CHANGE_PASSWORD,
                json!({ "c": "not my password", "n": "a new long password" }),
            )
            .await;
        assert_eq!(bad_fields(&body), ["currentPassword"], "{body}");
    }
    retry_after(&sign_in(&app, &acc.email, &acc.password, "127.0.0.1").await);
}

const INVITE: &str = "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { id } }";

async fn invitations_are_limited_per_tenant(setup: Setup) {
    let app = spawn_setup_with(setup, |s| s.rate_limit.hourly.invitations_per_tenant = 2).await;
    let (owner, other) = (app.sign_up().await, app.sign_up().await);
    let invite = |acc: &Account| {
        let vars =
            json!({ "i": { "email": format!("{}@example.test", unique("i")), "role": "member" } });
        let token = acc.token.clone();
        let app = &app;
        async move { app.gql(Some(&token), INVITE, vars).await }
    };
    for _ in 0..2 {
        let body = invite(&owner).await;
        assert!(body["data"]["inviteMember"]["id"].is_string(), "{body}");
    }
    retry_after(&invite(&owner).await);
    // Another tenant's budget is its own.
    let body = invite(&other).await;
    assert!(body["data"]["inviteMember"]["id"].is_string(), "{body}");
}

const REFRESH: &str = "mutation($t: String!) { refreshSession(refreshToken: $t) { refreshToken } }";

async fn refreshes_are_limited_per_session_and_keep_the_token(setup: Setup) {
    let app = spawn_setup_with(setup, |s| s.rate_limit.hourly.refreshes_per_session = 2).await;
    let acc = app.sign_up().await;
    let body = sign_in(&app, &acc.email, &acc.password, "127.0.0.1").await;
    let mut token = body["data"]["signIn"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        let d = app.data(None, REFRESH, json!({ "t": token })).await;
        token = d["refreshSession"]["refreshToken"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    // Refused before the token is used: asking again is refused the same
    // way, not taken for a replayed token (which would end the session).
    for _ in 0..2 {
        retry_after(&app.gql(None, REFRESH, json!({ "t": token })).await);
    }
    // Another session of the same user has its own budget.
    let body = sign_in(&app, &acc.email, &acc.password, "127.0.0.1").await;
    let other = body["data"]["signIn"]["refreshToken"].as_str().unwrap();
    app.data(None, REFRESH, json!({ "t": other })).await;
}

async fn tenant_creation_is_limited_and_capped(setup: Setup) {
    let app = spawn_setup_with(setup, |s| {
        s.rate_limit.hourly.tenants_per_user = 2;
        s.tenancy.self_service.max_owned_tenants = 1_000;
    })
    .await;
    let acc = app.sign_up().await;
    for _ in 0..2 {
        let body = create_tenant(&app, &acc, None).await;
        assert!(body["data"]["createTenant"]["id"].is_string(), "{body}");
    }
    retry_after(&create_tenant(&app, &acc, None).await);

    // Owning: the sign-up's tenant counts.
    let app = spawn_setup_with(setup, |s| s.tenancy.self_service.max_owned_tenants = 2).await;
    let acc = app.sign_up().await;
    let body = create_tenant(&app, &acc, None).await;
    assert!(body["data"]["createTenant"]["id"].is_string(), "{body}");
    let body = create_tenant(&app, &acc, None).await;
    assert_code(&body, "CONFLICT");
    let d = app
        .data(Some(&acc.token), "{ myTenants { role } }", json!({}))
        .await;
    assert_eq!(d["myTenants"].as_array().unwrap().len(), 2, "{d}");
}

crate::for_every_setup!(
    sign_ups_from_one_address_are_limited,
    an_address_refused_by_its_own_budget_does_not_lock_the_account,
    password_changes_are_limited_and_spend_the_sign_in_budget,
    invitations_are_limited_per_tenant,
    refreshes_are_limited_per_session_and_keep_the_token,
    tenant_creation_is_limited_and_capped,
);

/// Users choose only the strategies the deployment lets them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_choose_only_the_isolations_the_deployment_allows() {
    let app = spawn_with(Backend::Postgres, |_| {}).await;
    let acc = app.sign_up().await;
    for isolation in ["SCHEMA", "DATABASE"] {
        let body = create_tenant(&app, &acc, Some(isolation)).await;
        assert_eq!(bad_fields(&body), ["isolation"], "{isolation}: {body}");
    }
    // Naming the default is always fine.
    let body = create_tenant(&app, &acc, Some("ROW")).await;
    assert_eq!(body["data"]["createTenant"]["isolation"], "ROW", "{body}");

    let app = spawn_with(Backend::Postgres, |s| {
        s.tenancy.self_service.isolations = vec![domain::Isolation::Schema];
    })
    .await;
    let acc = app.sign_up().await;
    let body = create_tenant(&app, &acc, Some("SCHEMA")).await;
    assert_eq!(
        body["data"]["createTenant"]["isolation"], "SCHEMA",
        "{body}"
    );
    let body = create_tenant(&app, &acc, Some("DATABASE")).await;
    assert_eq!(bad_fields(&body), ["isolation"], "{body}");
}

/// Under the database strategy a refused sign-up or tenant creation must
/// not make (and drop) a database: everything that can refuse it is asked
/// first. Shown with a second node whose tenant-database server is down: a
/// request that reached provisioning would fail there, not as a conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sign_up_or_creation_touches_no_database_server() {
    let app = spawn_with(Backend::PostgresDatabase, |s| {
        s.tenancy.self_service.max_owned_tenants = 1;
    })
    .await;
    let acc = app.sign_up().await;
    let node = app
        .another_node(|s| {
            s.tenancy.database.servers = vec![infra::tenancy::database::ServerSpec {
                name: "down".into(),
                url: "postgres://postgres@127.0.0.1:1/postgres".into(),
            }];
        })
        .await;
    // A taken email, a taken slug, a cap reached: each refused as such.
    assert_code(&sign_up(&node, &acc.email, None).await, "CONFLICT");
    let body = node
        .gql(
            None,
            SIGN_UP,
            json!({ "i": { "email": format!("{}@example.test", unique("u")), "password": "correct horse battery",
                           "displayName": "S", "tenantName": "S", "tenantSlug": acc.slug } }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    assert_code(&create_tenant(&node, &acc, None).await, "CONFLICT");
    // And one that passes every check does reach the (down) server, and
    // fails there (at once, or when its time is up).
    let body = sign_up(&node, &format!("{}@example.test", unique("u")), None).await;
    let codes = crate::helpers::codes(&body);
    assert!(
        codes == ["INTERNAL_SERVER_ERROR"] || codes == ["TIMEOUT"],
        "{body}"
    );
}
