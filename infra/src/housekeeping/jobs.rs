//! The housekeeping jobs of the storage itself. Jobs that go through use
//! cases (re-sending invitation emails) are composed where the use cases are.

use super::Job;
use crate::entities::{refresh_token, session};
use crate::errors::DbResultExt;
use crate::revocations::DurableRevocations;
use crate::tenancy::SqlTenancy;
use crate::tenancy::lifecycle::tenants_of;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::Result;
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
};
use std::sync::Arc;
use std::time::Duration;

fn ago(d: Duration) -> DateTime<Utc> {
    crate::now() - chrono::Duration::from_std(d).unwrap_or_default()
}

/// Sessions that can never be used again, with their refresh tokens: past
/// their absolute end, idle past the idle limit, or revoked; each `grace`
/// after the fact, so an access token issued before then has expired too.
pub struct PruneSessions {
    pub control: DatabaseConnection,
    pub idle: Duration,
    pub grace: Duration,
    pub every: Duration,
}

impl PruneSessions {
    fn dead(&self) -> Condition {
        let cut = ago(self.grace);
        let idle_cut = ago(self.idle + self.grace);
        Condition::any()
            .add(session::Column::ExpiresAt.lt(cut))
            .add(session::Column::RevokedAt.lt(cut))
            .add(session::Column::LastUsedAt.lt(idle_cut))
            .add(
                Condition::all()
                    .add(session::Column::LastUsedAt.is_null())
                    .add(session::Column::CreatedAt.lt(idle_cut)),
            )
    }
}

#[async_trait]
impl Job for PruneSessions {
    fn name(&self) -> &'static str {
        "prune_sessions"
    }

    fn every(&self) -> Duration {
        self.every
    }

    async fn run(&self) -> Result<u64> {
        let dead = self.dead();
        let tx = self.control.begin().await.or_unexpected()?;
        refresh_token::Entity::delete_many()
            .filter(
                refresh_token::Column::SessionId.in_subquery(
                    Query::select()
                        .column(session::Column::Id)
                        .from(session::Entity)
                        .cond_where(dead.clone())
                        .to_owned(),
                ),
            )
            .exec(&tx)
            .await
            .or_unexpected()?;
        let gone = session::Entity::delete_many()
            .filter(dead)
            .exec(&tx)
            .await
            .or_unexpected()?;
        tx.commit().await.or_unexpected()?;
        Ok(gone.rows_affected)
    }
}

/// Every tenant's idempotency keys older than `idempotency_ttl` (a retry
/// after that makes a new object), invitations expired, unaccepted, for
/// longer than `invitation_retention`, and projects deleted longer ago than
/// `deleted_project_retention`, with their tasks.
pub struct PruneTenantData {
    pub control: DatabaseConnection,
    pub tenancy: SqlTenancy,
    pub idempotency_ttl: Duration,
    pub invitation_retention: Duration,
    pub deleted_project_retention: Duration,
    pub every: Duration,
}

#[async_trait]
impl Job for PruneTenantData {
    fn name(&self) -> &'static str {
        "prune_tenant_data"
    }

    fn every(&self) -> Duration {
        self.every
    }

    async fn run(&self) -> Result<u64> {
        let before = super::super::tenancy::prune::Before {
            keys: ago(self.idempotency_ttl),
            invitations: ago(self.invitation_retention),
            deleted_projects: ago(self.deleted_project_retention),
        };
        let mut pruned = 0;
        let mut failed = None;
        for ctx in tenants_of(&self.control).await? {
            match self.tenancy.prune_tenant_data(&ctx, &before).await {
                Ok(n) => pruned += n,
                // A tenant being moved or deleted is done at the next turn.
                Err(e) => {
                    tracing::debug!(tenant = %ctx.tenant_id(), error = %e, "housekeeping: tenant skipped");
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) if pruned == 0 => Err(e),
            _ => Ok(pruned),
        }
    }
}

/// Revocations Redis could not take, replayed to it once it answers. Safe
/// on every node at once: setting a key twice is setting it once.
pub struct ReplayRevocations {
    pub list: Arc<DurableRevocations>,
    pub every: Duration,
}

#[async_trait]
impl Job for ReplayRevocations {
    fn name(&self) -> &'static str {
        "replay_revocations"
    }

    fn every(&self) -> Duration {
        self.every
    }

    fn leased(&self) -> bool {
        false
    }

    async fn run(&self) -> Result<u64> {
        self.list.replay().await
    }
}
