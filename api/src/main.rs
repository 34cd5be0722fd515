use api::app::{Application, shutdown_signal};
use api::cli::{Cli, Command, OperatorsCommand, TenantsCommand};
use api::config::Settings;
use clap::Parser;

/// glibc's allocator contends on its arena locks under many tokio workers;
/// mimalloc does not, and GraphQL responses allocate a lot.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Schema { admin }) = cli.command {
        if admin {
            print!("{}", api::graphql::admin::sdl());
        } else {
            print!("{}", api::graphql::sdl());
        }
        return Ok(());
    }
    let mut settings = Settings::load()?;
    api::telemetry::init(&settings.log, settings.app_env);
    match cli.command {
        Some(Command::Migrate) => api::tenants::migrate(&settings, 4).await,
        Some(Command::Operators { command }) => match command {
            OperatorsCommand::Add { email } => api::operators::add(&settings, &email).await,
            OperatorsCommand::Remove { email } => api::operators::remove(&settings, &email).await,
            OperatorsCommand::List => api::operators::list(&settings).await,
        },
        Some(Command::Tenants { command }) => match command {
            TenantsCommand::List => api::tenants::list(&settings).await,
            TenantsCommand::Create {
                slug,
                name,
                owner,
                isolation,
            } => api::tenants::create(&settings, &slug, &name, &owner, isolation.as_deref()).await,
            TenantsCommand::Migrate { concurrency } => {
                api::tenants::migrate(&settings, concurrency).await
            }
            TenantsCommand::Export { tenant } => api::tenants::export(&settings, &tenant).await,
            TenantsCommand::Move { tenant, to, server } => {
                api::tenants::move_tenant(&settings, &tenant, &to, server.as_deref()).await
            }
            TenantsCommand::Gc {
                yes,
                min_age_minutes,
            } => api::tenants::gc(&settings, yes, min_age_minutes).await,
            TenantsCommand::Rates {
                tenant,
                tenant_work,
                per_user,
            } => api::tenants::rates(&settings, &tenant, tenant_work, per_user).await,
            TenantsCommand::Delete { tenant, yes } => {
                api::tenants::delete(&settings, &tenant, yes).await
            }
        },
        Some(Command::Serve { no_migrate }) => {
            if no_migrate {
                settings.database.migrate_on_start = false;
            }
            serve(settings).await
        }
        None => serve(settings).await,
        Some(Command::Schema { .. }) => unreachable!("handled above"),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    let addr = app.local_addr();
    tracing::info!(%addr, backend = app.backend(), "listening");
    println!("Tenantry is listening on http://{addr} ({})", app.backend());
    println!("  GraphiQL:  http://{addr}/graphql");
    if let Some(metrics) = app.metrics_addr() {
        println!("  Metrics:   http://{metrics}/metrics");
    }
    if app.demo_available().await {
        println!(
            "  Demo logins (password \"{}\", tenant \"{}\"):",
            seed::demo::PASSWORD,
            seed::demo::TENANT_SLUG
        );
        for login in seed::demo::LOGINS {
            println!("    {:<20} {}", login.email, login.role);
        }
    }
    app.run(shutdown_signal()).await
}
