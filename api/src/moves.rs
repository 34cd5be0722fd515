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
    /// Turns true when the node starts shutting down: no move is taken then,
    /// and the one running is stopped and put back in the queue.
    pub stopping: tokio::sync::watch::Receiver<bool>,
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
    /// Runs moves until the node shuts down.
    pub async fn run(mut self) {
        loop {
            let stop = *self.stopping.borrow();
            if stop {
                return;
            }
            let claimed = self
                .services
                .moves
                .claim(chrono::Utc::now(), lease_end())
                .await;
            match claimed {
                Ok(Some(mv)) => self.run_one(mv).await,
                Ok(None) => self.idle(self.poll).await,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the tenant move queue failed");
                    self.idle(self.poll).await;
                }
            }
        }
    }

    /// Waits for a move queued here, the poll, or the node's shutdown.
    async fn idle(&mut self, poll: Duration) {
        tokio::select! {
            () = self.services.move_queued.notified() => {}
            () = tokio::time::sleep(poll) => {}
            _ = self.stopping.changed() => {}
        }
    }

    async fn run_one(&mut self, mv: TenantMove) {
        let queue = &self.services.moves;
        tracing::info!(tenant = %mv.tenant_id, to = %mv.plan.to, attempt = mv.attempts, "moving a tenant");
        let latest = Latest::default();
        let moves = self.services.moves();
        let work = moves.run(&mv, &latest);
        // Polled beside the move, not inside a `select!` arm: an arm's body
        // would stop the move from being polled while a write of its progress
        // waits — on SQLite, for the move's own write lock. It ends when the
        // run no longer holds the move.
        let heartbeat = async {
            let start = tokio::time::Instant::now() + HEARTBEAT;
            let mut beat = tokio::time::interval_at(start, HEARTBEAT);
            beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                beat.tick().await;
                // A missed beat is written at the next; the lease has room for many.
                match queue
                    .heartbeat(mv.id, mv.attempts, latest.get(), lease_end())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(error = %e, "writing a tenant move's progress failed"),
                }
            }
        };
        let stopping = &mut self.stopping;
        let stopping = async move {
            // An error is the sender gone: the node is going too.
            let _ = stopping.wait_for(|s| *s).await;
        };
        // Dropping the move's future rolls its open transactions back: the
        // tenant stays where it was, or (past the switch) where it went.
        let outcome = tokio::select! {
            outcome = work => outcome,
            () = heartbeat => {
                tracing::warn!(tenant = %mv.tenant_id, "a tenant move's lease was taken by another node; this run stops");
                return;
            }
            () = stopping => {
                tracing::info!(tenant = %mv.tenant_id, "shutting down: the tenant move goes back to the queue");
                if let Err(e) = queue.release(mv.id, mv.attempts).await {
                    tracing::warn!(error = %e, "putting a tenant move back failed; its lease runs out instead");
                }
                return;
            }
        };
        match &outcome {
            Ok(placement) => {
                tracing::info!(tenant = %mv.tenant_id, %placement, "tenant moved");
            }
            Err(why) => {
                tracing::warn!(tenant = %mv.tenant_id, error = %why, "moving a tenant failed");
            }
        }
        match queue
            .finish(mv.id, mv.attempts, latest.get(), outcome)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(tenant = %mv.tenant_id, "a tenant move ended after another node took it up; that node records it");
            }
            // Its lease runs out, and a node takes it up again: a move found
            // done is recorded as such then.
            Err(e) => tracing::error!(error = %e, "recording the end of a tenant move failed"),
        }
    }
}
