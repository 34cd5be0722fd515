//! The membership cache: one entry per tenant and user, in Redis under the
//! tenant's hash tag; believed only while no change of its tenant has reached
//! the node; turned over on every node by a change made on any of them.

use crate::helpers::{Setup, TestApp, assert_code, redis_url, spawn_setup_with, unique};
use serde_json::{Value, json};
use std::time::Duration;

const SECRET: &str = "membership-cache-fixtures-secret-0123";
/// Owners and admins may list invitations; members and viewers may not.
const INVITES: &str = "{ invitations { email } }";

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("Redis is not reachable; start it (`redis-server --daemonize yes`) or set TEST_REDIS_URL")
}

fn key(app: &TestApp, tenant: &str, user: &str) -> String {
    format!(
        "{}:{{t:{tenant}}}:member:{user}",
        app.settings.redis.key_prefix
    )
}

async fn cached(app: &TestApp, tenant: &str, user: &str) -> Option<Value> {
    let found: Option<String> = redis::cmd("GET")
        .arg(key(app, tenant, user))
        .query_async(&mut redis().await)
        .await
        .unwrap();
    found.map(|v| serde_json::from_str(&v).expect("an entry is JSON"))
}

async fn fixture(app: &TestApp) -> Value {
    app.fixture(
        SECRET,
        json!({ "users": [{ "role": "owner" }, { "role": "viewer" }] }),
    )
    .await
}

fn with_fixtures(s: &mut api::config::Settings) {
    s.fixtures.secret = Some(SECRET.to_owned().into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_in_two_tenants_has_an_entry_per_tenant_with_its_own_role() {
    let app = spawn_setup_with(Setup::PostgresRedis, with_fixtures).await;
    let f = fixture(&app).await;
    let (tenant_a, user) = (
        f["tenant"]["id"].as_str().unwrap(),
        f["users"][1]["id"].as_str().unwrap(),
    );
    let token_a = f["users"][1]["accessToken"].as_str().unwrap();
    // The viewer of tenant a makes tenant b, which they own.
    let d = app
        .data(
            Some(token_a),
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { id } }",
            json!({ "i": { "name": "Second", "slug": unique("second") } }),
        )
        .await;
    let tenant_b = d["createTenant"]["id"].as_str().unwrap().to_owned();
    let d = app
        .data(
            Some(token_a),
            "mutation($t: ID!) { switchTenant(tenantId: $t) { accessToken } }",
            json!({ "t": tenant_b }),
        )
        .await;
    let token_b = d["switchTenant"]["accessToken"].as_str().unwrap();

    for _ in 0..2 {
        // Twice: the second time from the cache, which must not mix them up.
        assert_code(
            &app.gql(Some(token_a), INVITES, json!({})).await,
            "FORBIDDEN",
        );
        let d = app.data(Some(token_b), INVITES, json!({})).await;
        assert_eq!(d["invitations"], json!([]));
    }
    let (a, b) = (
        cached(&app, tenant_a, user)
            .await
            .expect("tenant a's entry"),
        cached(&app, &tenant_b, user)
            .await
            .expect("tenant b's entry"),
    );
    assert_eq!(
        (
            &a["member"]["role"],
            &a["member"]["isolation"],
            &a["member"]["standing"]
        ),
        (&json!("viewer"), &json!("row"), &json!("active"))
    );
    assert_eq!(b["member"]["role"], "owner");
    assert_eq!(b["member"]["plan"], Value::Null, "the default plan: {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_entry_is_believed_until_its_tenant_changes() {
    // No in-process tier: every lookup goes to Redis.
    let app = spawn_setup_with(Setup::PostgresRedis, |s| {
        with_fixtures(s);
        s.cache.local_entries = 0;
    })
    .await;
    let f = fixture(&app).await;
    let tenant = f["tenant"]["id"].as_str().unwrap();
    let (owner, viewer) = (
        f["users"][0]["accessToken"].as_str().unwrap(),
        f["users"][1]["accessToken"].as_str().unwrap(),
    );
    let user = f["users"][1]["id"].as_str().unwrap();
    assert_code(
        &app.gql(Some(viewer), INVITES, json!({})).await,
        "FORBIDDEN",
    );
    let entry = cached(&app, tenant, user)
        .await
        .expect("the viewer's entry");

    // What Redis holds is what the node believes while it is fresh: here,
    // that the viewer is no member. (Permissions come from the enforcer, not
    // the entry, so an entry can refuse a member but grant no role.)
    let mut forged = entry.clone();
    forged["member"] = Value::Null;
    let _: () = redis::cmd("SET")
        .arg(key(&app, tenant, user))
        .arg(forged.to_string())
        .query_async(&mut redis().await)
        .await
        .unwrap();
    assert_code(
        &app.gql(Some(viewer), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED",
    );

    // A change of its tenant makes it stale: the next lookup reads the database.
    app.data(
        Some(owner),
        "mutation($u: ID!) { updateMemberRole(userId: $u, role: \"member\") { role } }",
        json!({ "u": user }),
    )
    .await;
    let d = app.data(Some(viewer), "{ me { id } }", json!({})).await;
    assert_eq!(d["me"]["id"], user);
    let entry = cached(&app, tenant, user).await.expect("read again");
    assert_eq!(entry["member"]["role"], "member");
    assert!(entry["read_at"].as_i64() > forged["read_at"].as_i64());
}

/// Polls `query` on `node` until it answers with `code` (none: no error), for at most 5 s.
async fn within_seconds(node: &TestApp, token: &str, query: &str, code: Option<&str>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let body = node.gql(Some(token), query, json!({})).await;
        let codes = crate::helpers::codes(&body);
        let done = match code {
            Some(c) => codes == [c],
            None => codes.is_empty(),
        };
        if done {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {body} on the other node; wanted {code:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Node two has the member cached; node one changes them; node two must follow.
async fn a_change_on_one_node_turns_the_other_nodes_entries_over(setup: Setup) {
    let one = spawn_setup_with(setup, with_fixtures).await;
    let two = one.another_node(|_| {}).await;
    let f = fixture(&one).await;
    let owner = f["users"][0]["accessToken"].as_str().unwrap();
    let (viewer, user) = (
        f["users"][1]["accessToken"].as_str().unwrap(),
        f["users"][1]["id"].as_str().unwrap(),
    );
    for _ in 0..2 {
        assert_code(
            &two.gql(Some(viewer), INVITES, json!({})).await,
            "FORBIDDEN",
        );
    }

    // Permissions are the enforcer's (it follows the same feed)...
    one.data(
        Some(owner),
        "mutation($u: ID!) { updateMemberRole(userId: $u, role: \"admin\") { role } }",
        json!({ "u": user }),
    )
    .await;
    within_seconds(&two, viewer, INVITES, None).await;
    // ...membership is the cache's: node two has it cached, and must let go.

    one.data(
        Some(owner),
        "mutation($u: ID!) { removeMember(userId: $u) }",
        json!({ "u": user }),
    )
    .await;
    within_seconds(&two, viewer, "{ me { id } }", Some("UNAUTHENTICATED")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_the_other_through_redis() {
    a_change_on_one_node_turns_the_other_nodes_entries_over(Setup::PostgresRedis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_the_other_by_polling() {
    a_change_on_one_node_turns_the_other_nodes_entries_over(Setup::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_tenant_is_gone_on_every_node() {
    let one = spawn_setup_with(Setup::PostgresRedis, with_fixtures).await;
    let two = one.another_node(|_| {}).await;
    let f = fixture(&one).await;
    let owner = f["users"][0]["accessToken"].as_str().unwrap();
    let d = two.data(Some(owner), "{ me { id } }", json!({})).await;
    assert!(d["me"]["id"].is_string());
    let status = one
        .delete_fixture(SECRET, f["tenant"]["id"].as_str().unwrap())
        .await;
    assert_eq!(status, 204);
    within_seconds(&two, owner, "{ me { id } }", Some("UNAUTHENTICATED")).await;
}
