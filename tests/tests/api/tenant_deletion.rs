//! Deleting a tenant with a grace period: by an owner (naming its slug) or an
//! operator; refused to its members at once (`TENANT_DELETED`), restorable by
//! an operator, purged with everything it holds once the grace is over.

use crate::helpers::{Account, Backend, TestApp, assert_code, bad_fields, spawn_with};
use serde_json::{Value, json};
use std::time::Duration;

const SECRET: &str = "deletion-fixtures-secret-0123456789ab";
const DELETE: &str = "mutation($s: String!) { deleteTenant(confirmSlug: $s) }";
const ADMIN_TENANT: &str = "query($id: ID!) { tenant(id: $id) { standing purgeAfter } }";
const SIGN_IN: &str = "mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }";

async fn sign_in(app: &TestApp, a: &Account) -> Value {
    app.gql(
        None,
        SIGN_IN,
        json!({ "i": { "email": a.email, "password": a.password, "tenantSlug": a.slug } }),
    )
    .await
}

async fn an_owner_deletes_the_tenant_and_an_operator_restores_it(backend: Backend) {
    let app = spawn_with(backend, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await;
    let op = app.operator().await;
    let a = app.sign_up().await;
    let t = Some(a.token.as_str());
    let project = app.create_project(&a.token, "Kept").await;
    let f = app
        .fixture(SECRET, json!({ "users": [{ "role": "admin" }] }))
        .await;
    let admin = f["users"][0]["accessToken"].as_str().unwrap();
    let slug = f["tenant"]["slug"].as_str().unwrap();

    // Owners only, and only by naming the slug.
    assert_code(
        &app.gql(Some(admin), DELETE, json!({ "s": slug })).await,
        "FORBIDDEN",
    );
    let body = app.gql(t, DELETE, json!({ "s": "not-the-slug" })).await;
    assert_eq!(bad_fields(&body), ["confirmSlug"], "{body}");
    app.data(t, "{ me { id } }", json!({})).await;

    let d = app.data(t, DELETE, json!({ "s": a.slug })).await;
    let purge: chrono::DateTime<chrono::Utc> = d["deleteTenant"].as_str().unwrap().parse().unwrap();
    assert!(
        purge > chrono::Utc::now() + chrono::Duration::days(29),
        "{d}"
    );

    // Refused at once: requests, sign-in; another tenant goes on.
    assert_code(
        &app.gql(t, "{ me { id } }", json!({})).await,
        "TENANT_DELETED",
    );
    assert_code(&sign_in(&app, &a).await, "TENANT_DELETED");
    app.data(Some(admin), "{ me { id } }", json!({})).await;

    let d = app
        .admin_data(&op.token, ADMIN_TENANT, json!({ "id": a.tenant_id }))
        .await;
    assert_eq!(d["tenant"]["standing"], "DELETED");
    let shown: chrono::DateTime<chrono::Utc> =
        d["tenant"]["purgeAfter"].as_str().unwrap().parse().unwrap();
    assert_eq!(shown, purge);
    // Deleted is deleted: not again, and not suspended over it.
    for q in [
        "mutation($id: ID!) { deleteTenant(id: $id) { id } }",
        "mutation($id: ID!) { suspendTenant(id: $id) { id } }",
    ] {
        assert_code(
            &app.admin(Some(&op.token), q, json!({ "id": a.tenant_id }))
                .await,
            "CONFLICT",
        );
    }

    // Restored: the same token works, nothing was lost, and the owners see
    // who deleted it.
    let d = app
        .admin_data(
            &op.token,
            "mutation($id: ID!) { resumeTenant(id: $id) { standing purgeAfter } }",
            json!({ "id": a.tenant_id }),
        )
        .await;
    assert_eq!(
        d["resumeTenant"],
        json!({ "standing": "ACTIVE", "purgeAfter": null })
    );
    let d = app
        .data(
            t,
            "query($id: ID!) { project(id: $id) { name } }",
            json!({ "id": project }),
        )
        .await;
    assert_eq!(d["project"]["name"], "Kept");
    let log = app
        .data(
            t,
            "{ auditLog(first: 10) { edges { node { actorId action } } } }",
            json!({}),
        )
        .await;
    assert!(
        log["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| {
                e["node"]["action"] == "tenant.deletion_scheduled"
                    && e["node"]["actorId"] == a.user_id.as_str()
            }),
        "{log}"
    );
}

/// With no grace, the purge job deletes an operator-deleted tenant with its
/// data (its schema or database too); another tenant keeps everything.
async fn a_deleted_tenant_is_purged_when_its_grace_ends(backend: Backend) {
    let app = spawn_with(backend, |s| {
        s.tenancy.deletion_grace_secs = 0;
        s.housekeeping.prune_interval_secs = 1;
    })
    .await;
    let op = app.operator().await;
    let (a, b) = (app.sign_up().await, app.sign_up().await);
    app.create_project(&a.token, "Gone").await;
    app.create_project(&b.token, "Stays").await;
    app.admin_data(
        &op.token,
        "mutation($id: ID!) { deleteTenant(id: $id, reason: \"asked by email\") { standing } }",
        json!({ "id": a.tenant_id }),
    )
    .await;
    let since = tokio::time::Instant::now();
    loop {
        let body = app
            .admin(Some(&op.token), ADMIN_TENANT, json!({ "id": a.tenant_id }))
            .await;
        if body.get("errors").is_some() {
            assert_code(&body, "NOT_FOUND");
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "not purged: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_code(&sign_in(&app, &a).await, "UNAUTHENTICATED");
    let d = app
        .data(
            Some(&b.token),
            "{ projects { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["projects"]["edges"][0]["node"]["name"], "Stays");
}

/// Once its grace period is over the purge may have begun: restoring then
/// is refused rather than racing it.
async fn a_tenant_past_its_grace_is_not_restored(backend: Backend) {
    let app = spawn_with(backend, |s| {
        s.tenancy.deletion_grace_secs = 0;
        s.housekeeping.enabled = false;
    })
    .await;
    let op = app.operator().await;
    let a = app.sign_up().await;
    let vars = json!({ "id": a.tenant_id });
    app.admin_data(
        &op.token,
        "mutation($id: ID!) { deleteTenant(id: $id) { id } }",
        vars.clone(),
    )
    .await;
    let body = app
        .admin(
            Some(&op.token),
            "mutation($id: ID!) { resumeTenant(id: $id) { id } }",
            vars.clone(),
        )
        .await;
    assert_code(&body, "CONFLICT");
    let d = app.admin_data(&op.token, ADMIN_TENANT, vars).await;
    assert_eq!(d["tenant"]["standing"], "DELETED");
}

mod one {
    use super::*;
    crate::on_one_backend!(a_tenant_past_its_grace_is_not_restored);
}

crate::on_every_backend!(
    an_owner_deletes_the_tenant_and_an_operator_restores_it,
    a_deleted_tenant_is_purged_when_its_grace_ends,
);
