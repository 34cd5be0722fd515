//! The permission matrix: every guarded operation × the four default roles and
//! a custom role, checked against the documented table (written out here, not
//! derived from the code). Denied is FORBIDDEN; allowed is anything else.

use crate::helpers::{Backend, codes, spawn_with};
use serde_json::{Value, json};

const SECRET: &str = "matrix-fixtures-secret-0123456789abcdef";

/// The custom role of the matrix: works on tasks, sees projects, nothing else.
const TRIAGER: &[&str] = &["project:read", "task:read", "task:write"];

/// Operation, a request that runs it, and whether owner, admin, member,
/// viewer and triager may.
#[rustfmt::skip]
fn matrix(project: &str) -> Vec<(&'static str, String, [bool; 5])> {
    let nobody = uuid::Uuid::now_v7();
    vec![
        ("projects", "{ projects { totalCount } }".into(), [true, true, true, true, true]),
        ("project", format!("{{ project(id: \"{project}\") {{ id }} }}"), [true, true, true, true, true]),
        ("createProject", "mutation { createProject(input: {name: \"p\"}) { id } }".into(), [true, true, true, false, false]),
        ("updateProject", format!("mutation {{ updateProject(id: \"{nobody}\", input: {{name: \"x\"}}, expectedVersion: 1) {{ id }} }}"), [true, true, true, false, false]),
        ("deleteProject", format!("mutation {{ deleteProject(id: \"{nobody}\") }}"), [true, true, true, false, false]),
        ("restoreProject", format!("mutation {{ restoreProject(id: \"{nobody}\") {{ id }} }}"), [true, true, true, false, false]),
        ("tasks", "{ tasks { totalCount } }".into(), [true, true, true, true, true]),
        ("task", format!("{{ task(id: \"{nobody}\") {{ id }} }}"), [true, true, true, true, true]),
        ("createTask", format!("mutation {{ createTask(input: {{projectId: \"{project}\", title: \"t\"}}) {{ id }} }}"), [true, true, true, false, true]),
        ("updateTask", format!("mutation {{ updateTask(id: \"{nobody}\", input: {{title: \"x\"}}, expectedVersion: 1) {{ id }} }}"), [true, true, true, false, true]),
        ("deleteTask", format!("mutation {{ deleteTask(id: \"{nobody}\") }}"), [true, true, true, false, true]),
        ("invitations", "{ invitations { id } }".into(), [true, true, false, false, false]),
        ("inviteMember", "mutation { inviteMember(input: {email: \"new@example.test\", role: \"viewer\"}) { id } }".into(), [true, true, false, false, false]),
        ("revokeInvitation", format!("mutation {{ revokeInvitation(id: \"{nobody}\") }}"), [true, true, false, false, false]),
        ("roles", "{ roles { name } }".into(), [true, true, true, true, false]),
        ("createRole", "mutation { createRole(input: {name: \"r-fresh\", permissions: [\"task:read\"]}) { name } }".into(), [true, true, false, false, false]),
        ("updateRole", "mutation { updateRole(name: \"no-such-role\", input: {permissions: [\"task:read\"]}) { name } }".into(), [true, true, false, false, false]),
        ("deleteRole", "mutation { deleteRole(name: \"no-such-role\") }".into(), [true, true, false, false, false]),
        ("members", "{ members(first: 5) { edges { node { role } } } }".into(), [true, true, true, true, false]),
        ("updateMemberRole", format!("mutation {{ updateMemberRole(userId: \"{nobody}\", role: \"viewer\") {{ role }} }}"), [true, true, false, false, false]),
        ("removeMember", format!("mutation {{ removeMember(userId: \"{nobody}\") }}"), [true, true, false, false, false]),
        ("auditLog", "{ auditLog(first: 5) { edges { node { action } } } }".into(), [true, true, false, false, false]),
        ("webhooks", "{ webhooks { id } }".into(), [true, true, false, false, false]),
        ("webhookDeliveries", "{ webhookDeliveries(first: 5) { edges { node { status } } } }".into(), [true, true, false, false, false]),
        ("createWebhook", "mutation { createWebhook(input: {url: \"https://hooks.example.test/in\", events: [\"task.created\"], secret: \"0123456789abcdef\"}) { id } }".into(), [true, true, false, false, false]),
        ("deleteWebhook", format!("mutation {{ deleteWebhook(id: \"{nobody}\") }}"), [true, true, false, false, false]),
        ("redeliverWebhookDelivery", format!("mutation {{ redeliverWebhookDelivery(id: \"{nobody}\") {{ id }} }}"), [true, true, false, false, false]),
        ("Project.tasks", "{ projects(first: 1) { edges { node { tasks(first: 1) { totalCount } } } } }".into(), [true, true, true, true, true]),
        ("Task.project", "{ tasks(first: 1) { edges { node { project { id } } } } }".into(), [true, true, true, true, true]),
        ("Task.assignee", "{ tasks(first: 1) { edges { node { assignee { id } } } } }".into(), [true, true, true, true, false]),
        ("me", "{ me { id } }".into(), [true, true, true, true, true]),
        // Any signed-in user may start a tenant of their own.
        ("createTenant", "mutation { createTenant(input: {name: \"n\", slug: \"perm-x-1\"}) { id } }".into(), [true, true, true, true, true]),
    ]
}

async fn every_operation_against_every_role(backend: Backend) {
    let app = spawn_with(backend, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await;
    let roles = ["owner", "admin", "member", "viewer", "triager"];
    let fixture: Value = app
        .fixture(
            SECRET,
            json!({
                "roles": [{ "name": "triager", "permissions": TRIAGER }],
                "users": roles.iter().map(|r| json!({ "role": r })).collect::<Vec<_>>(),
                "projects": 1, "tasksPerProject": 1,
            }),
        )
        .await;
    let project = fixture["projects"][0]["id"]
        .as_str()
        .expect("a fixture")
        .to_owned();
    for (op, query, allowed) in matrix(&project) {
        for (i, role) in roles.iter().enumerate() {
            let token = fixture["users"][i]["accessToken"].as_str().unwrap();
            // Fresh names each time, so an allowed create is not a CONFLICT.
            let fresh = &uuid::Uuid::new_v4().simple().to_string()[..10];
            let query = query
                .replace("perm-x-1", &format!("perm-{fresh}"))
                .replace("r-fresh", &format!("r-{fresh}"));
            let body = app.gql(Some(token), &query, json!({})).await;
            let forbidden = codes(&body).iter().any(|c| c == "FORBIDDEN");
            assert_eq!(!forbidden, allowed[i], "{op} as {role}: {body}");
        }
    }
}

/// The matrix covers every operation the access table declares.
#[test]
fn the_matrix_covers_every_declared_operation() {
    let covered: Vec<_> = matrix("p").into_iter().map(|(op, _, _)| op).collect();
    let public = ["signUp", "signIn", "refreshSession", "acceptInvitation"];
    let signed_in = [
        "myTenants",
        "tenant",
        "switchTenant",
        "signOut",
        "changePassword",
    ];
    // Subscriptions run over WebSocket; `subscriptions.rs` checks their guard.
    let over_websocket = ["taskEvents"];
    for (op, _) in api::graphql::access::ACCESS {
        assert!(
            covered.contains(op)
                || public.contains(op)
                || signed_in.contains(op)
                || over_websocket.contains(op),
            "{op} is missing from the permission matrix"
        );
    }
}

crate::on_every_backend!(every_operation_against_every_role);
