//! Housekeeping: a lease per periodic job, so one node at a time runs each;
//! and revocations Redis did not take, kept until it does.

use crate::idens::{Jobs, RevocationReplays};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Jobs::Table)
                .if_not_exists()
                .col(string_len(Jobs::Name, 64).primary_key())
                .col(timestamp_with_time_zone_null(Jobs::LeaseUntil))
                .col(timestamp_with_time_zone_null(Jobs::LastRunAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RevocationReplays::Table)
                .if_not_exists()
                .col(uuid(RevocationReplays::SessionId).primary_key())
                .col(timestamp_with_time_zone(RevocationReplays::Until))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(RevocationReplays::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(Jobs::Table).if_exists().to_owned())
            .await
    }
}
