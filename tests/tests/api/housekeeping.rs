//! Housekeeping prunes what can never be used again: ended sessions with
//! their refresh tokens, old idempotency keys, long-expired invitations;
//! and leaves everything else.

use crate::helpers::{Setup, TestApp, spawn_setup_with, unique};
use chrono::{Duration as Days, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::json;
use std::time::Duration;

const CREATE_PROJECT: &str = "mutation($i: CreateProjectInput!, $k: String) { createProject(input: $i, idempotencyKey: $k) { id } }";
const INVITE: &str = "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { id } }";

/// Sets `column` of `table`'s rows where `key_column = key` to `at`.
async fn backdate(
    db: &DatabaseConnection,
    table: &str,
    column: &str,
    (key_column, key): (&str, sea_orm::Value),
    at: chrono::DateTime<Utc>,
) {
    let stmt = Query::update()
        .table(Alias::new(table))
        .value(Alias::new(column), at)
        .and_where(Expr::col(Alias::new(key_column)).eq(key))
        .to_owned();
    let done = db.execute(&stmt).await.unwrap();
    assert!(
        done.rows_affected() > 0,
        "{table}.{column}: no row to backdate"
    );
}

async fn count(db: &DatabaseConnection, table: &str, key_column: &str, key: sea_orm::Value) -> i64 {
    let stmt = Query::select()
        .expr(Expr::col(Alias::new(key_column)).count())
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(key_column)).eq(key))
        .to_owned();
    let row = db.query_one(&stmt).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn ended_sessions_old_keys_expired_invitations_and_long_deleted_projects_are_pruned(
    setup: Setup,
) {
    // Row tenants: their rows are in the tables this test reads.
    let app: TestApp = spawn_setup_with(setup, |s| s.housekeeping.prune_interval_secs = 1).await;
    let db = Database::connect(app.database_url.as_str()).await.unwrap();
    let acc = app.sign_up().await;
    let user: uuid::Uuid = acc.user_id.parse().unwrap();

    // A second session, signed out two hours ago.
    let d = app
        .data(
            None,
            "mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }",
            json!({ "i": { "email": acc.email, "password": acc.password } }),
        )
        .await;
    let second = d["signIn"]["accessToken"].as_str().unwrap();
    app.data(Some(second), "mutation { signOut }", json!({}))
        .await;
    assert_eq!(count(&db, "sessions", "user_id", user.into()).await, 2);
    let long_ago = Utc::now() - Days::hours(2);
    backdate(
        &db,
        "sessions",
        "revoked_at",
        ("revoked_reason", "sign_out".into()),
        long_ago,
    )
    .await;

    // Two idempotency keys, one two days old.
    let (old_key, new_key) = (unique("k"), unique("k"));
    for key in [&old_key, &new_key] {
        app.data(
            Some(&acc.token),
            CREATE_PROJECT,
            json!({ "i": { "name": key }, "k": key }),
        )
        .await;
    }
    backdate(
        &db,
        "idempotency_keys",
        "created_at",
        ("key", old_key.clone().into()),
        Utc::now() - Days::days(2),
    )
    .await;

    // Two invitations, one expired eight days ago.
    let (old_email, new_email) = (
        format!("{}@example.test", unique("old")),
        format!("{}@example.test", unique("new")),
    );
    for email in [&old_email, &new_email] {
        app.data(
            Some(&acc.token),
            INVITE,
            json!({ "i": { "email": email, "role": "member" } }),
        )
        .await;
    }
    backdate(
        &db,
        "invitations",
        "expires_at",
        ("email", old_email.clone().into()),
        Utc::now() - Days::days(8),
    )
    .await;

    // Two deleted projects with a task each, one deleted 31 days ago.
    let mut deleted = vec![];
    for name in ["Long gone", "Just deleted"] {
        let project = app.create_project(&acc.token, name).await;
        app.create_task(&acc.token, json!({ "projectId": project, "title": "t" }))
            .await;
        app.data(
            Some(&acc.token),
            "mutation($id: ID!) { deleteProject(id: $id) }",
            json!({ "id": project }),
        )
        .await;
        deleted.push(uuid::Uuid::parse_str(&project).unwrap());
    }
    let (gone, recent) = (deleted[0], deleted[1]);
    backdate(
        &db,
        "projects",
        "deleted_at",
        ("id", gone.into()),
        Utc::now() - Days::days(31),
    )
    .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = (
            count(&db, "sessions", "user_id", user.into()).await,
            count(&db, "idempotency_keys", "key", old_key.clone().into()).await,
            count(&db, "invitations", "email", old_email.clone().into()).await,
            count(&db, "projects", "id", gone.into()).await,
            count(&db, "tasks", "project_id", gone.into()).await,
        );
        if left == (1, 0, 0, 0, 0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not pruned (sessions, old key, old invitation, old project, its tasks): {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // What is still good stays, and works.
    assert_eq!(
        count(&db, "idempotency_keys", "key", new_key.into()).await,
        1
    );
    assert_eq!(
        count(&db, "invitations", "email", new_email.into()).await,
        1
    );
    assert_eq!(count(&db, "tasks", "project_id", recent.into()).await, 1);
    let d = app
        .data(
            Some(&acc.token),
            "mutation($id: ID!) { restoreProject(id: $id) { name } }",
            json!({ "id": recent.to_string() }),
        )
        .await;
    assert_eq!(d["restoreProject"]["name"], "Just deleted");
    let d = app.data(Some(&acc.token), "{ me { id } }", json!({})).await;
    assert_eq!(d["me"]["id"], acc.user_id.as_str());
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("tenantry_housekeeping_runs_total{job=\"prune_sessions\",outcome=\"ok\"}"),
        "{metrics}"
    );
}

crate::for_every_setup!(
    ended_sessions_old_keys_expired_invitations_and_long_deleted_projects_are_pruned
);
