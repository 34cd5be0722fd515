//! The operator's commands, run as the real binary.

use std::process::Command;

fn tenantry(db: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(args)
        .env("DATABASE_URL", db)
        .env("APP_ENV", "test")
        .env("APP_LOG__FILTER", "off")
        .output()
        .expect("the tenantry binary runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn migrate_then_list_tenants() {
    let file = std::env::temp_dir().join(format!("tenantry-cli-{}.db", uuid::Uuid::new_v4()));
    let db = format!("sqlite://{}?mode=rwc", file.display());
    let (ok, out) = tenantry(&db, &["migrate"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("control plane and shared tables migrated"),
        "{out}"
    );
    assert!(out.contains("0 migrated, 0 up to date, 0 failed"), "{out}");
    let (ok, out) = tenantry(&db, &["tenants", "list"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("placement") && out.contains("0 tenant(s)"),
        "{out}"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
