//! Custom domains of tenants: a tenant's owner asks for one, an operator
//! approves it, and requests to that host are then that tenant's.

use crate::idens::{TenantDomains, Tenants};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TenantDomains::Table)
                .if_not_exists()
                // A host belongs to one tenant at most.
                .col(string_len(TenantDomains::Domain, 253).primary_key())
                .col(uuid(TenantDomains::TenantId))
                .col(boolean(TenantDomains::Approved).default(false))
                .col(timestamp_with_time_zone(TenantDomains::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tenant_domains_tenant")
                        .from(TenantDomains::Table, TenantDomains::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_tenant_domains_tenant")
                .table(TenantDomains::Table)
                .col(TenantDomains::TenantId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(TenantDomains::Table)
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
