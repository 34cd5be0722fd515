//! Marks the tenants the fixture endpoint made: only those may be deleted
//! through it, so a leaked fixtures secret cannot delete a real tenant.

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
                .add_column(boolean(Tenants::Fixture).default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .drop_column(Tenants::Fixture)
                .to_owned(),
        )
        .await
    }
}
