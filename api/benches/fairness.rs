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
//!    admit: 20 projects with their tasks and counts, 41 round trips; and one
//!    client creating tasks, each sent to 10 webhooks whose target never
//!    answers), on a server with admission off (first come, first served:
//!    the old behaviour) and on one with the defaults (fair admission).
//!    Meanwhile the quiet tenant makes a task every 200 ms, and its webhook
//!    (a receiver that answers at once) times the delivery. Request rates
//!    are raised out of the way so the sharing itself is what is measured.
//!
//! Run: `cargo bench -p api --bench fairness` (PostgreSQL on TEST_DATABASE_URL's
//! server; makes and drops `tenantry_bench_fair`). Knobs: BENCH_SECONDS (10).

mod common;

use api::app::Application;
use api::config::Settings;
use common::{drop_database, env_or, fresh_database};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
        .merge(("metrics.listen", ""))
        .merge(("database.url", url.to_owned()))
        .merge(("database.migrate_on_start", true))
        .merge(("log.filter", "off"))
        .merge(("demo.seed_on_first_start", false))
        .merge(("fixtures.secret", "bench-fixtures-secret-0123456789abcdef"))
        .merge(("tenancy.admission.enabled", admission))
        .merge(("rate_limit.requests.tenant_work_per_second", 1_000_000))
        .merge(("rate_limit.requests.user_per_second", 1_000_000))
        .merge(("rate_limit.requests.anonymous_per_second", 1_000_000));
    let app = Application::build(Settings::from_figment(figment)?).await?;
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    Ok(base)
}

/// A fixture tenant: its owners' tokens and its first project.
async fn tenant(
    client: &reqwest::Client,
    base: &str,
    users: usize,
    projects: u32,
) -> anyhow::Result<(Vec<String>, String)> {
    let body = json!({ "users": vec![json!({ "role": "owner" }); users],
                       "projects": projects, "tasksPerProject": 3 });
    let f: Value = client
        .post(format!("{base}/_fixtures/tenants"))
        .header(
            "x-fixtures-secret",
            "bench-fixtures-secret-0123456789abcdef",
        )
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let tokens = f["users"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("fixture refused: {f}"))?
        .iter()
        .map(|u| u["accessToken"].as_str().unwrap_or_default().to_owned())
        .collect();
    Ok((
        tokens,
        f["projects"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ))
}

async fn gql(client: &reqwest::Client, base: &str, token: &str, query: &str, vars: Value) -> Value {
    match client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": vars }))
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

async fn add_webhook(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    url: &str,
) -> anyhow::Result<()> {
    let q = "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }";
    let i = json!({ "url": url, "events": ["task.created"], "secret": "whsec-0123456789abcdef" });
    let body = gql(client, base, token, q, json!({ "i": i })).await;
    anyhow::ensure!(body.get("errors").is_none(), "createWebhook: {body}");
    Ok(())
}

/// When each task title's webhook delivery arrived.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// A webhook receiver that answers at once and notes arrivals; its URL.
async fn receiver(arrivals: Arrivals) -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::Json<Value>| {
            let arrivals = arrivals.clone();
            async move {
                if let Some(title) = body["data"]["task"]["title"].as_str() {
                    arrivals
                        .lock()
                        .expect("arrivals")
                        .insert(title.to_owned(), Instant::now());
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// A webhook target that takes connections and never answers; its URL.
async fn black_hole() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok(url)
}

/// Makes a task every `every` until `until`; when each was made, by title.
async fn make_tasks(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    project: &str,
    prefix: &str,
    every: Option<Duration>,
    until: Instant,
) -> Vec<(String, Instant)> {
    let q = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }";
    let mut made = Vec::new();
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let title = format!("{prefix}-{n}");
        let at = Instant::now();
        let body = gql(
            client,
            base,
            token,
            q,
            json!({ "i": { "projectId": project, "title": title } }),
        )
        .await;
        if body.get("errors").is_none() && !body.is_null() {
            made.push((title, at));
        }
        if let Some(every) = every {
            tokio::time::sleep(every.saturating_sub(at.elapsed())).await;
        }
    }
    made
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
    let arrivals: Arrivals = Arc::default();
    let fast = receiver(arrivals.clone()).await?;
    let hole = black_hole().await?;
    let (quiet, quiet_project) = tenant(&client, &fair, quiet_clients, 10).await?;
    let (flood, flood_project) = tenant(&client, &fair, flood_clients + 1, 20).await?;
    add_webhook(&client, &fair, &quiet[0], &fast).await?;
    for _ in 0..10 {
        add_webhook(&client, &fair, &flood[0], &hole).await?;
    }
    let (flood_readers, flood_writer) = (
        flood[..flood_clients].to_vec(),
        flood[flood_clients].clone(),
    );
    let run = |base: String, with_flood: bool, phase: &'static str| {
        let (client, quiet, flood_readers, flood_writer) = (
            client.clone(),
            quiet.clone(),
            flood_readers.clone(),
            flood_writer.clone(),
        );
        let (quiet_project, flood_project) = (quiet_project.clone(), flood_project.clone());
        async move {
            // Warm up, then measure.
            let warm = Instant::now() + Duration::from_secs(3);
            clients(&client, &base, &quiet, QUIET, warm).await;
            let until = Instant::now() + Duration::from_secs(seconds);
            let q = clients(&client, &base, &quiet, QUIET, until);
            let made = make_tasks(
                &client,
                &base,
                &quiet[0],
                &quiet_project,
                phase,
                Some(Duration::from_millis(200)),
                until,
            );
            if with_flood {
                let f = clients(&client, &base, &flood_readers, FLOOD, until);
                let w = make_tasks(
                    &client,
                    &base,
                    &flood_writer,
                    &flood_project,
                    "flood",
                    None,
                    until,
                );
                let (q, made, f, w) = futures::join!(q, made, f, w);
                (q, made, Some((f, w.len())))
            } else {
                let (q, made) = futures::join!(q, made);
                (q, made, None)
            }
        }
    };
    println!(
        "\nA quiet tenant ({quiet_clients} clients, `projects(first: 5)`, a task every 200 ms to a \
         webhook that answers at once) beside a flooding tenant ({flood_clients} clients, 41 round \
         trips a request; one client making tasks, each sent to 10 webhooks that never answer), \
         {seconds} s each, PostgreSQL"
    );
    // Alone before and after the floods; ratios are to the quieter of the two.
    let mut alone_p99 = f64::INFINITY;
    let mut lines = Vec::new();
    for (label, base, with_flood, phase) in [
        ("alone", fair.clone(), false, "alone"),
        (
            "beside the flood, admission off",
            unfair.clone(),
            true,
            "off",
        ),
        (
            "beside the flood, fair admission",
            fair.clone(),
            true,
            "fair",
        ),
        ("alone, again", fair.clone(), false, "again"),
    ] {
        let ((q, q_err), made, f) = run(base, with_flood, phase).await;
        // Deliveries still under way get two more seconds.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (q50, q99, n) = summary(q);
        if !with_flood {
            alone_p99 = f64::min(alone_p99, q99);
        }
        let delivered: Vec<Duration> = {
            let arrived = arrivals.lock().expect("arrivals");
            made.iter()
                .filter_map(|(title, at)| {
                    arrived.get(title).map(|a| a.saturating_duration_since(*at))
                })
                .collect()
        };
        let (d_count, made_count) = (delivered.len(), made.len());
        let (d50, d99, _) = if delivered.is_empty() {
            (f64::NAN, f64::NAN, 0)
        } else {
            summary(delivered)
        };
        let flood_figures = f.map_or(String::new(), |((f, f_err), tasks)| {
            let n = f.len();
            let (f50, _, _) = summary(f);
            format!(
                "\n      flood: {:.0} req/s, p50 {f50:.2} ms, {f_err} refused; {tasks} tasks made ({} deliveries to a dead target)",
                n as f64 / seconds as f64,
                tasks * 10
            )
        });
        lines.push((
            q99,
            format!(
                "  {label:<33} p50 {q50:>6.2} ms  p99 {q99:>7.2} ms  {:>6.0} req/s, {q_err} errors\n      \
                 its webhook: {d_count}/{made_count} delivered, p50 {d50:.1} ms, p99 {d99:.1} ms{flood_figures}",
                n as f64 / seconds as f64
            ),
        ));
    }
    for (q99, line) in lines {
        println!(
            "{line}\n      p99 {:.2}x the quieter alone run",
            q99 / alone_p99
        );
    }
    drop_database(&admin, name).await?;
    Ok(())
}
