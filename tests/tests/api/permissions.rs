//! The permission matrix: every guarded operation × the four default roles and
//! a custom role, checked against the documented table (written out here, not
//! derived from the code). Denied is FORBIDDEN and nothing else; allowed is
//! the operation's own answer: data without errors, or NOT_FOUND where the
//! request names an object that does not exist (so a resolver that fails
//! for another reason fails the matrix too).

use crate::helpers::{Backend, codes, spawn_with};
use serde_json::{Value, json};

const SECRET: &str = "matrix-fixtures-secret-0123456789abcdef";

/// The custom role of the matrix: works on tasks, sees projects, nothing else.
const TRIAGER: &[&str] = &["project:read", "task:read", "task:write"];

/// What an allowed request answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Data, no error.
    Runs,
    /// NOT_FOUND, and nothing else: the request names no existing object.
    NotFound,
    /// BAD_USER_INPUT, and nothing else: the request is refused on its input
    /// once the caller is allowed (deleting with a slug that is not the tenant's).
    Invalid,
}

/// Operation, a request that runs it, and whether owner, admin, member,
/// viewer and triager may.
#[rustfmt::skip]
fn matrix(project: &str) -> Vec<(&'static str, String, [bool; 5], Then)> {
    use Then::{Invalid, NotFound, Runs};
    let nobody = uuid::Uuid::now_v7();
    vec![
        ("projects", "{ projects { totalCount } }".into(), [true, true, true, true, true], Runs),
        ("project", format!("{{ project(id: \"{project}\") {{ id }} }}"), [true, true, true, true, true], Runs),
        ("createProject", "mutation { createProject(input: {name: \"p\"}) { id } }".into(), [true, true, true, false, false], Runs),
        ("updateProject", format!("mutation {{ updateProject(id: \"{nobody}\", input: {{name: \"x\"}}, expectedVersion: 1) {{ id }} }}"), [true, true, true, false, false], NotFound),
        ("deleteProject", format!("mutation {{ deleteProject(id: \"{nobody}\") }}"), [true, true, true, false, false], NotFound),
        ("restoreProject", format!("mutation {{ restoreProject(id: \"{nobody}\") {{ id }} }}"), [true, true, true, false, false], NotFound),
        ("tasks", "{ tasks { totalCount } }".into(), [true, true, true, true, true], Runs),
        ("task", format!("{{ task(id: \"{nobody}\") {{ id }} }}"), [true, true, true, true, true], NotFound),
        ("createTask", format!("mutation {{ createTask(input: {{projectId: \"{project}\", title: \"t\"}}) {{ id }} }}"), [true, true, true, false, true], Runs),
        ("updateTask", format!("mutation {{ updateTask(id: \"{nobody}\", input: {{title: \"x\"}}, expectedVersion: 1) {{ id }} }}"), [true, true, true, false, true], NotFound),
        ("deleteTask", format!("mutation {{ deleteTask(id: \"{nobody}\") }}"), [true, true, true, false, true], NotFound),
        ("invitations", "{ invitations { id } }".into(), [true, true, false, false, false], Runs),
        ("inviteMember", "mutation { inviteMember(input: {email: \"new@example.test\", role: \"viewer\"}) { id } }".into(), [true, true, false, false, false], Runs),
        ("revokeInvitation", format!("mutation {{ revokeInvitation(id: \"{nobody}\") }}"), [true, true, false, false, false], NotFound),
        ("roles", "{ roles { name } }".into(), [true, true, true, true, false], Runs),
        ("createRole", "mutation { createRole(input: {name: \"r-fresh\", permissions: [\"task:read\"]}) { name } }".into(), [true, true, false, false, false], Runs),
        ("updateRole", "mutation { updateRole(name: \"no-such-role\", input: {permissions: [\"task:read\"]}) { name } }".into(), [true, true, false, false, false], NotFound),
        ("deleteRole", "mutation { deleteRole(name: \"no-such-role\") }".into(), [true, true, false, false, false], NotFound),
        ("members", "{ members(first: 5) { edges { node { role } } } }".into(), [true, true, true, true, false], Runs),
        ("updateMemberRole", format!("mutation {{ updateMemberRole(userId: \"{nobody}\", role: \"viewer\") {{ role }} }}"), [true, true, false, false, false], NotFound),
        ("removeMember", format!("mutation {{ removeMember(userId: \"{nobody}\") }}"), [true, true, false, false, false], NotFound),
        ("auditLog", "{ auditLog(first: 5) { edges { node { action } } } }".into(), [true, true, false, false, false], Runs),
        ("webhooks", "{ webhooks { id } }".into(), [true, true, false, false, false], Runs),
        ("webhookDeliveries", "{ webhookDeliveries(first: 5) { edges { node { status } } } }".into(), [true, true, false, false, false], Runs),
        ("createWebhook", "mutation { createWebhook(input: {url: \"https://hooks.example.test/in\", events: [\"task.created\"], secret: \"0123456789abcdef\"}) { id } }".into(), [true, true, false, false, false], Runs),
        ("deleteWebhook", format!("mutation {{ deleteWebhook(id: \"{nobody}\") }}"), [true, true, false, false, false], NotFound),
        ("redeliverWebhookDelivery", format!("mutation {{ redeliverWebhookDelivery(id: \"{nobody}\") {{ id }} }}"), [true, true, false, false, false], NotFound),
        ("Project.tasks", "{ projects(first: 1) { edges { node { tasks(first: 1) { totalCount } } } } }".into(), [true, true, true, true, true], Runs),
        ("Task.project", "{ tasks(first: 1) { edges { node { project { id } } } } }".into(), [true, true, true, true, true], Runs),
        ("Task.assignee", "{ tasks(first: 1) { edges { node { assignee { id } } } } }".into(), [true, true, true, true, false], Runs),
        ("Tenant.usage", "{ tenant { usage { projects } } }".into(), [true, false, false, false, false], Runs),
        ("me", "{ me { id } }".into(), [true, true, true, true, true], Runs),
        // Only owners rename their tenant (the slug stays, so the rows after still find it).
        ("updateTenant", "mutation { updateTenant(input: {name: \"Renamed by the matrix\"}) { id } }".into(), [true, false, false, false, false], Runs),
        // A wrong slug, so an allowed call deletes nothing (tenant_deletion.rs deletes).
        ("deleteTenant", "mutation { deleteTenant(confirmSlug: \"not-this-tenant\") }".into(), [true, false, false, false, false], Invalid),
        ("addTenantDomain", "mutation { addTenantDomain(domain: \"perm-x-1.example.test\") { domain } }".into(), [true, false, false, false, false], Runs),
        ("removeTenantDomain", "mutation { removeTenantDomain(domain: \"nobody.example.test\") }".into(), [true, false, false, false, false], NotFound),
        ("transferOwnership", format!("mutation {{ transferOwnership(userId: \"{nobody}\") {{ role }} }}"), [true, false, false, false, false], NotFound),
        // Any signed-in user may start a tenant of their own.
        ("createTenant", "mutation { createTenant(input: {name: \"n\", slug: \"perm-x-1\"}) { id } }".into(), [true, true, true, true, true], Runs),
        // generate: permission-matrix
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
    for (op, query, allowed, then) in matrix(&project) {
        for (i, role) in roles.iter().enumerate() {
            let token = fixture["users"][i]["accessToken"].as_str().unwrap();
            // Fresh names each time, so an allowed create is not a CONFLICT.
            let fresh = &uuid::Uuid::new_v4().simple().to_string()[..10];
            let query = query
                .replace("perm-x-1", &format!("perm-{fresh}"))
                .replace("r-fresh", &format!("r-{fresh}"))
                .replace("new@example.test", &format!("new-{fresh}@example.test"));
            let body = app.gql(Some(token), &query, json!({})).await;
            let expected: Vec<&str> = match (allowed[i], then) {
                (false, _) => vec!["FORBIDDEN"],
                (true, Then::Runs) => vec![],
                (true, Then::NotFound) => vec!["NOT_FOUND"],
                (true, Then::Invalid) => vec!["BAD_USER_INPUT"],
            };
            assert_eq!(codes(&body), expected, "{op} as {role}: {body}");
            if expected.is_empty() {
                assert!(body["data"].is_object(), "{op} as {role}: {body}");
            }
        }
    }
}

/// The matrix covers every operation the access table declares.
#[test]
fn the_matrix_covers_every_declared_operation() {
    let covered: Vec<_> = matrix("p").into_iter().map(|(op, ..)| op).collect();
    let public = ["signUp", "signIn", "refreshSession", "acceptInvitation"];
    let signed_in = [
        "myTenants",
        "tenant",
        "switchTenant",
        "signOut",
        "changePassword",
        // Leaving would take the role out of the rest of the matrix.
        "leaveTenant",
    ];
    // Subscriptions run over WebSocket; `subscriptions.rs` checks their guard.
    let over_websocket = ["taskEvents"];
    for (op, _) in api::graphql::guard::ACCESS {
        assert!(
            covered.contains(op)
                || public.contains(op)
                || signed_in.contains(op)
                || over_websocket.contains(op),
            "{op} is missing from the permission matrix"
        );
    }
}

crate::on_one_backend!(every_operation_against_every_role);
