//! Per-tenant connection pools for database-strategy tenants: opened on first
//! use, at most `slots` open at once, closed when idle.
//!
//! The connection budget is kept by construction: each open pool holds a slot
//! (a semaphore permit) worth `pool_size` connections until its pool has
//! closed, so the shared pool plus every tenant pool never exceed the budget
//! however the load moves. A request that finds no free slot first retires the
//! least recently used pool nobody is using; when every pool is busy it waits
//! up to `admission_timeout` and is then turned away (`RATE_LIMITED`, retry
//! in a second) rather than queueing without end.

use domain::{Error, Result, TenantId};
use sea_orm::{Database, DatabaseConnection};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OnceCell, OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone, Copy)]
pub struct PoolLimits {
    /// Connections per tenant pool.
    pub pool_size: u32,
    /// Tenant pools open at once.
    pub slots: usize,
    /// A pool unused this long is closed (and its idle connections sooner).
    pub idle_timeout: Duration,
    /// How long a request waits for a slot when all are busy.
    pub admission_timeout: Duration,
    /// How long a request waits for a connection of its tenant's pool.
    pub acquire_timeout: Duration,
}

struct Entry {
    conn: Arc<OnceCell<DatabaseConnection>>,
    /// Held by every transaction on the pool: a pool with leases out is never retired.
    leases: Arc<()>,
    last_used: Instant,
    slot: OwnedSemaphorePermit,
}

impl Entry {
    fn idle(&self) -> bool {
        Arc::strong_count(&self.leases) == 1
    }
}

/// A tenant's pool, kept open while this lives.
pub struct Lease {
    conn: DatabaseConnection,
    /// The server the pool connects to.
    placement: Arc<str>,
    _held: Held,
}

/// A claim on a pool entry; ending it (also by a cancelled request, while
/// the pool still opens) wakes requests waiting for a slot.
struct Held {
    lease: Option<Arc<()>>,
    released: Arc<Notify>,
}

impl Drop for Held {
    fn drop(&mut self) {
        // Released first, so a woken waiter finds this pool idle.
        self.lease.take();
        self.released.notify_waiters();
    }
}

impl Lease {
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn placement(&self) -> &str {
        &self.placement
    }
}

/// What the pools are doing, for tests and operators (also exported as metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub open: usize,
    pub free_slots: usize,
    pub opened: u64,
    pub retired: u64,
    pub rejected: u64,
}

pub struct TenantPools {
    entries: Mutex<HashMap<TenantId, Entry>>,
    slots: Arc<Semaphore>,
    /// Woken whenever a lease ends: a waiting request may retire that pool.
    released: Arc<Notify>,
    limits: PoolLimits,
    opened: AtomicU64,
    retired: AtomicU64,
    rejected: AtomicU64,
}

impl TenantPools {
    pub fn new(limits: PoolLimits) -> Arc<Self> {
        let pools = Arc::new(Self {
            entries: Mutex::default(),
            slots: Arc::new(Semaphore::new(limits.slots)),
            released: Arc::new(Notify::new()),
            limits,
            opened: AtomicU64::new(0),
            retired: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            sweep_forever(Arc::downgrade(&pools), limits.idle_timeout);
        }
        pools
    }

    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            open: self.lock().len(),
            free_slots: self.slots.available_permits(),
            opened: self.opened.load(Ordering::Relaxed),
            retired: self.retired.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Entry>> {
        // A panic while holding the map cannot leave it half-changed.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tenant's pool, opened at `url` if it is not open yet.
    ///
    /// # Errors
    /// `RateLimited` when no slot frees within the admission timeout;
    /// `Unexpected` when the database cannot be reached.
    pub async fn lease(&self, tenant: TenantId, url: &str, placement: &str) -> Result<Lease> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.limits.admission_timeout;
        let mut granted: Option<OwnedSemaphorePermit> = None;
        let (cell, lease) = loop {
            // Registered before looking, so a lease ending meanwhile is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut map = self.lock();
                if let Some(e) = map.get_mut(&tenant) {
                    e.last_used = Instant::now();
                    break (e.conn.clone(), e.leases.clone());
                }
                let slot = granted
                    .take()
                    .or_else(|| self.slots.clone().try_acquire_owned().ok())
                    .or_else(|| {
                        // Make room: retire the least recently used idle pool.
                        // Its slot comes back once it has closed.
                        let victim = map
                            .iter()
                            .filter(|(_, e)| e.idle())
                            .min_by_key(|(_, e)| e.last_used)
                            .map(|(id, _)| *id);
                        if let Some(id) = victim
                            && let Some(e) = map.remove(&id)
                        {
                            self.retire(e, "pressure");
                        }
                        None
                    });
                if let Some(slot) = slot {
                    let e = Entry {
                        conn: Arc::new(OnceCell::new()),
                        leases: Arc::new(()),
                        last_used: Instant::now(),
                        slot,
                    };
                    let out = (e.conn.clone(), e.leases.clone());
                    map.insert(tenant, e);
                    self.publish(map.len());
                    break out;
                }
            }
            let wait = async {
                tokio::select! {
                    slot = self.slots.clone().acquire_owned() => slot.ok(),
                    () = released => None,
                }
            };
            match tokio::time::timeout_at(deadline, wait).await {
                Ok(slot) => granted = slot,
                Err(_) => {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("tenantry_tenant_pool_rejected_total").increment(1);
                    return Err(Error::RateLimited {
                        retry_after_secs: 1,
                    });
                }
            }
        };
        let held = Held {
            lease: Some(lease),
            released: self.released.clone(),
        };
        metrics::histogram!("tenantry_tenant_pool_admission_seconds")
            .record(started.elapsed().as_secs_f64());
        let conn = cell
            .get_or_try_init(|| self.open(url))
            .await
            .cloned()
            .inspect_err(|_| {
                // Leave no dead entry behind: the next request tries afresh.
                let mut map = self.lock();
                if map
                    .get(&tenant)
                    .is_some_and(|e| Arc::ptr_eq(&e.conn, &cell))
                    && let Some(e) = map.remove(&tenant)
                {
                    drop(e.slot);
                    self.publish(map.len());
                }
            })?;
        // Forgotten while it opened (its database is going), or opened by a
        // retry after the entry that held its slot was removed: a pool
        // outside the map would hold connections outside the budget.
        let ours = self
            .lock()
            .get(&tenant)
            .is_some_and(|e| Arc::ptr_eq(&e.conn, &cell));
        if !ours {
            tokio::spawn(async move {
                let _ = conn.close().await;
            });
            return Err(Error::RateLimited {
                retry_after_secs: 1,
            });
        }
        Ok(Lease {
            conn,
            placement: placement.into(),
            _held: held,
        })
    }

    async fn open(&self, url: &str) -> Result<DatabaseConnection> {
        let mut opts = crate::pool::pool_options_with(url, false).map_err(Error::unexpected)?;
        opts.max_connections(self.limits.pool_size)
            .min_connections(0)
            .idle_timeout(self.limits.idle_timeout)
            .acquire_timeout(self.limits.acquire_timeout);
        let conn = Database::connect(opts).await.map_err(Error::unexpected)?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("tenantry_tenant_pools_opened_total").increment(1);
        Ok(conn)
    }

    /// Closes the tenant's pool (its database is about to go), waiting for
    /// connections in use to come back.
    pub async fn forget(&self, tenant: TenantId) {
        let entry = {
            let mut map = self.lock();
            let e = map.remove(&tenant);
            self.publish(map.len());
            e
        };
        if let Some(e) = entry {
            if let Some(conn) = e.conn.get() {
                let _ = conn.clone().close().await;
            }
            drop(e.slot);
        }
    }

    /// Closes pools unused for the idle timeout.
    pub fn sweep(&self) {
        let mut map = self.lock();
        let cutoff = self.limits.idle_timeout;
        let stale: Vec<TenantId> = map
            .iter()
            .filter(|(_, e)| e.idle() && e.last_used.elapsed() >= cutoff)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some(e) = map.remove(&id) {
                self.retire(e, "idle");
            }
        }
        self.publish(map.len());
    }

    /// Closes a pool in the background; its slot frees when it has closed,
    /// so the budget holds even while it drains.
    fn retire(&self, e: Entry, reason: &'static str) {
        self.retired.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("tenantry_tenant_pools_retired_total", "reason" => reason).increment(1);
        tokio::spawn(async move {
            if let Some(conn) = e.conn.get() {
                let _ = conn.clone().close().await;
            }
            drop(e.slot);
        });
    }

    fn publish(&self, open: usize) {
        metrics::gauge!("tenantry_tenant_pools_open").set(open as f64);
        metrics::gauge!("tenantry_tenant_pool_connections_reserved")
            .set((open as u64 * u64::from(self.limits.pool_size)) as f64);
    }
}

fn sweep_forever(pools: Weak<TenantPools>, idle: Duration) {
    let every = (idle / 2).max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(pools) = pools.upgrade() else { return };
            pools.sweep();
        }
    });
}
