//! Housekeeping: periodic jobs every node runs, each leased to one node at a
//! time through a row of `jobs` (the outbox's lease, on a job instead of a
//! delivery), so several nodes neither repeat nor race a run. A job that is
//! harmless to repeat (replaying revocations) runs unleased on every node.
//!
//! Each run counts in `tenantry_housekeeping_runs_total{job,outcome}`, what it
//! did in `tenantry_housekeeping_rows_total{job}`, and its end in
//! `tenantry_housekeeping_last_success_timestamp_seconds{job}`, to alert on.

mod jobs;

use crate::entities::job;
use crate::errors::DbResultExt;
use async_trait::async_trait;
use domain::{Result, TenantContext};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use jobs::{PruneSessions, PruneTenantData, ReplayRevocations};

/// One periodic job.
#[async_trait]
pub trait Job: Send + Sync {
    /// Its name in `jobs` and in the metrics.
    fn name(&self) -> &'static str;
    /// How often it runs, across every node.
    fn every(&self) -> Duration;
    /// Whether one node at a time runs it. Unleased jobs must be harmless to
    /// run on every node at once.
    fn leased(&self) -> bool {
        true
    }
    /// Runs once; returns how many rows (or emails) it handled.
    async fn run(&self) -> Result<u64>;
}

/// The storage's own jobs' settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often expired data is pruned.
    pub prune_every: Duration,
    /// How often revocations Redis missed are replayed.
    pub replay_every: Duration,
    /// Idempotency keys are kept this long.
    pub idempotency_ttl: Duration,
    /// Unaccepted invitations are kept this long past their expiry.
    pub invitation_retention: Duration,
    /// Soft-deleted projects (and their tasks) can be restored this long,
    /// then go.
    pub deleted_project_retention: Duration,
    /// Sessions' idle limit (as refresh applies it).
    pub session_idle: Duration,
    /// Access tokens' lifetime and leeway: what is ended stays this long.
    pub session_grace: Duration,
}

impl Runner {
    /// The storage's own jobs, plus `more` composed elsewhere.
    pub fn of(
        storage: &crate::db::Storage,
        s: &Settings,
        revocations: Option<Arc<crate::revocations::DurableRevocations>>,
        more: Vec<Arc<dyn Job>>,
    ) -> Self {
        let control = storage.control().clone();
        let mut jobs: Vec<Arc<dyn Job>> = vec![
            Arc::new(PruneSessions {
                control: control.clone(),
                idle: s.session_idle,
                grace: s.session_grace,
                every: s.prune_every,
            }),
            Arc::new(PruneTenantData {
                control: control.clone(),
                tenancy: storage.tenancy(),
                idempotency_ttl: s.idempotency_ttl,
                invitation_retention: s.invitation_retention,
                deleted_project_retention: s.deleted_project_retention,
                every: s.prune_every,
            }),
        ];
        if let Some(list) = revocations {
            jobs.push(Arc::new(ReplayRevocations {
                list,
                every: s.replay_every,
            }));
        }
        jobs.extend(more);
        Self::new(control, jobs)
    }
}

/// A longer run than this is taken for dead, and another node may start one.
const LEASE: Duration = Duration::from_secs(600);

/// Runs every job on its own timer until dropped.
pub struct Runner {
    control: DatabaseConnection,
    jobs: Vec<Arc<dyn Job>>,
}

impl Runner {
    pub fn new(control: DatabaseConnection, jobs: Vec<Arc<dyn Job>>) -> Self {
        Self { control, jobs }
    }

    /// Runs the jobs; returns when every job's loop has been stopped (never,
    /// unless the task is aborted).
    pub async fn run(self) {
        let loops = self.jobs.into_iter().map(|job| {
            let control = self.control.clone();
            async move {
                // Tick at the job's interval; the lease decides who runs.
                let mut tick = tokio::time::interval(job.every());
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    run_on(&control, &*job).await;
                }
            }
        });
        futures::future::join_all(loops).await;
    }
}

/// Runs the job if its lease is this node's to take; records the outcome.
/// Returns whether it ran.
pub async fn run_once(storage: &crate::db::Storage, job: &dyn Job) -> bool {
    run_on(storage.control(), job).await
}

async fn run_on(control: &DatabaseConnection, job: &dyn Job) -> bool {
    let name = job.name();
    if job.leased() {
        match claim(control, name, job.every()).await {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::warn!(job = name, error = %e, "housekeeping: taking the lease");
                metrics::counter!("tenantry_housekeeping_runs_total", "job" => name, "outcome" => "error")
                    .increment(1);
                return false;
            }
        }
    }
    let started = Instant::now();
    let outcome = job.run().await;
    metrics::histogram!("tenantry_housekeeping_duration_seconds", "job" => name)
        .record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(rows) => {
            metrics::counter!("tenantry_housekeeping_runs_total", "job" => name, "outcome" => "ok")
                .increment(1);
            metrics::counter!("tenantry_housekeeping_rows_total", "job" => name).increment(rows);
            #[allow(clippy::cast_precision_loss)] // seconds since 1970 fit an f64 exactly
            metrics::gauge!("tenantry_housekeeping_last_success_timestamp_seconds", "job" => name)
                .set(chrono::Utc::now().timestamp() as f64);
            if rows > 0 {
                tracing::info!(job = name, rows, "housekeeping");
            }
        }
        Err(e) => {
            metrics::counter!("tenantry_housekeeping_runs_total", "job" => name, "outcome" => "error")
                .increment(1);
            tracing::warn!(job = name, error = %e, "housekeeping run failed; retried at its next turn");
        }
    }
    if job.leased()
        && let Err(e) = release(control, name).await
    {
        tracing::debug!(job = name, error = %e, "housekeeping: the lease runs out instead");
    }
    true
}

/// Takes the job's lease when its interval has passed since the last run
/// (on any node) and no run holds it. One statement: of two nodes asking
/// at once, one gets it.
async fn claim(control: &DatabaseConnection, name: &str, every: Duration) -> Result<bool> {
    job::Entity::insert(job::ActiveModel {
        name: Set(name.to_owned()),
        lease_until: Set(None),
        last_run_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(job::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(control)
    .await
    .or_unexpected()?;
    let now = crate::now();
    // A little early: timers of nodes started apart must not skip a turn.
    let due = now - chrono::Duration::from_std(every.mul_f64(0.9)).unwrap_or_default();
    let claimed = job::Entity::update_many()
        .col_expr(
            job::Column::LeaseUntil,
            Expr::value(now + chrono::Duration::from_std(LEASE).unwrap_or_default()),
        )
        .col_expr(job::Column::LastRunAt, Expr::value(now))
        .filter(job::Column::Name.eq(name))
        .filter(
            Condition::any()
                .add(job::Column::LastRunAt.is_null())
                .add(job::Column::LastRunAt.lte(due)),
        )
        .filter(
            Condition::any()
                .add(job::Column::LeaseUntil.is_null())
                .add(job::Column::LeaseUntil.lt(now)),
        )
        .exec(control)
        .await
        .or_unexpected()?;
    Ok(claimed.rows_affected == 1)
}

async fn release(control: &DatabaseConnection, name: &str) -> Result<()> {
    job::Entity::update_many()
        .col_expr(
            job::Column::LeaseUntil,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(job::Column::Name.eq(name))
        .exec(control)
        .await
        .or_unexpected()?;
    Ok(())
}

/// Every tenant, as the system acts for it (the tenant-aware half of the runner).
///
/// # Errors
/// When the directory cannot be read.
pub async fn tenants(storage: &crate::db::Storage) -> Result<Vec<TenantContext>> {
    crate::tenancy::lifecycle::tenants_of(storage.control()).await
}

/// Tenants neither suspended nor deleted: work done in a tenant's name (its
/// emails, say) waits while it is out of service.
///
/// # Errors
/// When the directory cannot be read.
pub async fn tenants_in_service(storage: &crate::db::Storage) -> Result<Vec<TenantContext>> {
    crate::tenancy::lifecycle::tenants_in_service(storage.control()).await
}
