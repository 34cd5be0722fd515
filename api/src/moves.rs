//! This node's worker for tenant moves queued by operators (see
//! `domain::moves`): one move at a time per node, since a move holds a
//! tenant's writes and copies its every row. While it runs, its progress is
//! written down and its lease renewed every second; a node that stops
//! leaves the lease to run out, and another node takes the move up.

use crate::services::Services;
use domain::moves::{MoveProgress, Progress, TenantMove};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a claimed move is this node's without a renewal.
const LEASE: Duration = Duration::from_secs(30);
/// How often a running move's progress is written and its lease renewed.
const HEARTBEAT: Duration = Duration::from_secs(1);

pub struct MoveWorker {
    pub services: Arc<Services>,
    /// How often the queue is looked at when nobody rang (moves queued on
    /// another node, or taken up after a node stopped).
    pub poll: Duration,
}

/// The latest progress, kept for the heartbeat to write.
#[derive(Default)]
struct Latest(Mutex<Progress>);

impl MoveProgress for Latest {
    fn report(&self, progress: Progress) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = progress;
    }
}

impl Latest {
    fn get(&self) -> Progress {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn lease_end() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::MAX)
}

impl MoveWorker {
    /// Runs moves until the task is aborted.
    pub async fn run(self) {
        loop {
            let claimed = self
                .services
                .moves
                .claim(chrono::Utc::now(), lease_end())
                .await;
            match claimed {
                Ok(Some(mv)) => self.run_one(mv).await,
                Ok(None) => {
                    tokio::select! {
                        () = self.services.move_queued.notified() => {}
                        () = tokio::time::sleep(self.poll) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the tenant move queue failed");
                    tokio::time::sleep(self.poll).await;
                }
            }
        }
    }

    async fn run_one(&self, mv: TenantMove) {
        let queue = &self.services.moves;
        tracing::info!(tenant = %mv.tenant_id, to = %mv.plan.to, attempt = mv.attempts, "moving a tenant");
        let latest = Latest::default();
        let moves = self.services.moves();
        let work = moves.run(&mv, &latest);
        // Polled beside the move, not inside a `select!` arm: an arm's body
        // would stop the move from being polled while a write of its progress
        // waits — on SQLite, for the move's own write lock.
        let heartbeat = async {
            let start = tokio::time::Instant::now() + HEARTBEAT;
            let mut beat = tokio::time::interval_at(start, HEARTBEAT);
            beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                beat.tick().await;
                // A missed beat is written at the next; the lease has room for many.
                if let Err(e) = queue.heartbeat(mv.id, latest.get(), lease_end()).await {
                    tracing::warn!(error = %e, "writing a tenant move's progress failed");
                }
            }
        };
        let outcome = tokio::select! {
            outcome = work => outcome,
            never = heartbeat => never,
        };
        match &outcome {
            Ok(placement) => {
                tracing::info!(tenant = %mv.tenant_id, %placement, "tenant moved");
            }
            Err(why) => {
                tracing::warn!(tenant = %mv.tenant_id, error = %why, "moving a tenant failed")
            }
        }
        if let Err(e) = queue.finish(mv.id, latest.get(), outcome).await {
            // Its lease runs out, and a node takes it up again: a move found
            // done is recorded as such then.
            tracing::error!(error = %e, "recording the end of a tenant move failed");
        }
    }
}
