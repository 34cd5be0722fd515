//! A tenant's own request rates, where they differ from the deployment's
//! defaults (NULL: the default). Plans will set them.

use crate::idens::Tenants;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for col in [Tenants::RateTenantWork, Tenants::RatePerUser] {
            m.alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(integer_null(col))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [Tenants::RateTenantWork, Tenants::RatePerUser] {
            m.alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
