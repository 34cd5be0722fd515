//! One webhook attempt: a signed JSON POST with a deadline. Redirects and
//! proxies are not followed, and with [`TargetPolicy::PublicOnly`] host names are resolved to
//! public addresses only, so DNS cannot turn a webhook towards the inside.

use super::signing;
use crate::tenancy::relay::Leased;
use domain::webhook::{TargetPolicy, WebhookUrl, is_public};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::sync::Arc;
use std::time::Duration;

pub struct Sender {
    client: reqwest::Client,
    targets: TargetPolicy,
}

/// What the receiver made of an attempt.
pub enum Answer {
    /// A 2xx.
    Accepted(u16),
    Refused(u16),
    /// No answer: connection refused, reset, or the deadline passed.
    Unreachable(String),
    /// Not sent: the target is not allowed (any more). Retrying cannot help.
    Forbidden(String),
}

struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found: Vec<_> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{} has no public address", name.as_str()).into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

impl Sender {
    /// # Errors
    /// When the HTTP client cannot be built (TLS backend).
    pub fn new(timeout: Duration, policy: TargetPolicy) -> reqwest::Result<Self> {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the host itself, past the check below.
            .no_proxy()
            .user_agent(concat!("Tenantry-Webhooks/", env!("CARGO_PKG_VERSION")));
        if policy == TargetPolicy::PublicOnly {
            b = b.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            client: b.build()?,
            targets: policy,
        })
    }

    pub async fn send(&self, d: &Leased) -> Answer {
        // Checked again at every call: the policy may have tightened since
        // the webhook was made, and an address literal never meets the resolver.
        if let Err(e) = WebhookUrl::parse(&d.url, self.targets) {
            return Answer::Forbidden(format!("target refused: {}", e.0));
        }
        let t = chrono::Utc::now().timestamp();
        let result = self
            .client
            .post(&d.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signing::HEADER, signing::signature(&d.secret, t, &d.body))
            .header("X-Tenantry-Event", &d.event_type)
            .header("X-Tenantry-Delivery", d.id.to_string())
            .body(d.body.clone())
            .send()
            .await;
        match result {
            Ok(res) if res.status().is_success() => Answer::Accepted(res.status().as_u16()),
            Ok(res) => Answer::Refused(res.status().as_u16()),
            Err(e) if e.is_timeout() => Answer::Unreachable("timed out".into()),
            Err(e) => Answer::Unreachable(error_chain(&e)),
        }
    }
}

/// The error and its causes: reqwest's own message alone says little.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
