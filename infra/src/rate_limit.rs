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
    limiter: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl InProcessLimiter {
    pub fn new(rule: Rule) -> Self {
        let quota = Quota::with_period(rule.interval().max(Duration::from_nanos(1)))
            .expect("a non-zero interval")
            .allow_burst(rule.limit);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            checks: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl RateLimiter for InProcessLimiter {
    async fn check(&self, key: &str) -> RateDecision {
        // Forget keys that are back to a full burst now and then, so memory
        // follows the keys in use, not every key ever seen.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.limiter.retain_recent();
        }
        match self.limiter.check_key(&key.to_owned()) {
            Ok(()) => RateDecision::Allowed,
            Err(not_until) => RateDecision::Limited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            },
        }
    }
}

/// GCRA on Redis's clock. Returns 0 when allowed, else milliseconds to wait.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return tat - now - tolerance
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1)
return 0
";

pub struct RedisLimiter {
    conn: ConnectionManager,
    script: redis::Script,
    prefix: String,
    rule: Rule,
    on_failure: OnFailure,
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
            failing: crate::redis_conn::LogEvery::new(Duration::from_secs(30)),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, key: &str) -> RateDecision {
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
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok(0) => RateDecision::Allowed,
            Ok(wait_ms) => RateDecision::Limited {
                retry_after: Duration::from_millis(wait_ms),
            },
            Err(e) => {
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
}
