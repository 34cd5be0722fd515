//! Session lifetimes and rotating refresh tokens (stored as SHA-256 hashes).

use crate::idens::{RefreshTokens, Sessions, SessionsV2};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [
            timestamp_with_time_zone_null(SessionsV2::ExpiresAt),
            timestamp_with_time_zone_null(SessionsV2::LastUsedAt),
            string_len_null(SessionsV2::RevokedReason, 32),
        ] {
            m.alter_table(
                Table::alter()
                    .table(SessionsV2::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .if_not_exists()
                .col(uuid(RefreshTokens::Id).primary_key())
                .col(uuid(RefreshTokens::SessionId))
                .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_refresh_tokens_session")
                        .from(RefreshTokens::Table, RefreshTokens::SessionId)
                        .to(Sessions::Table, Sessions::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_refresh_tokens_session")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::SessionId)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(RefreshTokens::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        for col in [
            SessionsV2::RevokedReason,
            SessionsV2::LastUsedAt,
            SessionsV2::ExpiresAt,
        ] {
            m.alter_table(
                Table::alter()
                    .table(SessionsV2::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
