//! Webhooks: where a tenant wants its events POSTed, and the record of each
//! delivery. Target URLs are checked here, once, when a webhook is made.

use crate::error::{Entity, Error, Result};
use crate::events::EventType;
use crate::ids::{DeliveryId, EventId, TenantId, WebhookId};
use crate::page::{Cursor, Keyed, Page, PageQuery, SortValue};
use crate::plan::room_for;
use crate::ports::{Tenancy, TxMode};
use crate::tenancy::TenantContext;
use crate::validate::{AllValid, AtField, Invalid};
use chrono::{DateTime, Utc};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Whether targets may be loopback or private addresses: no in production
/// (a webhook must not become a way into the deployment's own network), yes
/// elsewhere so local receivers work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetPolicy {
    PublicOnly,
    AnyAddress,
}

/// An `http(s)` URL without credentials, whose host the policy allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub const MAX_CHARS: usize = 2048;

    /// # Errors
    /// Not an absolute `http`/`https` URL, credentials in it, or a host the policy refuses.
    pub fn parse(raw: &str, policy: TargetPolicy) -> Result<Self, Invalid> {
        let raw = raw.trim();
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        let url = url::Url::parse(raw).map_err(|e| Invalid::new(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Invalid::new("must be an http or https URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Invalid::new("must not contain credentials"));
        }
        let host = url.host().ok_or_else(|| Invalid::new("must name a host"))?;
        if policy == TargetPolicy::PublicOnly {
            let refused = match host {
                url::Host::Domain(d) => {
                    let d = d.trim_end_matches('.').to_ascii_lowercase();
                    d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal")
                }
                url::Host::Ipv4(ip) => !is_public(IpAddr::V4(ip)),
                url::Host::Ipv6(ip) => !is_public(IpAddr::V6(ip)),
            };
            if refused {
                return Err(Invalid::new(
                    "must not point at a loopback, private or link-local address",
                ));
            }
        }
        Ok(Self(url.into()))
    }

    /// A URL read back from storage, checked when it was made.
    pub fn from_trusted(url: String) -> Self {
        Self(url)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether an address is reachable on the public internet. Also used when a
/// host name resolves at delivery time, so DNS cannot point a webhook inside.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            // Addresses that carry an IPv4 address inside are judged by it:
            // mapped and compatible (::ffff:a.b.c.d, ::a.b.c.d), NAT64
            // (64:ff9b::/96) and 6to4 (2002::/16).
            let embedded = v6.to_ipv4().or_else(|| match s {
                [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4_of(hi, lo)),
                [0x2002, hi, lo, ..] => Some(v4_of(hi, lo)),
                _ => None,
            });
            match embedded {
                Some(v4) if v6 != Ipv6Addr::UNSPECIFIED && v6 != Ipv6Addr::LOCALHOST => {
                    public_v4(v4)
                }
                _ => {
                    !(v6.is_loopback()
                        || v6.is_unspecified()
                        || v6.is_multicast()
                        || (s[0] & 0xfe00) == 0xfc00 // unique local
                        || (s[0] & 0xffc0) == 0xfe80 // link local
                        || (s[0] == 0x64 && s[1] == 0xff9b) // local-use NAT64 (64:ff9b:1::/48)
                        || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
                }
            }
        }
    }
}

fn v4_of(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240 // reserved
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19))) // benchmarking
}

/// The shared secret deliveries are signed with. Never shown again after creation.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    /// # Errors
    /// Shorter than 16 or longer than 256 characters.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let n = raw.chars().count();
        if !(16..=256).contains(&n) {
            return Err(Invalid::new("must be 16 to 256 characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub url: WebhookUrl,
    pub events: Vec<EventType>,
    pub created_at: DateTime<Utc>,
}

/// What a client sends to make a webhook.
#[derive(Debug, Clone, Default)]
pub struct WebhookInput {
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub url: WebhookUrl,
    /// Sorted, without duplicates.
    pub events: Vec<EventType>,
    pub secret: WebhookSecret,
}

impl NewWebhook {
    /// # Errors
    /// [`Error::Invalid`] naming every bad field of the input.
    pub fn parse(input: &WebhookInput, policy: TargetPolicy) -> Result<Self> {
        let events = (|| {
            if input.events.is_empty() {
                return Err(Invalid::new("must name at least one event"));
            }
            let mut events = input
                .events
                .iter()
                .map(|e| EventType::parse(e))
                .collect::<Result<Vec<_>, _>>()?;
            events.sort();
            events.dedup();
            Ok(events)
        })();
        let (url, events, secret) = (
            WebhookUrl::parse(&input.url, policy).at("url"),
            events.at("events"),
            WebhookSecret::parse(&input.secret).at("secret"),
        )
            .all_valid()?;
        Ok(Self {
            url,
            events,
            secret,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    Delivered,
    /// Every attempt failed; kept for inspection and redelivery.
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Dead]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When the next attempt is due; none once delivered or dead.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status, if it answered.
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub webhook_id: Option<WebhookId>,
    pub status: Option<DeliveryStatus>,
}

/// Deliveries are listed newest first, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryOrder;

impl Keyed<DeliveryOrder> for WebhookDelivery {
    fn cursor(&self, _: DeliveryOrder) -> Cursor {
        Cursor {
            value: SortValue::Time(self.created_at),
            id: self.id.as_uuid(),
        }
    }
}

/// How often and how patiently a delivery is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; after the last, the delivery is dead.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles with each further one.
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts, or `None` when that was the last.
    /// `jitter` in `[0, 1)` spreads the wait over its upper half, so receivers
    /// that come back are not hit by every sender at once.
    pub fn next_delay(&self, attempts: u32, jitter: f64) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let doubled = self.base.saturating_mul(
            1u32.checked_shl(attempts.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let ceiling = doubled.min(self.max);
        Some(ceiling.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0))
    }
}

/// Webhook use cases, bound to the caller's tenant.
pub struct Webhooks<'a> {
    pub tenancy: &'a dyn Tenancy,
    pub ctx: &'a TenantContext,
    pub policy: TargetPolicy,
}

impl Webhooks<'_> {
    pub async fn create(&self, input: &WebhookInput) -> Result<Webhook> {
        let new = NewWebhook::parse(input, self.policy)?;
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        // Concurrent creates count one after another, so the cap holds.
        tx.lock_webhooks().await?;
        // Each event is sent to each of them.
        let max = self.ctx.entitlements().limits.webhooks;
        room_for("webhooks", max, tx.webhooks().await?.len() as u64)?;
        let hook = tx.create_webhook(&new).await?;
        tx.commit().await?;
        Ok(hook)
    }

    pub async fn list(&self) -> Result<Vec<Webhook>> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.webhooks().await
    }

    /// Deletes the webhook and its delivery records.
    pub async fn delete(&self, id: WebhookId) -> Result<()> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        if !tx.delete_webhook(id).await? {
            return Err(Error::NotFound(Entity::Webhook));
        }
        tx.commit().await
    }

    pub async fn deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageQuery<DeliveryOrder>,
    ) -> Result<Page<WebhookDelivery>> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.deliveries(filter, page).await
    }

    /// Sends a delivery again from its first attempt, whatever became of it.
    pub async fn redeliver(&self, id: DeliveryId) -> Result<WebhookDelivery> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let delivery = tx.redeliver(id).await?;
        tx.commit().await?;
        Ok(delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> bool {
        WebhookUrl::parse(url, TargetPolicy::PublicOnly).is_ok()
    }

    #[test]
    fn production_targets_must_be_public() {
        assert!(ok("https://hooks.example.com/in?x=1"));
        assert!(ok("http://93.184.216.34:8080/"));
        assert!(ok("http://[2606:2800:220:1:248:1893:25c8:1946]/"));
        assert!(
            ok("http://[64:ff9b::5db8:d822]/"),
            "NAT64 of a public address"
        );
        for bad in [
            "http://localhost/x",
            "http://api.localhost/x",
            "http://127.0.0.1:9/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[64:ff9b:1::1]/",
            "http://[2002:c0a8:0101::1]/",
            "http://240.0.0.1/",
            "http://192.0.0.8/",
            "http://2130706433/",
        ] {
            assert!(!ok(bad), "{bad} must be refused in production");
            assert!(
                WebhookUrl::parse(bad, TargetPolicy::AnyAddress).is_ok(),
                "{bad} is fine outside production"
            );
        }
    }

    #[test]
    fn only_http_urls_without_credentials() {
        for bad in [
            "ftp://example.com/",
            "https://u:p@example.com/",
            "example.com",
            "",
        ] {
            assert!(
                WebhookUrl::parse(bad, TargetPolicy::AnyAddress).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_bad_field_is_reported() {
        let input = WebhookInput {
            url: "nope".into(),
            events: vec!["task.created".into(), "task.exploded".into()],
            secret: "short".into(),
        };
        match NewWebhook::parse(&input, TargetPolicy::AnyAddress) {
            Err(Error::Invalid(errs)) => assert_eq!(
                errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
                ["url", "events", "secret"]
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_are_sorted_and_deduplicated() {
        let input = WebhookInput {
            url: "https://example.com/".into(),
            events: vec![
                "task.deleted".into(),
                "task.created".into(),
                "task.deleted".into(),
            ],
            secret: "0123456789abcdef".into(),
        };
        let new = NewWebhook::parse(&input, TargetPolicy::PublicOnly).unwrap();
        assert_eq!(new.events, [EventType::TaskCreated, EventType::TaskDeleted]);
    }

    #[test]
    fn retries_back_off_exponentially_within_bounds_then_stop() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_secs(1),
            max: Duration::from_secs(5),
        };
        assert_eq!(p.next_delay(1, 0.999_999).map(|d| d.as_millis()), Some(999));
        assert_eq!(p.next_delay(1, 0.0), Some(Duration::from_millis(500)));
        assert_eq!(p.next_delay(3, 0.0), Some(Duration::from_secs(2)));
        assert_eq!(
            p.next_delay(4, 0.0),
            Some(Duration::from_millis(2500)),
            "capped at max"
        );
        assert_eq!(
            p.next_delay(5, 0.5),
            None,
            "the fifth failure was the last try"
        );
    }
}
