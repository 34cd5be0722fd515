//! Sending email: through an HTTP provider (a JSON POST with an API key,
//! retried with backoff), or to the console in development.

use async_trait::async_trait;
use domain::invitation::{Delivery, OutgoingEmail};
use domain::ports::Mailer;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct HttpMailerSettings {
    /// The provider's send endpoint, e.g. `https://api.mail.example/v1/send`.
    pub url: String,
    pub api_key: SecretString,
    pub from: String,
    /// Per call.
    pub timeout: Duration,
    pub max_attempts: u32,
    /// The first retry waits this long; each next one twice as long.
    pub backoff: Duration,
}

pub struct HttpMailer {
    client: reqwest::Client,
    settings: HttpMailerSettings,
}

impl HttpMailer {
    /// # Errors
    /// When the HTTP client cannot be built (TLS setup).
    pub fn new(settings: HttpMailerSettings) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()?;
        Ok(Self { client, settings })
    }

    async fn attempt(&self, email: &OutgoingEmail) -> Result<(), String> {
        let body = json!({ "from": self.settings.from, "to": email.to, "subject": email.subject, "text": email.text });
        let res = self
            .client
            .post(&self.settings.url)
            .bearer_auth(self.settings.api_key.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    format!("request failed: {e}")
                }
            })?;
        let status = res.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("provider answered {status}"))
        }
    }
}

#[async_trait]
impl Mailer for HttpMailer {
    async fn send(&self, email: &OutgoingEmail) -> Delivery {
        let mut wait = self.settings.backoff;
        let mut reason = String::new();
        for attempt in 1..=self.settings.max_attempts.max(1) {
            match self.attempt(email).await {
                Ok(()) => return Delivery::Sent { attempts: attempt },
                Err(why) => {
                    tracing::warn!(attempt, reason = %why, "email provider call failed");
                    reason = why;
                }
            }
            if attempt < self.settings.max_attempts {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        Delivery::Failed {
            attempts: self.settings.max_attempts.max(1),
            reason,
        }
    }
}

/// Development without a provider: the message goes to standard output (not
/// the log), so the developer can follow the link.
pub struct ConsoleMailer;

#[async_trait]
impl Mailer for ConsoleMailer {
    async fn send(&self, email: &OutgoingEmail) -> Delivery {
        println!(
            "--- email to {} ---\nSubject: {}\n\n{}\n---",
            email.to, email.subject, email.text
        );
        Delivery::Sent { attempts: 1 }
    }
}

/// Production without a provider: nothing can be sent, and the invitation says so.
pub struct UnconfiguredMailer;

#[async_trait]
impl Mailer for UnconfiguredMailer {
    async fn send(&self, _: &OutgoingEmail) -> Delivery {
        Delivery::Failed {
            attempts: 0,
            reason: "no email provider is configured (email.provider_url)".into(),
        }
    }
}
