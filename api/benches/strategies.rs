//! Benchmark: what each tenancy strategy costs to provision and to migrate.
//!
//! On fresh PostgreSQL databases (`tenantry_bench_strategies*` on
//! `TEST_DATABASE_URL`'s server):
//! 1. provisioning a tenant (tenant row, owner membership, audit and change
//!    feed rows; for `schema` also its schema and migrations, for `database`
//!    its database copied from the migrated template), median of BENCH_RUNS
//!    (20) per strategy, alternating;
//! 2. per strategy with its own tenants (schema, database), migrating every
//!    tenant with BENCH_TENANTS (200) of them: when all are current (each
//!    ledger read, nothing applied) and when each lacks its last migration
//!    (applied in its own transaction), 4 at a time. Row tenants have no
//!    ledger of their own: they migrate once, with the shared tables.
//!
//! Run: `cargo bench -p api --bench strategies`.

mod common;

use common::{drop_database, drop_databases_with_prefix, env_or, fresh_database};
use domain::Isolation;
use domain::ports::NewTenant;
use domain::ports::{Accounts, Directory};
use domain::values::{DisplayName, Email, TenantName, TenantSlug};
use infra::db::{DbSettings, Storage};
use infra::platform::Platform;
use infra::tenancy::database::DatabaseTenancySettings;
use infra::tenancy::lifecycle::Outcome;
use sea_orm::{ConnectionTrait, Database};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

/// Tenant databases of this bench are `bench_st_<hex>`.
const PREFIX: &str = "bench_st_";

/// Undoes the last tenant-plane migration in the current schema, so the
/// next migrate-all has one to apply.
const UNDO_LAST: &str =
    "DELETE FROM seaql_tenant_migrations WHERE version = 'm20261121_000003_row_level_security';
   DROP POLICY tenant_isolation ON projects; DROP POLICY tenant_isolation ON tasks;
   DROP POLICY tenant_isolation ON idempotency_keys; DROP POLICY tenant_isolation ON invitations;";

/// A migrated control plane with one user who owns every tenant made.
struct Bench {
    platform: Platform,
    owner: domain::UserId,
    made: usize,
}

impl Bench {
    async fn new(url: &str) -> anyhow::Result<Self> {
        let storage = Storage::connect(&DbSettings {
            url: url.to_owned(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
            log_statements: false,
            tenant_statement_timeout: None,
            tenant_databases: DatabaseTenancySettings {
                name_prefix: PREFIX.into(),
                ..Default::default()
            },
            admission: None,
        })
        .await?;
        storage.migrate().await?;
        let platform = Platform::compose(storage, infra::platform::Settings::local()).await?;
        let owner = platform
            .identity()
            .create_user(
                &Email::parse("bench@strategies.test").expect("valid"),
                "x",
                &DisplayName::parse("Bench").expect("valid"),
            )
            .await?
            .id;
        Ok(Self {
            platform,
            owner,
            made: 0,
        })
    }

    async fn provision(&mut self, isolation: Isolation) -> anyhow::Result<Duration> {
        self.made += 1;
        let n = self.made;
        let started = Instant::now();
        self.platform
            .identity()
            .create_tenant(
                self.owner,
                &NewTenant {
                    name: TenantName::parse(&format!("Bench {n}")).expect("valid"),
                    slug: TenantSlug::parse(&format!("bench-{n}")).expect("valid"),
                    isolation,
                    fixture: false,
                },
            )
            .await?;
        Ok(started.elapsed())
    }

    async fn migrate_all(&self, label: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        let results = self
            .platform
            .storage()
            .migrate_tenants(4, |_, _| {})
            .await?;
        let took = started.elapsed();
        let migrated = results
            .iter()
            .filter(|m| matches!(m.outcome, Outcome::Migrated { .. }))
            .count();
        let failed: Vec<_> = results
            .iter()
            .filter_map(|m| match &m.outcome {
                Outcome::Failed(e) => Some(e),
                _ => None,
            })
            .collect();
        assert!(failed.is_empty(), "no tenant may fail: {failed:?}");
        println!(
            "  {label:<52} {:>8.0} ms  ({migrated} of {} migrated)",
            took.as_secs_f64() * 1000.0,
            results.len()
        );
        Ok(())
    }

    async fn close(self) {
        self.platform.close().await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let runs = env_or("BENCH_RUNS", 20);
    let tenants = env_or("BENCH_TENANTS", 200);
    let name = "tenantry_bench_strategies";
    let (admin, url) = fresh_database(name).await?;
    drop_databases_with_prefix(&admin, PREFIX).await?;

    // 1. Provisioning, alternating strategies.
    let mut bench = Bench::new(&url).await?;
    let (mut row, mut schema, mut database) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        row.push(bench.provision(Isolation::Row).await?);
        schema.push(bench.provision(Isolation::Schema).await?);
        database.push(bench.provision(Isolation::Database).await?);
    }
    println!("provision a tenant (median of {runs}, PostgreSQL, in-process)");
    println!("  row       {:>8.2} ms", median_ms(row));
    println!("  schema    {:>8.2} ms", median_ms(schema));
    println!("  database  {:>8.2} ms", median_ms(database));
    bench.close().await;
    drop_database(&admin, name).await?;
    drop_databases_with_prefix(&admin, PREFIX).await?;

    // 2. Migrating every tenant, one strategy at a time.
    for isolation in [Isolation::Schema, Isolation::Database] {
        let name = format!("tenantry_bench_strategies_{isolation}");
        let (_, url) = fresh_database(&name).await?;
        let mut bench = Bench::new(&url).await?;
        for _ in 0..tenants {
            bench.provision(isolation).await?;
        }
        println!("migrate every tenant ({tenants} {isolation} tenants, 4 at a time)");
        bench
            .migrate_all("all current: each ledger read, nothing applied")
            .await?;
        // Make the last migration pending everywhere, undoing what it made.
        let tenant_urls: Vec<String> = match isolation {
            Isolation::Database => {
                let (server, _) = url.rsplit_once('/').expect("a database URL");
                let rows = admin
                    .query_all_raw(sea_orm::Statement::from_string(
                        sea_orm::DbBackend::Postgres,
                        format!("SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'"),
                    ))
                    .await?;
                rows.iter()
                    .map(|r| Ok(format!("{server}/{}", r.try_get::<String>("", "datname")?)))
                    .collect::<anyhow::Result<_>>()?
            }
            _ => vec![url.clone()],
        };
        for tenant_url in tenant_urls {
            let db = Database::connect(&tenant_url).await?;
            if isolation == Isolation::Schema {
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
            } else {
                db.execute_unprepared(UNDO_LAST).await?;
            }
            db.close().await?;
        }
        bench.migrate_all("each lacking its last migration").await?;
        bench.close().await;
        drop_database(&admin, &name).await?;
        drop_databases_with_prefix(&admin, PREFIX).await?;
    }
    Ok(())
}
