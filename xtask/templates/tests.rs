//! [[ r.Names ]]: paging both ways, search and filters, stale versions,
//! deletion, invalid input, idempotency keys, another tenant's rows and the
//! events webhooks receive. Written by `cargo xtask generate resource`.

use crate::helpers::{Backend, TestApp, assert_code, bad_fields, spawn, spawn_with};
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const LIST: &str = "query($first: Int, $after: String, $last: Int, $before: String, $f: [[ r.Name ]]Filter, $o: [[ r.Name ]]Order) {
  [[ r.namesCamel ]](first: $first, after: $after, last: $last, before: $before, filter: $f, orderBy: $o) {
    totalCount
    edges { cursor node { id [[ r.key.camel ]] } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }";
const CREATE: &str = "mutation($i: Create[[ r.Name ]]Input!, $k: String) { create[[ r.Name ]](input: $i, idempotencyKey: $k) { id [[ r.selection ]] version } }";
const UPDATE: &str = "mutation($id: ID!, $i: Update[[ r.Name ]]Input!, $v: Int!) { update[[ r.Name ]](id: $id, input: $i, expectedVersion: $v) { id [[ r.selection ]] version } }";
const GET: &str = "query($id: ID!) { [[ r.nameCamel ]](id: $id) { id [[ r.selection ]] version } }";
const DELETE: &str = "mutation($id: ID!) { delete[[ r.Name ]](id: $id) }";

/// A valid input: `key` as its `[[ r.key.camel ]]`, a sample for every other required field.
fn input(key: &str) -> Value {
    json!({ "[[ r.key.camel ]]": key[% for f in r.fields if f.required and f.name != r.key.name %], "[[ f.camel ]]": [[ f.json_sample ]][% endfor %] })
}

async fn create(app: &TestApp, token: &str, key: &str) -> Value {
    app.data(Some(token), CREATE, json!({ "i": input(key) }))
        .await["create[[ r.Name ]]"]
        .clone()
}

fn keys(conn: &Value) -> Vec<String> {
    conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["[[ r.key.camel ]]"].as_str().unwrap().to_owned())
        .collect()
}

async fn pages_forward_and_backward_cover_every_one_once(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    for k in ["Charlie", "Alpha", "Echo", "Bravo", "Delta"] {
        create(&app, &acc.token, k).await;
    }
    let d = app.data(Some(&acc.token), LIST, json!({})).await;
    assert_eq!(
        keys(&d["[[ r.namesCamel ]]"]),
        ["Delta", "Bravo", "Echo", "Alpha", "Charlie"],
        "newest first by default"
    );

    let order = json!({ "field": "[[ r.key.screaming ]]", "direction": "ASC" });
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = app
            .data(Some(&acc.token), LIST, json!({ "first": 2, "after": after, "o": order }))
            .await;
        let c = &d["[[ r.namesCamel ]]"];
        assert_eq!(c["totalCount"], 5);
        seen.extend(keys(c));
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]);

    let mut back: Vec<String> = Vec::new();
    let mut before = Value::Null;
    loop {
        let d = app
            .data(Some(&acc.token), LIST, json!({ "last": 2, "before": before, "o": order }))
            .await;
        let c = &d["[[ r.namesCamel ]]"];
        let mut page = keys(c);
        page.extend(back);
        back = page;
        if !c["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
            break;
        }
        before = c["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(back, seen);

    // A cursor made under one ordering is refused under another.
    let d = app
        .data(Some(&acc.token), LIST, json!({ "first": 1, "o": order }))
        .await;
    let cursor = d["[[ r.namesCamel ]]"]["pageInfo"]["endCursor"].clone();
    let body = app
        .gql(Some(&acc.token), LIST, json!({ "first": 1, "after": cursor }))
        .await;
    assert_code(&body, "BAD_USER_INPUT");
}

async fn search_and_filters_narrow_the_list(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    for k in ["Launch", "Relaunch 100%", "Budget"] {
        create(&app, &acc.token, k).await;
    }
    let d = app
        .data(Some(&acc.token), LIST, json!({ "f": { "search": "LAUNCH" } }))
        .await;
    assert_eq!(keys(&d["[[ r.namesCamel ]]"]), ["Relaunch 100%", "Launch"]);
    assert_eq!(d["[[ r.namesCamel ]]"]["totalCount"], 2);
    // LIKE wildcards in the term are literal.
    let d = app
        .data(Some(&acc.token), LIST, json!({ "f": { "search": "%" } }))
        .await;
    assert_eq!(keys(&d["[[ r.namesCamel ]]"]), ["Relaunch 100%"]);
[% for f in r.bools %]

    // `[[ f.camel ]]`: one row set, the others as created.
    let mut i = input("Flagged [[ loop.index ]]");
    i["[[ f.camel ]]"] = json!(true);
    app.data(Some(&acc.token), CREATE, json!({ "i": i })).await;
    let d = app
        .data(Some(&acc.token), LIST, json!({ "f": { "[[ f.camel ]]": true } }))
        .await;
    assert_eq!(keys(&d["[[ r.namesCamel ]]"]), ["Flagged [[ loop.index ]]"]);
    let d = app
        .data(Some(&acc.token), LIST, json!({ "f": { "[[ f.camel ]]": false } }))
        .await;
    assert_eq!(d["[[ r.namesCamel ]]"]["totalCount"], [[ 3 + loop.index0 ]]);
[% endfor %]
}

async fn a_stale_version_is_a_conflict_and_changes_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let made = create(&app, &acc.token, "First").await;
    let id = made["id"].clone();
    assert_eq!(made["version"], 1);

    let d = app
        .data(
            Some(&acc.token),
            UPDATE,
            json!({ "id": id, "i": { "[[ r.key.camel ]]": "Second" }, "v": 1 }),
        )
        .await;
    assert_eq!(d["update[[ r.Name ]]"]["[[ r.key.camel ]]"], "Second");
    assert_eq!(d["update[[ r.Name ]]"]["version"], 2);

    let body = app
        .gql(
            Some(&acc.token),
            UPDATE,
            json!({ "id": id, "i": { "[[ r.key.camel ]]": "Third" }, "v": 1 }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "expectedVersion");
    let d = app.data(Some(&acc.token), GET, json!({ "id": id })).await;
    assert_eq!(d["[[ r.nameCamel ]]"]["[[ r.key.camel ]]"], "Second");
    assert_eq!(d["[[ r.nameCamel ]]"]["version"], 2);

    // Nothing to change is bad input, not a new version.
    let body = app
        .gql(Some(&acc.token), UPDATE, json!({ "id": id, "i": {}, "v": 2 }))
        .await;
    assert_eq!(bad_fields(&body), ["input"]);
}

async fn delete_removes_it_for_good(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let id = create(&app, &acc.token, "Doomed").await["id"].clone();
    create(&app, &acc.token, "Kept").await;
    let d = app.data(Some(&acc.token), DELETE, json!({ "id": id })).await;
    assert_eq!(d["delete[[ r.Name ]]"], true);
    assert_code(&app.gql(Some(&acc.token), GET, json!({ "id": id })).await, "NOT_FOUND");
    assert_code(&app.gql(Some(&acc.token), DELETE, json!({ "id": id })).await, "NOT_FOUND");
    let d = app.data(Some(&acc.token), LIST, json!({})).await;
    assert_eq!(keys(&d["[[ r.namesCamel ]]"]), ["Kept"]);
}

async fn invalid_input_names_the_fields_and_writes_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let mut i = input("Valid");
[% for f in r.texts %]
    i["[[ f.camel ]]"] = json!("bad\u{7}");
[% endfor %]
    let body = app.gql(Some(&acc.token), CREATE, json!({ "i": i })).await;
    assert_eq!(bad_fields(&body), [[ r.text_camels ]]);
    let body = app
        .gql(
            Some(&acc.token),
            CREATE,
            json!({ "i": { "[[ r.key.camel ]]": "x".repeat([[ r.key.max ]] + 1)[% for f in r.fields if f.required and f.name != r.key.name %], "[[ f.camel ]]": [[ f.json_sample ]][% endfor %] } }),
        )
        .await;
    assert_eq!(bad_fields(&body), ["[[ r.key.camel ]]"]);
    let d = app
        .data(Some(&acc.token), "{ [[ r.namesCamel ]] { totalCount } }", json!({}))
        .await;
    assert_eq!(d["[[ r.namesCamel ]]"]["totalCount"], 0);
}

async fn a_repeated_idempotency_key_returns_the_first_one(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let vars = json!({ "i": input("Once"), "k": "k-1" });
    let a = app.data(Some(&acc.token), CREATE, vars.clone()).await;
    let b = app.data(Some(&acc.token), CREATE, vars).await;
    assert_eq!(a, b);
    let body = app
        .gql(Some(&acc.token), CREATE, json!({ "i": input("Other"), "k": "k-1" }))
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "idempotencyKey");
    let d = app
        .data(Some(&acc.token), "{ [[ r.namesCamel ]] { totalCount } }", json!({}))
        .await;
    assert_eq!(d["[[ r.namesCamel ]]"]["totalCount"], 1);

    // Keys belong to a tenant: another tenant may use the same one.
    let other = app.sign_up().await;
    let c = app
        .data(Some(&other.token), CREATE, json!({ "i": input("Once"), "k": "k-1" }))
        .await;
    assert_ne!(a, c);
}

async fn another_tenants_[[ r.names ]]_are_not_found_and_never_listed(backend: Backend) {
    let app = spawn(backend).await;
    let a = app.sign_up().await;
    let b = app.sign_up().await;
    let mine = create(&app, &a.token, "A's").await;
    let id = mine["id"].clone();
    create(&app, &b.token, "B's").await;

    for (query, vars) in [
        (GET, json!({ "id": id })),
        (UPDATE, json!({ "id": id, "i": { "[[ r.key.camel ]]": "Taken" }, "v": 1 })),
        (DELETE, json!({ "id": id })),
    ] {
        let body = app.gql(Some(&b.token), query, vars).await;
        assert_code(&body, "NOT_FOUND");
    }
    let d = app.data(Some(&b.token), LIST, json!({ "f": { "search": "A's" } })).await;
    assert_eq!(d["[[ r.namesCamel ]]"]["totalCount"], 0);
    let d = app.data(Some(&b.token), LIST, json!({})).await;
    assert_eq!(keys(&d["[[ r.namesCamel ]]"]), ["B's"]);

    let d = app.data(Some(&a.token), GET, json!({ "id": id })).await;
    assert_eq!(d["[[ r.nameCamel ]]"], mine, "A's row is as it was");
}

async fn changes_reach_webhooks_as_events(backend: Backend) {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let app = spawn_with(backend, |s| s.webhooks.sweep_interval_ms = 300).await;
    let acc = app.sign_up().await;
    app.data(
        Some(&acc.token),
        "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }",
        json!({ "i": {
            "url": format!("{}/hook", receiver.uri()),
            "events": ["[[ r.name ]].created", "[[ r.name ]].updated", "[[ r.name ]].deleted"],
            "secret": "whsec-0123456789abcdef",
        } }),
    )
    .await;
    let id = create(&app, &acc.token, "Announced").await["id"].clone();
    app.data(
        Some(&acc.token),
        UPDATE,
        json!({ "id": id, "i": { "[[ r.key.camel ]]": "Changed" }, "v": 1 }),
    )
    .await;
    app.data(Some(&acc.token), DELETE, json!({ "id": id })).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let bodies: Vec<Value> = loop {
        let got = receiver.received_requests().await.unwrap();
        if got.len() >= 3 {
            break got.iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
        }
        assert!(tokio::time::Instant::now() < deadline, "3 deliveries, got {}", got.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let seen: Vec<_> = bodies
        .iter()
        .map(|b| (b["type"].clone(), b["data"]["[[ r.nameCamel ]]"]["[[ r.key.camel ]]"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (json!("[[ r.name ]].created"), json!("Announced")),
            (json!("[[ r.name ]].updated"), json!("Changed")),
            (json!("[[ r.name ]].deleted"), json!("Changed")),
        ]
    );
    assert!(bodies.iter().all(|b| b["data"]["[[ r.nameCamel ]]"]["id"] == id));
}

crate::on_every_backend!(
    pages_forward_and_backward_cover_every_one_once,
    search_and_filters_narrow_the_list,
    a_stale_version_is_a_conflict_and_changes_nothing,
    delete_removes_it_for_good,
    invalid_input_names_the_fields_and_writes_nothing,
    a_repeated_idempotency_key_returns_the_first_one,
    another_tenants_[[ r.names ]]_are_not_found_and_never_listed,
    changes_reach_webhooks_as_events,
);
