//! Fair admission of tenants to the shared connection pool.
//!
//! The pool is first come, first served: one tenant sending many heavy
//! requests would hold every connection, and another tenant's one query would
//! wait behind all of them. So a tenant transaction on the shared pool first
//! takes a [`Grant`] here:
//! - at most `connections` grants are out at once (the pool, less a reserve
//!   for the control plane: sign-in, membership lookups, the outbox worker);
//! - one tenant holds at most `per_tenant` of them, so others always find room;
//! - when grants run out, waiting tenants are served in turn (round robin),
//!   not in arrival order: a tenant with one waiting request is served after
//!   at most one grant to each other waiting tenant, however many requests
//!   those have queued;
//! - a request that waits longer than `wait` gets `RATE_LIMITED`.
//!
//! Database-strategy tenants have pools of their own and do not pass here.

use domain::TenantId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The bounds of [`Admission`].
#[derive(Debug, Clone, Copy)]
pub struct AdmissionLimits {
    /// Grants out at once, over all tenants.
    pub connections: usize,
    /// Grants one tenant holds at most.
    pub per_tenant: usize,
    /// How long a request waits for a grant before it is refused.
    pub wait: Duration,
}

#[derive(Default)]
struct State {
    out: usize,
    held: HashMap<TenantId, usize>,
    /// Waiters per tenant, oldest first. A grant travels to its waiter: one
    /// that has gone (timed out, or its request was dropped) drops the grant
    /// with its receiver, which gives it back.
    waiting: HashMap<TenantId, VecDeque<oneshot::Sender<Grant>>>,
    /// Tenants with waiters, in the order they are served.
    turn: VecDeque<TenantId>,
}

/// See the module documentation.
pub struct Admission {
    limits: AdmissionLimits,
    state: Mutex<State>,
}

/// A place in the shared pool, given back when dropped.
pub struct Grant {
    /// `None` once disarmed: a grant that was never counted gives nothing back.
    admission: Option<Arc<Admission>>,
    tenant: TenantId,
}

impl Drop for Grant {
    fn drop(&mut self) {
        if let Some(a) = self.admission.take() {
            a.release(self.tenant);
        }
    }
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("tenant", &self.tenant)
            .finish()
    }
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits: AdmissionLimits {
                connections: limits.connections.max(1),
                per_tenant: limits.per_tenant.clamp(1, limits.connections.max(1)),
                wait: limits.wait,
            },
            state: Mutex::default(),
        })
    }

    /// A grant for `tenant`, at once or after waiting its turn.
    ///
    /// # Errors
    /// `RATE_LIMITED` when no grant came within the wait.
    pub async fn admit(self: &Arc<Self>, tenant: TenantId) -> domain::Result<Grant> {
        let rx = {
            let mut s = self.state.lock().expect("admission lock");
            let held = s.held.get(&tenant).copied().unwrap_or(0);
            let queued = s.waiting.get(&tenant).is_some_and(|q| !q.is_empty());
            if s.out < self.limits.connections && held < self.limits.per_tenant && !queued {
                s.out += 1;
                *s.held.entry(tenant).or_default() += 1;
                return Ok(self.grant(tenant));
            }
            let (tx, rx) = oneshot::channel();
            let queue = s.waiting.entry(tenant).or_default();
            queue.push_back(tx);
            if queue.len() == 1 {
                s.turn.push_back(tenant);
            }
            rx
        };
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.limits.wait, rx).await;
        metrics::histogram!("tenantry_db_admission_wait_seconds")
            .record(started.elapsed().as_secs_f64());
        match outcome {
            Ok(Ok(grant)) => Ok(grant),
            _ => {
                // Gone from the queue. A grant sent just now went down with
                // the receiver, and its drop gave it back.
                self.forget_closed(tenant);
                metrics::counter!("tenantry_limit_refusals_total", "reason" => "db_admission")
                    .increment(1);
                Err(domain::Error::RateLimited {
                    retry_after_secs: 1,
                })
            }
        }
    }

    fn grant(self: &Arc<Self>, tenant: TenantId) -> Grant {
        Grant {
            admission: Some(self.clone()),
            tenant,
        }
    }

    fn release(self: &Arc<Self>, tenant: TenantId) {
        let mut s = self.state.lock().expect("admission lock");
        s.out -= 1;
        if let Some(n) = s.held.get_mut(&tenant) {
            *n -= 1;
            if *n == 0 {
                s.held.remove(&tenant);
            }
        }
        self.dispatch(&mut s);
    }

    /// Drops a timed-out waiter's closed sender.
    fn forget_closed(self: &Arc<Self>, tenant: TenantId) {
        let mut s = self.state.lock().expect("admission lock");
        if let Some(q) = s.waiting.get_mut(&tenant) {
            q.retain(|tx| !tx.is_closed());
            if q.is_empty() {
                s.waiting.remove(&tenant);
                s.turn.retain(|t| *t != tenant);
            }
        }
        self.dispatch(&mut s);
    }

    /// Hands free grants to waiting tenants, one per tenant in turn.
    fn dispatch(self: &Arc<Self>, s: &mut State) {
        let mut passes = s.turn.len();
        while s.out < self.limits.connections && passes > 0 {
            let Some(tenant) = s.turn.pop_front() else {
                break;
            };
            let held = s.held.get(&tenant).copied().unwrap_or(0);
            if held >= self.limits.per_tenant {
                // At its share: it waits for one of its own to end.
                s.turn.push_back(tenant);
                passes -= 1;
                continue;
            }
            let Some(queue) = s.waiting.get_mut(&tenant) else {
                continue;
            };
            let mut granted = false;
            while let Some(tx) = queue.pop_front() {
                match tx.send(self.grant(tenant)) {
                    Ok(()) => {
                        granted = true;
                        break;
                    }
                    // Its waiter is gone. The grant was never counted: it
                    // must not give back (which would also take this lock).
                    Err(mut grant) => grant.admission = None,
                }
            }
            let more = !queue.is_empty();
            if !more {
                s.waiting.remove(&tenant);
            } else {
                s.turn.push_back(tenant);
            }
            if granted {
                s.out += 1;
                *s.held.entry(tenant).or_default() += 1;
                passes = s.turn.len();
            } else if more {
                passes -= 1;
            }
        }
    }

    /// Grants out now, and tenants waiting (for tests and metrics).
    pub fn load(&self) -> (usize, usize) {
        let s = self.state.lock().expect("admission lock");
        (s.out, s.turn.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::generate()
    }

    fn admission(connections: usize, per_tenant: usize, wait_ms: u64) -> Arc<Admission> {
        Admission::new(AdmissionLimits {
            connections,
            per_tenant,
            wait: Duration::from_millis(wait_ms),
        })
    }

    #[tokio::test]
    async fn one_tenant_holds_at_most_its_share() {
        let a = admission(4, 2, 50);
        let t = tenant();
        let _g1 = a.admit(t).await.unwrap();
        let _g2 = a.admit(t).await.unwrap();
        let third = a.admit(t).await;
        assert!(matches!(third, Err(domain::Error::RateLimited { .. })));
        // Another tenant still finds room.
        let _other = a.admit(tenant()).await.unwrap();
        assert_eq!(a.load(), (3, 0));
    }

    #[tokio::test]
    async fn a_released_grant_goes_to_the_next_tenant_in_turn() {
        let a = admission(2, 2, 5_000);
        let (busy, quiet) = (tenant(), tenant());
        let g1 = a.admit(busy).await.unwrap();
        let g2 = a.admit(busy).await.unwrap();
        // The busy tenant queues five more before the quiet one asks; each
        // holds its grant once it has one.
        let mut queued = Vec::new();
        for _ in 0..5 {
            let a = a.clone();
            queued.push(tokio::spawn(async move { a.admit(busy).await }));
        }
        while a.load().1 == 0 {
            tokio::task::yield_now().await;
        }
        let quiet_waits = {
            let a = a.clone();
            tokio::spawn(async move { a.admit(quiet).await })
        };
        while a.load().1 < 2 {
            tokio::task::yield_now().await;
        }
        // The first release serves the busy tenant's oldest waiter (its turn
        // came first); the second serves the quiet tenant, ahead of the busy
        // tenant's four others. First come, first served would need six.
        drop(g1);
        drop(g2);
        let quiet_grant = tokio::time::timeout(Duration::from_secs(1), quiet_waits)
            .await
            .expect("the quiet tenant is served within two releases")
            .unwrap()
            .unwrap();
        assert_eq!(
            a.load(),
            (2, 1),
            "one busy grant, the quiet one, busy still waiting"
        );
        drop(quiet_grant);
        for q in queued {
            drop(q.await.unwrap().unwrap());
        }
        assert_eq!(a.load(), (0, 0));
    }

    #[tokio::test]
    async fn a_timed_out_waiter_leaves_no_trace() {
        let a = admission(1, 1, 20);
        let t = tenant();
        let g = a.admit(t).await.unwrap();
        assert!(a.admit(tenant()).await.is_err());
        assert_eq!(a.load(), (1, 0));
        drop(g);
        assert_eq!(a.load(), (0, 0));
        let _again = a.admit(t).await.unwrap();
    }

    #[tokio::test]
    async fn a_waiter_that_goes_away_gives_its_grant_back() {
        let a = admission(1, 1, 60_000);
        for grant_first in [false, true] {
            let held = a.admit(tenant()).await.unwrap();
            let waiter = {
                let a = a.clone();
                tokio::spawn(async move { a.admit(tenant()).await.map(drop) })
            };
            while a.load().1 == 0 {
                tokio::task::yield_now().await;
            }
            if grant_first {
                // The grant is in the channel when the waiter is dropped.
                drop(held);
                waiter.abort();
            } else {
                // The waiter is gone when the grant is sent.
                waiter.abort();
                let _ = waiter.await;
                drop(held);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(a.load(), (0, 0), "grant first: {grant_first}");
        }
    }
}
