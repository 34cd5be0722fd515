//! Task and project events, fanned out to this node's subscribers.
//!
//! The outbox worker that relays an event hands it on here. With Redis it is
//! published on one channel and every node, the relaying one included, gives
//! it to its own subscribers; without Redis (one node) it goes straight to
//! them. If Redis cannot take it, this node's subscribers still get it.

use crate::redis_conn::{Followed, LogEvery, follow};
use crate::tenancy::relay::Relayed;
use domain::TenantId;
use redis::aio::ConnectionManager;
use serde_json::Value;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// One event as subscribers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct HubEvent {
    pub id: String,
    /// `task.created`, …
    pub event_type: String,
    /// `{"task": {…}}` or `{"project": {…}}`.
    pub data: Value,
}

impl HubEvent {
    fn parse(body: &Value) -> Option<Self> {
        Some(Self {
            id: body.get("id")?.as_str()?.to_owned(),
            event_type: body.get("type")?.as_str()?.to_owned(),
            data: body.get("data")?.clone(),
        })
    }
}

/// Per-tenant broadcast channels; a tenant's channel exists while it has
/// subscribers (one left empty goes at its tenant's next event, or when the
/// map has doubled since it was last swept).
pub struct Hub {
    channels: Mutex<Channels>,
    /// Events a subscriber may fall behind by before it is told it missed some.
    capacity: usize,
}

impl Hub {
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            channels: Mutex::new(Channels {
                by_tenant: HashMap::new(),
                sweep_at: 64,
            }),
            capacity: capacity.max(1),
        })
    }

    /// Events of `tenant` from now on.
    pub fn subscribe(&self, tenant: TenantId) -> broadcast::Receiver<Arc<HubEvent>> {
        let mut channels = self.channels.lock().expect("hub lock");
        if channels.by_tenant.len() >= channels.sweep_at {
            // Amortised: a sweep per doubling, not per subscription.
            channels.by_tenant.retain(|_, tx| tx.receiver_count() > 0);
            channels.sweep_at = (channels.by_tenant.len() * 2).max(64);
        }
        channels
            .by_tenant
            .entry(tenant)
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .subscribe()
    }

    /// Hands events to the tenant's subscribers on this node, in order.
    pub fn dispatch(&self, tenant: TenantId, events: Vec<Arc<HubEvent>>) {
        let mut channels = self.channels.lock().expect("hub lock");
        let Some(tx) = channels.by_tenant.get(&tenant) else {
            return;
        };
        if tx.receiver_count() == 0 {
            channels.by_tenant.remove(&tenant);
            return;
        }
        let n = events.len() as u64;
        for e in events {
            let _ = tx.send(e);
        }
        metrics::counter!("tenantry_subscription_events_total").increment(n);
    }

    /// Subscriptions open on this node.
    #[cfg(test)]
    fn subscribers(&self) -> usize {
        let mut channels = self.channels.lock().expect("hub lock");
        channels.by_tenant.retain(|_, tx| tx.receiver_count() > 0);
        channels
            .by_tenant
            .values()
            .map(broadcast::Sender::receiver_count)
            .sum()
    }
}

struct Channels {
    by_tenant: HashMap<TenantId, broadcast::Sender<Arc<HubEvent>>>,
    /// The size at which the next subscription sweeps out empty channels.
    sweep_at: usize,
}

fn parse_bodies(events: &[Relayed]) -> Vec<Arc<HubEvent>> {
    events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(&e.body).ok())
        .filter_map(|b| HubEvent::parse(&b).map(Arc::new))
        .collect()
}

/// What the outbox worker calls with each tenant's relayed events, before
/// it lets the tenant go.
///
/// Without Redis: straight to this node's subscribers. With Redis: published
/// for every node (each call gives up after 500 ms); when that fails, to this
/// node's subscribers only.
pub fn sink(hub: Arc<Hub>, redis: Option<(ConnectionManager, String)>) -> crate::outbox::EventSink {
    let failing = Arc::new(LogEvery::new(Duration::from_secs(30)));
    Arc::new(move |tenant, events: Vec<Relayed>| {
        let (hub, redis, failing) = (hub.clone(), redis.clone(), failing.clone());
        Box::pin(async move {
            let Some((mut conn, channel)) = redis else {
                hub.dispatch(tenant, parse_bodies(&events));
                return;
            };
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(message(tenant, &events))
                .query_async(&mut conn)
                .await;
            if let Err(e) = sent {
                hub.dispatch(tenant, parse_bodies(&events));
                if failing.ready() {
                    tracing::warn!(error = %e, "subscriptions: Redis unreachable; events reach this node's subscribers only (logged once per 30 s)");
                }
            }
        })
    })
}

/// `{"tenantId": …, "events": [<body>, …]}`: one message per relayed batch, so
/// a tenant's events keep their order.
fn message(tenant: TenantId, events: &[Relayed]) -> String {
    let bodies: Vec<&str> = events.iter().map(|e| e.body.as_str()).collect();
    format!(
        "{{\"tenantId\":\"{tenant}\",\"events\":[{}]}}",
        bodies.join(",")
    )
}

/// Follows the channel and hands every node's events to this node's
/// subscribers (see [`follow`] for reconnecting and liveness pings).
pub async fn listen(client: redis::Client, channel: String, hub: Arc<Hub>) {
    let on_message = |followed| {
        if let Followed::Message(m) = followed {
            dispatch(&hub, &m);
        }
        ControlFlow::Continue(())
    };
    follow(
        client,
        channel,
        "subscriptions",
        std::future::pending(),
        on_message,
    )
    .await;
}

/// Hands one published batch to this node's subscribers of its tenant.
fn dispatch(hub: &Hub, m: &redis::Msg) {
    let Ok(text) = m.get_payload::<String>() else {
        return;
    };
    let Ok(v) = serde_json::from_str::<Value>(&text) else {
        return;
    };
    let tenant = v
        .get("tenantId")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<TenantId>().ok());
    let (Some(tenant), Some(events)) = (tenant, v.get("events").and_then(Value::as_array)) else {
        return;
    };
    let events = events
        .iter()
        .filter_map(|b| HubEvent::parse(b).map(Arc::new))
        .collect();
    hub.dispatch(tenant, events);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> Arc<HubEvent> {
        Arc::new(HubEvent {
            id: id.into(),
            event_type: "task.created".into(),
            data: Value::Null,
        })
    }

    #[tokio::test]
    async fn subscribers_get_their_tenants_events_in_order_and_no_others() {
        let hub = Hub::new(16);
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let mut ra = hub.subscribe(a);
        let mut rb = hub.subscribe(b);
        hub.dispatch(a, vec![event("1"), event("2")]);
        hub.dispatch(b, vec![event("3")]);
        assert_eq!(ra.recv().await.unwrap().id, "1");
        assert_eq!(ra.recv().await.unwrap().id, "2");
        assert_eq!(rb.recv().await.unwrap().id, "3");
        assert!(ra.try_recv().is_err(), "nothing of b reaches a");
        assert_eq!(hub.subscribers(), 2);
        drop(ra);
        hub.dispatch(a, vec![event("4")]);
        assert_eq!(
            hub.subscribers(),
            1,
            "a's channel went with its last subscriber"
        );
    }

    #[test]
    fn tenants_that_never_hear_again_do_not_keep_their_channels() {
        let hub = Hub::new(4);
        // 200 tenants subscribe once and leave, and none of them writes again.
        for _ in 0..200 {
            drop(hub.subscribe(TenantId::generate()));
        }
        let _live = hub.subscribe(TenantId::generate());
        let left = hub.channels.lock().unwrap().by_tenant.len();
        assert!(left <= 64, "{left} channels kept for 1 subscriber");
    }
}
