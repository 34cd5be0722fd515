//! Tenant isolation: tenant B, holding tenant A's ids, reaches nothing of A's.
//! Every query and mutation answers NOT_FOUND or an empty list, and lists never mix.

use crate::helpers::{Backend, assert_code, spawn};
use serde_json::json;

async fn another_tenants_ids_are_not_found_and_lists_never_mix(backend: Backend) {
    let app = spawn(backend).await;
    let a = app.sign_up().await;
    let b = app.sign_up().await;

    let a_project = app.create_project(&a.token, "A secret").await;
    let a_deleted = app.create_project(&a.token, "A deleted").await;
    app.data(
        Some(&a.token),
        "mutation($id: ID!) { deleteProject(id: $id) }",
        json!({ "id": a_deleted }),
    )
    .await;
    let a_task = app
        .create_task(
            &a.token,
            json!({ "projectId": a_project, "title": "A task", "assigneeId": a.user_id }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_project = app.create_project(&b.token, "B project").await;
    let b_task = app
        .create_task(
            &b.token,
            json!({ "projectId": b_project, "title": "B task" }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Every operation that takes an id, given A's ids with B's token.
    let not_found = [
        (
            "query($id: ID!) { project(id: $id) { id } }",
            json!({ "id": a_project }),
        ),
        (
            "query($id: ID!) { task(id: $id) { id } }",
            json!({ "id": a_task }),
        ),
        (
            "mutation($id: ID!) { updateProject(id: $id, input: {name: \"x\"}, expectedVersion: 1) { id } }",
            json!({ "id": a_project }),
        ),
        (
            "mutation($id: ID!) { deleteProject(id: $id) }",
            json!({ "id": a_project }),
        ),
        (
            "mutation($id: ID!) { restoreProject(id: $id) { id } }",
            json!({ "id": a_deleted }),
        ),
        (
            "mutation($id: ID!) { updateTask(id: $id, input: {title: \"x\"}, expectedVersion: 1) { id } }",
            json!({ "id": a_task }),
        ),
        (
            "mutation($id: ID!) { deleteTask(id: $id) }",
            json!({ "id": a_task }),
        ),
        (
            "mutation($p: ID!) { createTask(input: {projectId: $p, title: \"x\"}) { id } }",
            json!({ "p": a_project }),
        ),
        (
            "mutation($p: ID!, $u: ID!) { createTask(input: {projectId: $p, title: \"x\", assigneeId: $u}) { id } }",
            json!({ "p": b_project, "u": a.user_id }),
        ),
        (
            "mutation($id: ID!, $u: ID!) { updateTask(id: $id, input: {assigneeId: $u}, expectedVersion: 1) { id } }",
            json!({ "id": b_task, "u": a.user_id }),
        ),
        (
            "mutation($t: ID!) { switchTenant(tenantId: $t) { accessToken } }",
            json!({ "t": a.tenant_id }),
        ),
    ];
    for (query, vars) in not_found {
        let body = app.gql(Some(&b.token), query, vars).await;
        assert_code(&body, "NOT_FOUND");
        assert!(
            !body.to_string().contains("A secret") && !body.to_string().contains("A task"),
            "leaked: {body}"
        );
    }

    // Filters by A's ids find nothing.
    for filter in [
        json!({ "projectId": a_project }),
        json!({ "assigneeId": a.user_id }),
    ] {
        let d = app
            .data(
                Some(&b.token),
                "query($f: TaskFilter) { tasks(filter: $f) { totalCount edges { node { id } } } }",
                json!({ "f": filter }),
            )
            .await;
        assert_eq!(d["tasks"], json!({ "totalCount": 0, "edges": [] }));
    }

    // B's lists hold B's rows only, however they are asked for.
    let d = app
        .data(Some(&b.token), "{ projects { totalCount edges { node { id } } } deleted: projects(filter: {deleted: true}) { totalCount }
                                  tasks { totalCount edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(
        d["projects"],
        json!({ "totalCount": 1, "edges": [{ "node": { "id": b_project } }] })
    );
    assert_eq!(d["deleted"]["totalCount"], 0);
    assert_eq!(
        d["tasks"],
        json!({ "totalCount": 1, "edges": [{ "node": { "id": b_task } }] })
    );

    // And A's data is intact after B's attempts.
    let d = app
        .data(
            Some(&a.token),
            "query($id: ID!) { project(id: $id) { name version } }",
            json!({ "id": a_project }),
        )
        .await
        .get("project")
        .cloned();
    assert_eq!(d, Some(json!({ "name": "A secret", "version": 1 })));
    let d = app
        .data(
            Some(&a.token),
            "{ tasks { edges { node { id title version assignee { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["tasks"]["edges"],
        json!([{ "node": { "id": a_task, "title": "A task", "version": 1, "assignee": { "id": a.user_id } } }])
    );
}

crate::on_every_backend!(another_tenants_ids_are_not_found_and_lists_never_mix);
