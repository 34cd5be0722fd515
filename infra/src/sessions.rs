//! Sessions and rotating refresh tokens in the control-plane database.

use crate::entities::{refresh_token, session};
use crate::errors::DbResultExt;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::ports::{Rotation, SessionStore};
use domain::{Result, SessionId, TenantId, UserId};
use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

pub struct SqlSessionStore {
    db: DatabaseConnection,
}

impl SqlSessionStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn live(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(session::Column::RevokedAt.is_null())
        .add(
            Condition::any()
                .add(session::Column::ExpiresAt.is_null())
                .add(session::Column::ExpiresAt.gt(now)),
        )
}

async fn insert_token(db: &impl ConnectionTrait, session: Uuid, hash: &str) -> Result<()> {
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(session),
        token_hash: Set(hash.to_owned()),
        created_at: Set(crate::now()),
        used_at: Set(None),
    })
    .exec_without_returning(db)
    .await
    .or_unexpected()?;
    Ok(())
}

async fn revoke_in(db: &impl ConnectionTrait, session: Uuid, reason: &str) -> Result<()> {
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(crate::now()))
        .col_expr(session::Column::RevokedReason, Expr::value(reason))
        .filter(session::Column::Id.eq(session))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .or_unexpected()?;
    Ok(())
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn open(
        &self,
        user: UserId,
        tenant: TenantId,
        expires_at: DateTime<Utc>,
        refresh_hash: &str,
    ) -> Result<SessionId> {
        let id = SessionId::generate();
        let now = crate::now();
        let tx = self.db.begin().await.or_unexpected()?;
        session::Entity::insert(session::ActiveModel {
            id: Set(id.as_uuid()),
            user_id: Set(user.as_uuid()),
            tenant_id: Set(tenant.as_uuid()),
            created_at: Set(now),
            revoked_at: Set(None),
            expires_at: Set(Some(expires_at)),
            last_used_at: Set(Some(now)),
            revoked_reason: Set(None),
        })
        .exec_without_returning(&tx)
        .await
        .or_unexpected()?;
        insert_token(&tx, id.as_uuid(), refresh_hash).await?;
        tx.commit().await.or_unexpected()?;
        Ok(id)
    }

    async fn session_of(&self, refresh_hash: &str) -> Result<Option<SessionId>> {
        Ok(refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(refresh_hash))
            .one(&self.db)
            .await
            .or_unexpected()?
            .map(|t| SessionId::from_uuid(t.session_id)))
    }

    async fn rotate(
        &self,
        presented: &str,
        next: &str,
        idle_since: DateTime<Utc>,
    ) -> Result<Rotation> {
        let now = crate::now();
        let tx = self.db.begin().await.or_unexpected()?;
        // Lock the token row (PostgreSQL): two concurrent exchanges of one token
        // must not both succeed. SQLite serialises writers anyway.
        let mut find =
            refresh_token::Entity::find().filter(refresh_token::Column::TokenHash.eq(presented));
        if tx.get_database_backend() == sea_orm::DbBackend::Postgres {
            find = find.lock(LockType::Update);
        }
        let Some(token) = find.one(&tx).await.or_unexpected()? else {
            return Ok(Rotation::Invalid);
        };
        let session_id = SessionId::from_uuid(token.session_id);
        if token.used_at.is_some() {
            revoke_in(&tx, token.session_id, "refresh_token_reuse").await?;
            tx.commit().await.or_unexpected()?;
            return Ok(Rotation::Reused {
                session: session_id,
            });
        }
        let Some(s) = session::Entity::find_by_id(token.session_id)
            .filter(live(now))
            .one(&tx)
            .await
            .or_unexpected()?
        else {
            return Ok(Rotation::Invalid);
        };
        if s.last_used_at.is_some_and(|t| t < idle_since) {
            revoke_in(&tx, s.id, "idle").await?;
            tx.commit().await.or_unexpected()?;
            return Ok(Rotation::Invalid);
        }
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
            .filter(refresh_token::Column::Id.eq(token.id))
            .exec(&tx)
            .await
            .or_unexpected()?;
        session::Entity::update_many()
            .col_expr(session::Column::LastUsedAt, Expr::value(now))
            .filter(session::Column::Id.eq(s.id))
            .exec(&tx)
            .await
            .or_unexpected()?;
        insert_token(&tx, s.id, next).await?;
        tx.commit().await.or_unexpected()?;
        Ok(Rotation::Rotated {
            session: session_id,
            user: UserId::from_uuid(s.user_id),
            tenant: TenantId::from_uuid(s.tenant_id),
        })
    }

    async fn revoke(&self, session: SessionId, reason: &str) -> Result<()> {
        revoke_in(&self.db, session.as_uuid(), reason).await
    }

    async fn revoke_all(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: &str,
    ) -> Result<Vec<SessionId>> {
        let tx = self.db.begin().await.or_unexpected()?;
        let mut q = session::Entity::find()
            .filter(session::Column::UserId.eq(user.as_uuid()))
            .filter(live(crate::now()));
        if let Some(k) = keep {
            q = q.filter(session::Column::Id.ne(k.as_uuid()));
        }
        let ids: Vec<Uuid> = q
            .all(&tx)
            .await
            .or_unexpected()?
            .into_iter()
            .map(|s| s.id)
            .collect();
        for id in &ids {
            revoke_in(&tx, *id, reason).await?;
        }
        tx.commit().await.or_unexpected()?;
        Ok(ids.into_iter().map(SessionId::from_uuid).collect())
    }

    async fn is_active(&self, session: SessionId) -> Result<bool> {
        Ok(session::Entity::find_by_id(session.as_uuid())
            .filter(live(crate::now()))
            .one(&self.db)
            .await
            .or_unexpected()?
            .is_some())
    }
}
