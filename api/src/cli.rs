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
    Schema {
        /// The operator schema of `/admin/graphql` instead (`admin.graphql`).
        #[arg(long)]
        admin: bool,
    },
    /// Operators: people who run the SaaS, outside every tenant.
    Operators {
        #[command(subcommand)]
        command: OperatorsCommand,
    },
    /// The tenant lifecycle: list tenants, migrate every tenant.
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
}

/// The operator list: users who may use `/admin/graphql`. Only this command
/// grants the role; no tenant owner can.
#[derive(Subcommand, Debug)]
pub enum OperatorsCommand {
    /// Grant the role to an existing user.
    Add { email: String },
    /// Take it back; their next request to `/admin/graphql` is refused.
    Remove { email: String },
    /// Every operator, with when the role was granted.
    List,
}

#[derive(Subcommand, Debug)]
pub enum TenantsCommand {
    /// Every tenant with its strategy, where it lives and its migration version.
    List,
    /// Provision a tenant owned by an existing user: its storage (schema or
    /// database) made and migrated, the owner's membership written.
    Create {
        /// URL-safe, unique.
        slug: String,
        #[arg(long)]
        name: String,
        /// The owner's email (an existing account).
        #[arg(long)]
        owner: String,
        /// row, schema or database; default: tenancy.default_isolation.
        #[arg(long)]
        isolation: Option<String>,
    },
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
    /// Move a tenant to another strategy: copy its rows, check the counts,
    /// switch the directory, remove the old copy. Its writes wait meanwhile
    /// (PostgreSQL); on SQLite, stop the server first.
    Move {
        /// Tenant id or slug.
        tenant: String,
        /// row, schema or database.
        #[arg(long)]
        to: String,
        /// For `--to database`: the server (a name in tenancy.database.servers);
        /// default: the one with the fewest tenants.
        #[arg(long)]
        server: Option<String>,
    },
    /// List schemas and databases no tenant owns (left by a process that died
    /// while creating, moving or deleting a tenant); remove them with --yes.
    Gc {
        /// Remove what is listed; without it nothing is removed.
        #[arg(long)]
        yes: bool,
        /// Consider only storage at least this old (by its tenant id), so a
        /// tenant being created right now is never taken for an orphan.
        #[arg(long, default_value_t = 10)]
        min_age_minutes: u64,
    },
    /// Show a tenant's own request rates, or set them (per second; 0 puts
    /// one back to the deployment's default).
    Rates {
        /// Tenant id or slug.
        tenant: String,
        /// Database round trips its requests make together.
        #[arg(long)]
        tenant_work: Option<u32>,
        /// Requests one member makes in it.
        #[arg(long)]
        per_user: Option<u32>,
    },
    /// Delete a tenant and everything it owns: its rows, schema or database, members,
    /// sessions and roles. An audit record of the deletion is kept.
    Delete {
        /// Tenant id or slug.
        tenant: String,
        /// Confirm; without it nothing is deleted.
        #[arg(long)]
        yes: bool,
    },
}
