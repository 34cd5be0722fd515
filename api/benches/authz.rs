//! Benchmark: the authorization check at scale.
//!
//! Loads 10,000 tenants × 10 members (100,000 role assignments) and 2 custom
//! roles in each of 1,000 tenants (held by one member of each) into
//! PostgreSQL, then reports:
//! - the time a server takes to load the enforcer (median of 3 loads),
//! - the memory the enforcer takes (RSS growth over the first load),
//! - checks per second on 1 and 2 threads (median of BENCH_ROUNDS rounds),
//!   beside the check it replaced (the default-role table read with the role
//!   the request already carries) measured in the same run,
//! - how long a custom-role change takes from the call to being applied here.
//!
//! Run: `cargo bench -p api --bench authz` (PostgreSQL on its test URL).
//! Knobs: BENCH_TENANTS (10000), BENCH_SECONDS (1), BENCH_ROUNDS (5).

mod common;

use common::{drop_database, env_or, fresh_database, median};
use domain::audit::{AuditAction, AuditRecord};
use domain::authz::{Permission, Role, default_role};
use domain::identity::RoleName;
use domain::ports::AccessStore;
use domain::{Isolation, TenantContext, TenantId};
use infra::authz::{PolicyEngine, SqlAccessStore};
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Database};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MEMBERS: u64 = 10;
const CUSTOM_TENANTS: u64 = 1000;

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

async fn load_data(db: &sea_orm::DatabaseConnection, tenants: u64) -> anyhow::Result<()> {
    let users = tenants * MEMBERS;
    for sql in [
        format!(
            "INSERT INTO tenants (id, slug, name, isolation, created_at)
             SELECT md5('t'||i)::uuid, 'bench-'||i, 'Bench '||i, 'row', now()
             FROM generate_series(0, {}) i",
            tenants - 1
        ),
        format!(
            "INSERT INTO users (id, email, password_hash, display_name, created_at)
             SELECT md5('u'||i)::uuid, 'u'||i||'@bench.test', 'x', 'User '||i, now()
             FROM generate_series(0, {}) i",
            users - 1
        ),
        format!(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at)
             SELECT md5('t'||(i/{MEMBERS}))::uuid, md5('u'||i)::uuid,
                    CASE i % {MEMBERS} WHEN 0 THEN 'owner' WHEN 1 THEN 'admin' WHEN 8 THEN 'viewer'
                         WHEN 9 THEN CASE WHEN i/{MEMBERS} < {CUSTOM_TENANTS} THEN 'custom-a' ELSE 'member' END
                         ELSE 'member' END, now()
             FROM generate_series(0, {}) i",
            users - 1
        ),
        format!(
            "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
             SELECT 'g', r, 'perm:'||p, md5('t'||t)::uuid::text, '', '', ''
             FROM generate_series(0, {}) t,
                  (VALUES ('custom-a'), ('custom-b')) AS roles(r),
                  (VALUES ('task:read'), ('task:write'), ('audit:read')) AS perms(p)",
            CUSTOM_TENANTS.min(tenants) - 1
        ),
    ] {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// Checks per second over `secs`, on `threads` tasks.
async fn throughput(
    engine: &Arc<PolicyEngine>,
    requests: &Arc<Vec<(uuid::Uuid, uuid::Uuid, Permission)>>,
    threads: usize,
    secs: u64,
) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for t in 0..threads {
        let (engine, requests) = (engine.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let (mut n, mut allowed) = (0u64, 0u64);
            let mut i = t * 7919;
            while Instant::now() < deadline {
                for _ in 0..256 {
                    let (u, tenant, p) = requests[i % requests.len()];
                    allowed += u64::from(engine.decide(u, tenant, p).await);
                    i += 1;
                    n += 1;
                }
            }
            std::hint::black_box(allowed);
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / secs as f64
}

/// The check authorization replaced: the role the request carries, looked up
/// in the default-role table.
fn baseline(
    requests: &[(uuid::Uuid, uuid::Uuid, Permission)],
    roles: &[&'static str],
    secs: u64,
) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut n, mut allowed, mut i) = (0u64, 0u64, 0usize);
    while Instant::now() < deadline {
        for _ in 0..256 {
            let (_, _, p) = requests[i % requests.len()];
            let role = roles[i % roles.len()];
            allowed += u64::from(default_role(role).is_some_and(|ps| ps.contains(&p)));
            i += 1;
            n += 1;
        }
    }
    std::hint::black_box(allowed);
    n as f64 / secs as f64
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let tenants = env_or("BENCH_TENANTS", 10_000);
    let secs = env_or("BENCH_SECONDS", 1);
    let rounds = env_or("BENCH_ROUNDS", 5);

    let (admin, url) = fresh_database("tenantry_bench_authz").await?;
    let storage = infra::db::Storage::connect(&infra::db::DbSettings {
        url: url.clone(),
        max_connections: 5,
        acquire_timeout: Duration::from_secs(30),
        log_statements: false,
        tenant_statement_timeout: None,
        tenant_databases: Default::default(),
        admission: None,
    })
    .await?;
    storage.migrate().await?;
    let db = Database::connect(&url).await?;
    let started = Instant::now();
    load_data(&db, tenants).await?;
    println!(
        "data: {tenants} tenants × {MEMBERS} members, 2 custom roles × 3 permissions in {} tenants (loaded in {:.1} s)",
        CUSTOM_TENANTS.min(tenants),
        started.elapsed().as_secs_f64()
    );

    // Load time and memory.
    let before = rss_mib();
    let started = Instant::now();
    let engine = Arc::new(PolicyEngine::load(db.clone(), None).await?);
    let first_load = started.elapsed().as_secs_f64();
    let grown = rss_mib() - before;
    let lines = engine.line_count().await;
    let mut loads = vec![first_load];
    for _ in 0..2 {
        let started = Instant::now();
        let e = PolicyEngine::load(db.clone(), None).await?;
        loads.push(started.elapsed().as_secs_f64());
        drop(e);
    }
    println!("enforcer: {lines} policy lines");
    println!(
        "  load at start (median of 3)       {:>10.2} s",
        median(loads)
    );
    println!(
        "  memory (RSS growth, first load)   {grown:>10.1} MiB ({:.0} bytes per line)",
        grown * 1024.0 * 1024.0 / lines as f64
    );

    // Requests: real memberships in random order, each with a random permission.
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT user_id, tenant_id, role FROM memberships ORDER BY random() LIMIT 100000",
        ))
        .await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut requests = Vec::with_capacity(rows.len());
    let mut roles: Vec<&'static str> = Vec::with_capacity(rows.len());
    let mut expected = 0usize;
    for row in rows {
        let (u, t, role): (uuid::Uuid, uuid::Uuid, String) = (
            row.try_get("", "user_id")?,
            row.try_get("", "tenant_id")?,
            row.try_get("", "role")?,
        );
        let p = Permission::ALL[rng.gen_range(0..Permission::ALL.len())];
        let allowed = match role.as_str() {
            "custom-a" => matches!(
                p,
                Permission::TaskRead | Permission::TaskWrite | Permission::AuditRead
            ),
            r => default_role(r).is_some_and(|ps| ps.contains(&p)),
        };
        expected += usize::from(allowed);
        requests.push((u, t, p));
        // The baseline reads default roles only; custom-role members count as members.
        roles.push(match role.as_str() {
            "owner" => "owner",
            "admin" => "admin",
            "viewer" => "viewer",
            _ => "member",
        });
    }
    // The enforcer must agree with the data set before its speed means anything.
    let mut agreed = 0usize;
    for (u, t, p) in &requests {
        agreed += usize::from(engine.enforce(*u, *t, *p).await);
    }
    assert_eq!(agreed, expected, "the enforcer disagrees with the data set");
    let requests = Arc::new(requests);

    let (mut one, mut two, mut base_line) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        base_line.push(baseline(&requests, &roles, secs));
        one.push(throughput(&engine, &requests, 1, secs).await);
        two.push(throughput(&engine, &requests, 2, secs).await);
    }
    let (one, two, base_line) = (median(one), median(two), median(base_line));
    println!("checks per second (median of {rounds} rounds of {secs} s)");
    println!("  baseline: role from the request, default-role table {base_line:>12.0}/s");
    println!(
        "  Casbin enforce, 1 thread                            {one:>12.0}/s  ({:.1} µs each, {:.4} of baseline)",
        1e6 / one,
        one / base_line
    );
    println!("  Casbin enforce, 2 threads                           {two:>12.0}/s");

    // A custom-role change, from the call to applied in this node's enforcer.
    let store = SqlAccessStore::new(db.clone(), Some(engine.clone()));
    let mut took = Vec::new();
    for (k, (_, t, _)) in requests.iter().take(5).enumerate() {
        let t = TenantId::from_uuid(*t);
        #[expect(
            clippy::disallowed_methods,
            reason = "a benchmark acting as the system"
        )]
        let ctx = TenantContext::system(t, Isolation::Row);
        let role = Role::new(RoleName::new(format!("bench-{k}")), [Permission::TaskRead]);
        let audit = AuditRecord {
            action: AuditAction::RoleCreated,
            target: format!("role:bench-{k}"),
            before: None,
            after: None,
        };
        let started = Instant::now();
        store.create_role(&ctx, &role, &audit).await?;
        took.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "  a custom-role change, committed and applied here (median of 5) {:>8.2} ms",
        median(took)
    );

    drop(storage);
    drop_database(&admin, "tenantry_bench_authz").await?;
    Ok(())
}
