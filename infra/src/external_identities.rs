//! Links from an external provider's subjects to users, in the control-plane
//! database (see `domain::external` for the rules they serve).

use crate::entities::external_identity as link;
use crate::errors::DbResultExt;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::ports::{ExternalIdentities, ExternalIdentity};
use domain::{Error, Result, UserId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
};

pub struct SqlExternalIdentities {
    db: DatabaseConnection,
}

impl SqlExternalIdentities {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_domain(m: link::Model) -> ExternalIdentity {
    ExternalIdentity {
        user_id: UserId::from_uuid(m.user_id),
        signed_out_at: m.signed_out_at,
    }
}

/// Rows whose sign-out is unset or earlier than `at`: a sign-out only moves forward.
fn earlier_than(at: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(link::Column::SignedOutAt.is_null())
        .add(link::Column::SignedOutAt.lt(at))
}

#[async_trait]
impl ExternalIdentities for SqlExternalIdentities {
    async fn find(&self, issuer: &str, subject: &str) -> Result<Option<ExternalIdentity>> {
        Ok(
            link::Entity::find_by_id((issuer.to_owned(), subject.to_owned()))
                .one(&self.db)
                .await
                .or_unexpected()?
                .map(to_domain),
        )
    }

    async fn link(&self, issuer: &str, subject: &str, user: UserId) -> Result<ExternalIdentity> {
        // An existing link wins: inserting is a no-op then, and the read below returns it.
        link::Entity::insert(link::ActiveModel {
            issuer: Set(issuer.to_owned()),
            subject: Set(subject.to_owned()),
            user_id: Set(user.as_uuid()),
            created_at: Set(crate::now()),
            signed_out_at: Set(None),
        })
        .on_conflict(
            OnConflict::columns([link::Column::Issuer, link::Column::Subject])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .or_unexpected()?;
        self.find(issuer, subject)
            .await?
            // Only when the user was deleted between the two statements.
            .ok_or_else(|| Error::unexpected("an external identity vanished as it was linked"))
    }

    async fn sign_out(&self, issuer: &str, subject: &str, at: DateTime<Utc>) -> Result<()> {
        link::Entity::update_many()
            .col_expr(link::Column::SignedOutAt, Expr::value(at))
            .filter(link::Column::Issuer.eq(issuer))
            .filter(link::Column::Subject.eq(subject))
            .filter(earlier_than(at))
            .exec(&self.db)
            .await
            .or_unexpected()?;
        Ok(())
    }

    async fn sign_out_user(&self, user: UserId, at: DateTime<Utc>) -> Result<()> {
        link::Entity::update_many()
            .col_expr(link::Column::SignedOutAt, Expr::value(at))
            .filter(link::Column::UserId.eq(user.as_uuid()))
            .filter(earlier_than(at))
            .exec(&self.db)
            .await
            .or_unexpected()?;
        Ok(())
    }
}
