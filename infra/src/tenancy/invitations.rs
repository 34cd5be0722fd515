//! Invitations, always through [`Bound`]'s tenant-scoped builders.

use super::bound::Bound;
use crate::entities::invitation::{self as row, Column as C};
use crate::errors::unexpected;
use async_trait::async_trait;
use domain::identity::RoleName;
use domain::invitation::{EmailStatus, Invitation};
use domain::ports::InvitationRepository;
use domain::values::Email;
use domain::{Error, Result, TenantId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

fn to_domain(r: row::Model) -> Result<Invitation> {
    let corrupt =
        |what: &str| Error::unexpected(format!("stored invitation {} has an invalid {what}", r.id));
    Ok(Invitation {
        id: r.id,
        tenant_id: TenantId::from_uuid(r.tenant_id),
        email: Email::parse(&r.email).map_err(|_| corrupt("email"))?,
        role: RoleName::new(r.role),
        invited_by: UserId::from_uuid(r.invited_by),
        created_at: r.created_at,
        expires_at: r.expires_at,
        accepted_at: r.accepted_at,
        email_status: EmailStatus::parse(&r.email_status).ok_or_else(|| corrupt("email status"))?,
        email_attempts: r.email_attempts,
    })
}

#[async_trait]
impl InvitationRepository for Bound {
    async fn create_invitation(&self, i: &Invitation, token_hash: &str) -> Result<()> {
        self.insert::<row::Entity, _>(|tenant_id| row::ActiveModel {
            tenant_id: Set(tenant_id),
            id: Set(i.id),
            email: Set(i.email.as_str().to_owned()),
            role: Set(i.role.as_str().to_owned()),
            token_hash: Set(token_hash.to_owned()),
            invited_by: Set(i.invited_by.as_uuid()),
            created_at: Set(i.created_at),
            expires_at: Set(i.expires_at),
            accepted_at: Set(None),
            email_status: Set(i.email_status.as_str().to_owned()),
            email_attempts: Set(i.email_attempts),
        })
        .await
        .map_err(unexpected)
    }

    async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>> {
        self.one(
            self.select::<row::Entity>()
                .and(|q| q.filter(C::TokenHash.eq(token_hash))),
        )
        .await?
        .map(to_domain)
        .transpose()
    }

    async fn pending_invitations(&self) -> Result<Vec<Invitation>> {
        self.all(self.select::<row::Entity>().and(|q| {
            q.filter(C::AcceptedAt.is_null())
                .order_by_desc(C::CreatedAt)
        }))
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
    }

    async fn pending_invitation(&self, id: Uuid) -> Result<Option<Invitation>> {
        self.one(
            self.select::<row::Entity>()
                .and(|q| q.filter(C::Id.eq(id)).filter(C::AcceptedAt.is_null())),
        )
        .await?
        .map(to_domain)
        .transpose()
    }

    async fn release_invitation(&self, id: Uuid) -> Result<()> {
        self.exec_update(self.update::<row::Entity>().and(|q| {
            q.col_expr(
                C::AcceptedAt,
                Expr::value(None::<chrono::DateTime<chrono::Utc>>),
            )
            .filter(C::Id.eq(id))
        }))
        .await?;
        Ok(())
    }

    async fn revoke_invitation(&self, id: Uuid) -> Result<bool> {
        let gone = self
            .exec_delete(
                self.delete::<row::Entity>()
                    .and(|q| q.filter(C::Id.eq(id)).filter(C::AcceptedAt.is_null())),
            )
            .await?;
        Ok(gone == 1)
    }

    async fn revoke_invitations_for(&self, email: &Email) -> Result<u64> {
        self.exec_delete(self.delete::<row::Entity>().and(|q| {
            q.filter(C::Email.eq(email.as_str()))
                .filter(C::AcceptedAt.is_null())
        }))
        .await
    }

    async fn accept_invitation(&self, id: Uuid) -> Result<bool> {
        let changed = self
            .exec_update(self.update::<row::Entity>().and(|q| {
                q.col_expr(C::AcceptedAt, Expr::value(crate::now()))
                    .filter(C::Id.eq(id))
                    .filter(C::AcceptedAt.is_null())
            }))
            .await?;
        Ok(changed == 1)
    }

    async fn reissue_invitation(&self, id: Uuid, token_hash: &str) -> Result<bool> {
        let changed = self
            .exec_update(self.update::<row::Entity>().and(|q| {
                q.col_expr(C::TokenHash, Expr::value(token_hash))
                    .filter(C::Id.eq(id))
                    .filter(C::AcceptedAt.is_null())
            }))
            .await?;
        Ok(changed == 1)
    }

    async fn set_email_status(&self, id: Uuid, status: EmailStatus, attempts: i32) -> Result<()> {
        self.exec_update(self.update::<row::Entity>().and(|q| {
            q.col_expr(C::EmailStatus, Expr::value(status.as_str()))
                .col_expr(C::EmailAttempts, Expr::value(attempts))
                .filter(C::Id.eq(id))
        }))
        .await?;
        Ok(())
    }
}
