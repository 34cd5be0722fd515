//! The command line: one binary, several jobs.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "tenantry",
    version,
    about = "Multi-tenant SaaS backend with a GraphQL API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default).
    Serve {
        /// Do not run migrations at start (run `tenantry migrate` separately).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending control-plane and tenant-plane migrations, then exit.
    Migrate,
    /// Print the GraphQL schema (SDL) to stdout.
    Schema,
    /// The tenant lifecycle: list tenants, migrate every tenant.
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantsCommand {
    /// Every tenant with its strategy, where it lives and its migration version.
    List,
    /// Migrate the control plane and shared tables, then every schema tenant
    /// in its own transaction; a failed tenant is reported and the rest
    /// finish; rerun to retry. Exits non-zero when a tenant failed.
    Migrate {
        /// Tenants migrated at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Write a tenant's data to stdout as JSON lines: the tenant, its members
    /// and custom roles, then every tenant-plane row.
    Export {
        /// Tenant id or slug.
        tenant: String,
    },
    /// Delete a tenant and everything it owns: its rows or schema, members,
    /// sessions and roles. An audit record of the deletion is kept.
    Delete {
        /// Tenant id or slug.
        tenant: String,
        /// Confirm; without it nothing is deleted.
        #[arg(long)]
        yes: bool,
    },
}
