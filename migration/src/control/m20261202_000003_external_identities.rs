//! Links from an external OpenID Connect provider's subjects to users, and
//! when each subject last signed out (its older tokens are refused).

use crate::idens::{ExternalIdentities, Users};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ExternalIdentities::Table)
                .if_not_exists()
                .col(text(ExternalIdentities::Issuer))
                .col(text(ExternalIdentities::Subject))
                .col(uuid(ExternalIdentities::UserId))
                .col(timestamp_with_time_zone(ExternalIdentities::CreatedAt))
                .col(timestamp_with_time_zone_null(
                    ExternalIdentities::SignedOutAt,
                ))
                .primary_key(
                    Index::create()
                        .col(ExternalIdentities::Issuer)
                        .col(ExternalIdentities::Subject),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_external_identities_user")
                        .from(ExternalIdentities::Table, ExternalIdentities::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_external_identities_user")
                .table(ExternalIdentities::Table)
                .col(ExternalIdentities::UserId)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(ExternalIdentities::Table)
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
