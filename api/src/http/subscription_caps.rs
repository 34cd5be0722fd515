//! How many subscriptions one node holds: per socket, per user and per
//! tenant, so no client or tenant fills a node's memory or its fan-out.
//!
//! A subscription holds a [`Slot`] from `subscribe` until it completes, the
//! client stops it or the socket closes; the slot gives its place back when
//! dropped.

use crate::config::SubscriptionSettings;
use domain::{TenantContext, TenantId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder {
    User(UserId),
    Tenant(TenantId),
}

/// The node's count of subscriptions per user and per tenant.
#[derive(Debug)]
pub struct SubscriptionCaps {
    per_socket: usize,
    per_user: usize,
    per_tenant: usize,
    held: Mutex<HashMap<Holder, usize>>,
}

/// Which cap refused a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Socket,
    User,
    Tenant,
}

impl Cap {
    pub fn message(self, max: usize) -> String {
        let whose = match self {
            Cap::Socket => "this connection",
            Cap::User => "your user on this server",
            Cap::Tenant => "your tenant on this server",
        };
        format!("{whose} already holds {max} subscriptions; complete one first")
    }

    fn label(self) -> &'static str {
        match self {
            Cap::Socket => "subscriptions_per_socket",
            Cap::User => "subscriptions_per_user",
            Cap::Tenant => "subscriptions_per_tenant",
        }
    }
}

/// One subscription's place in the counts.
#[derive(Debug)]
pub struct Slot {
    caps: Arc<SubscriptionCaps>,
    holders: [Option<Holder>; 2],
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
        metrics::gauge!("tenantry_subscriptions_active").decrement(1.0);
    }
}

impl SubscriptionCaps {
    pub fn new(s: &SubscriptionSettings) -> Arc<Self> {
        Arc::new(Self {
            per_socket: s.max_per_socket,
            per_user: s.max_per_user,
            per_tenant: s.max_per_tenant,
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
        let refuse = |cap: Cap, max: usize| {
            metrics::counter!("tenantry_limit_refusals_total", "reason" => cap.label())
                .increment(1);
            Err((cap, max))
        };
        if on_socket >= self.per_socket {
            return refuse(Cap::Socket, self.per_socket);
        }
        let user = ctx.user_id().map(Holder::User);
        let tenant = Holder::Tenant(ctx.tenant_id());
        let mut held = self.held.lock().expect("caps lock");
        if user.is_some_and(|u| held.get(&u).copied().unwrap_or(0) >= self.per_user) {
            return refuse(Cap::User, self.per_user);
        }
        if held.get(&tenant).copied().unwrap_or(0) >= self.per_tenant {
            return refuse(Cap::Tenant, self.per_tenant);
        }
        for h in [user, Some(tenant)].into_iter().flatten() {
            *held.entry(h).or_default() += 1;
        }
        metrics::gauge!("tenantry_subscriptions_active").increment(1.0);
        Ok(Slot {
            caps: self.clone(),
            holders: [user, Some(tenant)],
        })
    }
}
