//! The change feed: one row per authorization change, written inside the
//! change's transaction and numbered in commit order.

use crate::entities::policy_change;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use uuid::Uuid;

/// Rows older than this are pruned; a node further behind reloads everything.
const KEEP: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Appends a change of `tenant`. On PostgreSQL a transaction-scoped lock makes
/// writers take numbers one after another, so a lower number never commits
/// after a higher one that a node has already read (SQLite writers are
/// serialized anyway).
///
/// # Errors
/// When the database fails.
pub async fn record(tx: &impl ConnectionTrait, tenant: Uuid) -> Result<i64, DbErr> {
    if tx.get_database_backend() == DbBackend::Postgres {
        // Any constant shared by all writers; "authz" in ASCII.
        tx.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(6190943482234)",
        ))
        .await?;
    }
    let last = policy_change::Entity::find()
        .order_by_desc(policy_change::Column::Version)
        .one(tx)
        .await?
        .map_or(0, |r| r.version);
    let now = crate::now();
    policy_change::Entity::insert(policy_change::ActiveModel {
        version: Set(last + 1),
        tenant_id: Set(tenant),
        created_at: Set(now),
    })
    .exec_without_returning(tx)
    .await?;
    if (last + 1) % 100 == 0 {
        // By version, not by time: writers' clocks may disagree, and the rows
        // kept must stay one unbroken run up to the last (nodes rely on it).
        let old: Option<i64> = policy_change::Entity::find()
            .select_only()
            .column_as(policy_change::Column::Version.max(), "v")
            .filter(policy_change::Column::CreatedAt.lt(now - KEEP))
            .into_tuple()
            .one(tx)
            .await?
            .flatten();
        if let Some(old) = old {
            policy_change::Entity::delete_many()
                .filter(policy_change::Column::Version.lte(old))
                .exec(tx)
                .await?;
        }
    }
    Ok(last + 1)
}
