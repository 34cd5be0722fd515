//! Tenant moves as operators see them on `/admin/graphql`: queued by
//! `moveTenant`, run by a worker on one of the nodes, read while they run.

use super::admin::StrategyValue;
use super::scalars::to_id;
use async_graphql::{Enum, ID, Object};
use chrono::{DateTime, Utc};
use domain::moves::{MovePhase, MoveStatus, TenantMove};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "TenantMoveStatus")]
pub enum StatusValue {
    /// Waiting for a worker (`tenancy.moves.worker` on some node).
    Queued,
    Running,
    Succeeded,
    /// Stopped before its switch: the tenant is where it was; see `error`.
    Failed,
}

impl From<MoveStatus> for StatusValue {
    fn from(s: MoveStatus) -> Self {
        match s {
            MoveStatus::Queued => Self::Queued,
            MoveStatus::Running => Self::Running,
            MoveStatus::Succeeded => Self::Succeeded,
            MoveStatus::Failed => Self::Failed,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "TenantMovePhase")]
pub enum PhaseValue {
    /// Making the target empty and ready (a schema or a database).
    Preparing,
    /// Copying the tenant's rows, table by table; its writes wait meanwhile
    /// (refused `RATE_LIMITED` with a retry-after of a second).
    Copying,
    /// Pointing the tenant at its new copy.
    Switching,
    /// Removing the old copy, which nothing reaches any more.
    Cleaning,
}

impl From<MovePhase> for PhaseValue {
    fn from(p: MovePhase) -> Self {
        match p {
            MovePhase::Preparing => Self::Preparing,
            MovePhase::Copying => Self::Copying,
            MovePhase::Switching => Self::Switching,
            MovePhase::Cleaning => Self::Cleaning,
        }
    }
}

pub struct MoveNode(pub TenantMove);

/// A move of a tenant to another strategy, run as a job.
#[Object(name = "TenantMove")]
impl MoveNode {
    async fn id(&self) -> ID {
        to_id(self.0.id.as_uuid())
    }
    async fn tenant_id(&self) -> ID {
        to_id(self.0.tenant_id.as_uuid())
    }
    async fn from(&self) -> StrategyValue {
        self.0.from.into()
    }
    async fn to(&self) -> StrategyValue {
        self.0.plan.to.into()
    }
    /// The database server asked for (a move into `DATABASE`); none: the
    /// placement rule picks one.
    async fn server(&self) -> Option<&str> {
        self.0.plan.server.as_deref()
    }
    async fn status(&self) -> StatusValue {
        self.0.status.into()
    }
    /// The step it is at (or stopped at), meaningful once it runs.
    async fn phase(&self) -> PhaseValue {
        self.0.progress.phase.into()
    }
    /// Tables copied, of `tablesTotal`.
    async fn tables_copied(&self) -> u32 {
        self.0.progress.tables_done
    }
    async fn tables_total(&self) -> u32 {
        self.0.progress.tables_total
    }
    /// Rows written to the new copy so far, written down every second.
    async fn rows_copied(&self) -> u64 {
        self.0.progress.rows_copied
    }
    /// Runs begun: more than one when it was taken up again after its node
    /// stopped (it is given up after 3).
    async fn attempts(&self) -> u32 {
        self.0.attempts
    }
    /// Where the tenant lives after it succeeded: `public`, its schema, or
    /// `server/database`.
    async fn placement(&self) -> Option<&str> {
        self.0.placement.as_deref()
    }
    /// Why it failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// The operator who asked.
    async fn requested_by(&self) -> Option<ID> {
        self.0.plan.actor.map(|u| to_id(u.as_uuid()))
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    async fn requested_at(&self) -> DateTime<Utc> {
        self.0.requested_at
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
}
