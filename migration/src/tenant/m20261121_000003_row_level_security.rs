//! PostgreSQL row-level security on every tenant-plane table: a second wall
//! behind the `tenant_id` filter every query carries.
//!
//! Requests run their transaction as the role `tenantry_app` (`SET LOCAL
//! ROLE`), which does not bypass RLS, with the tenant in the transaction-local
//! setting `app.tenant_id`. A row is visible, and writable, only when its
//! `tenant_id` equals that setting; with no tenant set, nothing is. RLS is
//! also forced on the tables' owner. SQLite has no RLS; this does nothing there.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The role requests run as. Cluster-wide, so made once and shared by every
/// database on the server.
pub const APP_ROLE: &str = "tenantry_app";

/// The tenant-plane tables that existed when this migration was written;
/// later migrations secure their own tables with [`secure`].
const TABLES: [&str; 4] = ["projects", "tasks", "idempotency_keys", "invitations"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        ensure_app_role(db).await?;
        // The tables' schema: `public` for row tenants, `t_<id>` for a schema tenant.
        db.execute_unprepared(&format!(
            "DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO {APP_ROLE}', current_schema()); END $$"
        ))
        .await?;
        for t in TABLES {
            secure(db, t).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        for t in TABLES {
            m.get_connection()
                .execute_unprepared(&format!(
                    "DROP POLICY IF EXISTS tenant_isolation ON {t};
                     ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY;
                     ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;
                     REVOKE ALL ON {t} FROM {APP_ROLE};"
                ))
                .await?;
        }
        Ok(())
    }
}

/// Makes [`APP_ROLE`] and grants it to the migrating user, when either is missing.
pub(crate) async fn ensure_app_role(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    // Made (and granted to whoever runs the server) only when missing, so
    // a role a DBA made beforehand needs no CREATEROLE or ADMIN OPTION here,
    // and provisioning a schema tenant, which runs this too, needs neither.
    // Parallel migrations of other databases may create it at the same time.
    db.execute_unprepared(&format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
             CREATE ROLE {APP_ROLE} NOLOGIN NOBYPASSRLS;
           END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "DO $$ BEGIN
           IF NOT pg_has_role(current_user, '{APP_ROLE}', 'MEMBER') THEN
             EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
           END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ))
    .await?;
    Ok(())
}

/// Grants the app role a tenant-plane table and confines it to `app.tenant_id`.
/// PostgreSQL only.
pub(crate) async fn secure(db: &SchemaManagerConnection<'_>, table: &str) -> Result<(), DbErr> {
    db.execute_unprepared(&format!(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE};
         ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
         CREATE POLICY tenant_isolation ON {table}
           USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
           WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);"
    ))
    .await
    .map(|_| ())
}
