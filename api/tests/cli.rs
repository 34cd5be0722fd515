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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_delete_a_tenant() {
    use api::app::Application;
    use api::config::Settings;
    let file = std::env::temp_dir().join(format!("tenantry-cli-{}.db", uuid::Uuid::new_v4()));
    let db = format!("sqlite://{}?mode=rwc", file.display());
    let figment = Settings::figment()
        .merge(("app_env", "test"))
        .merge(("server.port", 0))
        .merge(("database.url", db.clone()))
        .merge(("demo.seed_on_first_start", false))
        .merge(("log.filter", "off"))
        .merge(("fixtures.secret", "cli"));
    let app = Application::build(Settings::from_figment(figment).unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    let fixture = |projects: u32| {
        let base = base.clone();
        async move {
            let f: serde_json::Value = reqwest::Client::new()
                .post(format!("{base}/_fixtures/tenants"))
                .header("x-fixtures-secret", "cli")
                .json(&serde_json::json!({ "users": [{ "role": "owner" }, { "role": "viewer" }], "projects": projects, "tasksPerProject": 3 }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            f
        }
    };
    let f = fixture(2).await;
    let _other = fixture(1).await;
    let (id, slug) = (
        f["tenant"]["id"].as_str().unwrap().to_owned(),
        f["tenant"]["slug"].as_str().unwrap().to_owned(),
    );

    let (ok, out) = tenantry(&db, &["tenants", "export", &slug]);
    assert!(ok, "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["tenant"]["id"], id.as_str());
    let count = |key: &str, table: Option<&str>| {
        lines
            .iter()
            .filter(|l| match table {
                Some(t) => l["table"] == t,
                None => !l[key].is_null(),
            })
            .count()
    };
    assert_eq!(count("member", None), 2);
    assert_eq!(count("", Some("projects")), 2);
    assert_eq!(count("", Some("tasks")), 6);
    assert!(
        lines
            .iter()
            .filter(|l| l["row"].is_object())
            .all(|l| l["row"]["tenant_id"] == id.as_str()),
        "only this tenant's rows"
    );

    let (ok, out) = tenantry(&db, &["tenants", "delete", &slug]);
    assert!(!ok && out.contains("--yes"), "{out}");
    let (ok, out) = tenantry(&db, &["tenants", "export", &slug]);
    assert!(ok, "nothing deleted without --yes: {out}");
    let (ok, out) = tenantry(&db, &["tenants", "delete", &slug, "--yes"]);
    assert!(ok, "{out}");
    assert!(out.contains("8 tenant-plane row(s)"), "{out}");
    let (ok, out) = tenantry(&db, &["tenants", "export", &id]);
    assert!(!ok && out.contains("no tenant"), "{out}");
    let (ok, out) = tenantry(&db, &["tenants", "list"]);
    assert!(
        ok && out.contains("1 tenant(s)"),
        "the other tenant stays: {out}"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
