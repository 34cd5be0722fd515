//! GCRA rate limiters: a burst of `limit` attempts, then one more every
//! `period / limit`. In-process (governor) for one node; in Redis (a Lua script,
//! atomic, on Redis's clock) for many.

use async_trait::async_trait;
use domain::ports::{RateDecision, RateLimiter};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use redis::aio::ConnectionManager;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// `limit` attempts per `period`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub limit: NonZeroU32,
    pub period: Duration,
}

impl Rule {
    fn interval(self) -> Duration {
        self.period / self.limit.get()
    }
}

/// What to answer when Redis cannot be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Let the attempt through: availability over protection.
    Open,
    /// Refuse it, asking to retry after this long: protection over availability.
    Closed(Duration),
}

pub struct InProcessLimiter {
    rule: Rule,
    limiter: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl InProcessLimiter {
    pub fn new(rule: Rule) -> Self {
        let quota = Quota::with_period(rule.interval().max(Duration::from_nanos(1)))
            .expect("a non-zero interval")
            .allow_burst(rule.limit);
        Self {
            rule,
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            checks: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl RateLimiter for InProcessLimiter {
    async fn check_n(&self, key: &str, cost: u32) -> RateDecision {
        // Forget keys that are back to a full burst now and then, so memory
        // follows the keys in use, not every key ever seen.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.limiter.retain_recent();
        }
        let cost = NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN);
        match self.limiter.check_key_n(&key.to_owned(), cost) {
            Ok(Ok(())) => RateDecision::Allowed,
            Ok(Err(not_until)) => RateDecision::Limited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            },
            // More than a whole burst never fits.
            Err(_) => RateDecision::Limited {
                retry_after: self.rule.period,
            },
        }
    }
}

/// GCRA on Redis's clock, `ARGV[3]` units at once. Returns 0 when allowed,
/// else milliseconds to wait.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local early = new_tat - interval - now - tolerance
if early > 0 then
  return early
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1)
return 0
";

pub struct RedisLimiter {
    conn: ConnectionManager,
    script: redis::Script,
    prefix: String,
    rule: Rule,
    on_failure: OnFailure,
    /// Asked instead of failing open or closed, when set.
    fallback: Option<InProcessLimiter>,
    failing: crate::redis_conn::LogEvery,
}

impl RedisLimiter {
    /// `prefix` namespaces the keys (deployment and rule), e.g. `tenantry:rl:signin-account`.
    pub fn new(conn: ConnectionManager, prefix: String, rule: Rule, on_failure: OnFailure) -> Self {
        Self {
            conn,
            script: redis::Script::new(GCRA),
            prefix,
            rule,
            on_failure,
            fallback: None,
            failing: crate::redis_conn::LogEvery::new(Duration::from_secs(30)),
        }
    }

    /// While Redis cannot be asked, this node's own limiter of the same rule
    /// answers: each node then allows the rule's rate by itself, so neither
    /// protection nor availability is lost.
    #[must_use]
    pub fn with_local_fallback(mut self) -> Self {
        self.fallback = Some(InProcessLimiter::new(self.rule));
        self
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check_n(&self, key: &str, cost: u32) -> RateDecision {
        if cost > self.rule.limit.get() {
            return RateDecision::Limited {
                retry_after: self.rule.period,
            };
        }
        let interval = self.rule.interval().as_millis().max(1) as u64;
        let tolerance = interval * u64::from(self.rule.limit.get() - 1);
        let mut conn = self.conn.clone();
        // One hash slot per key ({…}), so the script is valid on Redis Cluster.
        let redis_key = format!("{}:{{{key}}}", self.prefix);
        let result: redis::RedisResult<u64> = self
            .script
            .key(redis_key)
            .arg(interval)
            .arg(tolerance)
            .arg(cost.max(1))
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok(0) => RateDecision::Allowed,
            Ok(wait_ms) => RateDecision::Limited {
                retry_after: Duration::from_millis(wait_ms),
            },
            Err(e) => {
                if let Some(local) = &self.fallback {
                    if self.failing.ready() {
                        tracing::warn!(error = %e, rule = %self.prefix, "redis: rate limiter unreachable; this node limits by itself (logged once per 30 s)");
                    }
                    return local.check_n(key, cost).await;
                }
                if self.failing.ready() {
                    tracing::warn!(error = %e, rule = %self.prefix, "redis: rate limiter unreachable; failing {:?} (logged once per 30 s)", self.on_failure);
                }
                match self.on_failure {
                    OnFailure::Open => RateDecision::Allowed,
                    OnFailure::Closed(retry_after) => RateDecision::Limited { retry_after },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_process_allows_a_burst_then_refuses_with_a_wait() {
        let l = InProcessLimiter::new(Rule {
            limit: NonZeroU32::new(3).unwrap(),
            period: Duration::from_secs(60),
        });
        for _ in 0..3 {
            assert_eq!(l.check("a").await, RateDecision::Allowed);
        }
        match l.check("a").await {
            RateDecision::Limited { retry_after } => {
                assert!(
                    retry_after > Duration::from_secs(15) && retry_after <= Duration::from_secs(20),
                    "{retry_after:?}"
                )
            }
            RateDecision::Allowed => panic!("the fourth attempt within a minute must be refused"),
        }
        assert_eq!(
            l.check("b").await,
            RateDecision::Allowed,
            "keys are independent"
        );
    }

    #[tokio::test]
    async fn in_process_charges_a_cost_at_once() {
        let l = InProcessLimiter::new(Rule {
            limit: NonZeroU32::new(10).unwrap(),
            period: Duration::from_secs(60),
        });
        assert_eq!(l.check_n("t", 7).await, RateDecision::Allowed);
        assert!(matches!(
            l.check_n("t", 4).await,
            RateDecision::Limited { .. }
        ));
        assert_eq!(l.check_n("t", 3).await, RateDecision::Allowed);
        // More than the whole burst never fits.
        assert!(matches!(
            l.check_n("u", 11).await,
            RateDecision::Limited { .. }
        ));
    }

    #[tokio::test]
    async fn without_redis_the_local_fallback_limits_by_itself() {
        // Nothing listens on port 1: every call to Redis fails.
        let conn = crate::redis_conn::connect("redis://127.0.0.1:1").unwrap();
        let rule = Rule {
            limit: NonZeroU32::new(2).unwrap(),
            period: Duration::from_secs(60),
        };
        let open = RedisLimiter::new(conn.clone(), "t".into(), rule, OnFailure::Open);
        for _ in 0..3 {
            assert_eq!(open.check("k").await, RateDecision::Allowed, "fails open");
        }
        let local =
            RedisLimiter::new(conn, "t".into(), rule, OnFailure::Open).with_local_fallback();
        assert_eq!(local.check("k").await, RateDecision::Allowed);
        assert_eq!(local.check("k").await, RateDecision::Allowed);
        assert!(matches!(
            local.check("k").await,
            RateDecision::Limited { .. }
        ));
    }
}
