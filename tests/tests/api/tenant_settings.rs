//! An owner renames their tenant and changes its slug: the directory,
//! sign-in by slug and the audit log follow; a taken or bad slug changes
//! nothing; another tenant is never touched.

use crate::helpers::{Backend, TestApp, assert_code, bad_fields, spawn, unique};
use serde_json::{Value, json};

const UPDATE: &str =
    "mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { id name slug } }";

async fn sign_in(app: &TestApp, email: &str, password: &str, slug: &str) -> Value {
    app.gql(
        None,
        "mutation($i: SignInInput!) { signIn(input: $i) { tenant { id slug } } }",
        json!({ "i": { "email": email, "password": password, "tenantSlug": slug } }),
    )
    .await
}

async fn shown(app: &TestApp, token: &str) -> Value {
    app.data(Some(token), "{ tenant { id name slug } }", json!({}))
        .await["tenant"]
        .clone()
}

async fn an_owner_renames_the_tenant_and_changes_its_slug(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.sign_up().await;
    let neighbour = app.sign_up().await;
    let before_neighbour = shown(&app, &neighbour.token).await;
    let slug = unique("renamed");

    let d = app
        .data(
            Some(&owner.token),
            UPDATE,
            json!({ "i": { "name": "Acme Renamed", "slug": slug } }),
        )
        .await;
    let updated = json!({ "id": owner.tenant_id, "name": "Acme Renamed", "slug": slug });
    assert_eq!(d["updateTenant"], updated);
    // The token names the tenant by id: it goes on working, and sees the new name.
    assert_eq!(shown(&app, &owner.token).await, updated);

    // Signing in by the new slug works; by the old one it is refused.
    let d = sign_in(&app, &owner.email, &owner.password, &slug).await;
    assert_eq!(d["data"]["signIn"]["tenant"]["id"], owner.tenant_id, "{d}");
    let d = sign_in(&app, &owner.email, &owner.password, &owner.slug).await;
    assert_code(&d, "UNAUTHENTICATED");

    // A name alone keeps the slug.
    let d = app
        .data(
            Some(&owner.token),
            UPDATE,
            json!({ "i": { "name": "Acme Again" } }),
        )
        .await;
    assert_eq!(d["updateTenant"]["slug"], slug);

    // The audit log tells who changed what.
    let d = app
        .data(
            Some(&owner.token),
            "{ auditLog(first: 2) { edges { node { actorId action target before after } } } }",
            json!({}),
        )
        .await;
    let first = &d["auditLog"]["edges"][1]["node"];
    assert_eq!(first["action"], "tenant.updated");
    assert_eq!(first["actorId"], owner.user_id);
    assert_eq!(first["target"], format!("tenant:{}", owner.tenant_id));
    assert_eq!(first["before"]["slug"], owner.slug);
    assert_eq!(
        first["after"],
        json!({ "name": "Acme Renamed", "slug": slug })
    );

    // Nothing of it reached the other tenant.
    assert_eq!(shown(&app, &neighbour.token).await, before_neighbour);
}

async fn a_taken_or_bad_slug_changes_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.sign_up().await;
    let neighbour = app.sign_up().await;
    let before = shown(&app, &owner.token).await;

    // Another tenant's slug: CONFLICT, and the name given with it is not kept.
    let body = app
        .gql(
            Some(&owner.token),
            UPDATE,
            json!({ "i": { "name": "Not Kept", "slug": neighbour.slug } }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "slug", "{body}");

    // Every bad field at once.
    let body = app
        .gql(
            Some(&owner.token),
            UPDATE,
            json!({ "i": { "name": "", "slug": "Not A Slug!" } }),
        )
        .await;
    let mut fields = bad_fields(&body);
    fields.sort();
    assert_eq!(fields, ["name", "slug"], "{body}");

    // Nothing to change is a mistake, not a silent success.
    let body = app
        .gql(Some(&owner.token), UPDATE, json!({ "i": {} }))
        .await;
    assert_eq!(bad_fields(&body), ["input"], "{body}");

    assert_eq!(shown(&app, &owner.token).await, before);
    assert_eq!(
        shown(&app, &neighbour.token).await["slug"],
        neighbour.slug.as_str()
    );
}

crate::on_every_backend!(
    an_owner_renames_the_tenant_and_changes_its_slug,
    a_taken_or_bad_slug_changes_nothing,
);
