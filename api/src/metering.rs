//! Counting each tenant's requests for operators: a counter per tenant in
//! this process, added to the hour's totals in the database every
//! `metering.flush_every_ms` (see [`domain::metering::RequestCounts`]).
//!
//! What counts: every GraphQL operation whose caller is bound to a tenant,
//! once, when the handler takes it up — refused ones included (a rate limit,
//! a read-only tenant, a document over a limit), since they cost the server
//! too; and each subscription a signed-in socket starts, refused by a cap or
//! not. Requests without a token, or whose token is refused, are no tenant's.

use domain::TenantId;
use domain::metering::{RequestCounts, hour_of};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// Tenants kept waiting for a flush that keeps failing; past it the counts
/// of further tenants are dropped (and the number logged), so a long
/// database outage cannot grow memory without bound.
const MAX_PENDING: usize = 100_000;

/// This process's counts since the last flush. Memory is one entry per
/// tenant active within a flush period.
#[derive(Debug, Default)]
pub struct RequestMeter {
    counts: Mutex<HashMap<TenantId, u64>>,
}

impl RequestMeter {
    /// One operation of `tenant`: on the request path, so a lock held for
    /// an increment, and an allocation only when the map must grow.
    pub fn count(&self, tenant: TenantId) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(tenant).or_insert(0) += 1;
    }

    /// Takes the counts, leaving an empty map with room for `room` tenants
    /// (allocated before the lock is taken).
    fn take(&self, room: usize) -> Vec<(TenantId, u64)> {
        let fresh = HashMap::with_capacity(room);
        let taken = {
            let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *counts, fresh)
        };
        taken.into_iter().collect()
    }

    /// Puts back counts a flush could not write, added to those counted
    /// since; returns how many requests were dropped past [`MAX_PENDING`].
    fn restore(&self, counts: Vec<(TenantId, u64)>) -> u64 {
        let mut dropped = 0;
        let mut held = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for (tenant, n) in counts {
            if let Some(c) = held.get_mut(&tenant) {
                *c += n;
            } else if held.len() < MAX_PENDING {
                held.insert(tenant, n);
            } else {
                dropped += n;
            }
        }
        dropped
    }

    /// Adds what was counted to the current hour's totals. On failure the
    /// counts are kept for the next flush (up to [`MAX_PENDING`] tenants)
    /// and a warning logged. Returns the number of tenants written.
    pub async fn flush(&self, store: &dyn RequestCounts, room: usize) -> usize {
        let counts = self.take(room);
        if counts.is_empty() {
            return 0;
        }
        let tenants = counts.len();
        match store.add(hour_of(chrono::Utc::now()), &counts).await {
            Ok(()) => tenants,
            Err(e) => {
                let dropped = self.restore(counts);
                tracing::warn!(error = %e, tenants, dropped, "metering: writing request counts failed; kept for the next flush");
                0
            }
        }
    }
}

/// The task that flushes a [`RequestMeter`] every period, and once more
/// when told to stop. Dropped without [`Flusher::finish`], it stops at once.
pub struct Flusher {
    stop: Arc<Notify>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Flusher {
    pub fn spawn(meter: Arc<RequestMeter>, store: Arc<dyn RequestCounts>, every: Duration) -> Self {
        let stop = Arc::new(Notify::new());
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Room for as many tenants as the last period had, so the
            // request path rarely grows the map.
            let mut room = 0;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        room = meter.flush(&*store, room).await;
                    }
                    () = stopped.notified() => {
                        meter.flush(&*store, 0).await;
                        return;
                    }
                }
            }
        });
        Self {
            stop,
            task: Some(task),
        }
    }

    /// Flushes what is left (after the last request) and stops, waiting at
    /// most `within` for the write.
    pub async fn finish(mut self, within: Duration) {
        self.stop.notify_one();
        if let Some(task) = self.task.take()
            && tokio::time::timeout(within, task).await.is_err()
        {
            tracing::warn!("metering: the last flush did not finish in time; its counts are lost");
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use chrono::{DateTime, Utc};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A store that fails while `down` is set and otherwise keeps what it got.
    #[derive(Default)]
    struct Store {
        down: AtomicBool,
        added: Mutex<HashMap<TenantId, u64>>,
    }

    #[async_trait]
    impl RequestCounts for Store {
        async fn add(&self, _: DateTime<Utc>, counts: &[(TenantId, u64)]) -> domain::Result<()> {
            if self.down.load(Ordering::SeqCst) {
                return Err(domain::Error::unexpected("database away"));
            }
            let mut added = self.added.lock().unwrap();
            for (t, n) in counts {
                *added.entry(*t).or_insert(0) += n;
            }
            Ok(())
        }
        async fn since(
            &self,
            _: &[TenantId],
            _: DateTime<Utc>,
        ) -> domain::Result<HashMap<TenantId, u64>> {
            Ok(self.added.lock().unwrap().clone())
        }
        async fn prune(&self, _: DateTime<Utc>) -> domain::Result<u64> {
            Ok(0)
        }
    }

    #[tokio::test]
    async fn counts_go_to_the_store_once_per_flush() {
        let (meter, store) = (RequestMeter::default(), Store::default());
        let (a, b) = (TenantId::generate(), TenantId::generate());
        for _ in 0..3 {
            meter.count(a);
        }
        meter.count(b);
        assert_eq!(meter.flush(&store, 0).await, 2);
        assert_eq!(meter.flush(&store, 2).await, 0, "nothing new to write");
        let added = store.added.lock().unwrap().clone();
        assert_eq!(added, HashMap::from([(a, 3), (b, 1)]));
    }

    #[tokio::test]
    async fn a_failed_flush_keeps_its_counts_for_the_next() {
        let (meter, store) = (RequestMeter::default(), Store::default());
        let a = TenantId::generate();
        meter.count(a);
        meter.count(a);
        store.down.store(true, Ordering::SeqCst);
        assert_eq!(meter.flush(&store, 0).await, 0);
        meter.count(a);
        store.down.store(false, Ordering::SeqCst);
        assert_eq!(meter.flush(&store, 0).await, 1);
        assert_eq!(store.added.lock().unwrap().get(&a), Some(&3));
    }

    #[test]
    fn what_is_kept_is_bounded() {
        let meter = RequestMeter::default();
        let pending: Vec<_> = (0..MAX_PENDING + 2)
            .map(|_| (TenantId::generate(), 5))
            .collect();
        assert_eq!(meter.restore(pending), 10);
        assert_eq!(meter.take(0).len(), MAX_PENDING);
    }

    #[tokio::test]
    async fn finishing_flushes_what_is_left() {
        let (meter, store) = (
            Arc::new(RequestMeter::default()),
            Arc::new(Store::default()),
        );
        let flusher = Flusher::spawn(meter.clone(), store.clone(), Duration::from_secs(3600));
        let a = TenantId::generate();
        // Past the first tick, which fires at once.
        tokio::time::sleep(Duration::from_millis(20)).await;
        meter.count(a);
        flusher.finish(Duration::from_secs(5)).await;
        assert_eq!(store.added.lock().unwrap().get(&a), Some(&1));
    }
}
