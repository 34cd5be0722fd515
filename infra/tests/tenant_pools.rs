//! Per-tenant pools of the database strategy: opened lazily, bounded by the
//! connection budget, handed from idle tenants to busy ones, closed when idle.

use domain::{Error, TenantId};
use infra::tenancy::database::{PoolLimits, TenantPools};
use std::path::PathBuf;
use std::time::Duration;

fn limits(slots: usize, idle: Duration) -> PoolLimits {
    PoolLimits {
        pool_size: 2,
        slots,
        idle_timeout: idle,
        admission_timeout: Duration::from_millis(200),
        acquire_timeout: Duration::from_secs(5),
    }
}

/// A SQLite file per tenant in a directory of this test's own.
struct Files(PathBuf);

impl Files {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("tenantry-pools-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// The tenant's database (made here: pools never create one).
    fn url(&self, tenant: TenantId) -> String {
        let file = self.0.join(format!("{tenant}.db"));
        if !file.exists() {
            std::fs::File::create(&file).unwrap();
        }
        format!("sqlite://{}", file.display())
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_turns_requests_away_until_a_pool_is_free() {
    let files = Files::new();
    let pools = TenantPools::new(limits(1, Duration::from_secs(60)));
    let (a, b) = (TenantId::generate(), TenantId::generate());

    let held = pools.lease(a, &files.url(a), "main").await.unwrap();
    // A's pool holds the only slot and is in use: B waits, then is refused.
    let refused = pools.lease(b, &files.url(b), "main").await;
    assert!(
        matches!(
            refused,
            Err(Error::RateLimited {
                retry_after_secs: 1
            })
        ),
        "B is admitted past the budget: {:?}",
        refused.err()
    );
    assert_eq!(pools.stats().rejected, 1);
    assert_eq!(pools.stats().open, 1);

    // Once A's work is done its pool is idle: B takes its slot.
    drop(held);
    let lease = pools.lease(b, &files.url(b), "main").await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(lease.connection(), "SELECT 1")
        .await
        .unwrap();
    let stats = pools.stats();
    assert_eq!(
        (stats.open, stats.retired, stats.opened),
        (1, 1, 2),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_request_gets_the_slot_when_it_frees() {
    let files = Files::new();
    let mut l = limits(1, Duration::from_secs(60));
    l.admission_timeout = Duration::from_secs(5);
    let pools = TenantPools::new(l);
    let (a, b) = (TenantId::generate(), TenantId::generate());
    let held = pools.lease(a, &files.url(a), "main").await.unwrap();
    let waiter = {
        let pools = pools.clone();
        let url = files.url(b);
        tokio::spawn(async move { pools.lease(b, &url, "main").await.map(|_| ()) })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "B must wait while A's pool is busy");
    // A's work ends: the waiting request retires A's idle pool and takes its slot.
    drop(held);
    waiter.await.unwrap().expect("B is admitted once A is done");
    assert_eq!(pools.stats().rejected, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_shares_one_pool_and_idle_pools_close() {
    let files = Files::new();
    let pools = TenantPools::new(limits(4, Duration::from_millis(200)));
    let a = TenantId::generate();
    let url = files.url(a);
    let (x, y) = tokio::join!(pools.lease(a, &url, "main"), pools.lease(a, &url, "main"));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(
        pools.stats().opened,
        1,
        "two requests of one tenant open one pool"
    );
    drop((x, y));
    let mut closed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if pools.stats().open == 0 {
            closed = true;
            break;
        }
    }
    assert!(closed, "the idle pool is still open: {:?}", pools.stats());
    // Its slot is back once it has closed.
    for _ in 0..50 {
        if pools.stats().free_slots == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pools.stats().free_slots, 4);
}
