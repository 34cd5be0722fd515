//! Authorization: Casbin policy lines, the audit log of member and role
//! changes, and the change feed other nodes poll to stay in sync.
//!
//! Role assignments stay in `memberships.role`: a membership is exactly one
//! Casbin `g` line, and its primary key keeps one role per member.

use crate::idens::{AuditLog, CasbinRule, PolicyChanges};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut rule = Table::create();
        rule.table(CasbinRule::Table)
            .if_not_exists()
            .col(big_integer(CasbinRule::Id).auto_increment().primary_key())
            .col(string_len(CasbinRule::Ptype, 8));
        for v in [
            CasbinRule::V0,
            CasbinRule::V1,
            CasbinRule::V2,
            CasbinRule::V3,
            CasbinRule::V4,
            CasbinRule::V5,
        ] {
            rule.col(string_len(v, 128).default(""));
        }
        m.create_table(rule.to_owned()).await?;
        m.create_index(
            Index::create()
                .name("ux_casbin_rule_line")
                .table(CasbinRule::Table)
                .col(CasbinRule::Ptype)
                .col(CasbinRule::V0)
                .col(CasbinRule::V1)
                .col(CasbinRule::V2)
                .col(CasbinRule::V3)
                .col(CasbinRule::V4)
                .col(CasbinRule::V5)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        // The domain (tenant) is v2 of a `g` line: reloading one tenant reads it.
        m.create_index(
            Index::create()
                .name("ix_casbin_rule_domain")
                .table(CasbinRule::Table)
                .col(CasbinRule::V2)
                .col(CasbinRule::Ptype)
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .if_not_exists()
                .col(uuid(AuditLog::Id).primary_key())
                .col(uuid(AuditLog::TenantId))
                .col(uuid_null(AuditLog::ActorId))
                .col(string_len(AuditLog::Action, 64))
                .col(string_len(AuditLog::Target, 128))
                .col(text_null(AuditLog::Before))
                .col(text_null(AuditLog::After))
                .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                // No foreign key: the record of a tenant's deletion outlives it.
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_log_tenant_id")
                .table(AuditLog::Table)
                .col(AuditLog::TenantId)
                .col(AuditLog::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PolicyChanges::Table)
                .if_not_exists()
                .col(big_integer(PolicyChanges::Version).primary_key())
                .col(uuid(PolicyChanges::TenantId))
                .col(timestamp_with_time_zone(PolicyChanges::CreatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            PolicyChanges::Table.into_iden(),
            AuditLog::Table.into_iden(),
            CasbinRule::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
