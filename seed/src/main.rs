//! `cargo run -p seed -- demo`: seed the demo tenant into the database named by
//! `DATABASE_URL` (default: the embedded SQLite file `cargo run` uses).

use clap::{Parser, Subcommand};
use domain::auth::{Auth, SessionPolicy, SignInLimits};
use infra::db::{DbSettings, Storage};
use infra::jwt::{JwtSettings, JwtTokens, SigningKeys};
use infra::password::{Argon2Hasher, Argon2Params};
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let storage = Storage::connect(&DbSettings {
        url: cli.database_url,
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
        log_statements: false,
    })
    .await?;
    storage.migrate().await?;
    match cli.command {
        Command::Demo => {
            let identity = storage.identity();
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
            let tenancy = storage.tenancy();
            let sessions = storage.sessions();
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
                // The seed signs nobody in; the limits only complete the use case.
                external: None,
                limits: SignInLimits {
                    per_account: &unlimited,
                    per_client: &unlimited,
                },
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
