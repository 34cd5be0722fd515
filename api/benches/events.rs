//! Benchmark: events from mutation to webhook receiver and to subscribers,
//! and how many subscribers one node holds.
//!
//! The server is the real binary (`tenantry serve`), so its memory can be
//! read from `/proc`. Part 1, run twice — one node without Redis, then two
//! nodes with Redis (mutations sent to the first, subscribers on the second):
//! BENCH_TENANTS (10) tenants, each with a webhook to a receiver in this
//! process and one `taskEvents` subscriber; BENCH_CLIENTS (8) clients create
//! BENCH_EVENTS (2000) tasks. Prints events per second (events over the time
//! from the first mutation to the last arrival) and p50/p99 latency from
//! sending the mutation to the webhook's arrival and to the subscriber's.
//! Part 2: BENCH_SUBSCRIBERS (5000) WebSocket subscriptions on one node, the
//! node's resident memory before and after (per connection), then one event
//! fanned out to all of them.
//!
//! Run: `cargo bench -p api --bench events` (uses TEST_DATABASE_URL's server
//! and TEST_REDIS_URL; recreates `tenantry_bench_events`).

mod common;

use axum::extract::State;
use axum::routing::post;
use common::{drop_database, env_or, fresh_database, median};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Arrival times by task id.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Resident memory, KiB.
    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
}

async fn start(db: &str, redis: Option<&str>, prefix: &str) -> anyhow::Result<Node> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    cmd.arg("serve")
        .env("DATABASE_URL", db)
        .env("PORT", port.to_string())
        .env("APP_ENV", "development")
        .env("APP_LOG__FILTER", "warn")
        .env("APP_REDIS__KEY_PREFIX", prefix)
        .env("APP_DEMO__SEED_ON_FIRST_START", "false")
        .env("APP_DATABASE__MAX_CONNECTIONS", "20")
        .env("FIXTURES_SECRET", "bench-fixtures-secret-0123456789abcdef")
        .stdout(Stdio::null());
    match redis {
        Some(r) => cmd.env("REDIS_URL", r),
        None => cmd.env_remove("REDIS_URL"),
    };
    let node = Node {
        child: cmd.spawn()?,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if client
            .get(format!("{}/healthz", node.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(node);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("tenantry serve did not come up")
}

/// A receiver that notes when each task's event arrived.
async fn receiver(arrivals: Arrivals) -> anyhow::Result<String> {
    async fn hook(State(arrivals): State<Arrivals>, body: axum::body::Bytes) -> &'static str {
        let now = Instant::now();
        if let Ok(v) = serde_json::from_slice::<Value>(&body)
            && let Some(id) = v["data"]["task"]["id"].as_str()
        {
            arrivals.lock().unwrap().insert(id.to_owned(), now);
        }
        "ok"
    }
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(arrivals);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A subscriber on `base`, acknowledged and subscribed.
async fn subscribe(base: &str, token: &str) -> anyhow::Result<Ws> {
    let mut req = format!("{}/graphql", base.replacen("http", "ws", 1)).into_client_request()?;
    req.headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    let text = |v: Value| Message::Text(v.to_string().into());
    ws.send(text(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })))
        .await?;
    while let Some(m) = ws.next().await {
        if let Message::Text(t) = m? {
            let v: Value = serde_json::from_str(&t)?;
            if v["type"] == "connection_ack" {
                break;
            }
            anyhow::bail!("connection refused: {v}");
        }
    }
    ws.send(text(json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription { taskEvents { task { id } } }" } })))
        .await?;
    Ok(ws)
}

/// Reads a subscriber's events into `arrivals` until it closes.
fn record(mut ws: Ws, arrivals: Arrivals) {
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m
                && let Ok(v) = serde_json::from_str::<Value>(&t)
                && let Some(id) = v["payload"]["data"]["taskEvents"]["task"]["id"].as_str()
            {
                arrivals
                    .lock()
                    .unwrap()
                    .insert(id.to_owned(), Instant::now());
            }
        }
    });
}

async fn gql(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    q: &str,
    v: Value,
) -> anyhow::Result<Value> {
    let body: Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": q, "variables": v }))
        .send()
        .await?
        .json()
        .await?;
    if body.get("errors").is_some() {
        anyhow::bail!("{body}");
    }
    Ok(body["data"].clone())
}

/// A fixture tenant: its owner's token and its project.
async fn tenant(client: &reqwest::Client, base: &str) -> anyhow::Result<(String, String)> {
    let f: Value = client
        .post(format!("{base}/_fixtures/tenants"))
        .header(
            "x-fixtures-secret",
            "bench-fixtures-secret-0123456789abcdef",
        )
        .json(&json!({ "users": [{ "role": "owner" }], "projects": 1 }))
        .send()
        .await?
        .json()
        .await?;
    Ok((
        f["users"][0]["accessToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        f["projects"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ))
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

/// Latencies (ms) of the events that arrived, and when the last arrived.
fn latencies(sent: &HashMap<String, Instant>, arrivals: &Arrivals) -> (Vec<f64>, Option<Instant>) {
    let a = arrivals.lock().unwrap();
    let lat = sent
        .iter()
        .filter_map(|(id, t)| a.get(id).map(|r| r.duration_since(*t).as_secs_f64() * 1e3))
        .collect();
    (lat, sent.keys().filter_map(|id| a.get(id)).max().copied())
}

/// Part 1 on `write` (mutations) and `read` (subscribers).
async fn throughput(label: &str, write: &Node, read: &Node) -> anyhow::Result<()> {
    let (tenants, clients, events) = (
        env_or("BENCH_TENANTS", 10usize),
        env_or("BENCH_CLIENTS", 8usize),
        env_or("BENCH_EVENTS", 2000usize),
    );
    let client = reqwest::Client::new();
    let hooks: Arrivals = Arc::default();
    let subs: Arrivals = Arc::default();
    let url = receiver(hooks.clone()).await?;
    let mut ts = Vec::new();
    for _ in 0..tenants {
        ts.push(tenant(&client, &write.base).await?);
    }
    // The second node learns of the new tenants' roles within a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (token, _) in &ts {
        gql(&client, &write.base,
            token,
            "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }",
            json!({ "i": { "url": url, "events": ["task.created"], "secret": "bench-secret-0123456789" } }),
        )
        .await?;
        record(subscribe(&read.base, token).await?, subs.clone());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let started = Instant::now();
    futures::stream::iter(0..events)
        .map(|i| {
            let (client, sent, (token, project)) =
                (client.clone(), sent.clone(), ts[i % tenants].clone());
            let base = write.base.clone();
            async move {
                let t = Instant::now();
                let d = gql(
                    &client,
                    &base,
                    &token,
                    "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                    json!({ "i": { "projectId": project, "title": format!("t{i}") } }),
                )
                .await?;
                let id = d["createTask"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                sent.lock().unwrap().insert(id, t);
                anyhow::Ok(())
            }
        })
        .buffer_unordered(clients)
        .for_each(|r| async move {
            if let Err(e) = r {
                eprintln!("mutation failed: {e}");
            }
        })
        .await;
    let mutations = started.elapsed();
    let sent = sent.lock().unwrap().clone();
    // Wait for everything (or 30 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline
        && (hooks.lock().unwrap().len() < sent.len() || subs.lock().unwrap().len() < sent.len())
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut hl, hlast) = latencies(&sent, &hooks);
    let (mut sl, slast) = latencies(&sent, &subs);
    let rate = |last: Option<Instant>, n: usize| {
        last.map_or(0.0, |l| n as f64 / l.duration_since(started).as_secs_f64())
    };
    println!(
        "\n{label}: {} mutations in {:.2} s ({:.0}/s), {clients} clients, {tenants} tenants",
        sent.len(),
        mutations.as_secs_f64(),
        sent.len() as f64 / mutations.as_secs_f64()
    );
    println!("| to | arrived | events/s | p50 | p99 |");
    println!("|---|---|---|---|---|");
    for (to, lat, last) in [
        ("webhook receiver", &mut hl, hlast),
        ("subscribers", &mut sl, slast),
    ] {
        if lat.is_empty() {
            println!("| {to} | 0 | - | - | - |");
            continue;
        }
        println!(
            "| {to} | {}/{} | {:.0} | {:.1} ms | {:.1} ms |",
            lat.len(),
            sent.len(),
            rate(last, lat.len()),
            median(lat.clone()),
            percentile(lat, 0.99)
        );
    }
    Ok(())
}

/// Part 2: many subscribers on one node.
async fn capacity(node: &Node) -> anyhow::Result<()> {
    let n = env_or("BENCH_SUBSCRIBERS", 5000usize);
    let client = reqwest::Client::new();
    let (token, project) = tenant(&client, &node.base).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = node.rss_kib();
    let arrivals: Vec<Arrivals> = (0..n).map(|_| Arrivals::default()).collect();
    let opened = Instant::now();
    let sockets: Vec<anyhow::Result<Ws>> = futures::stream::iter(0..n)
        .map(|_| subscribe(&node.base, &token))
        .buffer_unordered(64)
        .collect()
        .await;
    let mut ok = 0;
    for (ws, a) in sockets.into_iter().zip(&arrivals) {
        match ws {
            Ok(ws) => {
                record(ws, a.clone());
                ok += 1;
            }
            Err(e) => eprintln!("a subscriber failed: {e}"),
        }
    }
    let open_secs = opened.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = node.rss_kib();
    let t = Instant::now();
    let d = gql(
        &client,
        &node.base,
        &token,
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        json!({ "i": { "projectId": project, "title": "fan-out" } }),
    )
    .await?;
    let id = d["createTask"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lat = Vec::new();
    while Instant::now() < deadline {
        lat = arrivals
            .iter()
            .filter_map(|a| {
                a.lock()
                    .unwrap()
                    .get(&id)
                    .map(|r| r.duration_since(t).as_secs_f64() * 1e3)
            })
            .collect();
        if lat.len() >= ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("\nsubscribers on one node: {ok}/{n} open in {open_secs:.1} s");
    println!(
        "node memory: {:.1} MiB before, {:.1} MiB after: {:.1} KiB per subscription",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        after.saturating_sub(before) as f64 / ok.max(1) as f64
    );
    if !lat.is_empty() {
        println!(
            "one event to all: {}/{ok} received, p50 {:.1} ms, p99 {:.1} ms, last {:.1} ms",
            lat.len(),
            median(lat.clone()),
            percentile(&mut lat.clone(), 0.99),
            lat.iter().cloned().fold(0.0, f64::max)
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let (admin, url) = fresh_database("tenantry_bench_events").await?;
    let prefix = format!("bench{}", std::process::id());
    {
        let one = start(&url, None, &prefix).await?;
        throughput("one node, no Redis", &one, &one).await?;
        capacity(&one).await?;
    }
    {
        let one = start(&url, Some(&redis), &prefix).await?;
        let two = start(&url, Some(&redis), &prefix).await?;
        throughput(
            "two nodes, Redis (subscribers on the other node)",
            &one,
            &two,
        )
        .await?;
    }
    drop_database(&admin, "tenantry_bench_events").await?;
    Ok(())
}
