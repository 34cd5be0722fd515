//! The outbox (events written with the change that caused them), webhooks,
//! and the deliveries of events to them. Row-level security as for the others.

use super::m20261121_000003_row_level_security::secure;
use crate::idens::{OutboxEvents as O, WebhookDeliveries as D, Webhooks as W};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables this migration adds.
pub const TABLES: [&str; 3] = ["outbox_events", "webhooks", "webhook_deliveries"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(O::Table)
                .if_not_exists()
                .col(uuid(O::TenantId))
                .col(uuid(O::Id))
                .col(string_len(O::EventType, 32))
                .col(timestamp_with_time_zone(O::OccurredAt))
                .col(text(O::Payload))
                .primary_key(Index::create().col(O::TenantId).col(O::Id))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(W::Table)
                .if_not_exists()
                .col(uuid(W::TenantId))
                .col(uuid(W::Id))
                .col(string_len(W::Url, 2048))
                .col(string_len(W::Events, 512))
                .col(string_len(W::Secret, 256))
                .col(timestamp_with_time_zone(W::CreatedAt))
                .primary_key(Index::create().col(W::TenantId).col(W::Id))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(D::Table)
                .if_not_exists()
                .col(uuid(D::TenantId))
                .col(uuid(D::Id))
                .col(uuid(D::WebhookId))
                .col(uuid(D::EventId))
                .col(string_len(D::EventType, 32))
                .col(text(D::Body))
                .col(string_len(D::Status, 16))
                .col(integer(D::Attempts))
                .col(timestamp_with_time_zone_null(D::NextAttemptAt))
                .col(integer_null(D::LastStatusCode))
                .col(text_null(D::LastError))
                .col(timestamp_with_time_zone(D::CreatedAt))
                .col(timestamp_with_time_zone_null(D::DeliveredAt))
                .primary_key(Index::create().col(D::TenantId).col(D::Id))
                .to_owned(),
        )
        .await?;
        // The worker's question: which deliveries are due?
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_due")
                .table(D::Table)
                .col(D::TenantId)
                .col(D::NextAttemptAt)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_webhook")
                .table(D::Table)
                .col(D::TenantId)
                .col(D::WebhookId)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            for t in TABLES {
                secure(m.get_connection(), t).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            D::Table.into_iden(),
            W::Table.into_iden(),
            O::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
