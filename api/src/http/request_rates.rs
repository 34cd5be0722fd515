//! Every GraphQL request's rates: per tenant (weighed by the database round
//! trips the request was measured to need), per member of a tenant, and per
//! client address for requests without a token. GCRA, in Redis when it is
//! configured (shared by the nodes) or in-process; while Redis is away, each
//! node applies the rates by itself (see `app::request_rates`).
//!
//! A tenant's two rates are its plan's, or its own (`tenantry tenants
//! rates`), both bound into the request's context; each distinct rate gets a
//! limiter of its own, made on first use.

use crate::config::RequestRateSettings;
use crate::graphql::context::Caller;
use crate::graphql::error::code;
use async_graphql::ServerError;
use domain::ports::{RateDecision, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Makes a limiter of `limit` a second, namespaced by `name`.
pub type LimiterFactory = Arc<dyn Fn(&str, u32) -> Arc<dyn RateLimiter> + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Rule {
    TenantWork,
    User,
    Client,
}

impl Rule {
    fn name(self) -> &'static str {
        match self {
            Rule::TenantWork => "tenant_rate",
            Rule::User => "user_rate",
            Rule::Client => "client_rate",
        }
    }

    fn message(self, secs: u64) -> String {
        let whose = match self {
            Rule::TenantWork => {
                "your tenant's requests need more database work than its rate allows"
            }
            Rule::User => "you are sending requests faster than your rate allows",
            Rule::Client => "too many requests without a token from your address",
        };
        format!("{whose}; retry in {secs} s")
    }
}

/// See the module documentation.
pub struct RequestRates {
    defaults: RequestRateSettings,
    make: LimiterFactory,
    limiters: Mutex<HashMap<(Rule, u32), Arc<dyn RateLimiter>>>,
}

impl RequestRates {
    pub fn new(defaults: RequestRateSettings, make: LimiterFactory) -> Self {
        Self {
            defaults,
            make,
            limiters: Mutex::default(),
        }
    }

    fn limiter(&self, rule: Rule, per_second: u32) -> Arc<dyn RateLimiter> {
        let mut all = self.limiters.lock().expect("limiters lock");
        all.entry((rule, per_second))
            .or_insert_with(|| (self.make)(&format!("{}-{per_second}", rule.name()), per_second))
            .clone()
    }

    /// Charges one request that needs `round_trips` database round trips.
    ///
    /// # Errors
    /// `RATE_LIMITED` with `retryAfter` (seconds) for the first rate it passes.
    pub async fn admit(
        &self,
        caller: &Caller,
        client: Option<IpAddr>,
        round_trips: u64,
    ) -> Result<(), ServerError> {
        match caller {
            Caller::Member(ctx) => {
                let limits = ctx.entitlements().limits;
                let tenant = ctx.tenant_id();
                if let Some(user) = ctx.user_id() {
                    let per_user = limits.user_per_second;
                    let key = format!("{tenant}:{user}");
                    check(
                        Rule::User,
                        self.limiter(Rule::User, per_user).check(&key).await,
                    )?;
                }
                let work = limits.tenant_work_per_second;
                // A request heavier than the whole burst takes the whole
                // burst, rather than never fitting.
                let cost = u32::try_from(round_trips.max(1))
                    .unwrap_or(u32::MAX)
                    .min(work);
                let decision = self
                    .limiter(Rule::TenantWork, work)
                    .check_n(&tenant.to_string(), cost)
                    .await;
                check(Rule::TenantWork, decision)
            }
            Caller::Anonymous => {
                // No address (a test's in-process call): nothing to key by.
                let Some(ip) = client else { return Ok(()) };
                let limiter = self.limiter(Rule::Client, self.defaults.anonymous_per_second);
                check(Rule::Client, limiter.check(&ip.to_string()).await)
            }
        }
    }
}

fn check(rule: Rule, decision: RateDecision) -> Result<(), ServerError> {
    let RateDecision::Limited { retry_after } = decision else {
        return Ok(());
    };
    metrics::counter!("tenantry_limit_refusals_total", "reason" => rule.name()).increment(1);
    let secs = retry_after
        .max(Duration::from_millis(1))
        .as_secs_f64()
        .ceil() as u64;
    let mut e = ServerError::new(rule.message(secs), None);
    let ext = e.extensions.get_or_insert_with(Default::default);
    ext.set("code", code::RATE_LIMITED);
    ext.set("retryAfter", secs);
    Err(e)
}
