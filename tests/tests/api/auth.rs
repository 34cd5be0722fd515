//! Sign-up, sign-in, tenants and tokens.

use crate::helpers::{Backend, assert_code, bad_fields, spawn, unique};
use serde_json::json;

const SIGN_UP: &str =
    "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id slug } } }";
const SIGN_IN: &str =
    "mutation($i: SignInInput!) { signIn(input: $i) { accessToken tenant { id slug } } }";

async fn sign_up_then_sign_in_sees_the_same_user_and_tenant(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;

    let d = app.data(Some(&acc.token), "{ me { id email displayName } tenant { id slug name isolation } myTenants { role tenant { id } } }", json!({})).await;
    assert_eq!(d["me"]["id"], acc.user_id.as_str());
    assert_eq!(d["me"]["email"], acc.email.as_str());
    assert_eq!(d["tenant"]["id"], acc.tenant_id.as_str());
    assert_eq!(d["tenant"]["isolation"], backend.isolation().to_uppercase());
    assert_eq!(
        d["myTenants"],
        json!([{ "role": "owner", "tenant": { "id": acc.tenant_id } }])
    );

    // Email is case-insensitive; the slug picks the tenant.
    let d = app
        .data(None, SIGN_IN, json!({ "i": { "email": acc.email.to_uppercase(), "password": acc.password, "tenantSlug": acc.slug } }))
        .await;
    assert_eq!(d["signIn"]["tenant"]["id"], acc.tenant_id.as_str());
    let token = d["signIn"]["accessToken"].as_str().unwrap();
    let d = app.data(Some(token), "{ me { id } }", json!({})).await;
    assert_eq!(d["me"]["id"], acc.user_id.as_str());
}

async fn sign_in_failures_all_look_the_same(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let other = app.sign_up().await;
    let attempts = [
        json!({ "email": acc.email, "password": "wrong password!!" }),
        json!({ "email": "nobody@example.test", "password": acc.password }),
        json!({ "email": acc.email, "password": acc.password, "tenantSlug": other.slug }),
        json!({ "email": acc.email, "password": acc.password, "tenantSlug": "no-such-tenant" }),
        json!({ "email": "not an email", "password": "x" }),
    ];
    let mut messages = Vec::new();
    for input in attempts {
        let body = app.gql(None, SIGN_IN, json!({ "i": input })).await;
        assert_code(&body, "UNAUTHENTICATED");
        messages.push(body["errors"][0]["message"].clone());
    }
    messages.dedup();
    assert_eq!(
        messages.len(),
        1,
        "every failure must read the same: {messages:?}"
    );
}

async fn invalid_sign_up_names_every_bad_field_and_writes_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let email = format!("{}@example.test", unique("u"));
    let body = app
        .gql(
            None,
            SIGN_UP,
            json!({ "i": { "email": email, "password": "short", "displayName": "Ada",
                                         "tenantName": "Acme", "tenantSlug": "Not A Slug" } }),
        )
        .await;
    let fields = bad_fields(&body);
    assert_eq!(fields, ["password", "tenantSlug"]);

    // Nothing was written: the same email and a good slug now succeed.
    let slug = unique("t");
    let d = app
        .data(None, SIGN_UP, json!({ "i": { "email": email, "password": "correct horse battery", "displayName": "Ada",
                                          "tenantName": "Acme", "tenantSlug": slug } }))
        .await;
    assert_eq!(d["signUp"]["tenant"]["slug"], slug.as_str());
}

async fn a_taken_email_or_slug_is_a_conflict_naming_the_field(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let body = app
        .gql(None, SIGN_UP, json!({ "i": { "email": acc.email, "password": "correct horse battery", "displayName": "X",
                                         "tenantName": "X", "tenantSlug": unique("t") } }))
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "email");
    let body = app
        .gql(None, SIGN_UP, json!({ "i": { "email": format!("{}@example.test", unique("u")), "password": "correct horse battery",
                                         "displayName": "X", "tenantName": "X", "tenantSlug": acc.slug } }))
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "tenantSlug");
}

async fn create_tenant_then_switch_to_it(backend: Backend) {
    let app = spawn(backend).await;
    let acc = app.sign_up().await;
    let slug = unique("g");
    let d = app
        .data(
            Some(&acc.token),
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { id slug isolation } }",
            json!({ "i": { "name": "Globex", "slug": slug } }),
        )
        .await;
    let new_id = d["createTenant"]["id"].as_str().unwrap().to_owned();
    // The deployment's default, as no other was asked for.
    assert_eq!(
        d["createTenant"]["isolation"],
        backend.isolation().to_uppercase()
    );

    let d = app
        .data(
            Some(&acc.token),
            "{ myTenants { role tenant { slug } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["myTenants"].as_array().unwrap().len(), 2);

    let d = app
        .data(
            Some(&acc.token),
            "mutation($t: ID!) { switchTenant(tenantId: $t) { accessToken tenant { id } } }",
            json!({ "t": new_id }),
        )
        .await;
    let token = d["switchTenant"]["accessToken"].as_str().unwrap();
    let d = app
        .data(
            Some(token),
            "{ tenant { id slug } projects { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(d["tenant"]["slug"], slug.as_str());
    assert_eq!(d["projects"]["totalCount"], 0);
}

async fn switching_to_a_tenant_you_are_not_in_is_not_found(backend: Backend) {
    let app = spawn(backend).await;
    let a = app.sign_up().await;
    let b = app.sign_up().await;
    let body = app
        .gql(
            Some(&a.token),
            "mutation($t: ID!) { switchTenant(tenantId: $t) { accessToken } }",
            json!({ "t": b.tenant_id }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
}

async fn tenant_data_needs_a_valid_token(backend: Backend) {
    let app = spawn(backend).await;
    for token in [
        None,
        Some("garbage"),
        Some("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
    ] {
        let body = app
            .gql(token, "{ projects { totalCount } }", json!({}))
            .await;
        assert_code(&body, "UNAUTHENTICATED");
        assert!(
            body["data"].is_null(),
            "no data without a valid token: {body}"
        );
    }
    // Only the Bearer scheme is accepted.
    let acc = app.sign_up().await;
    let res = app
        .client()
        .post(app.url("/graphql"))
        .header("authorization", format!("Token {}", acc.token))
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_code(&body, "UNAUTHENTICATED");
}

crate::on_every_backend!(
    sign_up_then_sign_in_sees_the_same_user_and_tenant,
    sign_in_failures_all_look_the_same,
    invalid_sign_up_names_every_bad_field_and_writes_nothing,
    a_taken_email_or_slug_is_a_conflict_naming_the_field,
    create_tenant_then_switch_to_it,
    switching_to_a_tenant_you_are_not_in_is_not_found,
    tenant_data_needs_a_valid_token,
);
