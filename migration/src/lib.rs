//! Migrations, in two planes.
//!
//! - [`ControlPlane`]: global tables (tenants, users, memberships, sessions, external
//!   identities), once per deployment.
//! - [`TenantPlane`]: tables holding a tenant's data (projects, tasks, idempotency keys).
//!   Under the row strategy they live once in the shared database; the schema and
//!   database strategies run them once per tenant. Every key leads with `tenant_id`,
//!   so a tenant's rows can move between strategies by copying them.
//!
//! Each plane keeps its own ledger table, so both can share a database or schema.

pub use sea_orm_migration::prelude::*;

mod control;
mod idens;
mod tenant;

pub use idens::*;
pub use tenant::m20261121_000003_row_level_security::APP_ROLE;

/// Every tenant-plane table (each leads its key with `tenant_id`, under row-level security).
pub const TENANT_TABLES: &[&str] = &[
    "projects",
    "tasks",
    "idempotency_keys",
    "invitations",
    "outbox_events",
    "webhooks",
    "webhook_deliveries",
    // generate: tenant-tables
];

/// Global tables.
pub struct ControlPlane;

#[async_trait::async_trait]
impl MigratorTrait for ControlPlane {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(control::m20261121_000001_identity::Migration),
            Box::new(control::m20261121_000002_refresh_tokens::Migration),
            Box::new(control::m20261121_000003_authorization::Migration),
            Box::new(control::m20261121_000004_tenant_placement::Migration),
            Box::new(control::m20261202_000001_tenant_rates::Migration),
            Box::new(control::m20261202_000002_fixture_tenants::Migration),
            Box::new(control::m20261202_000003_external_identities::Migration),
            Box::new(control::m20261202_000004_housekeeping::Migration),
            Box::new(control::m20261207_000001_tenant_members::Migration),
            Box::new(control::m20261207_000002_write_guard::Migration),
            Box::new(control::m20261207_000003_operators_and_standing::Migration),
            Box::new(control::m20261207_000004_plans_and_features::Migration),
            Box::new(control::m20261207_000005_tenant_deletion::Migration),
            Box::new(control::m20261207_000006_tenant_domains::Migration),
            Box::new(control::m20261207_000007_tenant_moves::Migration),
            Box::new(control::m20261207_000008_tenant_request_counts::Migration),
        ]
    }
}

/// Tables of a tenant's data.
pub struct TenantPlane;

#[async_trait::async_trait]
impl MigratorTrait for TenantPlane {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(tenant::m20261121_000001_work_items::Migration),
            Box::new(tenant::m20261121_000002_invitations::Migration),
            Box::new(tenant::m20261121_000003_row_level_security::Migration),
            Box::new(tenant::m20261121_000004_outbox_and_webhooks::Migration),
            // generate: migrations
        ]
    }

    fn migration_table_name() -> DynIden {
        "seaql_tenant_migrations".into_iden()
    }
}
