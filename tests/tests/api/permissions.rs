//! The permission matrix: every guarded operation × the four default roles,
//! checked against the documented table (written out here, not derived from
//! the code). Denied is FORBIDDEN; allowed is anything else.

use crate::helpers::{Backend, codes, spawn_with};
use serde_json::{Value, json};

const SECRET: &str = "matrix-secret";

/// Operation, a request that runs it, and whether owner, admin, member and viewer may.
fn matrix(project: &str) -> Vec<(&'static str, String, [bool; 4])> {
    let nobody = uuid::Uuid::now_v7();
    vec![
        ("projects", "{ projects { totalCount } }".into(), [true, true, true, true]),
        ("project", format!("{{ project(id: \"{project}\") {{ id }} }}"), [true, true, true, true]),
        ("createProject", "mutation { createProject(input: {name: \"p\"}) { id } }".into(), [true, true, true, false]),
        ("updateProject", format!("mutation {{ updateProject(id: \"{nobody}\", input: {{name: \"x\"}}, expectedVersion: 1) {{ id }} }}"), [true, true, true, false]),
        ("deleteProject", format!("mutation {{ deleteProject(id: \"{nobody}\") }}"), [true, true, true, false]),
        ("restoreProject", format!("mutation {{ restoreProject(id: \"{nobody}\") {{ id }} }}"), [true, true, true, false]),
        ("tasks", "{ tasks { totalCount } }".into(), [true, true, true, true]),
        ("task", format!("{{ task(id: \"{nobody}\") {{ id }} }}"), [true, true, true, true]),
        ("createTask", format!("mutation {{ createTask(input: {{projectId: \"{project}\", title: \"t\"}}) {{ id }} }}"), [true, true, true, false]),
        ("updateTask", format!("mutation {{ updateTask(id: \"{nobody}\", input: {{title: \"x\"}}, expectedVersion: 1) {{ id }} }}"), [true, true, true, false]),
        ("deleteTask", format!("mutation {{ deleteTask(id: \"{nobody}\") }}"), [true, true, true, false]),
        ("invitations", "{ invitations { id } }".into(), [true, true, false, false]),
        ("inviteMember", "mutation { inviteMember(input: {email: \"new@example.test\", role: \"viewer\"}) { id } }".into(), [true, true, false, false]),
        ("Task.assignee", "{ tasks(first: 1) { edges { node { assignee { id } } } } }".into(), [true, true, true, true]),
        ("me", "{ me { id } }".into(), [true, true, true, true]),
        // Any signed-in user may start a tenant of their own.
        ("createTenant", "mutation { createTenant(input: {name: \"n\", slug: \"perm-x-1\"}) { id } }".into(), [true, true, true, true]),
    ]
}

async fn every_operation_against_every_default_role(backend: Backend) {
    let app = spawn_with(backend, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await;
    let roles = ["owner", "admin", "member", "viewer"];
    let fixture: Value = app
        .client()
        .post(app.url("/_fixtures/tenants"))
        .header("x-fixtures-secret", SECRET)
        .json(&json!({ "users": roles.iter().map(|r| json!({ "role": r })).collect::<Vec<_>>(), "projects": 1, "tasksPerProject": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let project = fixture["projects"][0]["id"].as_str().unwrap().to_owned();
    for (op, query, allowed) in matrix(&project) {
        for (i, role) in roles.iter().enumerate() {
            let token = fixture["users"][i]["accessToken"].as_str().unwrap();
            // A fresh slug each time, so an allowed createTenant is not a CONFLICT.
            let query = query.replace(
                "perm-x-1",
                &format!("perm-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]),
            );
            let body = app.gql(Some(token), &query, json!({})).await;
            let forbidden = codes(&body).iter().any(|c| c == "FORBIDDEN");
            assert_eq!(!forbidden, allowed[i], "{op} as {role}: {body}");
        }
    }
}

crate::on_every_backend!(every_operation_against_every_default_role);
