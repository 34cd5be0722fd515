//! An owner renames their tenant and changes its slug: the directory,
//! sign-in by slug and the audit log follow; a taken or bad slug changes
//! nothing; another tenant is never touched. Members leave a tenant, but
//! its last owner cannot.

use crate::helpers::{Backend, TestApp, assert_code, bad_fields, spawn, spawn_with, unique};
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

const SECRET: &str = "tenant-settings-fixtures-0123456789abcdef";
const LEAVE: &str = "mutation { leaveTenant }";

/// A server and a fixture tenant with a user of each of `roles`.
async fn tenant_of(backend: Backend, roles: &[&str]) -> (TestApp, Value) {
    let app = spawn_with(backend, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await;
    let users: Vec<Value> = roles.iter().map(|r| json!({ "role": r })).collect();
    let f = app.fixture(SECRET, json!({ "users": users })).await;
    (app, f)
}

async fn members_leave_but_the_last_owner_stays(backend: Backend) {
    let (app, f) = tenant_of(backend, &["owner", "owner", "member"]).await;
    let user = |i: usize| {
        let u = &f["users"][i];
        (
            u["accessToken"].as_str().unwrap().to_owned(),
            u["id"].as_str().unwrap().to_owned(),
        )
    };
    let ((first, _), (second, _), (member, member_id)) = (user(0), user(1), user(2));
    let members = |token: String| {
        let app = &app;
        async move {
            let d = app
                .data(
                    Some(&token),
                    "{ members(first: 10) { edges { node { user { id } } } } }",
                    json!({}),
                )
                .await;
            d["members"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["user"]["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(members(first.clone()).await.len(), 3);

    // A member leaves: their token stops working at once, and they are gone.
    assert_eq!(
        app.data(Some(&member), LEAVE, json!({})).await["leaveTenant"],
        true
    );
    assert_code(
        &app.gql(Some(&member), "{ tenant { id } }", json!({})).await,
        "UNAUTHENTICATED",
    );
    assert!(!members(first.clone()).await.contains(&member_id));
    let d = app
        .data(
            Some(&first),
            "{ auditLog(first: 1) { edges { node { actorId action target } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["auditLog"]["edges"][0]["node"],
        json!({ "actorId": member_id, "action": "member.left", "target": format!("user:{member_id}") })
    );

    // One of two owners may leave; the last one may not, and stays.
    assert_eq!(
        app.data(Some(&first), LEAVE, json!({})).await["leaveTenant"],
        true
    );
    let body = app.gql(Some(&second), LEAVE, json!({})).await;
    assert_code(&body, "CONFLICT");
    assert_eq!(members(second.clone()).await.len(), 1);
}

async fn an_owner_hands_the_tenant_to_a_member(backend: Backend) {
    let (app, f) = tenant_of(backend, &["owner", "member"]).await;
    let token = |i: usize| f["users"][i]["accessToken"].as_str().unwrap().to_owned();
    let id = |i: usize| f["users"][i]["id"].as_str().unwrap().to_owned();
    let (owner, member) = (token(0), token(1));
    let transfer = "mutation($u: ID!) { transferOwnership(userId: $u) { user { id } role } }";

    // Not to oneself.
    let body = app.gql(Some(&owner), transfer, json!({ "u": id(0) })).await;
    assert_eq!(bad_fields(&body), ["userId"], "{body}");

    let d = app
        .data(Some(&owner), transfer, json!({ "u": id(1) }))
        .await;
    assert_eq!(
        d["transferOwnership"],
        json!({ "user": { "id": id(1) }, "role": "owner" })
    );
    // The old owner is an admin now: no more tenant settings for them, the
    // new owner has them.
    let rename = json!({ "i": { "name": "Handed Over" } });
    assert_code(
        &app.gql(Some(&owner), UPDATE, rename.clone()).await,
        "FORBIDDEN",
    );
    assert_eq!(
        app.data(Some(&member), UPDATE, rename).await["updateTenant"]["name"],
        "Handed Over"
    );
    let d = app
        .data(
            Some(&member),
            "{ members(first: 10) { edges { node { user { id } role } } } }",
            json!({}),
        )
        .await;
    let mut roles: Vec<(String, String)> = d["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["user"]["id"].as_str().unwrap().to_owned(),
                n["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    roles.sort();
    let mut expected = vec![(id(0), "admin".to_owned()), (id(1), "owner".to_owned())];
    expected.sort();
    assert_eq!(roles, expected);
}

async fn an_owner_sees_what_the_tenant_holds(backend: Backend) {
    let app = spawn_with(backend, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into())
    })
    .await;
    let f = app
        .fixture(
            SECRET,
            json!({ "users": [{ "role": "owner" }, { "role": "member" }], "projects": 2, "tasksPerProject": 3 }),
        )
        .await;
    let owner = f["users"][0]["accessToken"].as_str().unwrap().to_owned();
    let usage = || {
        let (app, owner) = (&app, &owner);
        async move {
            app.data(
                Some(owner),
                "{ tenant { usage { members projects tasks webhooks webhookLimit storedProjects storedTasks } } }",
                json!({}),
            )
            .await["tenant"]["usage"]
                .clone()
        }
    };
    assert_eq!(
        usage().await,
        json!({ "members": 2, "projects": 2, "tasks": 6, "webhooks": 0, "webhookLimit": 20,
                "storedProjects": 2, "storedTasks": 6 })
    );
    // A soft-deleted project and its tasks are not counted as live, but are
    // stored (and count against the plan) until they are purged.
    let gone = f["projects"][0]["id"].as_str().unwrap();
    app.data(
        Some(&owner),
        "mutation($id: ID!) { deleteProject(id: $id) }",
        json!({ "id": gone }),
    )
    .await;
    let after = usage().await;
    assert_eq!(
        (after["projects"].clone(), after["tasks"].clone()),
        (json!(1), json!(3))
    );
    assert_eq!(
        (
            after["storedProjects"].clone(),
            after["storedTasks"].clone()
        ),
        (json!(2), json!(6))
    );

    // Another tenant of the same owner shows no usage through this token.
    let d = app
        .data(
            Some(&owner),
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { usage { tasks } } }",
            json!({ "i": { "name": "Other", "slug": unique("other") } }),
        )
        .await;
    assert_eq!(d["createTenant"]["usage"], Value::Null);
}

async fn concurrent_creations_stop_at_the_owned_tenant_cap(backend: Backend) {
    let app = spawn_with(backend, |s| s.tenancy.self_service.max_owned_tenants = 3).await;
    let acc = app.sign_up().await;
    // The sign-up's tenant is one; six more asked for at once, two fit.
    let attempts = (0..6).map(|i| {
        app.gql(
            Some(&acc.token),
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { id } }",
            json!({ "i": { "name": format!("Race {i}"), "slug": unique("race") } }),
        )
    });
    let bodies = futures::future::join_all(attempts).await;
    let (made, refused): (Vec<_>, Vec<_>) = bodies
        .iter()
        .partition(|b| b["data"]["createTenant"]["id"].is_string());
    assert_eq!(made.len(), 2, "{bodies:?}");
    for body in refused {
        assert_code(body, "CONFLICT");
    }
    let d = app
        .data(Some(&acc.token), "{ myTenants { role } }", json!({}))
        .await;
    assert_eq!(d["myTenants"].as_array().unwrap().len(), 3, "{d}");
}

crate::on_every_backend!(
    concurrent_creations_stop_at_the_owned_tenant_cap,
    an_owner_sees_what_the_tenant_holds,
    an_owner_renames_the_tenant_and_changes_its_slug,
    a_taken_or_bad_slug_changes_nothing,
    members_leave_but_the_last_owner_stays,
    an_owner_hands_the_tenant_to_a_member,
);
