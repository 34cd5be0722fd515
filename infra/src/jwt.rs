//! Access tokens: JWTs carrying `sub`, `tid`, `sid`, `jti`, `iat`, `nbf`, `exp`,
//! `iss`, `aud`, signed with HS256 (a shared secret) or RS256 / EdDSA (key files).
//!
//! One algorithm is pinned per deployment and every claim is required, so a
//! token with `alg: none`, another algorithm (an HS256 token "signed" with the
//! RSA public key), no `tid`, or another audience is refused.

use chrono::{DateTime, Utc};
use domain::identity::{AccessClaims, Actor, IssuedToken, RefreshToken};
use domain::ports::TokenService;
use domain::{Error, Result, SessionId, TenantId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How tokens are signed.
#[derive(Debug, Clone)]
pub enum SigningKeys {
    /// A shared secret (HMAC-SHA256): simple, for a single service.
    Hs256(SecretString),
    /// An RSA key pair in PEM: other services can verify with the public key.
    Rs256 {
        private_pem: SecretString,
        public_pem: String,
    },
    /// An Ed25519 key pair in PEM: small, fast signatures.
    EdDsa {
        private_pem: SecretString,
        public_pem: String,
    },
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub keys: SigningKeys,
    pub issuer: String,
    pub audience: String,
    pub ttl_seconds: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    tid: Uuid,
    sid: Uuid,
    jti: Uuid,
    iat: i64,
    nbf: i64,
    exp: i64,
    iss: String,
    aud: String,
    /// RFC 8693's actor: the operator impersonating `sub`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    act: Option<Act>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Act {
    sub: Uuid,
    /// Whether the impersonation may write; reads only otherwise.
    #[serde(default)]
    writes: bool,
}

pub struct JwtTokens {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    settings: JwtSettings,
}

impl JwtTokens {
    /// # Errors
    /// When a PEM key does not parse.
    pub fn new(settings: JwtSettings) -> Result<Self> {
        let bad_key = |e: jsonwebtoken::errors::Error| Error::unexpected(format!("JWT key: {e}"));
        let (algorithm, encoding, decoding) = match &settings.keys {
            SigningKeys::Hs256(secret) => {
                let key = secret.expose_secret().as_bytes();
                (
                    Algorithm::HS256,
                    EncodingKey::from_secret(key),
                    DecodingKey::from_secret(key),
                )
            }
            SigningKeys::Rs256 {
                private_pem,
                public_pem,
            } => (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(private_pem.expose_secret().as_bytes())
                    .map_err(bad_key)?,
                DecodingKey::from_rsa_pem(public_pem.as_bytes()).map_err(bad_key)?,
            ),
            SigningKeys::EdDsa {
                private_pem,
                public_pem,
            } => (
                Algorithm::EdDSA,
                EncodingKey::from_ed_pem(private_pem.expose_secret().as_bytes())
                    .map_err(bad_key)?,
                DecodingKey::from_ed_pem(public_pem.as_bytes()).map_err(bad_key)?,
            ),
        };
        // `Validation::new` accepts exactly this one algorithm.
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub", "iss", "aud"]);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        Ok(Self {
            algorithm,
            encoding,
            decoding,
            validation,
            settings,
        })
    }
}

impl JwtTokens {
    fn sign(
        &self,
        user: UserId,
        tenant: TenantId,
        session: SessionId,
        act: Option<Act>,
        ttl_seconds: i64,
    ) -> Result<IssuedToken> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.as_uuid(),
            tid: tenant.as_uuid(),
            sid: session.as_uuid(),
            jti: Uuid::now_v7(),
            iat: now,
            nbf: now,
            exp: now + ttl_seconds,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            act,
        };
        let token = encode(&Header::new(self.algorithm), &claims, &self.encoding)
            .map_err(Error::unexpected)?;
        Ok(IssuedToken {
            token,
            expires_in_seconds: ttl_seconds,
        })
    }
}

impl TokenService for JwtTokens {
    fn issue(&self, user: UserId, tenant: TenantId, session: SessionId) -> Result<IssuedToken> {
        self.sign(user, tenant, session, None, self.settings.ttl_seconds)
    }

    fn issue_acting(
        &self,
        user: UserId,
        tenant: TenantId,
        session: SessionId,
        actor: Actor,
        ttl_seconds: i64,
    ) -> Result<IssuedToken> {
        let act = Act {
            sub: actor.operator.as_uuid(),
            writes: actor.writes,
        };
        self.sign(user, tenant, session, Some(act), ttl_seconds)
    }

    fn new_refresh_token(&self) -> (RefreshToken, String) {
        use base64::Engine;
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let hash = self.refresh_hash(&token);
        (RefreshToken(token), hash)
    }

    fn refresh_hash(&self, token: &str) -> String {
        // 256 random bits need no salt or slow hash: SHA-256 cannot be reversed
        // and a guess is as hard as guessing the token.
        use sha2::Digest;
        sha2::Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn verify(&self, token: &str) -> Result<AccessClaims> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| Error::Unauthenticated("invalid or expired access token"))?;
        let c = data.claims;
        Ok(AccessClaims {
            user_id: UserId::from_uuid(c.sub),
            tenant_id: TenantId::from_uuid(c.tid),
            session_id: SessionId::from_uuid(c.sid),
            expires_at: DateTime::from_timestamp(c.exp, 0).unwrap_or_default(),
            external: None,
            actor: c.act.map(|a| Actor {
                operator: UserId::from_uuid(a.sub),
                writes: a.writes,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(secret: &str) -> JwtTokens {
        JwtTokens::new(JwtSettings {
            keys: SigningKeys::Hs256(SecretString::from(secret.to_owned())),
            issuer: "tenantry".into(),
            audience: "tenantry-api".into(),
            ttl_seconds: 900,
        })
        .unwrap()
    }

    #[test]
    fn issued_tokens_verify_with_their_claims() {
        let t = tokens("a-test-secret-that-is-long-enough-000");
        let (u, tn, s) = (
            UserId::generate(),
            TenantId::generate(),
            SessionId::generate(),
        );
        let issued = t.issue(u, tn, s).unwrap();
        let c = t.verify(&issued.token).unwrap();
        assert_eq!((c.user_id, c.tenant_id, c.session_id), (u, tn, s));
        assert_eq!(c.actor, None);
    }

    #[test]
    fn an_impersonation_token_carries_its_actor_and_its_own_life() {
        let t = tokens("a-test-secret-that-is-long-enough-000");
        let actor = Actor {
            operator: UserId::generate(),
            writes: false,
        };
        let issued = t
            .issue_acting(
                UserId::generate(),
                TenantId::generate(),
                SessionId::generate(),
                actor,
                60,
            )
            .unwrap();
        assert_eq!(issued.expires_in_seconds, 60);
        let c = t.verify(&issued.token).unwrap();
        assert_eq!(c.actor, Some(actor));
        assert!(c.expires_at <= chrono::Utc::now() + chrono::Duration::seconds(61));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let issued = tokens("secret-one-secret-one-secret-one-000")
            .issue(
                UserId::generate(),
                TenantId::generate(),
                SessionId::generate(),
            )
            .unwrap();
        assert!(matches!(
            tokens("secret-two-secret-two-secret-two-000").verify(&issued.token),
            Err(Error::Unauthenticated(_))
        ));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(
            tokens("a-test-secret-that-is-long-enough-000")
                .verify("not.a.token")
                .is_err()
        );
    }
}
