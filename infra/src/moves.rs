//! The queue of tenant moves in the control plane (see `domain::moves`).
//!
//! A worker claims a move by a conditional update (the move must still be
//! queued, or running with its lease over), so two nodes never both take
//! one; a partial unique index keeps one active move per tenant.

use crate::authz::PolicyEngine;
use crate::authz::audit;
use crate::entities::tenant_move as row;
use crate::errors::{DbResultExt, unique_as_conflict};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::audit::AuditRecord;
use domain::moves::{MovePhase, MovePlan, MoveQueue, MoveStatus, Progress, TenantMove};
use domain::{Error, MoveId, Result, TenantId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use std::sync::Arc;

pub struct SqlMoveQueue {
    pub(crate) db: DatabaseConnection,
    /// Told when a move succeeded: the switch wrote to the change feed, and
    /// this node (and, over Redis, the others) should follow it now.
    pub(crate) engine: Option<Arc<PolicyEngine>>,
}

/// Errors are kept to this many characters.
const MAX_ERROR: usize = 2000;

fn to_domain(r: row::Model) -> Result<TenantMove> {
    let isolation = |s: &str| {
        s.parse()
            .map_err(|_| Error::unexpected(format!("a stored move names isolation {s:?}")))
    };
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    Ok(TenantMove {
        id: MoveId::from_uuid(r.id),
        tenant_id: TenantId::from_uuid(r.tenant_id),
        from: isolation(&r.from_isolation)?,
        from_placement: r.from_placement,
        plan: MovePlan {
            to: isolation(&r.to_isolation)?,
            server: r.server,
            actor: r.requested_by.map(UserId::from_uuid),
        },
        reason: r.reason,
        status: MoveStatus::parse(&r.status)?,
        progress: Progress {
            phase: MovePhase::parse(&r.phase)?,
            tables_done: count(r.tables_done),
            tables_total: count(r.tables_total),
            rows_copied: u64::try_from(r.rows_copied).unwrap_or(0),
        },
        attempts: count(r.attempts),
        placement: r.placement,
        error: r.error,
        requested_at: r.requested_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
    })
}

fn progress_columns(m: &mut row::ActiveModel, p: Progress) {
    m.phase = Set(p.phase.as_str().to_owned());
    m.tables_done = Set(i32::try_from(p.tables_done).unwrap_or(i32::MAX));
    m.tables_total = Set(i32::try_from(p.tables_total).unwrap_or(i32::MAX));
    m.rows_copied = Set(i64::try_from(p.rows_copied).unwrap_or(i64::MAX));
}

/// A queued move, or a running one whose node stopped renewing its lease.
fn claimable(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(row::Column::Status.eq(MoveStatus::Queued.as_str()))
        .add(
            Condition::all()
                .add(row::Column::Status.eq(MoveStatus::Running.as_str()))
                .add(row::Column::LeaseUntil.lt(now)),
        )
}

#[async_trait]
impl MoveQueue for SqlMoveQueue {
    async fn enqueue(&self, mv: &TenantMove, record: &AuditRecord) -> Result<()> {
        let tx = self.db.begin().await.or_unexpected()?;
        let mut m = row::ActiveModel {
            id: Set(mv.id.as_uuid()),
            tenant_id: Set(mv.tenant_id.as_uuid()),
            from_isolation: Set(mv.from.as_str().to_owned()),
            from_placement: Set(mv.from_placement.clone()),
            to_isolation: Set(mv.plan.to.as_str().to_owned()),
            server: Set(mv.plan.server.clone()),
            requested_by: Set(mv.plan.actor.map(|u| u.as_uuid())),
            reason: Set(mv.reason.clone()),
            status: Set(mv.status.as_str().to_owned()),
            attempts: Set(0),
            placement: Set(None),
            error: Set(None),
            lease_until: Set(None),
            requested_at: Set(mv.requested_at),
            started_at: Set(None),
            finished_at: Set(None),
            ..Default::default()
        };
        progress_columns(&mut m, mv.progress);
        row::Entity::insert(m).exec(&tx).await.map_err(|e| {
            unique_as_conflict(
                e,
                "id",
                "the tenant is being moved already: wait for that move to end",
            )
        })?;
        audit::write(&tx, mv.tenant_id, mv.plan.actor, record)
            .await
            .or_unexpected()?;
        tx.commit().await.or_unexpected()
    }

    async fn get(&self, id: MoveId) -> Result<Option<TenantMove>> {
        row::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .or_unexpected()?
            .map(to_domain)
            .transpose()
    }

    async fn of_tenant(&self, tenant: TenantId, first: u64) -> Result<Vec<TenantMove>> {
        row::Entity::find()
            .filter(row::Column::TenantId.eq(tenant.as_uuid()))
            .order_by_desc(row::Column::RequestedAt)
            .order_by_desc(row::Column::Id)
            .limit(first)
            .all(&self.db)
            .await
            .or_unexpected()?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn claim(&self, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<Option<TenantMove>> {
        let Some(candidate) = row::Entity::find()
            .filter(claimable(now))
            .order_by_asc(row::Column::RequestedAt)
            .one(&self.db)
            .await
            .or_unexpected()?
        else {
            return Ok(None);
        };
        // Taken only if nobody took it since it was read: the condition is
        // evaluated again on the row as it is when the update reaches it.
        let taken = row::Entity::update_many()
            .col_expr(
                row::Column::Status,
                Expr::value(MoveStatus::Running.as_str()),
            )
            .col_expr(row::Column::LeaseUntil, Expr::value(until))
            .col_expr(
                row::Column::Attempts,
                Expr::col(row::Column::Attempts).add(1),
            )
            .col_expr(
                row::Column::StartedAt,
                Expr::value(candidate.started_at.unwrap_or(now)),
            )
            .filter(row::Column::Id.eq(candidate.id))
            .filter(claimable(now))
            .exec(&self.db)
            .await
            .or_unexpected()?;
        if taken.rows_affected == 0 {
            return Ok(None);
        }
        self.get(MoveId::from_uuid(candidate.id)).await
    }

    async fn heartbeat(
        &self,
        id: MoveId,
        attempt: u32,
        progress: Progress,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let mut m = row::ActiveModel {
            lease_until: Set(Some(until)),
            ..Default::default()
        };
        progress_columns(&mut m, progress);
        let done = row::Entity::update_many()
            .set(m)
            .filter(held_by(id, attempt))
            .exec(&self.db)
            .await
            .or_unexpected()?;
        Ok(done.rows_affected == 1)
    }

    async fn finish(
        &self,
        id: MoveId,
        attempt: u32,
        progress: Progress,
        outcome: std::result::Result<String, String>,
    ) -> Result<bool> {
        let succeeded = outcome.is_ok();
        let mut m = row::ActiveModel {
            lease_until: Set(None),
            finished_at: Set(Some(crate::now())),
            ..Default::default()
        };
        progress_columns(&mut m, progress);
        match outcome {
            Ok(placement) => {
                m.status = Set(MoveStatus::Succeeded.as_str().to_owned());
                m.placement = Set(Some(placement));
            }
            Err(why) => {
                m.status = Set(MoveStatus::Failed.as_str().to_owned());
                m.error = Set(Some(why.chars().take(MAX_ERROR).collect()));
            }
        }
        // This node follows the switch (and tells the others) before the
        // move reads as done, so a client told so is served from the new place.
        if let (true, Some(engine)) = (succeeded, &self.engine) {
            engine.committed().await;
        }
        // A tenant purged meanwhile took its moves with it: nothing to end.
        let done = row::Entity::update_many()
            .set(m)
            .filter(held_by(id, attempt))
            .exec(&self.db)
            .await
            .or_unexpected()?;
        Ok(done.rows_affected == 1)
    }

    async fn release(&self, id: MoveId, attempt: u32) -> Result<()> {
        row::Entity::update_many()
            .col_expr(
                row::Column::Status,
                Expr::value(MoveStatus::Queued.as_str()),
            )
            .col_expr(
                row::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                row::Column::Attempts,
                Expr::col(row::Column::Attempts).sub(1),
            )
            .filter(held_by(id, attempt))
            .exec(&self.db)
            .await
            .or_unexpected()?;
        Ok(())
    }
}

/// The move, while the run of attempt `attempt` still holds it.
fn held_by(id: MoveId, attempt: u32) -> Condition {
    Condition::all()
        .add(row::Column::Id.eq(id.as_uuid()))
        .add(row::Column::Status.eq(MoveStatus::Running.as_str()))
        .add(row::Column::Attempts.eq(i32::try_from(attempt).unwrap_or(i32::MAX)))
}
