//! Access tokens from an external OpenID Connect provider, verified with the
//! keys it publishes (JWKS). Keys are cached; a token with an unknown `kid`
//! fetches them again (the provider rotated), at most once per interval.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::ports::{ExternalClaims, ExternalTokenVerifier};
use domain::{Error, Result, TenantId};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub jwks_url: String,
    pub issuer: String,
    pub audience: String,
    /// Algorithms accepted; anything else is refused before a key is looked up.
    pub algorithms: Vec<Algorithm>,
    /// The claim naming the tenant (a tenant id).
    pub tenant_claim: String,
    /// The claim naming the user (an email registered here).
    pub email_claim: String,
    /// The claim saying the provider verified that email (`true` or `"true"`).
    pub email_verified_claim: String,
    /// Keys are fetched again after this long, or on an unknown `kid` but not
    /// more often than `min_refetch`.
    pub cache_ttl: Duration,
    pub min_refetch: Duration,
}

struct Cache {
    keys: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
}

pub struct OidcVerifier {
    client: reqwest::Client,
    settings: OidcSettings,
    cache: RwLock<Cache>,
}

fn bad() -> Error {
    Error::Unauthenticated("invalid or expired access token")
}

/// A boolean claim: JSON `true`, or the string `"true"` some providers send.
fn is_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

impl OidcVerifier {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(settings: OidcSettings) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            client,
            settings,
            cache: RwLock::new(Cache {
                keys: HashMap::new(),
                fetched: None,
            }),
        })
    }

    async fn fetch(&self) -> std::result::Result<HashMap<String, DecodingKey>, String> {
        let set: JwkSet = self
            .client
            .get(&self.settings.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
            .collect())
    }

    /// The key for `kid`, fetching the set when it is stale or lacks the key.
    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        {
            let cache = self.cache.read().await;
            let fresh = cache
                .fetched
                .is_some_and(|t| t.elapsed() < self.settings.cache_ttl);
            if let (Some(key), true) = (cache.keys.get(kid), fresh) {
                return Some(key.clone());
            }
        }
        let mut cache = self.cache.write().await;
        // Another request may have refreshed while this one waited.
        let recent = cache
            .fetched
            .is_some_and(|t| t.elapsed() < self.settings.min_refetch);
        if !recent {
            match self.fetch().await {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.fetched = Some(Instant::now());
                }
                Err(e) => {
                    tracing::warn!(error = %e, url = %self.settings.jwks_url, "fetching the provider's keys failed")
                }
            }
        }
        cache.keys.get(kid).cloned()
    }
}

#[async_trait]
impl ExternalTokenVerifier for OidcVerifier {
    async fn verify(&self, token: &str) -> Result<ExternalClaims> {
        let header = decode_header(token).map_err(|_| bad())?;
        if !self.settings.algorithms.contains(&header.alg) {
            return Err(bad());
        }
        let kid = header.kid.ok_or_else(bad)?;
        let key = self.key(&kid).await.ok_or_else(bad)?;
        let mut validation = Validation::new(header.alg);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.leeway = 30;
        let claims = decode::<Value>(token, &key, &validation)
            .map_err(|_| bad())?
            .claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let time = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_i64)
                .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
                .ok_or_else(bad)
        };
        Ok(ExternalClaims {
            issuer: self.settings.issuer.clone(),
            subject: text("sub").ok_or_else(bad)?,
            email: text(&self.settings.email_claim),
            email_verified: claims
                .get(&self.settings.email_verified_claim)
                .is_some_and(is_true),
            tenant_id: text(&self.settings.tenant_claim).and_then(|t| t.parse::<TenantId>().ok()),
            issued_at: time("iat")?,
            expires_at: time("exp")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn email_verified_is_true_only_when_the_provider_says_so() {
        for yes in [json!(true), json!("true"), json!("True")] {
            assert!(is_true(&yes), "{yes}");
        }
        for no in [
            json!(false),
            json!("false"),
            json!("yes"),
            json!(1),
            json!(null),
        ] {
            assert!(!is_true(&no), "{no}");
        }
    }
}
