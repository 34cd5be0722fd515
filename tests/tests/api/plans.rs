//! Plans and feature flags: a tenant's limits on what it stores, refused
//! `LIMIT_REACHED` past them with nothing written; an operator's plan and
//! feature changes, audited and followed by every node through the feed.

use crate::helpers::{Backend, Setup, assert_code, spawn_setup_with, spawn_with, unique};
use api::plans::PlanEntry;
use serde_json::{Value, json};
use std::time::Duration;

const CREATE_PROJECT: &str = "mutation($n: String!, $k: String) { createProject(input: { name: $n }, idempotencyKey: $k) { id } }";
const CREATE_TASK: &str =
    "mutation($p: ID!, $t: String!) { createTask(input: { projectId: $p, title: $t }) { id } }";
const INVITE: &str =
    "mutation($e: String!) { inviteMember(input: { email: $e, role: \"member\" }) { id } }";
const CREATE_ROLE: &str = "mutation($n: String!) { createRole(input: { name: $n, permissions: [\"project:read\"] }) { name } }";
const SET_PLAN: &str = "mutation($id: ID!, $p: String!) { setTenantPlan(id: $id, plan: $p, reason: \"upgrade\") { plan limits { projects } features ownFeatures } }";
const SET_FEATURE: &str = "mutation($id: ID!, $f: String!, $on: Boolean!) { setTenantFeature(id: $id, feature: $f, enabled: $on) { features ownFeatures } }";

fn refused(body: &Value, limit: &str, max: u64) {
    assert_code(body, "LIMIT_REACHED");
    let ext = &body["errors"][0]["extensions"];
    assert_eq!(
        (ext["limit"].as_str(), ext["max"].as_u64()),
        (Some(limit), Some(max)),
        "{body}"
    );
    assert!(body["data"].is_null(), "{body}");
}

/// A catalog beside the standard plan: `small` allows one project and has
/// no feature flag.
fn with_small_plan(s: &mut api::config::Settings) {
    let small = PlanEntry {
        projects: Some(1),
        ..PlanEntry::default()
    };
    s.plans.catalog.insert("small".to_owned(), small);
}

async fn creates_past_a_limit_are_refused_and_write_nothing(backend: Backend) {
    let app = spawn_with(backend, |s| {
        s.plans.projects = 2;
        s.plans.tasks = 3;
        s.plans.members = 2;
    })
    .await;
    let a = app.sign_up().await;
    let t = Some(a.token.as_str());
    let d = app
        .data(
            t,
            "{ tenant { plan features limits { projects tasks members webhooks } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["tenant"],
        json!({ "plan": "standard", "features": ["custom-roles"],
                "limits": { "projects": 2, "tasks": 3, "members": 2, "webhooks": 20 } })
    );

    // Projects: two, then refused; a deleted one still counts until purged.
    let first = app
        .data(t, CREATE_PROJECT, json!({ "n": "One", "k": "key-one" }))
        .await["createProject"]["id"]
        .clone();
    let second =
        app.data(t, CREATE_PROJECT, json!({ "n": "Two" })).await["createProject"]["id"].clone();
    refused(
        &app.gql(t, CREATE_PROJECT, json!({ "n": "Three" })).await,
        "projects",
        2,
    );
    // A retry of a create that was made is its replay, not a refusal.
    let replay = app
        .data(t, CREATE_PROJECT, json!({ "n": "One", "k": "key-one" }))
        .await;
    assert_eq!(replay["createProject"]["id"], first);
    app.data(
        t,
        "mutation($id: ID!) { deleteProject(id: $id) }",
        json!({ "id": first }),
    )
    .await;
    refused(
        &app.gql(t, CREATE_PROJECT, json!({ "n": "Three" })).await,
        "projects",
        2,
    );
    let names = app
        .data(
            t,
            "{ projects { totalCount } tenant { usage { projects storedProjects } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        names["projects"]["totalCount"], 1,
        "nothing was written: {names}"
    );
    assert_eq!(
        names["tenant"]["usage"],
        json!({ "projects": 1, "storedProjects": 2 })
    );

    // Tasks: three, then refused, and the refused one is not there.
    for i in 0..3 {
        app.data(t, CREATE_TASK, json!({ "p": second, "t": format!("T{i}") }))
            .await;
    }
    refused(
        &app.gql(t, CREATE_TASK, json!({ "p": second, "t": "T3" }))
            .await,
        "tasks",
        3,
    );
    let n = app.data(t, "{ tasks { totalCount } }", json!({})).await;
    assert_eq!(n["tasks"]["totalCount"], 3);

    // Members: the owner and one pending invitation fill a plan of two.
    app.data(
        t,
        INVITE,
        json!({ "e": format!("{}@example.test", unique("one")) }),
    )
    .await;
    refused(
        &app.gql(
            t,
            INVITE,
            json!({ "e": format!("{}@example.test", unique("two")) }),
        )
        .await,
        "members",
        2,
    );

    // Each tenant has its own counts.
    let b = app.sign_up().await;
    app.data(Some(&b.token), CREATE_PROJECT, json!({ "n": "Theirs" }))
        .await;
}

/// An operator gives a tenant another plan and a feature flag: its members
/// see them and are held to them at once; the owners see who did it.
async fn an_operator_changes_a_tenants_plan_and_features(backend: Backend) {
    let app = spawn_with(backend, with_small_plan).await;
    let op = app.operator().await;
    let a = app.sign_up().await;
    let t = Some(a.token.as_str());

    let d = app
        .admin_data(
            &op.token,
            "{ plans { name isDefault limits { projects } features } }",
            json!({}),
        )
        .await;
    let plans = d["plans"].as_array().unwrap();
    assert!(
        plans.contains(&json!({ "name": "small", "isDefault": false, "limits": { "projects": 1 }, "features": [] })),
        "{d}"
    );
    assert!(
        plans
            .iter()
            .any(|p| p["name"] == "standard" && p["isDefault"] == true),
        "{d}"
    );

    app.data(t, CREATE_PROJECT, json!({ "n": "One" })).await;
    app.data(t, CREATE_ROLE, json!({ "n": "reader" })).await;
    let d = app
        .admin_data(
            &op.token,
            SET_PLAN,
            json!({ "id": a.tenant_id, "p": "small" }),
        )
        .await;
    assert_eq!(
        d["setTenantPlan"],
        json!({ "plan": "small", "limits": { "projects": 1 }, "features": [], "ownFeatures": [] })
    );
    // This node applied it at commit: the next request is held to it.
    refused(
        &app.gql(t, CREATE_PROJECT, json!({ "n": "Two" })).await,
        "projects",
        1,
    );
    let body = app.gql(t, CREATE_ROLE, json!({ "n": "writer" })).await;
    assert_code(&body, "FORBIDDEN");
    assert_eq!(
        body["errors"][0]["extensions"]["feature"], "custom-roles",
        "{body}"
    );
    // What exists stays: the role made before is still there.
    let roles = app.data(t, "{ roles { name } }", json!({})).await;
    assert!(
        roles["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "reader")
    );

    // A feature of its own, beside the plan's.
    let d = app
        .admin_data(
            &op.token,
            SET_FEATURE,
            json!({ "id": a.tenant_id, "f": "custom-roles", "on": true }),
        )
        .await;
    assert_eq!(
        d["setTenantFeature"],
        json!({ "features": ["custom-roles"], "ownFeatures": ["custom-roles"] })
    );
    app.data(t, CREATE_ROLE, json!({ "n": "writer" })).await;
    let d = app.data(t, "{ tenant { plan features } }", json!({})).await;
    assert_eq!(
        d["tenant"],
        json!({ "plan": "small", "features": ["custom-roles"] })
    );

    // Bad input names its field; another tenant is not touched.
    for (q, vars, field) in [
        (SET_PLAN, json!({ "id": a.tenant_id, "p": "gold" }), "plan"),
        (
            SET_FEATURE,
            json!({ "id": a.tenant_id, "f": "Not A Name", "on": true }),
            "feature",
        ),
    ] {
        let body = app.admin(Some(&op.token), q, vars).await;
        assert_code(&body, "BAD_USER_INPUT");
        assert_eq!(
            body["errors"][0]["extensions"]["fields"][0]["field"], field,
            "{body}"
        );
    }
    let b = app.sign_up().await;
    let d = app
        .data(Some(&b.token), "{ tenant { plan } }", json!({}))
        .await;
    assert_eq!(d["tenant"]["plan"], "standard");
    // A member cannot reach the operator's mutation.
    assert_code(
        &app.admin(
            Some(&a.token),
            SET_PLAN,
            json!({ "id": a.tenant_id, "p": "standard" }),
        )
        .await,
        "FORBIDDEN",
    );

    // The owners see each change, with the operator as actor and the reason.
    let entries = app.audit_by(&a.token, &op.user_id).await;
    let log = format!("{entries:#?}");
    let actions: Vec<&str> = entries
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"tenant.plan_changed") && actions.contains(&"tenant.feature_changed"),
        "{log}"
    );
    let plan = entries
        .iter()
        .find(|n| n["action"] == "tenant.plan_changed")
        .unwrap();
    assert_eq!(plan["before"]["plan"], "default", "{plan}");
    assert_eq!(
        (
            plan["after"]["plan"].as_str(),
            plan["after"]["reason"].as_str()
        ),
        (Some("small"), Some("upgrade"))
    );
}

/// Node two has the member cached; an operator changes the tenant's plan on
/// node one; node two holds the member to the new plan within a second.
async fn a_plan_change_reaches_the_other_node_within_a_second(setup: Setup) {
    let one = spawn_setup_with(setup, with_small_plan).await;
    let two = one.another_node(|_| {}).await;
    let op = one.operator().await;
    let a = one.sign_up().await;
    let t = Some(a.token.as_str());
    let q = "{ tenant { plan limits { projects } } }";
    let before = two.data(t, q, json!({})).await;
    assert_eq!(before["tenant"]["plan"], "standard");
    one.admin_data(
        &op.token,
        SET_PLAN,
        json!({ "id": a.tenant_id, "p": "small" }),
    )
    .await;
    let since = tokio::time::Instant::now();
    loop {
        let d = two.data(t, q, json!({})).await;
        if d["tenant"] == json!({ "plan": "small", "limits": { "projects": 1 } }) {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "node two still has {d}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    two.data(t, CREATE_PROJECT, json!({ "n": "One" })).await;
    refused(
        &two.gql(t, CREATE_PROJECT, json!({ "n": "Two" })).await,
        "projects",
        1,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_change_reaches_the_other_node_by_polling() {
    a_plan_change_reaches_the_other_node_within_a_second(Setup::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_change_reaches_the_other_node_through_redis() {
    a_plan_change_reaches_the_other_node_within_a_second(Setup::PostgresRedis).await;
}

/// Invitations made at once take turns: the members limit (members and
/// pending invitations) holds however many arrive together.
async fn the_members_limit_holds_under_concurrent_invitations(backend: Backend) {
    const MAX: usize = 4;
    let app = spawn_with(backend, |s| {
        // Enough connections that the invitations meet at the limit, not
        // at the pool.
        s.database.max_connections = 16;
        s.tenancy.admission.wait_ms = 10_000;
        s.plans.members = MAX as u32;
    })
    .await;
    let a = app.sign_up().await;
    let invites = (0..24).map(|i| {
        let (app, token) = (&app, a.token.as_str());
        async move {
            let email = format!("{}-{i}@example.com", crate::helpers::unique("invitee"));
            app.gql(Some(token), INVITE, json!({ "e": email })).await
        }
    });
    let answers = futures::future::join_all(invites).await;
    for b in answers.iter().filter(|b| b.get("errors").is_some()) {
        assert_code(b, "LIMIT_REACHED");
        assert_eq!(b["errors"][0]["extensions"]["limit"], "members", "{b}");
    }
    // The owner is one member: three invitations fit.
    let made = answers.iter().filter(|b| b.get("errors").is_none()).count();
    assert_eq!(made, MAX - 1, "{answers:?}");
}

crate::on_every_backend!(
    creates_past_a_limit_are_refused_and_write_nothing,
    an_operator_changes_a_tenants_plan_and_features,
    the_members_limit_holds_under_concurrent_invitations,
);
