//! Requests counted per tenant, by hour: what operators see of a tenant's
//! traffic beside what it stores. Each server counts in memory and adds its
//! counts to the hour's bucket now and then; readers sum the buckets.

use crate::error::Result;
use crate::ids::TenantId;
use async_trait::async_trait;
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::collections::HashMap;

/// Hourly request counts of tenants, summed over every server.
///
/// # Errors (every method)
/// [`crate::Error::Unexpected`] for storage failures.
#[async_trait]
pub trait RequestCounts: Send + Sync {
    /// Adds `counts` to the buckets of `hour` (an hour's start, see
    /// [`hour_of`]), all at once: either every count is added or none is.
    /// Counts of tenants that no longer exist are dropped.
    async fn add(&self, hour: DateTime<Utc>, counts: &[(TenantId, u64)]) -> Result<()>;

    /// Each tenant's requests in the buckets from `since` on; a tenant with
    /// none is left out.
    async fn since(
        &self,
        tenants: &[TenantId],
        since: DateTime<Utc>,
    ) -> Result<HashMap<TenantId, u64>>;

    /// Removes the buckets before `before`; returns how many went.
    async fn prune(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// The start of the hour `t` is in: the bucket its requests go to.
pub fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}

/// Where "the last day" starts at `now`: the bucket 24 hours back, so the
/// sum covers the last 24 to 25 hours, by whole hours.
pub fn last_day_since(now: DateTime<Utc>) -> DateTime<Utc> {
    hour_of(now - Duration::hours(24))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_last_day_starts_at_a_whole_hour_24_to_25_hours_back() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 10, 42, 5).unwrap();
        assert_eq!(
            hour_of(now),
            Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap()
        );
        assert_eq!(
            last_day_since(now),
            Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap()
        );
        let on_the_hour = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        assert_eq!(hour_of(on_the_hour), on_the_hour);
    }
}
