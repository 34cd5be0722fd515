//! `tenant_members`: the bound tenant's members, readable from a tenant
//! transaction, so a page of tasks can bring its assignees in the same query.
//!
//! On PostgreSQL the view shows only members of the tenant in
//! `app.tenant_id` (the setting the tenant binding makes), whoever asks; the
//! app role may read it but not the tables behind it, so a tenant
//! transaction sees no other tenant's members and no password hash. On
//! SQLite, which has no roles, the joining query's `tenant_id` condition is
//! the only filter.

use crate::tenant::m20261121_000003_row_level_security::{APP_ROLE, ensure_app_role};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Prefixed, so that a join with a tenant-plane table names no column twice.
const COLUMNS: &str = "m.tenant_id AS member_tenant_id, u.id AS member_id, u.email AS member_email, \
     u.display_name AS member_name, u.created_at AS member_since";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() != sea_orm::DbBackend::Postgres {
            db.execute_unprepared(&format!(
                "CREATE VIEW tenant_members AS SELECT {COLUMNS}
                 FROM memberships m JOIN users u ON u.id = m.user_id"
            ))
            .await?;
            return Ok(());
        }
        ensure_app_role(db).await?;
        // Not a `security_barrier` view: the planner flattens it into the
        // page's join and reaches both tables by their primary keys (a barrier
        // view is planned apart and scanned whole for every row of the page).
        // What it guards against is a query that forgets its tenant, not one
        // calling a function that leaks the rows it is shown: the queries that
        // read it are the repositories', which call none.
        db.execute_unprepared(&format!(
            "CREATE VIEW tenant_members AS SELECT {COLUMNS}
             FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid;
             GRANT SELECT ON tenant_members TO {APP_ROLE};
             DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO {APP_ROLE}', current_schema()); END $$"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP VIEW IF EXISTS tenant_members")
            .await?;
        Ok(())
    }
}
