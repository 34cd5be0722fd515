//! A member's removal or new role takes effect on their very next request:
//! every request reads the membership, no token carries the role.

use crate::helpers::{Backend, assert_code, spawn};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_changes_and_removal_apply_on_the_next_request() {
    let app = spawn(Backend::Postgres).await;
    let owner = app.sign_up().await;
    let bob = app.sign_up().await;
    // Until member management lands (with roles and permissions), change memberships in SQL.
    let db = Database::connect(&app.database_url).await.unwrap();
    let exec = |sql: &str, values: Vec<sea_orm::Value>| {
        let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
        let db = db.clone();
        async move { db.execute_raw(stmt).await.unwrap() }
    };
    let (tenant, user) = (
        owner.tenant_id.parse::<uuid::Uuid>().unwrap(),
        bob.user_id.parse::<uuid::Uuid>().unwrap(),
    );
    exec(
        "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, 'member', now())",
        vec![tenant.into(), user.into()],
    )
    .await;
    let d = app
        .data(
            Some(&bob.token),
            "mutation($t: ID!) { switchTenant(tenantId: $t) { accessToken } }",
            json!({ "t": owner.tenant_id }),
        )
        .await;
    let token = d["switchTenant"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    const INVITES: &str = "{ invitations { email } }";
    assert_code(
        &app.gql(Some(&token), INVITES, json!({})).await,
        "FORBIDDEN",
    );

    exec(
        "UPDATE memberships SET role = 'admin' WHERE tenant_id = $1 AND user_id = $2",
        vec![tenant.into(), user.into()],
    )
    .await;
    let d = app.data(Some(&token), INVITES, json!({})).await;
    assert_eq!(
        d["invitations"],
        json!([]),
        "the same token, now an admin's"
    );

    exec(
        "DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2",
        vec![tenant.into(), user.into()],
    )
    .await;
    assert_code(
        &app.gql(Some(&token), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED",
    );
}
