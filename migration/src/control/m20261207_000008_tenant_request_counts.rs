//! Requests of each tenant by hour, added to by every server's meter: what
//! operators see of a tenant's traffic. The rows go with their tenant.

use crate::idens::Tenants;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveIden)]
enum TenantRequestCounts {
    Table,
    TenantId,
    Hour,
    Requests,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TenantRequestCounts::Table)
                .if_not_exists()
                .col(uuid(TenantRequestCounts::TenantId))
                .col(timestamp_with_time_zone(TenantRequestCounts::Hour))
                .col(big_integer(TenantRequestCounts::Requests))
                // Led by the tenant: a page of tenants' last day is a range
                // of this key each.
                .primary_key(
                    Index::create()
                        .col(TenantRequestCounts::TenantId)
                        .col(TenantRequestCounts::Hour),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tenant_request_counts_tenant")
                        .from(TenantRequestCounts::Table, TenantRequestCounts::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // Pruning takes the oldest hours of every tenant.
        m.create_index(
            Index::create()
                .name("idx_tenant_request_counts_hour")
                .table(TenantRequestCounts::Table)
                .col(TenantRequestCounts::Hour)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(TenantRequestCounts::Table)
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
