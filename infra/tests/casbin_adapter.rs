//! The SeaORM adapter behind Casbin's own API: lines load from the database,
//! a user's role is the membership row, other lines live in `casbin_rule`.

use casbin::{CoreApi, DefaultModel, Enforcer, MgmtApi, RbacApi};
use domain::identity::RoleName;
use domain::ports::{Accounts, Memberships};
use domain::ports::{NewAccount, NewTenant};
use domain::values::{DisplayName, Email, TenantName, TenantSlug};
use infra::authz::adapter::SeaOrmAdapter;
use infra::db::{DbSettings, Storage};
use infra::platform::Platform;
use sea_orm::Database;
use std::time::Duration;

const MODEL: &str = include_str!("../src/authz/model.conf");

#[tokio::test]
async fn the_adapter_round_trips_lines_through_the_database() {
    let file = std::env::temp_dir().join(format!("tenantry-adapter-{}.db", uuid::Uuid::now_v7()));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let storage = Storage::connect(&DbSettings {
        url: url.clone(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
        log_statements: false,
        tenant_statement_timeout: None,
        tenant_databases: Default::default(),
        admission: None,
    })
    .await
    .unwrap();
    storage.migrate().await.unwrap();
    // Writes the default lines.
    let platform = Platform::compose(storage, infra::platform::Settings::local())
        .await
        .unwrap();
    let identity = platform.identity();
    let (user, tenant) = identity
        .create_account(&NewAccount {
            email: Email::parse("ada@example.test").unwrap(),
            password_hash: "x".into(),
            display_name: DisplayName::parse("Ada").unwrap(),
            tenant: NewTenant {
                name: TenantName::parse("Acme").unwrap(),
                slug: TenantSlug::parse("acme").unwrap(),
                isolation: domain::Isolation::Row,
                fixture: false,
            },
        })
        .await
        .unwrap();
    let (u, t) = (user.id.to_string(), tenant.id.to_string());

    let db = Database::connect(&url).await.unwrap();
    let model = DefaultModel::from_str(MODEL).await.unwrap();
    let mut e = Enforcer::new(model, SeaOrmAdapter::new(db.clone()))
        .await
        .unwrap();
    // The membership is a g line; the owner role's lines are shared.
    assert_eq!(e.get_roles_for_user(&u, Some(&t)), vec!["owner".to_owned()]);
    assert!(e.enforce((&u, &t, "tenant:manage")).unwrap());
    assert_eq!(
        e.get_policy().len(),
        37,
        "27 default-role lines + 10 permission roles"
    );

    // Casbin's API with auto-save writes through the adapter.
    assert!(
        e.add_grouping_policy(vec!["auditor".into(), "perm:audit:read".into(), t.clone()])
            .await
            .unwrap()
    );
    assert!(
        e.add_grouping_policy(vec![u.clone(), "auditor".into(), t.clone()])
            .await
            .unwrap()
    );
    let m = identity
        .membership(user.id, tenant.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        m.role,
        RoleName::new("auditor"),
        "a user's g line is their membership"
    );

    // A fresh enforcer loads what was written.
    let model = DefaultModel::from_str(MODEL).await.unwrap();
    let fresh = Enforcer::new(model, SeaOrmAdapter::new(db.clone()))
        .await
        .unwrap();
    assert!(fresh.enforce((&u, &t, "audit:read")).unwrap());
    assert!(!fresh.enforce((&u, &t, "task:read")).unwrap());
    assert!(!fresh.enforce((&u, "another-tenant", "audit:read")).unwrap());

    assert!(
        e.remove_grouping_policy(vec!["auditor".into(), "perm:audit:read".into(), t.clone()])
            .await
            .unwrap()
    );
    let model = DefaultModel::from_str(MODEL).await.unwrap();
    let fresh = Enforcer::new(model, SeaOrmAdapter::new(db)).await.unwrap();
    assert!(!fresh.enforce((&u, &t, "audit:read")).unwrap());

    platform.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
