//! `tenantry_write_guard(space, tenant)`: a tenant write's move check in the
//! statement that binds the tenant, instead of a round trip of its own.
//!
//! It takes the tenant's move lock shared if no move holds it, and only then
//! reads where the directory puts the tenant. A PL/pgSQL function runs each
//! statement with a fresh snapshot, so that read sees a move that committed
//! while the lock was being taken, which a sub-select of the calling
//! statement (whose snapshot predates the lock) would miss. PostgreSQL only:
//! SQLite's writers take turns and it has no moves.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        m.get_connection()
            .execute_unprepared(
                "CREATE FUNCTION tenantry_write_guard(space integer, tenant uuid,
                    OUT granted boolean, OUT isolation text)
                 LANGUAGE plpgsql VOLATILE AS $$
                 BEGIN
                   granted := pg_try_advisory_xact_lock_shared(space, hashtext(tenant::text));
                   IF granted THEN
                     SELECT t.isolation INTO isolation FROM tenants t WHERE t.id = tenant;
                   END IF;
                 END $$",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS tenantry_write_guard(integer, uuid)")
                .await?;
        }
        Ok(())
    }
}
