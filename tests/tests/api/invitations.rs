//! Invitations with the email provider mocked by wiremock: delivery, retries,
//! timeouts, accepting as a new or an existing user, revoking, and removals
//! voiding a member's unused invitations.

use crate::helpers::{Account, Backend, TestApp, assert_code, bad_fields, spawn_with};
use domain::ports::Memberships;
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const INVITE: &str = "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { id email role emailStatus emailAttempts } }";
const ACCEPT: &str = "mutation($t: String!, $p: String!, $n: String) { acceptInvitation(token: $t, password: $p, displayName: $n) { accessToken tenant { id } user { email } } }";
const REVOKE: &str = "mutation($id: ID!) { revokeInvitation(id: $id) }";
const REMOVE: &str = "mutation($u: ID!) { removeMember(userId: $u) }";
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

/// A server whose email provider accepts everything.
async fn spawn_accepting(backend: Backend) -> (TestApp, MockServer) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&provider)
        .await;
    let app = spawn_with_provider(backend, &provider, |_| {}).await;
    (app, provider)
}

/// Invites `email`; returns the invitation's id and the emailed token.
async fn invited(
    app: &TestApp,
    provider: &MockServer,
    by: &Account,
    email: &str,
    role: &str,
) -> (String, String) {
    let body = invite(app, by, email, role).await;
    let id = body["data"]["inviteMember"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("invited: {body}"))
        .to_owned();
    (id, token_sent_to(provider, email).await)
}

async fn accept(app: &TestApp, token: &str) -> Value {
    app.gql(
        None,
        ACCEPT,
        json!({ "t": token, "p": "a long enough password" }),
    )
    .await
}

/// Joins the owner's tenant through an invitation; returns the access token and user id.
async fn joined(
    app: &TestApp,
    provider: &MockServer,
    owner: &Account,
    role: &str,
) -> (String, String) {
    let email = format!("{}@example.test", crate::helpers::unique(role));
    let (_, token) = invited(app, provider, owner, &email, role).await;
    let d = app
        .data(
            None,
            "mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) { accessToken user { id } } }",
            json!({ "t": token, "p": "a long enough password" }),
        )
        .await;
    let a = &d["acceptInvitation"];
    (
        a["accessToken"].as_str().unwrap().to_owned(),
        a["user"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn pending_emails(app: &TestApp, owner: &Account) -> Vec<String> {
    let d = app
        .data(Some(&owner.token), "{ invitations { email } }", json!({}))
        .await;
    d["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_revoked_invitation_cannot_be_accepted(backend: Backend) {
    let (app, provider) = spawn_accepting(backend).await;
    let owner = app.sign_up().await;
    let email = format!("{}@example.test", crate::helpers::unique("rex"));
    let (id, token) = invited(&app, &provider, &owner, &email, "member").await;
    assert_eq!(pending_emails(&app, &owner).await, [email.as_str()]);

    let d = app
        .data(Some(&owner.token), REVOKE, json!({ "id": id }))
        .await;
    assert_eq!(d["revokeInvitation"], true);
    assert!(pending_emails(&app, &owner).await.is_empty());
    let body = accept(&app, &token).await;
    assert_code(&body, "UNAUTHENTICATED");
    assert_eq!(
        body["errors"][0]["message"],
        accept(&app, "garbage").await["errors"][0]["message"],
        "refused like any bad token"
    );
    // Gone: revoking again finds nothing.
    assert_code(
        &app.gql(Some(&owner.token), REVOKE, json!({ "id": id }))
            .await,
        "NOT_FOUND",
    );
    // An accepted invitation is no longer revocable either.
    let (id, token) = invited(&app, &provider, &owner, &email, "viewer").await;
    app.data(
        None,
        ACCEPT,
        json!({ "t": token, "p": "a long enough password" }),
    )
    .await;
    assert_code(
        &app.gql(Some(&owner.token), REVOKE, json!({ "id": id }))
            .await,
        "NOT_FOUND",
    );
}

async fn another_tenants_invitation_is_not_found_and_stays_acceptable(backend: Backend) {
    let (app, provider) = spawn_accepting(backend).await;
    let owner = app.sign_up().await;
    let other = app.sign_up().await;
    let email = format!("{}@example.test", crate::helpers::unique("ola"));
    let (id, token) = invited(&app, &provider, &owner, &email, "member").await;

    for id in [
        id.as_str(),
        "not-an-id",
        "00000000-0000-0000-0000-000000000000",
    ] {
        assert_code(
            &app.gql(Some(&other.token), REVOKE, json!({ "id": id }))
                .await,
            "NOT_FOUND",
        );
    }
    assert_eq!(pending_emails(&app, &owner).await, [email]);
    let d = app
        .data(
            None,
            ACCEPT,
            json!({ "t": token, "p": "a long enough password" }),
        )
        .await;
    assert_eq!(
        d["acceptInvitation"]["tenant"]["id"],
        owner.tenant_id.as_str()
    );
}

async fn revoking_needs_the_right_to_manage_members(backend: Backend) {
    let (app, provider) = spawn_accepting(backend).await;
    let owner = app.sign_up().await;
    let (member, _) = joined(&app, &provider, &owner, "member").await;
    let (admin, _) = joined(&app, &provider, &owner, "admin").await;
    let email = format!("{}@example.test", crate::helpers::unique("pat"));
    let (id, _) = invited(&app, &provider, &owner, &email, "viewer").await;
    assert_code(
        &app.gql(Some(&member), REVOKE, json!({ "id": id })).await,
        "FORBIDDEN",
    );
    // Only owners invite owners, and only owners revoke their invitations.
    let boss = format!("{}@example.test", crate::helpers::unique("boss"));
    let (owners, _) = invited(&app, &provider, &owner, &boss, "owner").await;
    assert_code(
        &app.gql(Some(&admin), REVOKE, json!({ "id": owners })).await,
        "FORBIDDEN",
    );
    let mut pending = pending_emails(&app, &owner).await;
    pending.sort();
    let mut expected = vec![email, boss];
    expected.sort();
    assert_eq!(pending, expected, "nothing was revoked");
    // An admin revokes what they could have granted.
    let d = app.data(Some(&admin), REVOKE, json!({ "id": id })).await;
    assert_eq!(d["revokeInvitation"], true);
}

async fn a_removed_member_cannot_rejoin_with_an_unused_invitation(backend: Backend) {
    let (app, provider) = spawn_accepting(backend).await;
    let owner = app.sign_up().await;
    let email = format!("{}@example.test", crate::helpers::unique("rob"));
    // Invited twice; the first invitation makes them a member.
    let (_, first) = invited(&app, &provider, &owner, &email, "member").await;
    let (_, spare) = invited(&app, &provider, &owner, &email, "admin").await;
    let d = app
        .data(
            None,
            "mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) { user { id } } }",
            json!({ "t": first, "p": "a long enough password" }),
        )
        .await;
    let user_id = d["acceptInvitation"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(pending_emails(&app, &owner).await, [email.as_str()]);

    let d = app
        .data(Some(&owner.token), REMOVE, json!({ "u": user_id }))
        .await;
    assert_eq!(d["removeMember"], true);
    assert!(pending_emails(&app, &owner).await.is_empty());
    assert_code(&accept(&app, &spare).await, "UNAUTHENTICATED");

    // The removal itself voids invitations made before it, whether or not
    // their rows were tidied away: the control plane refuses the join.

    let identity = app.platform().await.identity();
    let tenant: domain::TenantId = owner.tenant_id.parse().unwrap();
    let user: domain::UserId = user_id.parse().unwrap();
    let role = domain::identity::RoleName::new("member");
    let before = chrono::Utc::now() - chrono::Duration::minutes(1);
    assert!(
        !identity
            .add_invited_membership(tenant, user, &role, before)
            .await
            .unwrap()
    );

    // A new invitation, made after the removal, lets them back.
    let (_, again) = invited(&app, &provider, &owner, &email, "viewer").await;
    let d = app
        .data(
            None,
            ACCEPT,
            json!({ "t": again, "p": "a long enough password" }),
        )
        .await;
    assert_eq!(
        d["acceptInvitation"]["tenant"]["id"],
        owner.tenant_id.as_str()
    );
}

/// A failed email is sent again by housekeeping, with a new link; the old
/// one (which never arrived) is refused.
async fn a_failed_email_is_sent_again_later_with_a_new_link(backend: Backend) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&provider)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .with_priority(2)
        .mount(&provider)
        .await;
    let app = spawn_with_provider(backend, &provider, |s| {
        s.email.max_attempts = 2;
        s.housekeeping.email_retry_interval_secs = 1;
        s.housekeeping.invitation_email_backoff_secs = 0;
    })
    .await;
    let owner = app.sign_up().await;
    let email = format!("{}@example.test", crate::helpers::unique("erin"));
    let body = invite(&app, &owner, &email, "member").await;
    assert_eq!(
        body["data"]["inviteMember"]["emailStatus"], "FAILED",
        "{body}"
    );
    let first = token_sent_to(&provider, &email).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let d = app
            .data(
                Some(&owner.token),
                "{ invitations { emailStatus emailAttempts } }",
                json!({}),
            )
            .await;
        if d["invitations"][0]["emailStatus"] == "SENT" {
            assert_eq!(d["invitations"][0]["emailAttempts"], 3, "{d}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never sent again: {d}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let second = token_sent_to(&provider, &email).await;
    assert_ne!(first, second, "a new link");
    let refused = app
        .gql(
            None,
            ACCEPT,
            json!({ "t": first, "p": "a long enough password" }),
        )
        .await;
    assert_code(&refused, "UNAUTHENTICATED");
    let d = app
        .data(
            None,
            ACCEPT,
            json!({ "t": second, "p": "a long enough password" }),
        )
        .await;
    assert_eq!(d["acceptInvitation"]["user"]["email"], email.as_str());
}

/// A page of tasks brings its assignees in the same query: only as members
/// of the page's tenant, never through their membership of another.
async fn a_removed_members_tasks_show_no_assignee_though_they_belong_elsewhere(backend: Backend) {
    let (app, provider) = spawn_accepting(backend).await;
    let (a, b) = (app.sign_up().await, app.sign_up().await);
    let email = format!("{}@example.test", crate::helpers::unique("both"));
    let (_, to_a) = invited(&app, &provider, &a, &email, "member").await;
    let joined_a = app
        .data(
            None,
            "mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) { user { id } } }",
            json!({ "t": to_a, "p": "a long enough password" }),
        )
        .await;
    let user = joined_a["acceptInvitation"]["user"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("joined: {joined_a}"))
        .to_owned();
    let (_, to_b) = invited(&app, &provider, &b, &email, "member").await;
    assert!(accept(&app, &to_b).await["errors"].is_null());

    let p = app.create_project(&a.token, "Launch").await;
    app.create_task(
        &a.token,
        json!({ "projectId": p, "title": "Theirs", "assigneeId": user }),
    )
    .await;
    const LIST: &str =
        "{ tasks(first: 5) { edges { node { title assignee { id displayName } } } } }";
    let assignee = |d: &Value| d["tasks"]["edges"][0]["node"]["assignee"].clone();
    let d = app.data(Some(&a.token), LIST, json!({})).await;
    assert_eq!(assignee(&d)["id"], user.as_str(), "{d}");

    let d = app.data(Some(&a.token), REMOVE, json!({ "u": user })).await;
    assert_eq!(d["removeMember"], true);
    let d = app.data(Some(&a.token), LIST, json!({})).await;
    assert_eq!(d["tasks"]["edges"][0]["node"]["title"], "Theirs");
    assert!(assignee(&d).is_null(), "{d}");
}

crate::on_every_backend!(
    a_removed_members_tasks_show_no_assignee_though_they_belong_elsewhere,
    a_failed_email_is_sent_again_later_with_a_new_link,
    a_revoked_invitation_cannot_be_accepted,
    another_tenants_invitation_is_not_found_and_stays_acceptable,
    revoking_needs_the_right_to_manage_members,
    a_removed_member_cannot_rejoin_with_an_unused_invitation,
    an_invited_person_joins_with_the_role_once,
    a_failing_provider_is_retried_until_it_delivers,
    a_provider_that_times_out_is_reported_and_the_invitation_kept,
    an_existing_user_accepts_with_their_own_password,
    bad_tokens_roles_and_expired_invitations_are_refused,
);
