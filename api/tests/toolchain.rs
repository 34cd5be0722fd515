//! The declared `rust-version` is no lower than any dependency's: an offline
//! MSRV check (older toolchains cannot be installed on the build machines),
//! so `cargo` names the real floor instead of failing mid-build on an old one.

use serde_json::Value;
use std::process::Command;

/// `1.94` and `1.94.0` alike.
fn version(v: &str) -> [u64; 3] {
    let mut parts = v.split('.').map(|p| p.parse().unwrap_or(0));
    [0; 3].map(|_| parts.next().unwrap_or(0))
}

#[test]
fn rust_version_covers_every_dependency() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let packages = meta["packages"].as_array().unwrap();
    let declared = packages
        .iter()
        .find(|p| p["name"] == "api")
        .and_then(|p| p["rust_version"].as_str())
        .expect("the workspace declares a rust-version");
    let needed = packages
        .iter()
        .filter(|p| !members.contains(&p["id"].as_str().unwrap_or("")))
        .filter_map(|p| Some((p["rust_version"].as_str()?, p["name"].as_str()?)))
        .max_by_key(|(v, _)| version(v))
        .expect("dependencies declare theirs");
    assert!(
        version(declared) >= version(needed.0),
        "rust-version is {declared}, but {} needs {}: raise it in Cargo.toml",
        needed.1,
        needed.0
    );
}
