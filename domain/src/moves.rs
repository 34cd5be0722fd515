//! Moving a tenant as a job: an operator asks for it on `/admin/graphql`, a
//! worker on one of the nodes takes it from the queue and runs it (the
//! storage's move, see [`TenantLifecycle::move_with`]), and every node can
//! read how far it got. The queue is durable: a node that dies mid-move
//! loses its lease, and another takes the move up again, which is safe
//! because a move that stopped before its switch left the tenant where it
//! was, and one that stopped after it is found done.

use crate::audit::{AuditAction, AuditRecord, AuditValue, state};
use crate::error::{Error, Result};
use crate::identity::Standing;
use crate::ids::{MoveId, TenantId, UserId};
use crate::lifecycle::TenantLifecycle;
use crate::operator::{OperatorContext, Operators, recorded_reason};
use crate::tenancy::Isolation;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Runs of one move before it is given up: a move that stopped its node
/// this often would stop the next one too.
pub const MAX_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveStatus {
    /// Waiting for a worker.
    Queued,
    Running,
    Succeeded,
    /// Stopped; the tenant is where it was (see [`TenantMove::error`]).
    Failed,
}

impl MoveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// # Errors
    /// On a name that is none of them.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            _ => return Err(Error::unexpected(format!("unknown move status {s:?}"))),
        })
    }

    /// Queued or running: the tenant can have one such move at a time.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

/// The step a running move is at, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MovePhase {
    /// Making the target empty and ready (a schema or a database).
    #[default]
    Preparing,
    /// Copying the tenant's rows, table by table; its writes wait.
    Copying,
    /// Pointing the directory at the new copy.
    Switching,
    /// Removing the old copy, unreachable since the switch.
    Cleaning,
}

impl MovePhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preparing => "preparing",
            Self::Copying => "copying",
            Self::Switching => "switching",
            Self::Cleaning => "cleaning",
        }
    }

    /// # Errors
    /// On a name that is none of them.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "preparing" => Self::Preparing,
            "copying" => Self::Copying,
            "switching" => Self::Switching,
            "cleaning" => Self::Cleaning,
            _ => return Err(Error::unexpected(format!("unknown move phase {s:?}"))),
        })
    }
}

/// How far a move got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub phase: MovePhase,
    /// Tables copied, of `tables_total`.
    pub tables_done: u32,
    pub tables_total: u32,
    /// Rows written to the new copy so far.
    pub rows_copied: u64,
}

/// Told of a move's progress as it goes; called from the move itself, so it
/// must not block (keep the latest, and let someone else write it down).
pub trait MoveProgress: Send + Sync {
    fn report(&self, progress: Progress);
}

/// No one is listening.
impl MoveProgress for () {
    fn report(&self, _: Progress) {}
}

/// What a move is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovePlan {
    pub to: Isolation,
    /// The database server, for a move into `database` (else the placement
    /// rule picks one).
    pub server: Option<String>,
    /// Who asked (an operator), named in the tenant's audit log.
    pub actor: Option<UserId>,
}

/// A move, as the queue holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantMove {
    pub id: MoveId,
    pub tenant_id: TenantId,
    pub from: Isolation,
    /// The database server it was on, when it was a database tenant.
    pub from_placement: Option<String>,
    pub plan: MovePlan,
    pub reason: Option<String>,
    pub status: MoveStatus,
    pub progress: Progress,
    /// Runs begun: a move taken up again after its node stopped has more than one.
    pub attempts: u32,
    /// Where the tenant lives after it succeeded: `public`, its schema, or
    /// `server/database`.
    pub placement: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The durable queue of moves.
///
/// # Errors (every method)
/// [`Error::Unexpected`] for storage failures.
#[async_trait]
pub trait MoveQueue: Send + Sync {
    /// Queues `mv` and writes `audit` to its tenant's log with its actor, in
    /// one transaction.
    ///
    /// # Errors
    /// `CONFLICT` when the tenant has a move queued or running.
    async fn enqueue(&self, mv: &TenantMove, audit: &AuditRecord) -> Result<()>;
    async fn get(&self, id: MoveId) -> Result<Option<TenantMove>>;
    /// The tenant's latest moves, newest first.
    async fn of_tenant(&self, tenant: TenantId, first: u64) -> Result<Vec<TenantMove>>;
    /// Takes the oldest queued move, or a running one whose lease ended
    /// before `now` (its node stopped), leased until `until`; its attempts
    /// counted. The attempt number is the run's token: a run whose lease
    /// another node took has a stale one, and its writes below do nothing.
    async fn claim(&self, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<Option<TenantMove>>;
    /// Writes a running move's progress and extends its lease; `false` when
    /// the run no longer holds it (another node took the move up).
    async fn heartbeat(
        &self,
        id: MoveId,
        attempt: u32,
        progress: Progress,
        until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Ends a move: `Ok(placement)` succeeded, `Err(why)` failed; `false`
    /// when the run no longer held it.
    async fn finish(
        &self,
        id: MoveId,
        attempt: u32,
        progress: Progress,
        outcome: std::result::Result<String, String>,
    ) -> Result<bool>;
    /// Puts a run stopped on purpose (its node shutting down) back in the
    /// queue, its attempt not counted.
    async fn release(&self, id: MoveId, attempt: u32) -> Result<()>;
}

/// The move use cases.
pub struct Moves<'a> {
    pub operators: &'a dyn Operators,
    pub queue: &'a dyn MoveQueue,
    pub lifecycle: &'a dyn TenantLifecycle,
}

impl Moves<'_> {
    /// Queues a move of the tenant to `to` (onto `server`, for `database`),
    /// audited with the operator as actor; a worker starts it.
    ///
    /// # Errors
    /// `NOT_FOUND` for an unknown tenant, `TENANT_DELETED` for a deleted one,
    /// `BAD_USER_INPUT` for a move this deployment cannot make (the same
    /// strategy, schema without PostgreSQL, an unknown server, a server for
    /// another strategy, a long reason), `CONFLICT` while another move of the
    /// tenant is queued or running.
    pub async fn request(
        &self,
        operator: &OperatorContext,
        tenant: TenantId,
        plan: MovePlan,
        reason: Option<&str>,
    ) -> Result<TenantMove> {
        let reason = recorded_reason(reason)?;
        let summary = self.operators.tenant(tenant).await?;
        let found = summary.tenant;
        if found.standing == Standing::Deleted {
            return Err(Error::TenantDeleted);
        }
        self.lifecycle
            .check_move(found.isolation, plan.to, plan.server.as_deref())
            .await?;
        let plan = MovePlan {
            actor: Some(operator.user_id),
            ..plan
        };
        let mv = TenantMove {
            id: MoveId::generate(),
            tenant_id: tenant,
            from: found.isolation,
            from_placement: summary.placement,
            reason: reason.map(str::to_owned),
            status: MoveStatus::Queued,
            progress: Progress::default(),
            attempts: 0,
            placement: None,
            error: None,
            requested_at: Utc::now(),
            started_at: None,
            finished_at: None,
            plan,
        };
        let mut after = state("isolation", mv.plan.to.as_str());
        after.insert("move".to_owned(), AuditValue::Text(mv.id.to_string()));
        if let Some(s) = &mv.plan.server {
            after.insert("server".to_owned(), AuditValue::Text(s.clone()));
        }
        if let Some(r) = reason {
            after.insert("reason".to_owned(), AuditValue::Text(r.to_owned()));
        }
        let audit = AuditRecord {
            action: AuditAction::TenantMoveRequested,
            target: format!("tenant:{tenant}"),
            before: Some(state("isolation", found.isolation.as_str())),
            after: Some(after),
        };
        self.queue.enqueue(&mv, &audit).await?;
        Ok(mv)
    }

    /// Runs a claimed move to its end and returns the outcome to record:
    /// the placement, or why it failed.
    ///
    /// Where the tenant lives decides first: a move taken up again whose
    /// tenant is already at its target had switched before its node stopped,
    /// so it is done, and its old copy (which that node may not have
    /// removed) is removed now. A run that fails looks again, since another
    /// node's run of the same move (one whose lease this run's node took)
    /// may have switched meanwhile.
    ///
    /// # Errors
    /// Never: failures are the move's outcome.
    pub async fn run(
        &self,
        mv: &TenantMove,
        progress: &dyn MoveProgress,
    ) -> std::result::Result<String, String> {
        if let Some(done) = self.found_done(mv).await? {
            return Ok(done);
        }
        if mv.attempts > MAX_ATTEMPTS {
            return Err(format!(
                "stopped {MAX_ATTEMPTS} times before it ended (its node stopped each time); the tenant is where it was"
            ));
        }
        match self
            .lifecycle
            .move_with(mv.tenant_id, &mv.plan, progress)
            .await
        {
            Ok(moved) => Ok(moved.placement),
            Err(e) => match self.found_done(mv).await {
                Ok(Some(done)) => Ok(done),
                _ => Err(e.to_string()),
            },
        }
    }

    /// The placement, when the tenant is at the move's target already and
    /// this is not the move's first run; `Err` for a deleted tenant.
    async fn found_done(&self, mv: &TenantMove) -> std::result::Result<Option<String>, String> {
        let here = self
            .operators
            .tenant(mv.tenant_id)
            .await
            .map_err(|e| e.to_string())?;
        if here.tenant.standing == Standing::Deleted {
            return Err(Error::TenantDeleted.to_string());
        }
        if mv.attempts <= 1 || here.tenant.isolation != mv.plan.to {
            return Ok(None);
        }
        // The directory is checked again by the removal: a copy the tenant
        // lives in is never removed.
        if let Err(e) = self
            .lifecycle
            .remove_old_copy(mv.tenant_id, mv.from, mv.from_placement.as_deref())
            .await
        {
            return Err(format!(
                "the tenant moved, but its old copy could not be removed: {e}"
            ));
        }
        Ok(Some(
            here.placement
                .unwrap_or_else(|| mv.plan.to.as_str().to_owned()),
        ))
    }
}
