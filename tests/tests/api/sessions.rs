//! Sessions: refresh rotation with theft detection, sign-out at once, sign-out
//! everywhere, password change. Run with the in-process revocation list and
//! with the Redis one.

use crate::helpers::{Account, TestApp, assert_code, bad_fields};
use serde_json::{Value, json};

const REFRESH: &str = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken user { id } tenant { id } } }";
const SIGN_IN: &str =
    "mutation($i: SignInInput!) { signIn(input: $i) { accessToken refreshToken } }";

async fn refresh_token(app: &TestApp, acc: &Account) -> (String, String) {
    let d = app
        .data(
            None,
            SIGN_IN,
            json!({ "i": { "email": acc.email, "password": acc.password } }),
        )
        .await;
    (
        d["signIn"]["accessToken"].as_str().unwrap().to_owned(),
        d["signIn"]["refreshToken"].as_str().unwrap().to_owned(),
    )
}

async fn works(app: &TestApp, token: &str) -> bool {
    let body = app.gql(Some(token), "{ me { id } }", json!({})).await;
    match body["errors"].as_array() {
        None => true,
        Some(_) => {
            assert_code(&body, "UNAUTHENTICATED");
            false
        }
    }
}

async fn refresh_rotates_and_a_replayed_token_ends_the_session(app: TestApp) {
    let acc = app.sign_up().await;
    let (_, r1) = refresh_token(&app, &acc).await;

    let d = app.data(None, REFRESH, json!({ "t": r1 })).await;
    let a2 = d["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let r2 = d["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(r1, r2);
    assert_eq!(d["refreshSession"]["user"]["id"], acc.user_id.as_str());
    assert_eq!(d["refreshSession"]["tenant"]["id"], acc.tenant_id.as_str());
    assert!(works(&app, &a2).await);

    // r1 again: a thief (or the owner) replays a used token. The session ends.
    let body = app.gql(None, REFRESH, json!({ "t": r1 })).await;
    assert_code(&body, "UNAUTHENTICATED");
    assert!(
        !works(&app, &a2).await,
        "the session's access token is refused at once"
    );
    let body = app.gql(None, REFRESH, json!({ "t": r2 })).await;
    assert_code(&body, "UNAUTHENTICATED");

    // Other sessions of the user are untouched.
    assert!(works(&app, &acc.token).await);
    let body = app.gql(None, REFRESH, json!({ "t": "not-a-token" })).await;
    assert_code(&body, "UNAUTHENTICATED");
}

async fn sign_out_refuses_the_session_at_once(app: TestApp) {
    let acc = app.sign_up().await;
    let (a1, r1) = refresh_token(&app, &acc).await;
    let d = app.data(Some(&a1), "mutation { signOut }", json!({})).await;
    assert_eq!(d["signOut"], true);
    assert!(!works(&app, &a1).await);
    assert_code(
        &app.gql(None, REFRESH, json!({ "t": r1 })).await,
        "UNAUTHENTICATED",
    );
    // The sign-up session is another session: still fine.
    assert!(works(&app, &acc.token).await);
}

async fn sign_out_everywhere_ends_every_session(app: TestApp) {
    let acc = app.sign_up().await;
    let (a1, _) = refresh_token(&app, &acc).await;
    let (a2, r2) = refresh_token(&app, &acc).await;
    let other = app.sign_up().await;
    app.data(
        Some(&a1),
        "mutation { signOut(allSessions: true) }",
        json!({}),
    )
    .await;
    for token in [&a1, &a2, &acc.token] {
        assert!(!works(&app, token).await);
    }
    assert_code(
        &app.gql(None, REFRESH, json!({ "t": r2 })).await,
        "UNAUTHENTICATED",
    );
    assert!(
        works(&app, &other.token).await,
        "another user's session is untouched"
    );
    // Signing in again starts afresh.
    let (a3, _) = refresh_token(&app, &acc).await;
    assert!(works(&app, &a3).await);
}

async fn changing_the_password_ends_other_sessions(app: TestApp) {
    let acc = app.sign_up().await;
    let (a1, _) = refresh_token(&app, &acc).await;
    const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

    let body = app
        .gql(
            Some(&a1),
            CHANGE,
            json!({ "c": "wrong password!", "n": "a brand new password" }),
        )
        .await;
    assert_eq!(bad_fields(&body), ["currentPassword"]);
    let body = app
        .gql(
            Some(&a1),
            CHANGE,
            json!({ "c": acc.password, "n": "short" }),
        )
        .await;
    assert_eq!(bad_fields(&body), ["newPassword"]);
    assert!(
        works(&app, &acc.token).await,
        "failed attempts change nothing"
    );

    let d = app
        .data(
            Some(&a1),
            CHANGE,
            json!({ "c": acc.password, "n": "a brand new password" }),
        )
        .await;
    assert_eq!(d["changePassword"], true);
    assert!(works(&app, &a1).await, "the session that changed it stays");
    assert!(!works(&app, &acc.token).await, "other sessions end");

    let old: Value = app
        .gql(
            None,
            SIGN_IN,
            json!({ "i": { "email": acc.email, "password": acc.password } }),
        )
        .await;
    assert_code(&old, "UNAUTHENTICATED");
    app.data(
        None,
        SIGN_IN,
        json!({ "i": { "email": acc.email, "password": "a brand new password" } }),
    )
    .await;
}

crate::on_every_setup!(
    refresh_rotates_and_a_replayed_token_ends_the_session,
    sign_out_refuses_the_session_at_once,
    sign_out_everywhere_ends_every_session,
    changing_the_password_ends_other_sessions,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_cannot_be_refreshed() {
    let app = crate::helpers::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.auth.refresh_idle_secs = 1
    })
    .await;
    let acc = app.sign_up().await;
    let (_, r1) = refresh_token(&app, &acc).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_code(
        &app.gql(None, REFRESH, json!({ "t": r1 })).await,
        "UNAUTHENTICATED",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_at_its_absolute_lifetime_however_active() {
    let app = crate::helpers::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.auth.refresh_absolute_secs = 1
    })
    .await;
    let acc = app.sign_up().await;
    let (_, r1) = refresh_token(&app, &acc).await;
    let d = app.data(None, REFRESH, json!({ "t": r1 })).await;
    let r2 = d["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_code(
        &app.gql(None, REFRESH, json!({ "t": r2 })).await,
        "UNAUTHENTICATED",
    );
}
