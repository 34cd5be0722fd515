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

/// A server on `db` with the fixture endpoint on; its base URL.
async fn serve(db: &str) -> String {
    use api::app::Application;
    use api::config::Settings;
    let figment = Settings::figment()
        .merge(("app_env", "test"))
        .merge(("server.port", 0))
        .merge(("metrics.listen", ""))
        .merge(("database.url", db.to_owned()))
        .merge(("demo.seed_on_first_start", false))
        .merge(("log.filter", "off"))
        .merge(("fixtures.secret", "cli-fixtures-secret-0123456789abcdef"));
    let app = Application::build(Settings::from_figment(figment).unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    base
}

/// A fixture tenant with its owner, from the server at `base`.
async fn owner_fixture(base: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("{base}/_fixtures/tenants"))
        .header("x-fixtures-secret", "cli-fixtures-secret-0123456789abcdef")
        .json(&serde_json::json!({ "users": [{ "role": "owner" }], "projects": 0 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
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
    let file = std::env::temp_dir().join(format!("tenantry-cli-{}.db", uuid::Uuid::new_v4()));
    let db = format!("sqlite://{}?mode=rwc", file.display());
    let base = serve(&db).await;
    let fixture = |projects: u32| {
        let base = base.clone();
        async move {
            let f: serde_json::Value = reqwest::Client::new()
                .post(format!("{base}/_fixtures/tenants"))
                .header("x-fixtures-secret", "cli-fixtures-secret-0123456789abcdef")
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

    // A tenant's own request rates: shown, set, and put back to the default.
    let (ok, out) = tenantry(&db, &["tenants", "rates", &slug]);
    assert!(
        ok && out.contains("database work 500/s (plan standard)"),
        "{out}"
    );
    let (ok, out) = tenantry(&db, &["tenants", "rates", &slug, "--tenant-work", "50"]);
    assert!(ok && out.contains("database work 50/s (its own)"), "{out}");
    assert!(out.contains("per member 20/s (plan standard)"), "{out}");
    let (ok, out) = tenantry(&db, &["tenants", "rates", &id, "--tenant-work", "0"]);
    assert!(
        ok && out.contains("database work 500/s (plan standard)"),
        "{out}"
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_a_database_tenant_then_move_it_to_row() {
    let dir = std::env::temp_dir().join(format!("tenantry-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/main.db?mode=rwc", dir.display());
    let base = serve(&db).await;
    // An account to own the new tenant.
    let f = owner_fixture(&base).await;
    let owner = f["users"][0]["email"].as_str().unwrap().to_owned();

    let (ok, out) = tenantry(
        &db,
        &[
            "tenants",
            "create",
            "acme-db",
            "--name",
            "Acme",
            "--owner",
            &owner,
            "--isolation",
            "database",
        ],
    );
    assert!(ok && out.contains("isolation database"), "{out}");
    let (ok, out) = tenantry(&db, &["tenants", "list"]);
    let line = out
        .lines()
        .find(|l| l.contains("acme-db"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        ok && line.contains("database") && line.contains("main/tenant_"),
        "{out}"
    );
    let file = dir.join("tenants").join(format!(
        "{}.db",
        line.split_whitespace()
            .find(|w| w.starts_with("main/"))
            .unwrap()
            .trim_start_matches("main/")
    ));
    assert!(
        file.exists(),
        "the tenant's file {} was made",
        file.display()
    );

    let (ok, out) = tenantry(&db, &["tenants", "move", "acme-db", "--to", "row"]);
    assert!(ok && out.contains("from database to row"), "{out}");
    let (_, out) = tenantry(&db, &["tenants", "list"]);
    let line = out
        .lines()
        .find(|l| l.contains("acme-db"))
        .unwrap_or_default();
    assert!(line.contains(" row ") && line.contains("public"), "{out}");
    assert!(!file.exists(), "the old copy is removed");
    // A second create of the slug is refused and leaves no file behind.
    let (ok, out) = tenantry(
        &db,
        &[
            "tenants",
            "create",
            "acme-db",
            "--name",
            "Acme",
            "--owner",
            &owner,
            "--isolation",
            "database",
        ],
    );
    assert!(!ok && out.contains("slug"), "{out}");
    let files = std::fs::read_dir(dir.join("tenants")).unwrap().count();
    assert_eq!(files, 0, "a tenant never made leaves no database");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The operator role comes from the command line only; the endpoint follows
/// the list on every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_are_granted_listed_and_removed() {
    let file = std::env::temp_dir().join(format!("tenantry-cli-{}.db", uuid::Uuid::new_v4()));
    let db = format!("sqlite://{}?mode=rwc", file.display());
    let base = serve(&db).await;
    let f = owner_fixture(&base).await;
    let email = f["users"][0]["email"].as_str().unwrap().to_owned();
    let token = f["users"][0]["accessToken"].as_str().unwrap().to_owned();
    let admin = async || -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{base}/admin/graphql"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "query": "{ tenants { edges { node { slug } } } }" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    assert_eq!(
        admin().await["errors"][0]["extensions"]["code"],
        "FORBIDDEN"
    );

    let (ok, out) = tenantry(&db, &["operators", "add", "nobody@example.test"]);
    assert!(!ok && out.contains("nobody@example.test"), "{out}");
    let (ok, out) = tenantry(&db, &["operators", "add", &email]);
    assert!(ok && out.contains("is an operator"), "{out}");
    let (ok, out) = tenantry(&db, &["operators", "list"]);
    assert!(ok && out.contains(&email), "{out}");
    let body = admin().await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["tenants"]["edges"][0]["node"]["slug"],
        f["tenant"]["slug"]
    );

    let (ok, out) = tenantry(&db, &["operators", "remove", &email]);
    assert!(ok && out.contains("no longer an operator"), "{out}");
    assert_eq!(
        admin().await["errors"][0]["extensions"]["code"],
        "FORBIDDEN"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
