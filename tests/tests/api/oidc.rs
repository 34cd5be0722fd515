//! Tokens of an external OpenID Connect provider, verified through its JWKS
//! (mocked with wiremock): a valid token, a rotated key, an unknown `kid`.

use crate::helpers::{Account, Backend, TestApp, assert_code, spawn_with};
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

fn claims_for(acc: &Account) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": format!("idp|{}", acc.user_id), "email": acc.email,
            "tid": acc.tenant_id, "iat": now, "exp": now + 300 })
}

/// The provider first publishes k1; after that, k1 and k2 (a rotation).
async fn spawn_with_idp() -> (TestApp, MockServer) {
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
    let app = spawn_with(Backend::Sqlite, move |s| {
        s.oidc.jwks_url = Some(jwks);
        s.oidc.issuer = Some(ISSUER.into());
        s.oidc.audience = Some(AUDIENCE.into());
        s.oidc.min_refetch_secs = 0;
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
