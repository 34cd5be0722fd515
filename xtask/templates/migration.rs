//! [[ r.Names ]]. Every key leads with `tenant_id` (Citus-style colocation),
//! and PostgreSQL confines the table to the transaction's tenant (forced
//! row-level security), as every tenant-plane table.

use super::m20261121_000003_row_level_security::secure;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum [[ r.Names ]] {
    Table,
    TenantId,
    Id,
[% for f in r.fields %]
    [[ f.Pascal ]],
[% endfor %]
    CreatedAt,
    UpdatedAt,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use [[ r.Names ]] as T;
        m.create_table(
            Table::create()
                .table(T::Table)
                .if_not_exists()
                .col(uuid(T::TenantId))
                .col(uuid(T::Id))
[% for f in r.fields %]
                .col([[ f.column ]])
[% endfor %]
                .col(timestamp_with_time_zone(T::CreatedAt))
                .col(timestamp_with_time_zone(T::UpdatedAt))
                .col(integer(T::Version))
                .primary_key(Index::create().col(T::TenantId).col(T::Id))
                .to_owned(),
        )
        .await?;
        // One keyset index per ordering: tenant, sort column, id.
        for (name, col) in [
            ("ix_[[ r.names ]]_created", T::CreatedAt),
            ("ix_[[ r.names ]]_updated", T::UpdatedAt),
[% for f in r.sortables %]
            ("ix_[[ r.names ]]_[[ f.name ]]", T::[[ f.Pascal ]]),
[% endfor %]
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(T::Table)
                    .if_not_exists()
                    .col(T::TenantId)
                    .col(col)
                    .col(T::Id)
                    .to_owned(),
            )
            .await?;
        }
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            secure(m.get_connection(), "[[ r.names ]]").await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table([[ r.Names ]]::Table).if_exists().to_owned())
            .await
    }
}
