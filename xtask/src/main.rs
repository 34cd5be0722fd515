//! Project tasks, run as `cargo xtask …` (an alias in `.cargo/config.toml`).
//!
//! `cargo xtask generate resource Invoice title:string notes:text amount:int paid:bool`
//! writes a tenant-scoped resource end to end — migration (with row-level
//! security), entity, registry line, domain type with validation, port and use
//! cases, repository through the tenant binding, GraphQL type with a Relay
//! connection, filters, ordering, create/update/delete with optimistic versions
//! and idempotency keys, access entries and default-role permissions, outbox
//! events, and integration tests on every backend — then formats the workspace
//! and regenerates `schema.graphql`. docs/adding-a-resource.md walks the output.

mod plan;
mod resource;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Tenantry's project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand)]
enum Top {
    /// Write new code from templates.
    #[command(subcommand)]
    Generate(Generate),
}

#[derive(Subcommand)]
enum Generate {
    /// A tenant-scoped resource, end to end.
    Resource {
        /// Singular, PascalCase: Invoice, LineItem.
        name: String,
        /// name:type, type one of string (required, ≤ 200 characters, sortable),
        /// text (optional, ≤ 10,000), int (required, sortable) or bool
        /// (optional, a list filter). The first string field names a row.
        #[arg(required = true)]
        fields: Vec<String>,
        /// The table and list name when the English rule gets it wrong (snake_case).
        #[arg(long)]
        plural: Option<String>,
        /// Print what would be written, and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Skip `cargo fmt` and regenerating `schema.graphql` afterwards.
        #[arg(long)]
        no_finish: bool,
        /// The workspace to write into (default: this one).
        #[arg(long)]
        root: Option<PathBuf>,
    },
}

fn workspace_root() -> PathBuf {
    // xtask/ sits in the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn run(root: &Path, program: &str, args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new(program)
        .args(args)
        .current_dir(root)
        .output()
        .with_context(|| format!("starting {program}"))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

fn main() -> Result<()> {
    let Top::Generate(Generate::Resource {
        name,
        fields,
        plural,
        dry_run,
        no_finish,
        root,
    }) = Cli::parse().command;
    let root = root.unwrap_or_else(workspace_root);
    let r = resource::Resource::new(&name, plural.as_deref(), &fields)?;
    let plan = plan::Plan::new(&root, &r)?;
    let shown = |p: &Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();
    if dry_run {
        for (path, text) in &plan.new_files {
            println!("create {} ({} lines)", shown(path), text.lines().count());
        }
        for (path, _) in &plan.changed_files {
            println!("change {}", shown(path));
        }
        return Ok(());
    }
    plan.write()?;
    for (path, _) in &plan.new_files {
        println!("  create  {}", shown(path));
    }
    for (path, _) in &plan.changed_files {
        println!("  change  {}", shown(path));
    }
    if !no_finish {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        run(&root, &cargo, &["fmt", "--all"])?;
        println!("  format  the workspace");
        let sdl = run(&root, &cargo, &["run", "-q", "-p", "api", "--", "schema"])?;
        std::fs::write(root.join("schema.graphql"), sdl).context("writing schema.graphql")?;
        println!("  change  schema.graphql");
    }
    println!(
        "\n{} is ready. Next: `cargo test --workspace --test api -- {}::` runs its tests;\n\
         docs/adding-a-resource.md says what each file holds and what to change first.",
        r.Name, r.names
    );
    Ok(())
}
