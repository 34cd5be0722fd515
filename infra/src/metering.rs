//! Tenants' hourly request counts in the control plane, added to by every
//! server's meter, and the housekeeping job that prunes old hours.

use crate::authz::store::write_tx;
use crate::entities::{tenant, tenant_request_count as counts};
use crate::errors::DbResultExt;
use crate::housekeeping::Job;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::metering::RequestCounts;
use domain::{Result, TenantId};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Rows per statement: three parameters each stays well under SQLite's
/// (32766) and PostgreSQL's (65535) limits on bound parameters.
const CHUNK: usize = 1000;

pub struct SqlRequestCounts {
    pub(crate) control: DatabaseConnection,
}

impl SqlRequestCounts {
    /// On the storage's control plane.
    pub fn new(storage: &crate::db::Storage) -> Self {
        Self {
            control: storage.control().clone(),
        }
    }
}

#[async_trait]
impl RequestCounts for SqlRequestCounts {
    async fn add(&self, hour: DateTime<Utc>, add: &[(TenantId, u64)]) -> Result<()> {
        if add.is_empty() {
            return Ok(());
        }
        let tx = write_tx(&self.control).await?;
        // A tenant purged since its requests were counted would fail the
        // whole insert on its foreign key, at every later try too.
        let mut existing = HashSet::with_capacity(add.len());
        for chunk in add.chunks(CHUNK) {
            let ids: Vec<Uuid> = chunk.iter().map(|(t, _)| t.as_uuid()).collect();
            existing.extend(
                tenant::Entity::find()
                    .select_only()
                    .column(tenant::Column::Id)
                    .filter(tenant::Column::Id.is_in(ids))
                    .into_tuple::<Uuid>()
                    .all(&tx)
                    .await
                    .or_unexpected()?,
            );
        }
        // In one order on every node: two flushes of the same tenants take
        // their rows' locks in turn rather than deadlock.
        let mut sorted = add.to_vec();
        sorted.sort_unstable_by_key(|(t, _)| *t);
        let rows: Vec<counts::ActiveModel> = sorted
            .iter()
            .filter(|(t, n)| *n > 0 && existing.contains(&t.as_uuid()))
            .map(|(t, n)| counts::ActiveModel {
                tenant_id: Set(t.as_uuid()),
                hour: Set(hour),
                requests: Set(i64::try_from(*n).unwrap_or(i64::MAX)),
            })
            .collect();
        // Usually one statement; each adds to the hour's bucket that other
        // servers (or this one's earlier flushes) started.
        for chunk in rows.chunks(CHUNK) {
            counts::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([counts::Column::TenantId, counts::Column::Hour])
                        .value(
                            counts::Column::Requests,
                            Expr::col((counts::Entity, counts::Column::Requests))
                                .add(Expr::cust("excluded.requests")),
                        )
                        .to_owned(),
                )
                .exec_without_returning(&tx)
                .await
                .or_unexpected()?;
        }
        tx.commit().await.or_unexpected()
    }

    async fn since(
        &self,
        tenants: &[TenantId],
        since: DateTime<Utc>,
    ) -> Result<HashMap<TenantId, u64>> {
        if tenants.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = tenants.iter().map(TenantId::as_uuid).collect();
        // PostgreSQL sums a bigint as numeric: cast back to read an i64.
        let sums = counts::Entity::find()
            .select_only()
            .column(counts::Column::TenantId)
            .expr_as(Expr::cust("CAST(SUM(requests) AS BIGINT)"), "n")
            .filter(counts::Column::TenantId.is_in(ids))
            .filter(counts::Column::Hour.gte(since))
            .group_by(counts::Column::TenantId)
            .into_tuple::<(Uuid, i64)>()
            .all(&self.control)
            .await
            .or_unexpected()?;
        Ok(sums
            .into_iter()
            .map(|(t, n)| (TenantId::from_uuid(t), n.unsigned_abs()))
            .collect())
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(counts::Entity::delete_many()
            .filter(counts::Column::Hour.lt(before))
            .exec(&self.control)
            .await
            .or_unexpected()?
            .rows_affected)
    }
}

/// Hours older than `retention` go, on every prune interval (one node at a
/// time).
pub struct PruneRequestCounts {
    pub counts: Arc<dyn RequestCounts>,
    pub retention: Duration,
    pub every: Duration,
}

#[async_trait]
impl Job for PruneRequestCounts {
    fn name(&self) -> &'static str {
        "prune_request_counts"
    }

    fn every(&self) -> Duration {
        self.every
    }

    async fn run(&self) -> Result<u64> {
        let retention = chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::MAX);
        let before = Utc::now()
            .checked_sub_signed(retention)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.counts.prune(before).await
    }
}
