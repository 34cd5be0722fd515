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
}
