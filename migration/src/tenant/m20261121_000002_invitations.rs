//! Invitations: a hashed single-use token per invitation, with an expiry and
//! the state of its email.

use crate::idens::Invitations as I;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(I::Table)
                .if_not_exists()
                .col(uuid(I::TenantId))
                .col(uuid(I::Id))
                .col(string_len(I::Email, 254))
                .col(string_len(I::Role, 64))
                .col(string_len(I::TokenHash, 64))
                .col(uuid(I::InvitedBy))
                .col(timestamp_with_time_zone(I::CreatedAt))
                .col(timestamp_with_time_zone(I::ExpiresAt))
                .col(timestamp_with_time_zone_null(I::AcceptedAt))
                .col(string_len(I::EmailStatus, 16))
                .col(integer(I::EmailAttempts))
                .primary_key(Index::create().col(I::TenantId).col(I::Id))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_invitations_token")
                .table(I::Table)
                .col(I::TenantId)
                .col(I::TokenHash)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_invitations_email")
                .table(I::Table)
                .col(I::TenantId)
                .col(I::Email)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(I::Table).if_exists().to_owned())
            .await
    }
}
