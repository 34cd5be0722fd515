//! GraphiQL in headless Chromium: the page loads from this server alone, runs a
//! query and shows its result, runs a subscription over graphql-ws whose
//! events show as they come, and carries a sign-in's token to what follows. Needs Node.js, Chromium and `npm ci --prefix
//! tests/browser` (`scripts/services` installs them); fails with that advice otherwise.

use crate::helpers::{Backend, spawn};
use crate::node::{node, repo_dir};
use serde_json::json;
use std::process::Output;

/// Runs `tests/browser/graphiql.mjs` with `args` (after the base URL).
async fn graphiql(addr: &str, args: Vec<String>) -> Output {
    let mut all = vec!["graphiql.mjs".to_owned(), addr.to_owned()];
    all.extend(args);
    node(repo_dir("tests/browser"), all).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_query_in_a_real_browser_offline() {
    let app = spawn(Backend::Sqlite).await;
    let expected = r#""tenantryProbe": "Query""#;
    let output = graphiql(
        &app.addr,
        vec![
            "query Probe { tenantryProbe: __typename }".into(),
            expected.into(),
        ],
    )
    .await;
    assert!(String::from_utf8_lossy(&output.stdout).contains(expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_subscription_over_graphql_ws() {
    let app = spawn(Backend::Sqlite).await;
    let acc = app.sign_up().await;
    let project = app.create_project(&acc.token, "Watched").await;
    let title = "Made while GraphiQL watched";
    let headers = json!({ "Authorization": format!("Bearer {}", acc.token) });
    let trigger = json!({
        "query": "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        "variables": { "i": { "projectId": project, "title": title } },
    });
    let expected = format!(r#""title": "{title}""#);
    let output = graphiql(
        &app.addr,
        vec![
            "subscription Watch { taskEvents { kind task { title } } }".into(),
            expected.clone(),
            headers.to_string(),
            trigger.to_string(),
        ],
    )
    .await;
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains(&expected), "{shown}");
    assert!(shown.contains(r#""kind": "CREATED""#), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_puts_the_token_of_a_sign_in_into_the_headers() {
    let app = spawn(Backend::Sqlite).await;
    let acc = app.sign_up().await;
    let sign_in = format!(
        r#"mutation SignIn {{ signIn(input: {{email: "{}", password: "{}"}}) {{ accessToken }} }}"#,
        acc.email, acc.password
    );
    // No header was typed: the next query runs as the member signed in.
    let me = format!(r#""email": "{}""#, acc.email);
    let output = graphiql(
        &app.addr,
        vec![
            sign_in,
            "accessToken".into(),
            String::new(),
            String::new(),
            "query Me { me { email } }".into(),
            me.clone(),
        ],
    )
    .await;
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains(&me), "{shown}");
}
