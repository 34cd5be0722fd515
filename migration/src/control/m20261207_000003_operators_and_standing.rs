//! Operators (a platform role outside every tenant, granted from the command
//! line) and a tenant's standing: active, read-only or suspended by an operator.

use crate::idens::{Operators, Tenants, Users};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Operators::Table)
                .if_not_exists()
                .col(uuid(Operators::UserId).primary_key())
                .col(timestamp_with_time_zone(Operators::GrantedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_operators_user")
                        .from(Operators::Table, Operators::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // SQLite adds one column per statement.
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(string_len(Tenants::Standing, 16).default("active"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(timestamp_with_time_zone_null(Tenants::StandingSince))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [Tenants::StandingSince, Tenants::Standing] {
            m.alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(Operators::Table).if_exists().to_owned())
            .await
    }
}
