//! What a tenant stores that its plan counts (see `domain::plan::Stored`).

use super::bound::Bound;
use crate::entities::{project, task};
use domain::plan::Stored;
use domain::{Result, TenantId};
use sea_orm::QuerySelect;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Separates the advisory locks of stored kinds from a tenant's other locks.
const STORED_LOCK_SPACE: i32 = 0x7374_0000;
/// The invitations' turn, after the [`Stored`] kinds'.
const INVITATIONS: i32 = 0x100;

impl Bound {
    /// Rows of `what`, counted up to `up_to`: the count reads at most that
    /// many index entries, however much the tenant holds.
    pub(crate) async fn stored_rows(&self, what: Stored, up_to: u32) -> Result<u64> {
        let limit = u64::from(up_to);
        match what {
            Stored::Projects => {
                self.count_limited(
                    self.select::<project::Entity>()
                        .and(|q| q.select_only().column(project::Column::Id).limit(limit)),
                )
                .await
            }
            Stored::Tasks => {
                self.count_limited(
                    self.select::<task::Entity>()
                        .and(|q| q.select_only().column(task::Column::Id).limit(limit)),
                )
                .await
            }
        }
    }

    pub(crate) async fn lock_stored_kind(&self, what: Stored) -> Result<()> {
        self.advisory_lock(STORED_LOCK_SPACE + what as i32).await
    }

    /// Invitations count against the members limit: they take turns too.
    pub(crate) async fn lock_invitation_turn(&self) -> Result<()> {
        self.advisory_lock(STORED_LOCK_SPACE + INVITATIONS).await
    }
}

/// Limits below this are always counted: the count is cheap, and a tenant
/// of a small plan could otherwise pass its limit by a good share of it.
const HINTED_FROM: u32 = 1000;
/// How long a count stands in for the next ones.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// (tenant, kind) pairs remembered per node.
const HINTS: usize = 100_000;

/// What this node's last count of a tenant's rows found, so that a create
/// far below its limit does not count again: counting is an index scan of
/// up to the limit's entries (20,000 tasks by default: milliseconds), which
/// would make a big tenant's every create slower than a small one's.
///
/// Tasks only. A count stands for [`FRESH_FOR`], and only while it, plus the creates this
/// node has let through since, stays below 90% of the limit: near the limit
/// every create counts. What it cannot see is other nodes' creates within
/// that second: to pass the limit unseen, a tenant would have to create a
/// tenth of its limit in one second (2,000 tasks on the default plan; its
/// request rate allows some 80 a second).
#[derive(Debug)]
pub struct StoredHints {
    seen: quick_cache::sync::Cache<(TenantId, Stored), Arc<Seen>>,
}

#[derive(Debug)]
struct Seen {
    counted: u64,
    at: Instant,
    /// Creates let through on this count.
    since: AtomicU64,
}

impl Default for StoredHints {
    fn default() -> Self {
        Self {
            seen: quick_cache::sync::Cache::new(HINTS),
        }
    }
}

impl StoredHints {
    /// Whether one more of `what` keeps the tenant far below `max` by this
    /// node's recent count; if so, the create is counted against it.
    pub(crate) fn far_below(&self, tenant: TenantId, what: Stored, max: u32, now: Instant) -> bool {
        // Projects take turns to keep their limit exact; tasks are the hot path.
        if what != Stored::Tasks || max < HINTED_FROM {
            return false;
        }
        let Some(seen) = self.seen.get(&(tenant, what)) else {
            return false;
        };
        if now.saturating_duration_since(seen.at) >= FRESH_FOR {
            return false;
        }
        let ceiling = u64::from(max - max / 10);
        // Taken, then checked: creates racing on one count each take their own.
        let since = seen.since.fetch_add(1, Ordering::Relaxed) + 1;
        seen.counted + since < ceiling
    }

    /// Remembers a count just made.
    pub(crate) fn counted(&self, tenant: TenantId, what: Stored, counted: u64, now: Instant) {
        let seen = Seen {
            counted,
            at: now,
            since: AtomicU64::new(0),
        };
        self.seen.insert((tenant, what), Arc::new(seen));
    }
}

impl Bound {
    /// See [`domain::ports::TenantTx::within`] and [`StoredHints`].
    pub(crate) async fn within_limit(
        &self,
        hints: Option<&StoredHints>,
        what: Stored,
        max: u32,
    ) -> Result<bool> {
        let tenant = TenantId::from_uuid(self.tenant());
        let now = Instant::now();
        if hints.is_some_and(|h| h.far_below(tenant, what, max, now)) {
            return Ok(true);
        }
        let have = self.stored_rows(what, max.saturating_add(1)).await?;
        if let Some(h) = hints {
            h.counted(tenant, what, have, now);
        }
        Ok(have <= u64::from(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::from_uuid(uuid::Uuid::now_v7())
    }

    #[test]
    fn a_fresh_count_far_below_the_limit_stands_in_for_the_next_creates() {
        let (h, t, now) = (StoredHints::default(), tenant(), Instant::now());
        assert!(
            !h.far_below(t, Stored::Tasks, 20_000, now),
            "nothing counted yet"
        );
        h.counted(t, Stored::Tasks, 17_989, now);
        // Below 90% of 20,000 (18,000): ten more creates stand on this count.
        for _ in 0..10 {
            assert!(h.far_below(t, Stored::Tasks, 20_000, now));
        }
        assert!(
            !h.far_below(t, Stored::Tasks, 20_000, now),
            "near the limit: count"
        );
        h.counted(t, Stored::Projects, 1, now);
        assert!(
            !h.far_below(t, Stored::Projects, 20_000, now),
            "projects always count"
        );
        assert!(
            !h.far_below(tenant(), Stored::Tasks, 20_000, now),
            "per tenant"
        );
    }

    #[test]
    fn a_count_goes_stale_after_a_second_and_small_limits_always_count() {
        let (h, t, now) = (StoredHints::default(), tenant(), Instant::now());
        h.counted(t, Stored::Tasks, 10, now);
        assert!(h.far_below(t, Stored::Tasks, 20_000, now + Duration::from_millis(900)));
        assert!(!h.far_below(t, Stored::Tasks, 20_000, now + FRESH_FOR));
        h.counted(t, Stored::Tasks, 1, now);
        assert!(
            !h.far_below(t, Stored::Tasks, 999, now),
            "a small plan counts"
        );
    }
}
