//! GraphiQL in headless Chromium: the page loads from this server alone, runs a
//! query and shows its result. Needs Node.js, Chromium and `npm ci --prefix
//! tests/browser` (`.ci/run` installs them); fails with that advice otherwise.

use crate::helpers::{Backend, spawn};
use std::path::Path;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_query_in_a_real_browser_offline() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "Chromium not found at {chromium}: install it (`apt-get install chromium`) or set CHROMIUM_PATH"
    );
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (needs Node.js)"
    );
    let app = spawn(Backend::Sqlite).await;
    let addr = app.addr.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(&dir)
            .env("CHROMIUM_PATH", chromium)
            .args([
                "graphiql.mjs",
                &addr,
                "query Probe { tenantryProbe: __typename }",
                r#""tenantryProbe": "Query""#,
            ])
            .output()
    })
    .await
    .unwrap()
    .expect("Node.js is needed for the browser test: install it (`apt-get install nodejs npm`)");
    assert!(
        output.status.success(),
        "GraphiQL did not show the result.\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(r#""tenantryProbe": "Query""#));
}
