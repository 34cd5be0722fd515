//! How many subscriptions one node holds: per socket, per user and per
//! tenant, so no client or tenant fills a node's memory or its fan-out; and
//! how many signed-in sockets, per user and per tenant, for the same reason.
//!
//! A tenant's two caps are its plan's.
//!
//! A subscription holds a [`Slot`] from `subscribe` until it completes, the
//! client stops it or the socket closes; a socket holds one from its
//! `connection_init` until it closes. A slot gives its place back when
//! dropped.

use crate::config::SubscriptionSettings;
use domain::{TenantContext, TenantId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder {
    User(UserId),
    Tenant(TenantId),
    UserSockets(UserId),
    TenantSockets(TenantId),
}

/// The node's count of subscriptions per user and per tenant.
#[derive(Debug)]
pub struct SubscriptionCaps {
    per_socket: usize,
    per_user: usize,
    sockets_per_user: usize,
    held: Mutex<HashMap<Holder, usize>>,
}

/// Which cap refused a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Socket,
    User,
    Tenant,
    UserSockets,
    TenantSockets,
}

impl Cap {
    pub fn message(self, max: usize) -> String {
        let (whose, what, then) = match self {
            Cap::Socket => ("this connection", "subscriptions", "complete one"),
            Cap::User => ("your user", "subscriptions on this server", "complete one"),
            Cap::Tenant => (
                "your tenant",
                "subscriptions on this server",
                "complete one",
            ),
            Cap::UserSockets => ("your user", "connections to this server", "close one"),
            Cap::TenantSockets => ("your tenant", "connections to this server", "close one"),
        };
        format!("{whose} already holds {max} {what}; {then} first")
    }

    fn label(self) -> &'static str {
        match self {
            Cap::Socket => "subscriptions_per_socket",
            Cap::User => "subscriptions_per_user",
            Cap::Tenant => "subscriptions_per_tenant",
            Cap::UserSockets => "sockets_per_user",
            Cap::TenantSockets => "sockets_per_tenant",
        }
    }
}

/// One subscription's place in the counts.
#[derive(Debug)]
pub struct Slot {
    caps: Arc<SubscriptionCaps>,
    holders: [Option<Holder>; 2],
    /// The gauge that counts what this slot holds.
    gauge: &'static str,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.caps.held.lock().expect("caps lock");
        for h in self.holders.iter().flatten() {
            if let Some(n) = held.get_mut(h) {
                *n -= 1;
                if *n == 0 {
                    held.remove(h);
                }
            }
        }
        metrics::gauge!(self.gauge).decrement(1.0);
    }
}

impl SubscriptionCaps {
    pub fn new(s: &SubscriptionSettings) -> Arc<Self> {
        Arc::new(Self {
            per_socket: s.max_per_socket,
            per_user: s.max_per_user,
            sockets_per_user: s.max_sockets_per_user,
            held: Mutex::default(),
        })
    }

    /// A slot for one more subscription of `ctx`'s caller, on a socket that
    /// already holds `on_socket`.
    ///
    /// # Errors
    /// The cap that is full, and its size.
    pub fn take(
        self: &Arc<Self>,
        ctx: &TenantContext,
        on_socket: usize,
    ) -> Result<Slot, (Cap, usize)> {
        if on_socket >= self.per_socket {
            return refuse(Cap::Socket, self.per_socket);
        }
        let user = ctx.user_id().map(Holder::User);
        let tenant = Holder::Tenant(ctx.tenant_id());
        self.hold(
            [
                (user, self.per_user, Cap::User),
                (
                    Some(tenant),
                    per_tenant(ctx.entitlements().limits.subscriptions),
                    Cap::Tenant,
                ),
            ],
            "tenantry_subscriptions_active",
        )
    }

    /// A place for one more signed-in socket of `ctx`'s caller, held until
    /// the socket closes.
    ///
    /// # Errors
    /// The cap that is full, and its size.
    pub fn connect(self: &Arc<Self>, ctx: &TenantContext) -> Result<Slot, (Cap, usize)> {
        let user = ctx.user_id().map(Holder::UserSockets);
        let tenant = Holder::TenantSockets(ctx.tenant_id());
        self.hold(
            [
                (user, self.sockets_per_user, Cap::UserSockets),
                (
                    Some(tenant),
                    per_tenant(ctx.entitlements().limits.sockets),
                    Cap::TenantSockets,
                ),
            ],
            "tenantry_subscription_sockets_held",
        )
    }

    /// Counts one more for each holder, unless one of them is at its cap.
    fn hold(
        self: &Arc<Self>,
        holders: [(Option<Holder>, usize, Cap); 2],
        gauge: &'static str,
    ) -> Result<Slot, (Cap, usize)> {
        let mut held = self.held.lock().expect("caps lock");
        for (h, max, cap) in holders {
            if h.is_some_and(|h| held.get(&h).copied().unwrap_or(0) >= max) {
                return refuse(cap, max);
            }
        }
        for (h, _, _) in holders {
            if let Some(h) = h {
                *held.entry(h).or_default() += 1;
            }
        }
        metrics::gauge!(gauge).increment(1.0);
        Ok(Slot {
            caps: self.clone(),
            holders: holders.map(|(h, _, _)| h),
            gauge,
        })
    }
}

/// A tenant's cap is its plan's (`subscriptions.max_*_per_tenant` unless
/// the plan says otherwise).
fn per_tenant(limit: u32) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

fn refuse(cap: Cap, max: usize) -> Result<Slot, (Cap, usize)> {
    metrics::counter!("tenantry_limit_refusals_total", "reason" => cap.label()).increment(1);
    Err((cap, max))
}
