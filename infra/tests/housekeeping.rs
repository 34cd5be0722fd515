//! The housekeeping runner's lease: of several nodes asking at once, one
//! runs a job; none runs it again before its interval has passed; a job
//! harmless to repeat runs on every node.

use async_trait::async_trait;
use infra::db::{DbSettings, Storage};
use infra::housekeeping::{Job, run_once};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

struct Counting {
    runs: AtomicU64,
    every: Duration,
    leased: bool,
}

#[async_trait]
impl Job for Counting {
    fn name(&self) -> &'static str {
        if self.leased {
            "counting"
        } else {
            "counting_unleased"
        }
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn leased(&self) -> bool {
        self.leased
    }

    async fn run(&self) -> domain::Result<u64> {
        // Long enough for the other nodes' attempts to overlap this run.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(self.runs.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

async fn storage() -> Storage {
    let file = std::env::temp_dir().join(format!("tenantry-jobs-{}.db", uuid::Uuid::now_v7()));
    let storage = Storage::connect(&DbSettings {
        url: format!("sqlite://{}?mode=rwc", file.display()),
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
        log_statements: false,
        tenant_statement_timeout: None,
        tenant_databases: Default::default(),
        admission: None,
    })
    .await
    .unwrap();
    storage.migrate().await.unwrap();
    storage
}

async fn four_nodes_at_once(storage: &Storage, job: &Arc<Counting>) -> usize {
    let attempts = (0..4).map(|_| {
        let (storage, job) = (storage.clone(), job.clone());
        tokio::spawn(async move { run_once(&storage, &*job).await })
    });
    futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|ran| *ran.as_ref().unwrap())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_runs_a_leased_job_per_interval() {
    let storage = storage().await;
    let job = Arc::new(Counting {
        runs: AtomicU64::new(0),
        every: Duration::from_millis(500),
        leased: true,
    });
    assert_eq!(four_nodes_at_once(&storage, &job).await, 1);
    assert_eq!(job.runs.load(Ordering::SeqCst), 1);
    // Not again before its interval has passed, on any node...
    assert_eq!(four_nodes_at_once(&storage, &job).await, 0);
    // ...and once more after it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(four_nodes_at_once(&storage, &job).await, 1);
    assert_eq!(job.runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unleased_job_runs_on_every_node() {
    let storage = storage().await;
    let job = Arc::new(Counting {
        runs: AtomicU64::new(0),
        every: Duration::from_secs(60),
        leased: false,
    });
    assert_eq!(four_nodes_at_once(&storage, &job).await, 4);
}
