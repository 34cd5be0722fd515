//! Tasks: create, filter, order (nullable due dates included), update, delete.

use crate::helpers::{Backend, assert_code, bad_fields, spawn};
use serde_json::{Value, json};

const LIST: &str = "query($first: Int, $after: String, $last: Int, $before: String, $f: TaskFilter, $o: TaskOrder) {
  tasks(first: $first, after: $after, last: $last, before: $before, filter: $f, orderBy: $o) {
    totalCount
    edges { node { id title status priority dueDate assignee { id displayName } project { id name } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }";

fn titles(d: &Value) -> Vec<String> {
    d["tasks"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn tasks_are_created_and_filtered_with_project_and_assignee(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let p1 = app.create_project(&acc.token, "Launch").await;
    let p2 = app.create_project(&acc.token, "Docs").await;
    let t = app
        .create_task(
            &acc.token,
            json!({ "projectId": p1, "title": "Write docs", "status": "TODO", "priority": 2,
                                         "assigneeId": acc.user_id, "dueDate": "2026-12-01" }),
        )
        .await;
    assert_eq!(t["status"], "TODO");
    assert_eq!(t["priority"], 2);
    assert_eq!(t["dueDate"], "2026-12-01");
    assert_eq!(t["version"], 1);
    app.create_task(
        &acc.token,
        json!({ "projectId": p1, "title": "Ship it", "status": "DONE" }),
    )
    .await;
    app.create_task(
        &acc.token,
        json!({ "projectId": p2, "title": "Proofread docs" }),
    )
    .await;

    let d = app
        .data(Some(&acc.token), LIST, json!({ "f": { "projectId": p1 } }))
        .await;
    assert_eq!(titles(&d), ["Ship it", "Write docs"]);
    let first = &d["tasks"]["edges"][1]["node"];
    assert_eq!(first["project"], json!({ "id": p1, "name": "Launch" }));
    assert_eq!(
        first["assignee"],
        json!({ "id": acc.user_id, "displayName": "Test User" })
    );

    let d = app
        .data(Some(&acc.token), LIST, json!({ "f": { "status": "DONE" } }))
        .await;
    assert_eq!(titles(&d), ["Ship it"]);
    let d = app
        .data(
            Some(&acc.token),
            LIST,
            json!({ "f": { "assigneeId": acc.user_id } }),
        )
        .await;
    assert_eq!(titles(&d), ["Write docs"]);
    let d = app
        .data(
            Some(&acc.token),
            LIST,
            json!({ "f": { "search": "docs" }, "o": { "field": "TITLE", "direction": "ASC" } }),
        )
        .await;
    assert_eq!(titles(&d), ["Proofread docs", "Write docs"]);
    assert_eq!(d["tasks"]["totalCount"], 2);

    let d = app
        .data(Some(&acc.token), "query($id: ID!) { project(id: $id) { tasks(first: 10, filter: {status: TODO}) { totalCount edges { node { title } } } } }", json!({ "id": p1 }))
        .await;
    assert_eq!(d["project"]["tasks"]["totalCount"], 1);
    assert_eq!(
        d["project"]["tasks"]["edges"][0]["node"]["title"],
        "Write docs"
    );
}

async fn due_date_order_puts_undated_tasks_last_and_pages_through_them(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let p = app.create_project(&acc.token, "Launch").await;
    for (title, due) in [
        ("a", Some("2026-12-03")),
        ("b", None),
        ("c", Some("2026-12-01")),
        ("d", None),
        ("e", Some("2026-12-03")),
    ] {
        app.create_task(
            &acc.token,
            json!({ "projectId": p, "title": title, "dueDate": due }),
        )
        .await;
    }
    for (direction, dated) in [("ASC", ["c", "a", "e"]), ("DESC", ["e", "a", "c"])] {
        let o = json!({ "field": "DUE_DATE", "direction": direction });
        // Pages of two, forward.
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let d = app
                .data(
                    Some(&acc.token),
                    LIST,
                    json!({ "first": 2, "after": after, "o": o }),
                )
                .await;
            seen.extend(titles(&d));
            if !d["tasks"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                break;
            }
            after = d["tasks"]["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(
            &seen[..3],
            dated,
            "{direction}: dated tasks first, in order"
        );
        let mut undated = seen[3..].to_vec();
        undated.sort();
        assert_eq!(undated, ["b", "d"], "{direction}: undated tasks last");

        // The same order read backwards, in pages of two.
        let mut back: Vec<String> = Vec::new();
        let mut before = Value::Null;
        loop {
            let d = app
                .data(
                    Some(&acc.token),
                    LIST,
                    json!({ "last": 2, "before": before, "o": o }),
                )
                .await;
            let mut page = titles(&d);
            page.extend(back);
            back = page;
            if !d["tasks"]["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
                break;
            }
            before = d["tasks"]["pageInfo"]["startCursor"].clone();
        }
        assert_eq!(
            back, seen,
            "{direction}: backward pages agree with forward ones"
        );
    }
}

async fn priority_order_breaks_ties_by_id(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let p = app.create_project(&acc.token, "Launch").await;
    for (t, pr) in [("low", 0), ("urgent", 4), ("mid1", 2), ("mid2", 2)] {
        app.create_task(
            &acc.token,
            json!({ "projectId": p, "title": t, "priority": pr }),
        )
        .await;
    }
    let d = app
        .data(
            Some(&acc.token),
            LIST,
            json!({ "o": { "field": "PRIORITY", "direction": "DESC" } }),
        )
        .await;
    assert_eq!(titles(&d), ["urgent", "mid2", "mid1", "low"]);
    let d = app
        .data(
            Some(&acc.token),
            LIST,
            json!({ "first": 2, "o": { "field": "PRIORITY", "direction": "ASC" } }),
        )
        .await;
    let after = d["tasks"]["pageInfo"]["endCursor"].clone();
    assert_eq!(titles(&d), ["low", "mid1"]);
    let d = app
        .data(
            Some(&acc.token),
            LIST,
            json!({ "first": 2, "after": after, "o": { "field": "PRIORITY", "direction": "ASC" } }),
        )
        .await;
    assert_eq!(titles(&d), ["mid2", "urgent"]);
}

async fn update_changes_only_given_fields_and_checks_the_version(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let p = app.create_project(&acc.token, "Launch").await;
    let t = app
        .create_task(&acc.token, json!({ "projectId": p, "title": "Write docs", "assigneeId": acc.user_id, "dueDate": "2026-12-01" }))
        .await;
    let id = t["id"].as_str().unwrap();
    const UPDATE: &str = "mutation($id: ID!, $i: UpdateTaskInput!, $v: Int!) { updateTask(id: $id, input: $i, expectedVersion: $v) { title status version dueDate assignee { id } } }";
    let d = app
        .data(
            Some(&acc.token),
            UPDATE,
            json!({ "id": id, "i": { "status": "DONE", "assigneeId": null }, "v": 1 }),
        )
        .await;
    assert_eq!(
        d["updateTask"],
        json!({ "title": "Write docs", "status": "DONE", "version": 2, "dueDate": "2026-12-01", "assignee": null })
    );

    let body = app
        .gql(
            Some(&acc.token),
            UPDATE,
            json!({ "id": id, "i": { "title": "Stale" }, "v": 1 }),
        )
        .await;
    assert_code(&body, "CONFLICT");

    let body = app
        .gql(
            Some(&acc.token),
            UPDATE,
            json!({ "id": id, "i": { "priority": 9, "dueDate": "12/01/2026" }, "v": 2 }),
        )
        .await;
    let fields = bad_fields(&body);
    assert_eq!(fields, ["priority", "dueDate"]);

    let d = app
        .data(
            Some(&acc.token),
            "mutation($id: ID!) { deleteTask(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["deleteTask"], true);
    let body = app
        .gql(
            Some(&acc.token),
            "query($id: ID!) { task(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
}

async fn a_task_needs_a_live_project_and_a_member_assignee(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let stranger = app.sign_up().await;
    let p = app.create_project(&acc.token, "Launch").await;
    const CREATE: &str = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }";
    for input in [
        json!({ "projectId": p, "title": "x", "assigneeId": stranger.user_id }),
        json!({ "projectId": uuid::Uuid::now_v7().to_string(), "title": "x" }),
    ] {
        let body = app
            .gql(Some(&acc.token), CREATE, json!({ "i": input }))
            .await;
        assert_code(&body, "NOT_FOUND");
    }
    for (input, fields) in [
        (
            json!({ "projectId": "not-an-id", "title": "x" }),
            &["projectId"][..],
        ),
        (
            json!({ "projectId": p, "title": "x", "assigneeId": "nope" }),
            &["assigneeId"][..],
        ),
        (
            json!({ "projectId": p, "title": "", "priority": -1 }),
            &["title", "priority"][..],
        ),
    ] {
        let body = app
            .gql(Some(&acc.token), CREATE, json!({ "i": input }))
            .await;
        assert_eq!(bad_fields(&body), fields, "{body}");
    }
    let d = app
        .data(Some(&acc.token), "{ tasks { totalCount } }", json!({}))
        .await;
    assert_eq!(d["tasks"]["totalCount"], 0);
}

/// The key is claimed first, in the create's transaction: retries racing
/// the first attempt find what it made; a create that fails keeps no key.
async fn one_idempotency_key_makes_one_task_however_the_retries_race(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let other = app.sign_up().await;
    let p = app.create_project(&acc.token, "Launch").await;
    let theirs = app.create_project(&other.token, "Theirs").await;
    const CREATE: &str = "mutation($i: CreateTaskInput!, $k: String) { createTask(input: $i, idempotencyKey: $k) { id version } }";
    let send = |project: &str, key: &str| {
        app.gql(
            Some(&acc.token),
            CREATE,
            json!({ "i": { "projectId": project, "title": "Ship it" }, "k": key }),
        )
    };

    // Another tenant's project: refused, and the key is not used up by it.
    assert_code(&send(&theirs, "k-1").await, "NOT_FOUND");
    let answers = futures::future::join_all((0..6).map(|_| send(&p, "k-1"))).await;
    let first = &answers[0]["data"]["createTask"];
    assert!(first["id"].is_string(), "{}", answers[0]);
    for a in &answers {
        assert_eq!(&a["data"]["createTask"], first, "{a}");
    }
    let d = app
        .data(Some(&acc.token), "{ tasks { totalCount } }", json!({}))
        .await;
    assert_eq!(d["tasks"]["totalCount"], 1);
    assert_eq!(
        app.data(Some(&other.token), "{ tasks { totalCount } }", json!({}))
            .await["tasks"]["totalCount"],
        0
    );
}

/// Every field of a task, aliased, as pages answer them in place and as
/// `task(id)` answers them through the engine; the same with fragments and
/// directives (which take the engine's path in pages too).
const EVERY_FIELD: &str =
    "__typename id title description status priority dueDate createdAt updatedAt version
  also: title assignee { __typename id email displayName } project { id name }";

async fn a_page_answers_every_field_as_the_engine_does(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let p = app.create_project(&acc.token, "Launch").await;
    let t = app
        .create_task(
            &acc.token,
            json!({ "projectId": p, "title": "Write \"docs\" ✓", "description": "a\nb", "status": "IN_PROGRESS",
                    "priority": 3, "assigneeId": acc.user_id, "dueDate": "2026-12-01" }),
        )
        .await;
    let bare = app
        .create_task(&acc.token, json!({ "projectId": p, "title": "Bare" }))
        .await;
    let one = |id: &Value| {
        let (app, token, id) = (&app, acc.token.clone(), id.clone());
        async move {
            app.data(
                Some(&token),
                &format!("query($id: ID!) {{ task(id: $id) {{ {EVERY_FIELD} }} }}"),
                json!({ "id": id }),
            )
            .await["task"]
                .clone()
        }
    };
    for (selection, fragment) in [
        (EVERY_FIELD.to_owned(), String::new()),
        (
            "...F".to_owned(),
            format!("fragment F on Task {{ {EVERY_FIELD} }}"),
        ),
        (
            format!("id @include(if: true) title @skip(if: true) {EVERY_FIELD}"),
            String::new(),
        ),
    ] {
        let d = app
            .data(
                Some(&acc.token),
                &format!(
                    "{{ tasks(first: 10) {{ edges {{ node {{ {selection} }} }} }} }} {fragment}"
                ),
                json!({}),
            )
            .await;
        let nodes: Vec<Value> = d["tasks"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect();
        assert_eq!(nodes.len(), 2, "{d}");
        for (node, id) in nodes.iter().zip([&bare["id"], &t["id"]]) {
            let engine = one(id).await;
            assert_eq!(node, &engine, "{selection}");
        }
    }
    // Keys in the selection's order, as the engine writes them (read from
    // the text: parsed, an object's keys are sorted).
    let text = |query: String| {
        let (app, token) = (&app, acc.token.clone());
        async move {
            app.client()
                .post(app.url("/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let keys = |text: &str, after: &str| -> Vec<String> {
        let rest = &text[text.find(after).expect(after) + after.len()..];
        let parts: Vec<&str> = rest.split("\":").collect();
        // Each part but the last ends with a key.
        parts[..parts.len() - 1]
            .iter()
            .filter_map(|part| part.rsplit('"').next().map(str::to_owned))
            .collect()
    };
    let page = text(format!(
        "{{ tasks(first: 1) {{ edges {{ node {{ {EVERY_FIELD} }} }} }} }}"
    ))
    .await;
    let engine = text(format!(
        "{{ task(id: {}) {{ {EVERY_FIELD} }} }}",
        bare["id"]
    ))
    .await;
    assert_eq!(keys(&page, "\"node\":{"), keys(&engine, "\"task\":{"));
    assert_eq!(
        keys(&page, "\"node\":{")[..3],
        ["__typename", "id", "title"]
    );

    let node = &one(&t["id"]).await;
    assert_eq!(node["status"], "IN_PROGRESS");
    assert_eq!(node["also"], "Write \"docs\" ✓");
    assert_eq!(node["assignee"]["__typename"], "User");
    assert_eq!(node["dueDate"], "2026-12-01");
    assert!(one(&bare["id"]).await["dueDate"].is_null());
}

crate::on_every_backend!(
    tasks_are_created_and_filtered_with_project_and_assignee,
    due_date_order_puts_undated_tasks_last_and_pages_through_them,
    priority_order_breaks_ties_by_id,
    update_changes_only_given_fields_and_checks_the_version,
    a_task_needs_a_live_project_and_a_member_assignee,
    one_idempotency_key_makes_one_task_however_the_retries_race,
    a_page_answers_every_field_as_the_engine_does,
);
