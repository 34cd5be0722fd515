//! Invitations with the email provider mocked by wiremock: delivery, retries,
//! timeouts, and accepting as a new or an existing user.

use crate::helpers::{Account, Backend, TestApp, assert_code, bad_fields, spawn_with};
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const INVITE: &str = "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { id email role emailStatus emailAttempts } }";
const ACCEPT: &str = "mutation($t: String!, $p: String!, $n: String) { acceptInvitation(token: $t, password: $p, displayName: $n) { accessToken tenant { id } user { email } } }";
const ACCEPT_URL: &str = "https://app.example.test/accept?token=";

async fn spawn_with_provider(
    backend: Backend,
    provider: &MockServer,
    tweak: impl FnOnce(&mut api::config::Settings),
) -> TestApp {
    let url = format!("{}/send", provider.uri());
    spawn_with(backend, move |s| {
        s.email.provider_url = Some(url);
        s.email.api_key = Some("test-api-key".to_owned().into());
        s.email.timeout_ms = 300;
        s.email.max_attempts = 3;
        s.email.backoff_ms = 10;
        s.invitations.accept_url = ACCEPT_URL.into();
        tweak(s);
    })
    .await
}

/// The token from the last email the provider received for `to`.
async fn token_sent_to(provider: &MockServer, to: &str) -> String {
    let requests = provider.received_requests().await.unwrap();
    let body: Value = requests
        .iter()
        .rev()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .find(|b| b["to"] == to)
        .expect("an email to the invitee");
    let text = body["text"].as_str().unwrap();
    let start = text.find(ACCEPT_URL).unwrap() + ACCEPT_URL.len();
    text[start..].split_whitespace().next().unwrap().to_owned()
}

async fn invite(app: &TestApp, by: &Account, email: &str, role: &str) -> Value {
    app.gql(
        Some(&by.token),
        INVITE,
        json!({ "i": { "email": email, "role": role } }),
    )
    .await
}

async fn an_invited_person_joins_with_the_role_once(backend: Backend) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .and(header("authorization", "Bearer test-api-key"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&provider)
        .await;
    let app = spawn_with_provider(backend, &provider, |_| {}).await;
    let owner = app.sign_up().await;
    let email = format!("{}@example.test", crate::helpers::unique("bob"));
    let body = invite(&app, &owner, &email, "member").await;
    let inv = &body["data"]["inviteMember"];
    assert_eq!(inv["emailStatus"], "SENT", "{body}");
    assert_eq!(inv["emailAttempts"], 1);
    assert_eq!(inv["role"], "member");

    let token = token_sent_to(&provider, &email).await;
    let d = app
        .data(
            None,
            ACCEPT,
            json!({ "t": token, "p": "bobs long password", "n": "Bob" }),
        )
        .await;
    assert_eq!(
        d["acceptInvitation"]["tenant"]["id"],
        owner.tenant_id.as_str()
    );
    let bob = d["acceptInvitation"]["accessToken"].as_str().unwrap();
    let d = app
        .data(
            Some(bob),
            "{ me { email displayName } myTenants { role tenant { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["me"], json!({ "email": email, "displayName": "Bob" }));
    assert_eq!(
        d["myTenants"],
        json!([{ "role": "member", "tenant": { "id": owner.tenant_id } }])
    );

    // Single use; and it is no longer pending.
    assert_code(
        &app.gql(
            None,
            ACCEPT,
            json!({ "t": token, "p": "bobs long password" }),
        )
        .await,
        "UNAUTHENTICATED",
    );
    let d = app
        .data(Some(&owner.token), "{ invitations { email } }", json!({}))
        .await;
    assert_eq!(d["invitations"], json!([]));
    // A member may not invite.
    let body = app
        .gql(
            Some(bob),
            INVITE,
            json!({ "i": { "email": "x@example.test", "role": "viewer" } }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    // Inviting a current member is a conflict.
    assert_code(&invite(&app, &owner, &email, "viewer").await, "CONFLICT");
}

async fn a_failing_provider_is_retried_until_it_delivers(backend: Backend) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&provider)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&provider)
        .await;
    let app = spawn_with_provider(backend, &provider, |_| {}).await;
    let owner = app.sign_up().await;
    let body = invite(&app, &owner, "carol@example.test", "viewer").await;
    assert_eq!(
        body["data"]["inviteMember"]["emailStatus"], "SENT",
        "{body}"
    );
    assert_eq!(body["data"]["inviteMember"]["emailAttempts"], 2);
    assert_eq!(provider.received_requests().await.unwrap().len(), 2);
}

async fn a_provider_that_times_out_is_reported_and_the_invitation_kept(backend: Backend) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&provider)
        .await;
    let app = spawn_with_provider(backend, &provider, |s| s.email.max_attempts = 2).await;
    let owner = app.sign_up().await;
    let body = invite(&app, &owner, "dave@example.test", "member").await;
    assert_eq!(
        body["data"]["inviteMember"]["emailStatus"], "FAILED",
        "{body}"
    );
    assert_eq!(body["data"]["inviteMember"]["emailAttempts"], 2);
    let d = app
        .data(
            Some(&owner.token),
            "{ invitations { email emailStatus } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["invitations"],
        json!([{ "email": "dave@example.test", "emailStatus": "FAILED" }])
    );
}

async fn an_existing_user_accepts_with_their_own_password(backend: Backend) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&provider)
        .await;
    let app = spawn_with_provider(backend, &provider, |_| {}).await;
    let owner = app.sign_up().await;
    let existing = app.sign_up().await;
    invite(&app, &owner, &existing.email, "admin").await;
    let token = token_sent_to(&provider, &existing.email).await;

    assert_code(
        &app.gql(
            None,
            ACCEPT,
            json!({ "t": token, "p": "not their password" }),
        )
        .await,
        "UNAUTHENTICATED",
    );
    let d = app
        .data(None, ACCEPT, json!({ "t": token, "p": existing.password }))
        .await;
    assert_eq!(
        d["acceptInvitation"]["tenant"]["id"],
        owner.tenant_id.as_str()
    );
    let d = app
        .data(Some(&existing.token), "{ myTenants { role } }", json!({}))
        .await;
    assert_eq!(d["myTenants"].as_array().unwrap().len(), 2);
}

async fn bad_tokens_roles_and_expired_invitations_are_refused(backend: Backend) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&provider)
        .await;
    let app = spawn_with_provider(backend, &provider, |s| s.invitations.ttl_hours = 0).await;
    let owner = app.sign_up().await;
    let other = app.sign_up().await;
    assert_eq!(
        bad_fields(&invite(&app, &owner, "not-an-email", "member").await),
        ["email"]
    );
    assert_eq!(
        bad_fields(&invite(&app, &owner, "e@example.test", "emperor").await),
        ["role"]
    );

    invite(&app, &owner, "eve@example.test", "member").await;
    let token = token_sent_to(&provider, "eve@example.test").await;
    // Expired at once (ttl 0).
    assert_code(
        &app.gql(
            None,
            ACCEPT,
            json!({ "t": token, "p": "eves long password" }),
        )
        .await,
        "UNAUTHENTICATED",
    );
    // The same secret under another tenant's id finds nothing.
    let secret = token.split_once('.').unwrap().1;
    let moved = format!("{}.{secret}", other.tenant_id.replace('-', ""));
    assert_code(
        &app.gql(
            None,
            ACCEPT,
            json!({ "t": moved, "p": "eves long password" }),
        )
        .await,
        "UNAUTHENTICATED",
    );
    assert_code(
        &app.gql(
            None,
            ACCEPT,
            json!({ "t": "garbage", "p": "eves long password" }),
        )
        .await,
        "UNAUTHENTICATED",
    );
}

crate::on_every_backend!(
    an_invited_person_joins_with_the_role_once,
    a_failing_provider_is_retried_until_it_delivers,
    a_provider_that_times_out_is_reported_and_the_invitation_kept,
    an_existing_user_accepts_with_their_own_password,
    bad_tokens_roles_and_expired_invitations_are_refused,
);
