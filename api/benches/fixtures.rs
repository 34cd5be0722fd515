//! Benchmark: provisioning and deleting a fixture tenant (2 users, 2 projects,
//! 10 tasks) through `POST/DELETE /_fixtures/tenants` on PostgreSQL, as an
//! end-to-end suite would, for each isolation (a database tenant's database is
//! copied from the migrated template). Median and p90 of BENCH_RUNS (50) each.
//!
//! Run: `cargo bench -p api --bench fixtures` (uses TEST_DATABASE_URL's server
//! and recreates the database `tenantry_bench_fixtures`).

mod common;

use api::app::Application;
use api::config::Settings;
use common::{env_or, fresh_database};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[(v.len() * 9) / 10]))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = env_or("BENCH_RUNS", 50);
    let (_admin, url) = fresh_database("tenantry_bench_fixtures").await?;
    let figment = Settings::figment()
        .merge(("app_env", "test"))
        .merge(("server.port", 0))
        .merge(("metrics.listen", ""))
        .merge(("database.url", url))
        .merge(("log.filter", "off"))
        .merge(("fixtures.secret", "bench-fixtures-secret-0123456789abcdef"))
        .merge(("tenancy.database.name_prefix", "bench_fx_"));
    let app = Application::build(Settings::from_figment(figment)?).await?;
    let url = format!("http://{}/_fixtures/tenants", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    let client = reqwest::Client::new();
    println!("fixture tenant (2 users, 2 projects, 10 tasks), PostgreSQL, {runs} runs over HTTP");
    for (isolation, aim) in [("row", 20), ("schema", 150), ("database", 500)] {
        let body = json!({ "isolation": isolation, "users": [{ "role": "admin" }, { "role": "viewer" }], "projects": 2, "tasksPerProject": 5 });
        let (mut create, mut delete) = (Vec::new(), Vec::new());
        for i in 0..runs + 5 {
            let start = Instant::now();
            let res = client
                .post(&url)
                .header(
                    "x-fixtures-secret",
                    "bench-fixtures-secret-0123456789abcdef",
                )
                .json(&body)
                .send()
                .await?;
            assert_eq!(res.status(), 201);
            let f: Value = res.json().await?;
            assert_eq!(f["tenant"]["isolation"], isolation);
            let made = start.elapsed();
            let start = Instant::now();
            let res = client
                .delete(format!("{url}/{}", f["tenant"]["id"].as_str().unwrap()))
                .header(
                    "x-fixtures-secret",
                    "bench-fixtures-secret-0123456789abcdef",
                )
                .send()
                .await?;
            assert_eq!(res.status(), 204);
            // The first few warm the pool and caches.
            if i >= 5 {
                create.push(made);
                delete.push(start.elapsed());
            }
        }
        let (c50, c90) = stats(create);
        let (d50, d90) = stats(delete);
        println!(
            "  {isolation:<6} provision median {c50:>7.2} ms   p90 {c90:>7.2} ms   (aim: under {aim} ms)"
        );
        println!("  {isolation:<6} delete    median {d50:>7.2} ms   p90 {d90:>7.2} ms");
    }
    Ok(())
}
