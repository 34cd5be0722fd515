//! The operator plane: `/admin/graphql` for operators only, suspending and
//! resuming a tenant (everything, or writes only), and what its members,
//! sockets and owners see of it.

use crate::helpers::{
    Account, Backend, Setup, TestApp, assert_code, spawn, spawn_setup, spawn_with,
};
use crate::ws::{Read, Ws};
use domain::operator::Operators;
use domain::values::Email;
use serde_json::{Value, json};
use std::time::Duration;

const SUSPEND: &str = "mutation($id: ID!, $r: Boolean!, $why: String) { suspendTenant(id: $id, readsAllowed: $r, reason: $why) { id standing standingSince } }";
const RESUME: &str = "mutation($id: ID!) { resumeTenant(id: $id) { standing } }";
const TENANT: &str = "query($id: ID!) { tenant(id: $id) { slug standing strategy members } }";

impl TestApp {
    /// POSTs to the operator endpoint; returns the whole JSON response.
    pub(crate) async fn admin(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = reqwest::Client::new()
            .post(self.url("/admin/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    pub(crate) async fn admin_data(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = self.admin(Some(token), query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// A signed-up user made an operator, as `tenantry operators add` does.
    pub(crate) async fn operator(&self) -> Account {
        let acc = self.sign_up().await;
        self.platform()
            .await
            .operators()
            .grant(&Email::parse(&acc.email).unwrap())
            .await
            .unwrap();
        acc
    }
}

async fn the_operator_endpoint_is_for_operators_only(backend: Backend) {
    let app = spawn(backend).await;
    let member = app.sign_up().await;
    let list = "{ tenants(first: 100) { edges { node { slug } } } }";

    assert_code(&app.admin(None, list, json!({})).await, "UNAUTHENTICATED");
    assert_code(
        &app.admin(Some(&member.token), list, json!({})).await,
        "FORBIDDEN",
    );
    // Operator fields do not exist on the tenant endpoint at all.
    let body = app
        .gql(
            Some(&member.token),
            "mutation($id: ID!) { suspendTenant(id: $id) { id } }",
            json!({ "id": member.tenant_id }),
        )
        .await;
    assert!(body["data"].is_null(), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("suspendTenant"),
        "{body}"
    );

    let op = app.operator().await;
    let d = app.admin_data(&op.token, list, json!({})).await;
    let slugs: Vec<_> = d["tenants"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        slugs.contains(&member.slug) && slugs.contains(&op.slug),
        "{slugs:?}"
    );

    // Taking the role back refuses the very next request, same token.
    app.platform()
        .await
        .operators()
        .revoke(&Email::parse(&op.email).unwrap())
        .await
        .unwrap();
    assert_code(
        &app.admin(Some(&op.token), list, json!({})).await,
        "FORBIDDEN",
    );
}

async fn tenants_are_paged_and_searched(backend: Backend) {
    let app = spawn(backend).await;
    let op = app.operator().await;
    let mine: Vec<Account> = futures::future::join_all((0..3).map(|_| app.sign_up())).await;
    let d = app
        .admin_data(&op.token, TENANT, json!({ "id": mine[0].tenant_id }))
        .await;
    assert_eq!(
        d["tenant"],
        json!({ "slug": mine[0].slug, "standing": "ACTIVE", "strategy": backend.isolation().to_uppercase(), "members": 1 })
    );

    // A slug is searched by a part of it; pages follow the slug order.
    let q = "query($s: String, $a: String) { tenants(first: 1, search: $s, after: $a) { edges { cursor node { slug } } pageInfo { hasNextPage endCursor } } }";
    let d = app
        .admin_data(&op.token, q, json!({ "s": &mine[1].slug[2..] }))
        .await;
    assert_eq!(d["tenants"]["edges"][0]["node"]["slug"], mine[1].slug);
    assert_eq!(d["tenants"]["pageInfo"]["hasNextPage"], false);
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = app
            .admin_data(&op.token, q, json!({ "s": "t-", "a": after }))
            .await;
        let t = &d["tenants"];
        seen.extend(
            t["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["slug"].as_str().unwrap().to_owned()),
        );
        if t["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = t["pageInfo"]["endCursor"].clone();
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "in slug order, each once");
    for a in &mine {
        assert!(seen.contains(&a.slug));
    }
}

/// A tenant's members, A; someone else's tenant, B; and an operator.
async fn three(app: &TestApp) -> (Account, Account, Account) {
    (
        app.sign_up().await,
        app.sign_up().await,
        app.operator().await,
    )
}

async fn a_suspended_tenant_refuses_its_members_until_resumed(backend: Backend) {
    let app = spawn(backend).await;
    let (a, b, op) = three(&app).await;
    app.create_project(&a.token, "Before").await;

    let d = app
        .admin_data(
            &op.token,
            SUSPEND,
            json!({ "id": a.tenant_id, "r": false, "why": "unpaid invoices" }),
        )
        .await;
    assert_eq!(d["suspendTenant"]["standing"], "SUSPENDED");
    assert!(d["suspendTenant"]["standingSince"].is_string());

    // Reads, writes and signing in again: all refused, with the code.
    for body in [
        app.gql(Some(&a.token), "{ projects { totalCount } }", json!({}))
            .await,
        app.gql(
            Some(&a.token),
            "mutation { createProject(input: {name: \"During\"}) { id } }",
            json!({}),
        )
        .await,
        app.gql(
            None,
            "mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }",
            json!({ "i": { "email": a.email, "password": a.password, "tenantSlug": a.slug } }),
        )
        .await,
    ] {
        assert_code(&body, "TENANT_SUSPENDED");
    }
    // Another tenant goes on as before.
    app.create_project(&b.token, "Unaffected").await;

    let d = app
        .admin_data(&op.token, RESUME, json!({ "id": a.tenant_id }))
        .await;
    assert_eq!(d["resumeTenant"]["standing"], "ACTIVE");
    // The same token works again, and nothing was lost.
    let d = app
        .data(
            Some(&a.token),
            "{ projects { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["projects"]["edges"][0]["node"]["name"], "Before");

    // The owners see who did it, and why.
    let d = app
        .data(
            Some(&a.token),
            "{ auditLog(first: 10) { edges { node { actorId action before after } } } }",
            json!({}),
        )
        .await;
    let changes: Vec<_> = d["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["action"] == "tenant.standing_changed")
        .collect();
    assert_eq!(changes.len(), 2, "{d:#}");
    assert!(changes.iter().all(|n| n["actorId"] == op.user_id.as_str()));
    assert_eq!(
        changes[1]["after"],
        json!({ "standing": "suspended", "reason": "unpaid invoices" }),
        "oldest last"
    );
    assert_eq!(changes[0]["after"]["standing"], "active");
}

async fn reads_allowed_refuses_only_writes(backend: Backend) {
    let app = spawn(backend).await;
    let (a, _, op) = three(&app).await;
    app.create_project(&a.token, "Kept").await;
    app.admin_data(&op.token, SUSPEND, json!({ "id": a.tenant_id, "r": true }))
        .await;
    let d = app
        .data(Some(&a.token), "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(d["projects"]["totalCount"], 1);
    let body = app
        .gql(
            Some(&a.token),
            "mutation { createProject(input: {name: \"During\"}) { id } }",
            json!({}),
        )
        .await;
    assert_code(&body, "TENANT_SUSPENDED");
    let d = app
        .admin_data(&op.token, TENANT, json!({ "id": a.tenant_id }))
        .await;
    assert_eq!(d["tenant"]["standing"], "READ_ONLY");
    app.admin_data(&op.token, RESUME, json!({ "id": a.tenant_id }))
        .await;
    app.create_project(&a.token, "After").await;
}

/// The socket closes as the suspension reaches the node, not at its next
/// periodic check (a minute away here).
async fn a_suspension_closes_the_tenants_sockets(backend: Backend) {
    let app = spawn_with(backend, |s| s.subscriptions.session_check_ms = 60_000).await;
    let (a, b, op) = three(&app).await;
    let mut ws_a = Ws::signed_in(&app.addr, &a.token).await;
    let mut ws_b = Ws::signed_in(&app.addr, &b.token).await;
    app.admin_data(&op.token, SUSPEND, json!({ "id": a.tenant_id, "r": false }))
        .await;
    match ws_a.read(Duration::from_secs(1)).await {
        Read::Closed(Some(4403), reason) => assert!(reason.contains("suspended"), "{reason}"),
        other => panic!("expected the socket closed with 4403, got {other:?}"),
    }
    // A new socket is refused at once; another tenant's stays open.
    let mut again = Ws::open(
        &app.addr,
        json!({ "authorization": format!("Bearer {}", a.token) }),
    )
    .await;
    assert!(matches!(
        again.read(Duration::from_secs(5)).await,
        Read::Closed(Some(4403), _)
    ));
    assert!(matches!(
        ws_b.read(Duration::from_millis(600)).await,
        Read::Nothing
    ));
}

async fn a_suspended_tenants_webhooks_wait_until_it_is_resumed(backend: Backend) {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    // A receiver that always fails: the delivery is retried every few
    // milliseconds, so a pause shows as attempts that stop coming.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&receiver)
        .await;
    let app = spawn_with(backend, |s| {
        s.webhooks.max_attempts = 1000;
        s.webhooks.backoff_base_ms = 20;
        s.webhooks.backoff_max_ms = 50;
        s.webhooks.sweep_interval_ms = 200;
    })
    .await;
    let (a, _, op) = three(&app).await;
    app.data(
        Some(&a.token),
        "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }",
        json!({ "i": { "url": format!("{}/hook", receiver.uri()), "events": ["project.created"], "secret": "whsec-0123456789abcdef" } }),
    )
    .await;
    app.create_project(&a.token, "Announced").await;
    let attempts = async || receiver.received_requests().await.unwrap().len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while attempts().await < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delivery is not being retried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    app.admin_data(&op.token, SUSPEND, json!({ "id": a.tenant_id, "r": false }))
        .await;
    // An attempt under way when the suspension landed may still finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let paused = attempts().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(attempts().await, paused, "no attempt while suspended");

    app.admin_data(&op.token, RESUME, json!({ "id": a.tenant_id }))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while attempts().await <= paused {
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries did not resume"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Node two has the member cached; an operator suspends the tenant on node
/// one; node two refuses the member within a second, and serves them again
/// within a second of the resumption.
async fn a_suspension_reaches_the_other_node_within_a_second(setup: Setup) {
    let one = spawn_setup(setup).await;
    let two = one.another_node(|_| {}).await;
    let (a, _, op) = three(&one).await;
    let q = "{ me { id } }";
    for _ in 0..2 {
        two.data(Some(&a.token), q, json!({})).await;
    }
    for (mutation, wanted) in [(SUSPEND, Some("TENANT_SUSPENDED")), (RESUME, None)] {
        one.admin_data(
            &op.token,
            mutation,
            json!({ "id": a.tenant_id, "r": false }),
        )
        .await;
        let since = tokio::time::Instant::now();
        loop {
            let codes = crate::helpers::codes(&two.gql(Some(&a.token), q, json!({})).await);
            if codes.iter().map(String::as_str).eq(wanted) {
                break;
            }
            assert!(
                since.elapsed() < Duration::from_secs(1),
                "node two still answers {codes:?}, wanted {wanted:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_reaches_the_other_node_by_polling() {
    a_suspension_reaches_the_other_node_within_a_second(Setup::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_reaches_the_other_node_through_redis() {
    a_suspension_reaches_the_other_node_within_a_second(Setup::PostgresRedis).await;
}

crate::on_every_backend!(
    a_suspended_tenant_refuses_its_members_until_resumed,
    reads_allowed_refuses_only_writes,
);

mod one {
    use super::*;
    crate::on_one_backend!(
        the_operator_endpoint_is_for_operators_only,
        tenants_are_paged_and_searched,
        a_suspension_closes_the_tenants_sockets,
        a_suspended_tenants_webhooks_wait_until_it_is_resumed,
    );
}
