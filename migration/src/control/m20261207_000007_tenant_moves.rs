//! Moves of tenants between strategies, run as jobs: the queue workers take
//! them from, and where operators read how far each got.

use crate::idens::{TenantMoves, Tenants};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TenantMoves::Table)
                .if_not_exists()
                .col(uuid(TenantMoves::Id).primary_key())
                .col(uuid(TenantMoves::TenantId))
                .col(string_len(TenantMoves::FromIsolation, 16))
                .col(string_len_null(TenantMoves::FromPlacement, 64))
                .col(string_len(TenantMoves::ToIsolation, 16))
                .col(string_len_null(TenantMoves::Server, 64))
                .col(uuid_null(TenantMoves::RequestedBy))
                .col(text_null(TenantMoves::Reason))
                .col(string_len(TenantMoves::Status, 16))
                .col(string_len(TenantMoves::Phase, 16))
                .col(integer(TenantMoves::TablesDone).default(0))
                .col(integer(TenantMoves::TablesTotal).default(0))
                .col(big_integer(TenantMoves::RowsCopied).default(0))
                .col(integer(TenantMoves::Attempts).default(0))
                .col(text_null(TenantMoves::Placement))
                .col(text_null(TenantMoves::Error))
                .col(timestamp_with_time_zone_null(TenantMoves::LeaseUntil))
                .col(timestamp_with_time_zone(TenantMoves::RequestedAt))
                .col(timestamp_with_time_zone_null(TenantMoves::StartedAt))
                .col(timestamp_with_time_zone_null(TenantMoves::FinishedAt))
                // A purged tenant's moves go with it.
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tenant_moves_tenant")
                        .from(TenantMoves::Table, TenantMoves::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_tenant_moves_tenant")
                .table(TenantMoves::Table)
                .col(TenantMoves::TenantId)
                .col(TenantMoves::RequestedAt)
                .to_owned(),
        )
        .await?;
        // One move of a tenant queued or running at a time, whichever node
        // asks; the same partial index on both backends.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS idx_tenant_moves_active ON tenant_moves (tenant_id) \
                 WHERE status IN ('queued', 'running')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(TenantMoves::Table)
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
