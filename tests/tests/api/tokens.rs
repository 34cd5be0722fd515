//! Token attacks: each is refused with UNAUTHENTICATED and no data. And tokens
//! signed with RS256 or EdDSA key pairs work when the server is set up so.

use crate::helpers::{Account, Backend, TEST_JWT_SECRET, TestApp, assert_code, spawn, spawn_with};
use api::config::JwtAlgorithm;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/jwt")
        .join(name)
}

/// Claims as a valid token of `acc` would carry them, read back from its own token.
fn claims_of(acc: &Account) -> Value {
    let payload = acc.token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

fn sign_hs256(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

async fn refused(app: &TestApp, token: &str, what: &str) {
    let body = app
        .gql(
            Some(token),
            "{ me { id } projects { totalCount } }",
            json!({}),
        )
        .await;
    assert_code(&body, "UNAUTHENTICATED");
    assert!(
        body["data"].is_null(),
        "{what}: no data may come back: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tampered_and_stale_tokens_are_all_refused() {
    let app = spawn(Backend::Sqlite).await;
    let acc = app.sign_up().await;
    let stranger = app.sign_up().await;
    let good = claims_of(&acc);
    // The harness's secret signs a valid token: the checks below are what refuse the others.
    let control = sign_hs256(&good, TEST_JWT_SECRET.as_bytes());
    let d = app.data(Some(&control), "{ me { id } }", json!({})).await;
    assert_eq!(d["me"]["id"], acc.user_id.as_str());

    let now = chrono::Utc::now().timestamp();
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        sign_hs256(&c, TEST_JWT_SECRET.as_bytes())
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        sign_hs256(&c, TEST_JWT_SECRET.as_bytes())
    };
    let alg_none = format!(
        "{}.{}.",
        B64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        B64.encode(serde_json::to_vec(&good).unwrap())
    );
    let tampered = {
        let mut parts: Vec<String> = acc.token.split('.').map(str::to_owned).collect();
        let mut c = good.clone();
        c["tid"] = json!(stranger.tenant_id);
        parts[1] = B64.encode(serde_json::to_vec(&c).unwrap());
        parts.join(".")
    };
    let cases: Vec<(&str, String)> = vec![
        ("alg none", alg_none),
        (
            "wrong secret",
            sign_hs256(&good, b"not-the-server-secret-not-the-server-secret"),
        ),
        ("expired", with("exp", json!(now - 3600))),
        ("not yet valid", with("nbf", json!(now + 3600))),
        ("wrong audience", with("aud", json!("someone-else"))),
        ("wrong issuer", with("iss", json!("evil-issuer"))),
        ("missing tid", without("tid")),
        ("missing sid", without("sid")),
        ("missing exp", without("exp")),
        (
            "a tenant the user is not in",
            with("tid", json!(stranger.tenant_id)),
        ),
        ("tampered payload", tampered),
        ("garbage", "not.a.jwt".into()),
        ("empty", String::new()),
    ];
    for (what, token) in cases {
        refused(&app, &token, what).await;
    }

    // A revoked session's token.
    app.data(Some(&acc.token), "mutation { signOut }", json!({}))
        .await;
    refused(&app, &acc.token, "revoked session").await;
}

async fn spawn_asymmetric(algorithm: JwtAlgorithm, private: &str, public: &str) -> TestApp {
    let (private, public) = (fixture(private), fixture(public));
    spawn_with(Backend::Sqlite, move |s| {
        s.auth.algorithm = algorithm;
        s.auth.private_key_file = Some(private);
        s.auth.public_key_file = Some(public);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_work_and_an_hs256_token_signed_with_the_public_key_is_refused() {
    let app = spawn_asymmetric(JwtAlgorithm::Rs256, "rsa-private.pem", "rsa-public.pem").await;
    let acc = app.sign_up().await;
    let header: Value =
        serde_json::from_slice(&B64.decode(acc.token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let d = app.data(Some(&acc.token), "{ me { id } }", json!({})).await;
    assert_eq!(d["me"]["id"], acc.user_id.as_str());

    // The classic confusion attack: HMAC with the (public) verification key as the secret.
    let public = std::fs::read(fixture("rsa-public.pem")).unwrap();
    refused(
        &app,
        &sign_hs256(&claims_of(&acc), &public),
        "HS256 with the public key",
    )
    .await;
    refused(
        &app,
        &sign_hs256(&claims_of(&acc), TEST_JWT_SECRET.as_bytes()),
        "HS256 with the old secret",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eddsa_tokens_work() {
    let app = spawn_asymmetric(
        JwtAlgorithm::EdDsa,
        "ed25519-private.pem",
        "ed25519-public.pem",
    )
    .await;
    let acc = app.sign_up().await;
    let d = app.data(Some(&acc.token), "{ me { id } }", json!({})).await;
    assert_eq!(d["me"]["id"], acc.user_id.as_str());
    let header: Value =
        serde_json::from_slice(&B64.decode(acc.token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
}
