//! The tenant directory's second half: on which database server a
//! database-strategy tenant lives (NULL for row and schema tenants, whose
//! place follows from their id).

use crate::idens::Tenants;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(string_len_null(Tenants::Placement, 64))
                .to_owned(),
        )
        .await?;
        // Placement counts per server decide where the next tenant goes.
        m.create_index(
            Index::create()
                .name("ix_tenants_placement")
                .table(Tenants::Table)
                .col(Tenants::Placement)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_tenants_placement")
                .table(Tenants::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .drop_column(Tenants::Placement)
                .to_owned(),
        )
        .await
    }
}
