//! Benchmark: what each tenancy strategy costs to provision and to migrate.
//!
//! On a fresh PostgreSQL database (`tenantry_bench_strategies` on
//! `TEST_DATABASE_URL`'s server):
//! 1. provisioning a tenant (tenant row, owner membership, audit and change
//!    feed rows; for `schema` also its schema and migrations), median of
//!    BENCH_RUNS (20) per strategy, alternating;
//! 2. migrating every tenant with BENCH_TENANTS (200) schema tenants: when all
//!    are current (each ledger read, nothing applied) and when each lacks its
//!    last migration (applied in its own transaction), 4 at a time.
//!
//! Run: `cargo bench -p api --bench strategies`.

mod common;

use common::{drop_database, env_or, fresh_database};
use domain::Isolation;
use domain::ports::{IdentityStore, NewTenant};
use domain::values::{DisplayName, Email, TenantName, TenantSlug};
use infra::db::{DbSettings, Storage};
use infra::tenancy::lifecycle::Outcome;
use sea_orm::{ConnectionTrait, Database};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let runs = env_or("BENCH_RUNS", 20);
    let tenants = env_or("BENCH_TENANTS", 200);
    let name = "tenantry_bench_strategies";
    let (admin, url) = fresh_database(name).await?;
    let mut storage = Storage::connect(&DbSettings {
        url: url.clone(),
        max_connections: 8,
        acquire_timeout: Duration::from_secs(30),
        log_statements: false,
        tenant_statement_timeout: None,
        tenant_databases: Default::default(),
    })
    .await?;
    storage.migrate().await?;
    storage.load_authorization(None).await?;
    let identity = storage.identity();
    let owner = identity
        .create_user(
            &Email::parse("bench@strategies.test").expect("valid"),
            "x",
            &DisplayName::parse("Bench").expect("valid"),
        )
        .await?;
    let mut n = 0;
    let mut provision = |isolation: Isolation| {
        n += 1;
        let identity = &identity;
        let owner = owner.id;
        async move {
            let started = Instant::now();
            identity
                .create_tenant(
                    owner,
                    &NewTenant {
                        name: TenantName::parse(&format!("Bench {n}")).expect("valid"),
                        slug: TenantSlug::parse(&format!("bench-{n}")).expect("valid"),
                        isolation,
                    },
                )
                .await?;
            Ok::<_, domain::Error>(started.elapsed())
        }
    };

    // 1. Provisioning, alternating strategies.
    let (mut row, mut schema) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        row.push(provision(Isolation::Row).await?);
        schema.push(provision(Isolation::Schema).await?);
    }
    println!("provision a tenant (median of {runs}, PostgreSQL, in-process)");
    println!("  row     {:>8.2} ms", median_ms(row));
    println!("  schema  {:>8.2} ms", median_ms(schema));

    // 2. Migrating every tenant.
    for _ in runs..tenants {
        provision(Isolation::Schema).await?;
    }
    let timed = |label: &'static str| {
        let storage = &storage;
        async move {
            let started = Instant::now();
            let results = storage.migrate_tenants(4, |_, _| {}).await?;
            let took = started.elapsed();
            let migrated = results
                .iter()
                .filter(|m| matches!(m.outcome, Outcome::Migrated { .. }))
                .count();
            let failed = results
                .iter()
                .filter(|m| matches!(m.outcome, Outcome::Failed(_)))
                .count();
            assert_eq!(failed, 0, "no tenant may fail");
            println!(
                "  {label:<44} {:>8.0} ms  ({migrated} of {} migrated)",
                took.as_secs_f64() * 1000.0,
                results.len()
            );
            Ok::<_, anyhow::Error>(())
        }
    };
    println!("migrate every tenant ({tenants} schema tenants, 4 at a time)");
    timed("all current: each ledger read, nothing applied").await?;
    // Make the last migration pending everywhere, undoing what it made.
    let db = Database::connect(&url).await?;
    db.execute_unprepared(
        "DO $$ DECLARE s text; t text; BEGIN
           FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%' LOOP
             EXECUTE format('DELETE FROM %I.seaql_tenant_migrations WHERE version = %L', s, 'm20261121_000003_row_level_security');
             FOREACH t IN ARRAY ARRAY['projects', 'tasks', 'idempotency_keys', 'invitations'] LOOP
               EXECUTE format('DROP POLICY tenant_isolation ON %I.%I', s, t);
             END LOOP;
           END LOOP;
         END $$",
    )
    .await?;
    timed("each lacking its last migration").await?;

    storage.close().await;
    drop_database(&admin, name).await?;
    Ok(())
}
