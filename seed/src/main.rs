//! `cargo run -p seed -- demo`: the demo tenant; `cargo run -p seed -- scale
//! --tenants 1000 --projects 10 --tasks 100`: benchmark data, with batched
//! inserts and a progress bar. Into the database named by `DATABASE_URL`
//! (default: the embedded SQLite file `cargo run` uses).

use clap::{Parser, Subcommand};
use domain::auth::{Auth, SessionPolicy, TenantPolicy};
use infra::db::{DbSettings, Storage};
use infra::jwt::{JwtSettings, JwtTokens, SigningKeys};
use infra::password::{Argon2Hasher, Argon2Params};
use infra::platform::Platform;
use infra::rate_limit::{InProcessLimiter, Rule};
use infra::revocations::InProcessRevocations;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "seed", about = "Tenantry demo and fixture data")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The database to seed.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/tenantry.db?mode=rwc"
    )]
    database_url: String,
}

#[derive(Subcommand)]
enum Command {
    /// The demo tenant that `cargo run` seeds on first start.
    Demo,
    /// Many tenants with an owner and a member each, projects and tasks.
    Scale {
        #[arg(long, default_value_t = 100)]
        tenants: usize,
        /// Projects per tenant.
        #[arg(long, default_value_t = 10)]
        projects: usize,
        /// Tasks per project.
        #[arg(long, default_value_t = 100)]
        tasks: usize,
        /// The same seed gives the same data (apart from ids and timestamps).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The password of every user (hashed once).
        #[arg(long, default_value = "scale-password")]
        password: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let storage = Storage::connect(&DbSettings {
        url: cli.database_url,
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
        log_statements: false,
        tenant_statement_timeout: None,
        tenant_databases: Default::default(),
        admission: None,
    })
    .await?;
    storage.migrate().await?;
    let platform = Platform::compose(storage, infra::platform::Settings::local()).await?;
    match cli.command {
        Command::Scale {
            tenants,
            projects,
            tasks,
            seed: number,
            password,
        } => {
            use domain::ports::PasswordHasher;
            let password = domain::values::Password::parse(&password)
                .map_err(|e| anyhow::anyhow!("--password: {}", e.0))?;
            let hash = Argon2Hasher::new(Argon2Params::default())?
                .hash(&password)
                .await?;
            let bar = indicatif::ProgressBar::new(tenants as u64).with_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} tenants  {elapsed} (eta {eta})",
                )?,
            );
            let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
            let started = std::time::Instant::now();
            let spec = seed::scale::ScaleSpec {
                tenants,
                projects_per_tenant: projects,
                tasks_per_project: tasks,
                seed: number,
            };
            let loaded =
                seed::scale::load(&platform, spec, &run, &hash, |n| bar.set_position(n as u64))
                    .await?;
            bar.finish();
            let secs = started.elapsed().as_secs_f64();
            let rows = tenants * projects * (tasks + 1);
            println!(
                "loaded {} tenants, {rows} projects and tasks in {secs:.1}s ({:.0} rows/s); owners sign in as owner<N>-{run}@scale.test",
                loaded.len(),
                rows as f64 / secs.max(0.001),
            );
        }
        Command::Demo => {
            let identity = platform.identity();
            if seed::demo::exists(&identity).await? {
                println!("the demo tenant exists already");
                return Ok(());
            }
            let hasher = Argon2Hasher::new(Argon2Params::default())?;
            // Sign-up issues a token; nobody uses it here, so any secret will do.
            let tokens = JwtTokens::new(JwtSettings {
                keys: SigningKeys::Hs256(uuid::Uuid::new_v4().to_string().into()),
                issuer: "seed".into(),
                audience: "seed".into(),
                ttl_seconds: 60,
            })?;
            let tenancy = platform.tenancy();
            let sessions = platform.sessions();
            let revocations = InProcessRevocations::default();
            let unlimited = InProcessLimiter::new(Rule {
                limit: std::num::NonZeroU32::MAX,
                period: std::time::Duration::from_secs(1),
            });
            let auth = Auth {
                identity: &identity,
                hasher: &hasher,
                tokens: &tokens,
                sessions: &sessions,
                revocations: &revocations,
                policy: SessionPolicy::default(),
                // The seed signs nobody in; the budgets only complete the use case.
                external: None,
                budgets: domain::budgets::Budgets::all(&unlimited),
                tenants: &TenantPolicy::only(domain::Isolation::Row),
            };
            seed::demo::seed(&seed::demo::Ports::from_auth(auth, &tenancy)).await?;
            println!(
                "seeded the demo tenant {:?} (password {:?})",
                seed::demo::TENANT_SLUG,
                seed::demo::PASSWORD
            );
        }
    }
    Ok(())
}
