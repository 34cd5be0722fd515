//! The revocation list: sessions whose access tokens are refused before they
//! expire. In Redis (shared by every node) or in-process (one node).

use crate::entities::revocation_replay as replay;
use crate::errors::DbResultExt;
use async_trait::async_trait;
use domain::ports::RevocationList;
use domain::{Error, Result, SessionId};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// For a single node without Redis. Entries expire with the tokens they refuse.
#[derive(Default)]
pub struct InProcessRevocations {
    until: Mutex<HashMap<SessionId, Instant>>,
}

#[async_trait]
impl RevocationList for InProcessRevocations {
    async fn revoke(&self, session: SessionId, ttl: Duration) -> Result<()> {
        let now = Instant::now();
        let mut map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        // Sweep while we hold the lock: the map stays as small as the live revocations.
        map.retain(|_, t| *t > now);
        map.insert(session, now + ttl);
        Ok(())
    }

    async fn is_revoked(&self, session: SessionId) -> Result<bool> {
        let map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map.get(&session).is_some_and(|t| *t > Instant::now()))
    }
}

/// Shared by every node. Keys expire on their own (`SET … EX`).
pub struct RedisRevocations {
    conn: ConnectionManager,
    prefix: String,
    failing: crate::redis_conn::LogEvery,
}

impl RedisRevocations {
    /// `prefix` namespaces the keys, e.g. `tenantry:revoked`.
    pub fn new(conn: ConnectionManager, prefix: String) -> Self {
        Self {
            conn,
            prefix,
            failing: crate::redis_conn::LogEvery::new(Duration::from_secs(30)),
        }
    }

    fn key(&self, session: SessionId) -> String {
        format!("{}:{session}", self.prefix)
    }
}

#[async_trait]
impl RevocationList for RedisRevocations {
    async fn revoke(&self, session: SessionId, ttl: Duration) -> Result<()> {
        let mut conn = self.conn.clone();
        let result: redis::RedisResult<()> = conn
            .set_ex(self.key(session), 1u8, ttl.as_secs().max(1))
            .await;
        result.map_err(|e| {
            if self.failing.ready() {
                tracing::warn!(error = %e, %session, "redis: could not add a session to the revocation list (logged once per 30 s)");
            }
            Error::unexpected(e)
        })
    }

    async fn is_revoked(&self, session: SessionId) -> Result<bool> {
        let mut conn = self.conn.clone();
        conn.exists(self.key(session)).await.map_err(|e| {
            if self.failing.ready() {
                tracing::warn!(error = %e, "redis: revocation list unreachable; asking the database (logged once per 30 s)");
            }
            Error::unexpected(e)
        })
    }
}

/// Redis's list with the database behind it: a revocation Redis cannot
/// take is written to `revocation_replays`, and the housekeeping job
/// replays it when Redis answers again. Without it, a session revoked during
/// an outage would be refused by the database fallback while Redis was away,
/// then accepted again, for the rest of its tokens' life, once it was back.
pub struct DurableRevocations {
    redis: RedisRevocations,
    db: DatabaseConnection,
}

impl DurableRevocations {
    pub fn new(redis: RedisRevocations, db: DatabaseConnection) -> Self {
        Self { redis, db }
    }

    /// Replays what Redis missed, forgets what has expired; returns how many
    /// were replayed.
    ///
    /// # Errors
    /// When Redis or the database still cannot be reached (the rest waits).
    pub async fn replay(&self) -> Result<u64> {
        // One read of an (almost always) empty table on every turn; writes
        // only when something waits.
        let waiting = replay::Entity::find()
            .limit(1000)
            .all(&self.db)
            .await
            .or_unexpected()?;
        let now = crate::now();
        let mut replayed = 0;
        for r in waiting {
            // Tokens it refused have expired by now: nothing to replay.
            if r.until > now {
                let ttl = (r.until - now).to_std().unwrap_or_default();
                self.redis
                    .revoke(SessionId::from_uuid(r.session_id), ttl)
                    .await?;
                replayed += 1;
            }
            // Only this entry: a newer, later one written meanwhile stays.
            replay::Entity::delete_many()
                .filter(replay::Column::SessionId.eq(r.session_id))
                .filter(replay::Column::Until.eq(r.until))
                .exec(&self.db)
                .await
                .or_unexpected()?;
        }
        Ok(replayed)
    }
}

#[async_trait]
impl RevocationList for DurableRevocations {
    async fn revoke(&self, session: SessionId, ttl: Duration) -> Result<()> {
        let Err(e) = self.redis.revoke(session, ttl).await else {
            return Ok(());
        };
        let until = crate::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
        replay::Entity::insert(replay::ActiveModel {
            session_id: Set(session.as_uuid()),
            until: Set(until),
        })
        .on_conflict(
            OnConflict::column(replay::Column::SessionId)
                .update_column(replay::Column::Until)
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .or_unexpected()?;
        // Still an error: the caller learns that Redis did not take it.
        Err(e)
    }

    async fn is_revoked(&self, session: SessionId) -> Result<bool> {
        self.redis.is_revoked(session).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_process_entries_expire_with_their_tokens() {
        let list = InProcessRevocations::default();
        let (a, b) = (SessionId::generate(), SessionId::generate());
        list.revoke(a, Duration::from_secs(60)).await.unwrap();
        list.revoke(b, Duration::from_millis(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(list.is_revoked(a).await.unwrap());
        assert!(!list.is_revoked(b).await.unwrap());
        assert!(!list.is_revoked(SessionId::generate()).await.unwrap());
    }
}
