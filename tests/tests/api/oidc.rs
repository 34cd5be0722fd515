//! Tokens of an external OpenID Connect provider, verified through its JWKS
//! (mocked with wiremock): a valid token, a rotated key, an unknown `kid`;
//! which user a token names (a verified email, then the linked subject), and
//! how long signing out of such a session lasts.

use crate::helpers::{Account, Backend, TestApp, assert_code, spawn_with};
use api::config::Settings;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use std::path::PathBuf;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUER: &str = "https://idp.example.test/";
const AUDIENCE: &str = "tenantry-external";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/jwt")
            .join(name),
    )
    .unwrap()
}

fn idp_token(kid: &str, private: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(fixture(private).as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A token the provider issues now for `acc`, whose email it verified.
fn claims_for(acc: &Account) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": format!("idp|{}", acc.user_id), "email": acc.email,
            "email_verified": true, "tid": acc.tenant_id, "iat": now, "exp": now + 300 })
}

async fn spawn_with_idp() -> (TestApp, MockServer) {
    spawn_with_idp_on(Backend::Sqlite, |_| {}).await
}

/// The provider first publishes k1; after that, k1 and k2 (a rotation).
async fn spawn_with_idp_on(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, MockServer) {
    let idp = MockServer::start().await;
    let k1: Value = serde_json::from_str(&fixture("jwks-k1.json")).unwrap();
    let k1_k2: Value = serde_json::from_str(&fixture("jwks-k1-k2.json")).unwrap();
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(k1))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&idp)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(k1_k2))
        .with_priority(2)
        .mount(&idp)
        .await;
    let jwks = format!("{}/jwks", idp.uri());
    let app = spawn_with(backend, move |s| {
        s.oidc.jwks_url = Some(jwks);
        s.oidc.issuer = Some(ISSUER.into());
        s.oidc.audience = Some(AUDIENCE.into());
        s.oidc.min_refetch_secs = 0;
        configure(s);
    })
    .await;
    (app, idp)
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.gql(Some(token), "{ me { id } tenant { id } }", json!({}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_token_is_accepted_and_its_keys_cached() {
    let (app, idp) = spawn_with_idp().await;
    let acc = app.sign_up().await;
    for _ in 0..2 {
        let body = me(&app, &idp_token("k1", "rsa-private.pem", claims_for(&acc))).await;
        assert_eq!(body["data"]["me"]["id"], acc.user_id.as_str(), "{body}");
        assert_eq!(body["data"]["tenant"]["id"], acc.tenant_id.as_str());
    }
    assert_eq!(
        idp.received_requests().await.unwrap().len(),
        1,
        "the key set is fetched once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_fetched_on_its_first_token() {
    let (app, idp) = spawn_with_idp().await;
    let acc = app.sign_up().await;
    let body = me(&app, &idp_token("k1", "rsa-private.pem", claims_for(&acc))).await;
    assert!(body["errors"].is_null(), "{body}");
    let body = me(&app, &idp_token("k2", "rsa2-private.pem", claims_for(&acc))).await;
    assert_eq!(body["data"]["me"]["id"], acc.user_id.as_str(), "{body}");
    assert_eq!(idp.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_and_foreign_claims_are_refused() {
    let (app, _idp) = spawn_with_idp().await;
    let acc = app.sign_up().await;
    let other = app.sign_up().await;
    let mut wrong_aud = claims_for(&acc);
    wrong_aud["aud"] = json!("someone-else");
    let mut other_tenant = claims_for(&acc);
    other_tenant["tid"] = json!(other.tenant_id);
    let mut unknown_user = claims_for(&acc);
    unknown_user["email"] = json!("nobody@example.test");
    // Another subject: the tenant case above links this one to `acc`.
    unknown_user["sub"] = json!("idp|nobody");
    let cases = [
        (
            "unknown kid",
            idp_token("k9", "rsa-private.pem", claims_for(&acc)),
        ),
        (
            "k1 claimed, signed with k2",
            idp_token("k1", "rsa2-private.pem", claims_for(&acc)),
        ),
        (
            "wrong audience",
            idp_token("k1", "rsa-private.pem", wrong_aud),
        ),
        (
            "a tenant the user is not in",
            idp_token("k1", "rsa-private.pem", other_tenant),
        ),
        (
            "an email not registered here",
            idp_token("k1", "rsa-private.pem", unknown_user),
        ),
    ];
    for (what, token) in cases {
        let body = me(&app, &token).await;
        assert_code(&body, "UNAUTHENTICATED");
        assert!(body["data"].is_null(), "{what}: {body}");
    }
}

fn token(claims: Value) -> String {
    idp_token("k1", "rsa-private.pem", claims)
}

/// The user `me` names, or the error code.
async fn who(app: &TestApp, token: &str) -> Result<String, Value> {
    let body = me(app, token).await;
    match body["data"]["me"]["id"].as_str() {
        Some(id) => Ok(id.to_owned()),
        None => Err(body),
    }
}

fn refused(result: Result<String, Value>, what: &str) -> Value {
    let body = result.expect_err(what);
    assert_code(&body, "UNAUTHENTICATED");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_the_provider_did_not_verify_names_nobody() {
    let (app, _idp) = spawn_with_idp().await;
    let acc = app.sign_up().await;
    let mut unknown_kid = claims_for(&acc);
    unknown_kid["sub"] = json!("idp|unknown-kid");
    let bad_token = refused(
        who(&app, &idp_token("k9", "rsa-private.pem", unknown_kid)).await,
        "an unknown kid",
    );
    for verified in [json!(false), json!("false"), Value::Null] {
        let mut c = claims_for(&acc);
        c["email_verified"] = verified.clone();
        let body = refused(who(&app, &token(c)).await, &format!("{verified}"));
        assert_eq!(
            body["errors"][0]["message"], bad_token["errors"][0]["message"],
            "the same answer as any bad token: {body}"
        );
    }
    // Providers that send the string are believed too.
    let mut c = claims_for(&acc);
    c["email_verified"] = json!("true");
    assert_eq!(who(&app, &token(c)).await.unwrap(), acc.user_id);
}

async fn a_verified_email_links_the_subject(backend: Backend) {
    let (app, _idp) = spawn_with_idp_on(backend, |_| {}).await;
    let (ada, bob) = (app.sign_up().await, app.sign_up().await);
    assert_eq!(
        who(&app, &token(claims_for(&ada))).await.unwrap(),
        ada.user_id
    );

    // Ada's subject now finds Ada with no email claim at all...
    let mut no_email = claims_for(&ada);
    no_email.as_object_mut().unwrap().remove("email");
    no_email.as_object_mut().unwrap().remove("email_verified");
    assert_eq!(who(&app, &token(no_email)).await.unwrap(), ada.user_id);
    // ...and never Bob, even when the provider says (verified) it is Bob's email now.
    let mut bobs_email = claims_for(&ada);
    bobs_email["email"] = json!(bob.email);
    let body = me(&app, &token(bobs_email)).await;
    assert_eq!(body["data"]["me"]["id"], ada.user_id.as_str(), "{body}");

    // Another subject naming Ada's email without verifying it is nobody.
    let mut impostor = claims_for(&ada);
    impostor["sub"] = json!("idp|impostor");
    impostor["email_verified"] = json!(false);
    refused(who(&app, &token(impostor)).await, "an unverified impostor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_email_links_the_subject_on_sqlite() {
    a_verified_email_links_the_subject(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_email_links_the_subject_on_postgres() {
    a_verified_email_links_the_subject(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_refuses_the_token_past_our_access_ttl_and_on_every_node() {
    // Our own tokens live one second; the provider's five minutes.
    let (app, _idp) =
        spawn_with_idp_on(Backend::Sqlite, |s| s.auth.access_token_ttl_secs = 1).await;
    let acc = app.sign_up().await;
    let signed_out = token(claims_for(&acc));
    assert_eq!(who(&app, &signed_out).await.unwrap(), acc.user_id);
    let d = app
        .data(Some(&signed_out), "mutation { signOut }", json!({}))
        .await;
    assert_eq!(d["signOut"], true);
    refused(who(&app, &signed_out).await, "at once");

    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    refused(who(&app, &signed_out).await, "after our access TTL");
    // A node that never saw the sign-out (its own in-process lists) refuses it too.
    let other = app.another_node(|_| {}).await;
    refused(who(&other, &signed_out).await, "on another node");
    // The person signs in at the provider again: its new token is accepted.
    let fresh = token(claims_for(&acc));
    assert_eq!(who(&other, &fresh).await.unwrap(), acc.user_id);
    assert_eq!(who(&app, &fresh).await.unwrap(), acc.user_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_ends_the_provider_session_too() {
    let (app, _idp) = spawn_with_idp().await;
    let acc = app.sign_up().await;
    let external = token(claims_for(&acc));
    assert_eq!(who(&app, &external).await.unwrap(), acc.user_id);
    let d = app
        .data(
            Some(&acc.token),
            "mutation { signOut(allSessions: true) }",
            json!({}),
        )
        .await;
    assert_eq!(d["signOut"], true);
    refused(who(&app, &external).await, "after signing out everywhere");
}
