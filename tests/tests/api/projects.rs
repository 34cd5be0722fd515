//! Projects: create, paginate both ways, filter, order, update, soft delete.

use crate::helpers::{Backend, assert_code, bad_fields, spawn};
use serde_json::{Value, json};

const LIST: &str = "query($first: Int, $after: String, $last: Int, $before: String, $f: ProjectFilter, $o: ProjectOrder) {
  projects(first: $first, after: $after, last: $last, before: $before, filter: $f, orderBy: $o) {
    totalCount
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }";

fn names(conn: &Value) -> Vec<String> {
    conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn pages_forward_and_backward_cover_every_project_once(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let all: Vec<String> = (0..7).map(|i| format!("Project {i:02}")).collect();
    for n in &all {
        app.create_project(&acc.token, n).await;
    }
    let order = json!({ "field": "NAME", "direction": "ASC" });

    // Forward in pages of 3: 3 + 3 + 1.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let d = app
            .data(
                Some(&acc.token),
                LIST,
                json!({ "first": 3, "after": after, "o": order }),
            )
            .await;
        let c = &d["projects"];
        assert_eq!(c["totalCount"], 7);
        assert_eq!(c["pageInfo"]["hasPreviousPage"], json!(pages > 0));
        seen.extend(names(c));
        pages += 1;
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, all);

    // Backward from the end in pages of 3: the last page first, each in order.
    let mut back = Vec::new();
    let mut before = Value::Null;
    loop {
        let d = app
            .data(
                Some(&acc.token),
                LIST,
                json!({ "last": 3, "before": before, "o": order }),
            )
            .await;
        let c = &d["projects"];
        let mut page = names(c);
        page.extend(back);
        back = page;
        if !c["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
            break;
        }
        before = c["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(back, all);
}

async fn default_order_is_newest_first_and_search_filters(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    for n in ["Launch", "Relaunch 100%", "Budget"] {
        app.create_project(&acc.token, n).await;
    }
    let d = app.data(Some(&acc.token), LIST, json!({})).await;
    assert_eq!(names(&d["projects"]), ["Budget", "Relaunch 100%", "Launch"]);

    let d = app
        .data(
            Some(&acc.token),
            LIST,
            json!({ "f": { "search": "LAUNCH" }, "o": { "field": "NAME", "direction": "DESC" } }),
        )
        .await;
    assert_eq!(names(&d["projects"]), ["Relaunch 100%", "Launch"]);
    assert_eq!(d["projects"]["totalCount"], 2);

    // LIKE wildcards in the term are literal.
    let d = app
        .data(Some(&acc.token), LIST, json!({ "f": { "search": "100%" } }))
        .await;
    assert_eq!(names(&d["projects"]), ["Relaunch 100%"]);
    let d = app
        .data(Some(&acc.token), LIST, json!({ "f": { "search": "%" } }))
        .await;
    assert_eq!(names(&d["projects"]), ["Relaunch 100%"]);
}

async fn a_stale_version_is_a_conflict_and_changes_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let id = app.create_project(&acc.token, "Launch").await;
    const UPDATE: &str = "mutation($id: ID!, $i: UpdateProjectInput!, $v: Int!) { updateProject(id: $id, input: $i, expectedVersion: $v) { id name version } }";

    let d = app
        .data(
            Some(&acc.token),
            UPDATE,
            json!({ "id": id, "i": { "name": "Launch v2" }, "v": 1 }),
        )
        .await;
    assert_eq!(
        d["updateProject"],
        json!({ "id": id, "name": "Launch v2", "version": 2 })
    );

    let body = app
        .gql(
            Some(&acc.token),
            UPDATE,
            json!({ "id": id, "i": { "name": "Launch v3" }, "v": 1 }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "expectedVersion");
    let d = app
        .data(
            Some(&acc.token),
            "query($id: ID!) { project(id: $id) { name version } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["project"], json!({ "name": "Launch v2", "version": 2 }));
}

async fn soft_delete_hides_the_project_and_its_tasks_until_restored(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let id = app.create_project(&acc.token, "Launch").await;
    let task = app
        .create_task(
            &acc.token,
            json!({ "projectId": id, "title": "Write docs" }),
        )
        .await;
    let tid = task["id"].as_str().unwrap();

    let d = app
        .data(
            Some(&acc.token),
            "mutation($id: ID!) { deleteProject(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["deleteProject"], true);
    let body = app
        .gql(
            Some(&acc.token),
            "query($id: ID!) { project(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
    let body = app
        .gql(
            Some(&acc.token),
            "query($id: ID!) { task(id: $id) { id } }",
            json!({ "id": tid }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
    let d = app
        .data(
            Some(&acc.token),
            "{ projects { totalCount } tasks { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (
            d["projects"]["totalCount"].as_u64(),
            d["tasks"]["totalCount"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let d = app
        .data(Some(&acc.token), LIST, json!({ "f": { "deleted": true } }))
        .await;
    assert_eq!(names(&d["projects"]), ["Launch"]);
    // Deleting twice is NOT_FOUND: there is no live project with that id.
    let body = app
        .gql(
            Some(&acc.token),
            "mutation($id: ID!) { deleteProject(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");

    let d = app
        .data(
            Some(&acc.token),
            "mutation($id: ID!) { restoreProject(id: $id) { id name } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["restoreProject"]["name"], "Launch");
    let d = app
        .data(
            Some(&acc.token),
            "query($id: ID!) { task(id: $id) { title project { id } } }",
            json!({ "id": tid }),
        )
        .await;
    assert_eq!(d["task"]["project"]["id"], id.as_str());
    let body = app
        .gql(
            Some(&acc.token),
            "mutation($id: ID!) { restoreProject(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
}

async fn invalid_input_names_the_fields_and_writes_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let body = app
        .gql(
            Some(&acc.token),
            "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }",
            json!({ "i": { "name": " ", "description": "x".repeat(10_001) } }),
        )
        .await;
    let fields = bad_fields(&body);
    assert_eq!(fields, ["name", "description"]);
    let d = app
        .data(Some(&acc.token), "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(d["projects"]["totalCount"], 0);

    for (args, field) in [
        (json!({ "first": 101 }), "first"),
        (json!({ "first": -1 }), "first"),
        (json!({ "after": "bm9wZQ" }), "after"),
    ] {
        let body = app.gql(Some(&acc.token), LIST, args).await;
        assert_eq!(bad_fields(&body), [field]);
    }
}

async fn a_repeated_idempotency_key_returns_the_first_project(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    const CREATE: &str = "mutation($i: CreateProjectInput!, $k: String) { createProject(input: $i, idempotencyKey: $k) { id } }";
    let a = app
        .data(
            Some(&acc.token),
            CREATE,
            json!({ "i": { "name": "Launch" }, "k": "k-1" }),
        )
        .await;
    let b = app
        .data(
            Some(&acc.token),
            CREATE,
            json!({ "i": { "name": "Launch" }, "k": "k-1" }),
        )
        .await;
    assert_eq!(a, b);
    let body = app
        .gql(
            Some(&acc.token),
            CREATE,
            json!({ "i": { "name": "Other" }, "k": "k-1" }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "idempotencyKey");
    let d = app
        .data(Some(&acc.token), "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(d["projects"]["totalCount"], 1);

    // Keys belong to a tenant: another tenant may use the same one.
    let other = app.sign_up().await;
    let c = app
        .data(
            Some(&other.token),
            CREATE,
            json!({ "i": { "name": "Launch" }, "k": "k-1" }),
        )
        .await;
    assert_ne!(a, c);
}

crate::on_every_backend!(
    pages_forward_and_backward_cover_every_project_once,
    default_order_is_newest_first_and_search_filters,
    a_stale_version_is_a_conflict_and_changes_nothing,
    soft_delete_hides_the_project_and_its_tasks_until_restored,
    invalid_input_names_the_fields_and_writes_nothing,
    a_repeated_idempotency_key_returns_the_first_project,
);
