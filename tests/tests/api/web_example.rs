//! `examples/web`, the typed client a frontend team copies: its generated
//! types match the committed schema and type-check, and in two Chromium tabs
//! against the real server it signs in, switches tenant, pages, creates, edits
//! into a CONFLICT and sees the other tab's changes by subscription, renewing
//! its short-lived access tokens on its own.

use crate::helpers::{Backend, spawn_with};
use crate::node::{node, repo_dir};
use serde_json::{Value, json};

#[tokio::test]
async fn the_web_examples_generated_types_are_current_and_type_check() {
    let dir = repo_dir("examples/web");
    // Fails when schema.graphql or an operation changed and `npm run codegen`
    // was not run after.
    node(
        dir.clone(),
        vec!["node_modules/.bin/graphql-codegen".into(), "--check".into()],
    )
    .await;
    node(dir, vec!["node_modules/.bin/tsc".into(), "--noEmit".into()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_example_pages_edits_into_a_conflict_and_sees_another_tab() {
    // Access tokens of ten seconds: the tabs must renew theirs (at eight)
    // while they work. A socket stays on the token it signed in with until
    // that one's life and the server's 30 s leeway are over, which the flow
    // does not reach even on a loaded machine.
    let app = spawn_with(Backend::Sqlite, |s| s.auth.access_token_ttl_secs = 10).await;
    let acc = app.sign_up().await;
    app.create_project(&acc.token, "In the first tenant").await;
    // The work is in a second tenant, which the app must switch to.
    let d = app
        .data(
            Some(&acc.token),
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { id } }",
            json!({ "i": { "name": "Second Co", "slug": crate::helpers::unique("second") } }),
        )
        .await;
    let d = app
        .data(
            Some(&acc.token),
            "mutation($t: ID!) { switchTenant(tenantId: $t) { accessToken } }",
            json!({ "t": d["createTenant"]["id"] }),
        )
        .await;
    let token = d["switchTenant"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let project = app.create_project(&token, "Roadmap").await;
    for i in 1..=7 {
        app.create_task(
            &token,
            json!({ "projectId": project, "title": format!("Task {i}") }),
        )
        .await;
    }

    let output = node(
        repo_dir("examples/web"),
        vec![
            "e2e/app.mjs".into(),
            app.addr.clone(),
            acc.email.clone(),
            acc.password.clone(),
            "Second Co".into(),
            "Roadmap".into(),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the e2e script printed no result ({e}): {stdout}"));

    // Each tenant shows its own projects only.
    assert_eq!(seen["projectsBeforeSwitch"], json!(["In the first tenant"]));
    assert_eq!(seen["projectsAfterSwitch"], json!(["Roadmap"]));
    // Newest first, five a page, and back again.
    assert_eq!(seen["total"], "7 tasks · page 1");
    assert_eq!(
        seen["page1"],
        json!(["Task 7", "Task 6", "Task 5", "Task 4", "Task 3"])
    );
    assert_eq!(seen["page2"], json!(["Task 2", "Task 1"]));
    assert_eq!(seen["nextOnLastPage"], false);
    assert_eq!(seen["page1Again"], seen["page1"]);
    // Tab B's rename reached tab A's open editor as a CONFLICT naming it.
    assert!(
        seen["afterRenameInB"]
            .as_str()
            .unwrap()
            .contains("version 2"),
        "{seen}"
    );
    let conflict = seen["conflict"].as_str().unwrap();
    assert!(conflict.starts_with("CONFLICT"), "{conflict}");
    assert!(
        conflict.contains("Renamed in tab B") && conflict.contains("version 2"),
        "{conflict}"
    );
    assert!(
        seen["afterSaveInA"]
            .as_str()
            .unwrap()
            .contains("Final from tab A")
    );
    assert!(
        seen["inBAtTheEnd"].as_str().unwrap().contains("version 3"),
        "{seen}"
    );
    assert_eq!(seen["errorShown"], Value::Null);

    // The server holds what the tabs showed: the last save, in the second tenant.
    let d = app
        .data(
            Some(&token),
            "{ tasks(first: 1) { totalCount nodes { title version } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["tasks"]["totalCount"], 8);
    assert_eq!(
        d["tasks"]["nodes"][0],
        json!({ "title": "After the renewal", "version": 4 })
    );
    let d = app
        .data(
            Some(&acc.token),
            "{ tasks(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(d["tasks"]["totalCount"], 0);
}
