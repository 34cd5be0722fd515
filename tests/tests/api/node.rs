//! Runs a Node.js script of the browser tests or of `examples/web`, which
//! need Node.js, Chromium and their `npm ci` (`scripts/services` installs
//! them); fails with that advice when one is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A folder of the repository, from its root.
pub fn repo_dir(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Runs `node <args>` in `dir` (Chromium found at CHROMIUM_PATH or
/// /usr/bin/chromium) and returns its output once it succeeded.
pub async fn node(dir: PathBuf, args: Vec<String>) -> Output {
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "Chromium not found at {chromium}: install it (`apt-get install chromium`) or set CHROMIUM_PATH"
    );
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "{} has no node modules: run `npm ci --prefix {}` (or `scripts/services`)",
        dir.display(),
        dir.display()
    );
    let shown = args.join(" ");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(&dir)
            .env("CHROMIUM_PATH", chromium)
            .args(args)
            .output()
    })
    .await
    .unwrap()
    .expect("Node.js is needed for the browser tests: install it (see scripts/services)");
    assert!(
        output.status.success(),
        "`node {shown}` failed.\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
