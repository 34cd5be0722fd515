//! Benchmark: the list query under each tenancy strategy, with BENCH_TENANTS
//! (1000) tenants of each kind in one server (a hybrid deployment), beside
//! the row strategy with the same data.
//!
//! Every tenant is a fixture (one viewer, 2 projects, 5 tasks each). Per
//! round and strategy, BENCH_CONCURRENCY (16) clients send
//! `tasks(first: 20)` for random tenants of that strategy for BENCH_SECONDS
//! (5); BENCH_ROUNDS (3) rounds alternate the strategies. Prints requests per
//! second (median of the rounds), p50 and p99 latency (all rounds), and the
//! ratio to row. Requests for 1,000 database tenants spread over more
//! tenants than pools fit (the default budget), so that figure includes
//! opening a pool for most requests; a fourth run sends them to 20 database
//! tenants, whose pools stay open.
//!
//! Run: `cargo bench -p api --bench list_query` (uses TEST_DATABASE_URL's
//! server; recreates `tenantry_bench_list` and drops its tenant databases).

mod common;

use api::app::Application;
use api::config::Settings;
use common::{drop_database, drop_databases_with_prefix, env_or, fresh_database, median};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PREFIX: &str = "bench_lq_";
const QUERY: &str = "{ tasks(first: 20) { edges { node { id title status } } } }";
const STRATEGIES: [&str; 3] = ["row", "schema", "database"];
/// Database tenants whose pools all fit in the budget at once.
const HOT: usize = 20;

/// The viewers' access tokens of `n` new fixture tenants.
async fn make_tenants(
    client: &reqwest::Client,
    base: &str,
    isolation: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let bar = ProgressBar::new(n as u64).with_style(ProgressStyle::with_template(
        "{msg:>8} {bar:40} {pos}/{len} tenants {elapsed}",
    )?);
    bar.set_message(isolation.to_owned());
    let body = json!({ "isolation": isolation, "users": [{ "role": "viewer" }],
                       "projects": 2, "tasksPerProject": 5 });
    let tokens: Vec<anyhow::Result<String>> = futures::stream::iter(0..n)
        .map(|_| {
            let (client, body, bar) = (client.clone(), body.clone(), bar.clone());
            async move {
                let res = client
                    .post(format!("{base}/_fixtures/tenants"))
                    .header(
                        "x-fixtures-secret",
                        "bench-fixtures-secret-0123456789abcdef",
                    )
                    .json(&body)
                    .send()
                    .await?;
                anyhow::ensure!(
                    res.status() == 201,
                    "fixture refused: {}",
                    res.text().await?
                );
                let f: Value = res.json().await?;
                bar.inc(1);
                Ok(f["users"][0]["accessToken"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned())
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    bar.finish();
    tokens.into_iter().collect()
}

/// Requests completed in `seconds` by `concurrency` clients, and their latencies.
async fn load(
    client: &reqwest::Client,
    base: &str,
    tokens: &[String],
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| async {
        let mut latencies = Vec::new();
        while Instant::now() < until {
            let token = &tokens[rand::thread_rng().gen_range(0..tokens.len())];
            let t = Instant::now();
            let body: Value = client
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": QUERY }))
                .send()
                .await?
                .json()
                .await?;
            latencies.push(t.elapsed());
            anyhow::ensure!(body.get("errors").is_none(), "the query failed: {body}");
            anyhow::ensure!(
                body["data"]["tasks"]["edges"].as_array().map(Vec::len) == Some(10),
                "a tenant sees its ten tasks: {body}"
            );
        }
        Ok::<_, anyhow::Error>(latencies)
    });
    let mut all = Vec::new();
    for l in futures::future::join_all(workers).await {
        all.extend(l?);
    }
    let per_sec = all.len() as f64 / started.elapsed().as_secs_f64();
    Ok((per_sec, all))
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let tenants: usize = env_or("BENCH_TENANTS", 1000);
    let seconds: u64 = env_or("BENCH_SECONDS", 5);
    let rounds: usize = env_or("BENCH_ROUNDS", 3);
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 16);
    let name = "tenantry_bench_list";
    let (admin, url) = fresh_database(name).await?;
    drop_databases_with_prefix(&admin, PREFIX).await?;
    let figment = Settings::figment()
        .merge(("app_env", "test"))
        .merge(("server.port", 0))
        .merge(("metrics.listen", ""))
        .merge(("database.url", url))
        .merge(("log.filter", "off"))
        .merge(("demo.seed_on_first_start", false))
        .merge(("fixtures.secret", "bench-fixtures-secret-0123456789abcdef"))
        .merge(("tenancy.database.name_prefix", PREFIX));
    let settings = Settings::from_figment(figment)?;
    let slots = settings
        .tenancy
        .tenant_pool_slots(settings.database.max_connections);
    let app = Application::build(settings).await?;
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    let client = reqwest::Client::new();

    let mut tokens = Vec::new();
    for isolation in STRATEGIES {
        tokens.push(make_tenants(&client, &base, isolation, tenants).await?);
    }
    // And database tenants few enough for their pools to stay open.
    let hot = tokens[2][..HOT].to_vec();
    tokens.push(hot);
    let labels = ["row", "schema", "database", "database, 20 tenants"];
    let mut per_sec = vec![Vec::new(); labels.len()];
    let mut latencies = vec![Vec::new(); labels.len()];
    for _ in 0..rounds {
        for (i, t) in tokens.iter().enumerate() {
            let (rate, l) = load(&client, &base, t, concurrency, seconds).await?;
            per_sec[i].push(rate);
            latencies[i].extend(l);
        }
    }
    println!(
        "tasks(first: 20) over HTTP, {tenants} tenants per strategy in one server, {concurrency} clients, \
         {rounds} rounds of {seconds} s, PostgreSQL, {slots} tenant pools at most"
    );
    let row_rate = median(per_sec[0].clone());
    for (i, isolation) in labels.iter().enumerate() {
        let rate = median(per_sec[i].clone());
        let mut l = std::mem::take(&mut latencies[i]);
        l.sort();
        println!(
            "  {isolation:<21} {rate:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({:.2}x row)",
            percentile_ms(&l, 0.50),
            percentile_ms(&l, 0.99),
            rate / row_rate
        );
    }
    let ready: Value = client
        .get(format!("{base}/readyz"))
        .send()
        .await?
        .json()
        .await?;
    println!("  database tenants' pools: {}", ready["tenantPools"]);

    drop_database(&admin, name).await?;
    drop_databases_with_prefix(&admin, PREFIX).await?;
    Ok(())
}
