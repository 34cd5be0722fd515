//! Benchmark: resource isolation between tenants, in one run.
//!
//! 1. Validation: the fan-out document (fragments each spreading the next
//!    four times, twelve deep: ~700 bytes, 4^11 fields in place) beside a
//!    plain document of the same size, over HTTP: median and p99 of the
//!    round trip, and the in-process cost of measuring each
//!    ([`api::graphql::cost::Gate::admit`]).
//! 2. A quiet tenant's latency (BENCH_QUIET_CLIENTS (2) clients sending
//!    `projects(first: 5)`) alone, then beside a flooding tenant
//!    (BENCH_FLOOD_CLIENTS (8) clients sending the heaviest list the limits
//!    admit: 20 projects with their tasks and counts, 41 round trips), on a
//!    server with admission off (first come, first served: the old
//!    behaviour) and on one with the defaults (fair admission). Request rates
//!    are raised out of the way so the pool's sharing is what is measured.
//!
//! Run: `cargo bench -p api --bench fairness` (PostgreSQL on TEST_DATABASE_URL's
//! server; makes and drops `tenantry_bench_fair`). Knobs: BENCH_SECONDS (10).

mod common;

use api::app::Application;
use api::config::Settings;
use common::{drop_database, env_or, fresh_database};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const QUIET: &str = "{ projects(first: 5) { edges { node { id name } } } }";
const FLOOD: &str = "{ projects(first: 20) { edges { node { tasks(first: 1) { totalCount } } } } }";

fn fan_out() -> String {
    let mut q = String::from("query { ...F0 }\n");
    for i in 0..12 {
        let body = if i == 11 {
            "__typename".to_owned()
        } else {
            format!("...F{n} ...F{n} ...F{n} ...F{n}", n = i + 1)
        };
        q.push_str(&format!("fragment F{i} on Query {{ {body} }}\n"));
    }
    q
}

/// A plain document of `len` bytes: `__typename` fields.
fn plain(len: usize) -> String {
    let mut q = String::from("query {");
    while q.len() + 13 < len {
        q.push_str(" __typename");
    }
    q.push_str(" }");
    q
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn summary(mut l: Vec<Duration>) -> (f64, f64, usize) {
    l.sort();
    (percentile_ms(&l, 0.5), percentile_ms(&l, 0.99), l.len())
}

async fn server(url: &str, admission: bool) -> anyhow::Result<String> {
    let figment = Settings::figment()
        .merge(("app_env", "test"))
        .merge(("server.port", 0))
        .merge(("database.url", url.to_owned()))
        .merge(("database.migrate_on_start", true))
        .merge(("log.filter", "off"))
        .merge(("demo.seed_on_first_start", false))
        .merge(("fixtures.secret", "bench"))
        .merge(("tenancy.admission.enabled", admission))
        .merge(("rate_limit.requests.tenant_work_per_second", 1_000_000))
        .merge(("rate_limit.requests.user_per_second", 1_000_000))
        .merge(("rate_limit.requests.anonymous_per_second", 1_000_000));
    let app = Application::build(Settings::from_figment(figment)?).await?;
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    Ok(base)
}

/// The tokens of a fixture tenant's `users` members with `projects` projects.
async fn tenant(
    client: &reqwest::Client,
    base: &str,
    users: usize,
    projects: u32,
) -> anyhow::Result<Vec<String>> {
    let body = json!({ "users": vec![json!({ "role": "member" }); users],
                       "projects": projects, "tasksPerProject": 3 });
    let f: Value = client
        .post(format!("{base}/_fixtures/tenants"))
        .header("x-fixtures-secret", "bench")
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    Ok(f["users"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("fixture refused: {f}"))?
        .iter()
        .map(|u| u["accessToken"].as_str().unwrap_or_default().to_owned())
        .collect())
}

/// Latencies of `clients` clients sending `query` until `until`; errors are counted.
async fn clients(
    client: &reqwest::Client,
    base: &str,
    tokens: &[String],
    query: &str,
    until: Instant,
) -> (Vec<Duration>, usize) {
    let runs = tokens.iter().map(|token| async move {
        let mut lat = Vec::new();
        let mut errors = 0;
        while Instant::now() < until {
            let t = Instant::now();
            let body: Value = match client
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": query }))
                .send()
                .await
            {
                Ok(r) => r.json().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            };
            lat.push(t.elapsed());
            if body.get("errors").is_some() || body.is_null() {
                errors += 1;
            }
        }
        (lat, errors)
    });
    let mut all = Vec::new();
    let mut errors = 0;
    for (l, e) in futures::future::join_all(runs).await {
        all.extend(l);
        errors += e;
    }
    (all, errors)
}

async fn anonymous(client: &reqwest::Client, base: &str, query: &str, n: usize) -> Vec<Duration> {
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let _ = client
            .post(format!("{base}/graphql"))
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("the server answers")
            .bytes()
            .await;
        lat.push(t.elapsed());
    }
    lat
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = env_or("BENCH_SECONDS", 10);
    let quiet_clients: usize = env_or("BENCH_QUIET_CLIENTS", 2);
    let flood_clients: usize = env_or("BENCH_FLOOD_CLIENTS", 8);
    let name = "tenantry_bench_fair";
    let (admin, url) = fresh_database(name).await?;
    let client = reqwest::Client::new();

    // 1. Validation.
    let bomb = fan_out();
    let same_size = plain(bomb.len());
    let settings = Settings::from_figment(Settings::figment().merge(("app_env", "test")))?;
    let gate = api::graphql::cost::Gate::new(&api::graphql::sdl(), &settings.graphql);
    let gate_us = |doc: &str| {
        let mut times = Vec::new();
        for _ in 0..2_000 {
            let mut r = async_graphql::Request::new(doc);
            let t = Instant::now();
            let _ = gate.admit(&mut r);
            times.push(t.elapsed());
        }
        let (p50, _, _) = summary(times);
        p50 * 1000.0
    };
    let (gate_bomb, gate_plain) = (gate_us(&bomb), gate_us(&same_size));

    let fair = server(&url, true).await?;
    let unfair = server(&url, false).await?;
    let (b50, b99, _) = summary(anonymous(&client, &fair, &bomb, 500).await);
    let (p50, p99, _) = summary(anonymous(&client, &fair, &same_size, 500).await);
    println!(
        "Validation: {} bytes each, 500 requests each over HTTP",
        bomb.len()
    );
    println!(
        "  fan-out (refused)   p50 {b50:>6.2} ms  p99 {b99:>6.2} ms   measuring it: {gate_bomb:>6.1} µs"
    );
    println!(
        "  plain (answered)    p50 {p50:>6.2} ms  p99 {p99:>6.2} ms   measuring it: {gate_plain:>6.1} µs"
    );
    println!("  ratio fan-out/plain p50 {:.2}", b50 / p50);

    // 2. A quiet tenant beside a flood. Both servers share the data.
    let quiet = tenant(&client, &fair, quiet_clients, 10).await?;
    let flood = tenant(&client, &fair, flood_clients, 20).await?;
    let run = |base: String, with_flood: bool| {
        let (client, quiet, flood) = (client.clone(), quiet.clone(), flood.clone());
        async move {
            // Warm up, then measure.
            let warm = Instant::now() + Duration::from_secs(1);
            clients(&client, &base, &quiet, QUIET, warm).await;
            let until = Instant::now() + Duration::from_secs(seconds);
            let q = clients(&client, &base, &quiet, QUIET, until);
            if with_flood {
                let f = clients(&client, &base, &flood, FLOOD, until);
                let (q, f) = futures::future::join(q, f).await;
                (q, Some(f))
            } else {
                (q.await, None)
            }
        }
    };
    println!(
        "\nA quiet tenant ({quiet_clients} clients, `projects(first: 5)`) beside a flooding tenant \
         ({flood_clients} clients, 41 round trips a request), {seconds} s each, PostgreSQL"
    );
    let mut alone_p99 = 0.0;
    for (label, base, with_flood) in [
        ("alone", fair.clone(), false),
        ("beside the flood, admission off", unfair.clone(), true),
        ("beside the flood, fair admission", fair.clone(), true),
    ] {
        let ((q, q_err), f) = run(base, with_flood).await;
        let (q50, q99, n) = summary(q);
        if !with_flood {
            alone_p99 = q99;
        }
        let flood_figures = f.map_or(String::new(), |(f, f_err)| {
            let n = f.len();
            let (f50, _, _) = summary(f);
            format!(
                "   flood: {:>6.0} req/s, p50 {f50:>7.2} ms, {f_err} refused",
                n as f64 / seconds as f64
            )
        });
        println!(
            "  {label:<33} p50 {q50:>6.2} ms  p99 {q99:>7.2} ms  ({:.2}x alone)  {:>6.0} req/s, {q_err} errors{flood_figures}",
            q99 / alone_p99,
            n as f64 / seconds as f64
        );
    }
    drop_database(&admin, name).await?;
    Ok(())
}
