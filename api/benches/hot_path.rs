//! Benchmark: the hot path against the real limit.
//!
//! Two servers in one run, on the same PostgreSQL data (BENCH_TENANTS (100)
//! tenants × BENCH_PROJECTS (10) projects × BENCH_TASKS (100) tasks, row
//! strategy under forced row-level security):
//!
//! - **baseline**: a hand-written axum handler on `tokio-postgres` that does
//!   only the necessary work for the same answer: it verifies the access
//!   token, and per request runs `BEGIN`, one statement binding the tenant
//!   (`app.tenant_id` and the role, transaction-local), the one `SELECT` with
//!   the assignee joined (or, for create, the insert of the task, its
//!   idempotency key and its outbox event), and `COMMIT`; JSON by serde.
//! - **graphql**: Tenantry as it is served, with in-process adapters.
//!
//! Load comes from `wrk` (a separate process, 2 threads) for BENCH_SECONDS
//! (15) after a BENCH_WARMUP (5) s warm-up per server and case: the list
//! (`tasks(first: 50, filter: {projectId})` with the assignee's display name)
//! at 32 and 128 connections, and `createTask` with an idempotency key at 32.
//! Each case prints requests per second, p50 and p99 for both and the
//! ratio. Requests are spread over every tenant's owner and projects at
//! random. Per-member and per-tenant request rates are lifted: one member per
//! tenant sends all of that tenant's load here.
//!
//! Run: `cargo bench -p api --bench hot_path` (needs PostgreSQL at
//! TEST_DATABASE_URL's server and `wrk`: `apt-get install wrk`; recreates the
//! database `tenantry_bench_hot`). BENCH_CASES=list,create picks cases.

mod common;

use anyhow::{Context as _, bail, ensure};
use api::app::Application;
use api::config::Settings;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use common::{env_or, fresh_database};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use domain::ports::TokenService;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LIST: &str = "query Tasks($p: ID!) { tasks(first: 50, filter: {projectId: $p}) { edges { node { id title status priority assignee { id displayName } } } pageInfo { hasNextPage endCursor } } }";
const CREATE: &str = "mutation Create($p: ID!, $t: String!, $k: String!) { createTask(input: {projectId: $p, title: $t}, idempotencyKey: $k) { id title status version } }";

/// Binds the tenant for row-level security, as Tenantry's binding does.
const BIND: &str =
    "SELECT set_config('app.tenant_id', $1, true), set_config('role', 'tenantry_app', true)";
const PAGE: &str = "SELECT t.id, t.title, t.status, t.priority, t.created_at, m.member_id, m.member_name
     FROM tasks t LEFT JOIN tenant_members m ON m.member_tenant_id = t.tenant_id AND m.member_id = t.assignee_id
     WHERE t.tenant_id = $1 AND t.project_id = $2 AND t.deleted_at IS NULL
       AND EXISTS (SELECT 1 FROM projects p WHERE p.tenant_id = $1 AND p.id = $2 AND p.deleted_at IS NULL)
     ORDER BY t.created_at DESC, t.id DESC LIMIT 51";
const INSERT_TASK: &str =
    "INSERT INTO tasks (tenant_id, id, project_id, title, description, status, priority,
       created_at, updated_at, version)
     SELECT $1, $2, p.id, $3, '', 'todo', 0, now(), now(), 1 FROM projects p
     WHERE p.tenant_id = $1 AND p.id = $4 AND p.deleted_at IS NULL
     RETURNING version";
const INSERT_KEY: &str =
    "INSERT INTO idempotency_keys (tenant_id, scope, key, fingerprint, resource_id, created_at)
     VALUES ($1, 'task', $2, $3, $4, now())";
const INSERT_EVENT: &str =
    "INSERT INTO outbox_events (tenant_id, id, event_type, occurred_at, payload)
     VALUES ($1, $2, 'task.created', now(), $3)";

struct Baseline {
    pool: Pool,
    tokens: Arc<dyn TokenService>,
}

#[derive(Deserialize)]
struct Body {
    variables: Vars,
}

#[derive(Deserialize)]
struct Vars {
    p: Uuid,
    k: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    id: String,
    display_name: String,
}

#[derive(Serialize)]
struct Node {
    id: String,
    title: String,
    status: String,
    priority: i32,
    assignee: Option<Member>,
}

#[derive(Serialize)]
struct Edge {
    node: Node,
}

fn fail(status: StatusCode, why: impl std::fmt::Display) -> Response {
    (status, why.to_string()).into_response()
}

impl Baseline {
    /// The token's tenant and the request's variables, or the refusal.
    fn read(
        &self,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<(Uuid, Vars), (StatusCode, String)> {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| (StatusCode::UNAUTHORIZED, "no token".to_owned()))?;
        let claims = self
            .tokens
            .verify(token)
            .map_err(|e| (StatusCode::UNAUTHORIZED, e.to_string()))?;
        let body: Body =
            serde_json::from_slice(body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        Ok((claims.tenant_id.as_uuid(), body.variables))
    }
}

async fn list(State(b): State<Arc<Baseline>>, headers: HeaderMap, body: Bytes) -> Response {
    let (tenant, vars) = match b.read(&headers, &body) {
        Ok(r) => r,
        Err(refused) => return refused.into_response(),
    };
    let result: anyhow::Result<Value> = async {
        let mut client = b.pool.get().await?;
        let tx = client.transaction().await?;
        let bind = tx.prepare_cached(BIND).await?;
        tx.query_one(&bind, &[&tenant.to_string()]).await?;
        let page = tx.prepare_cached(PAGE).await?;
        let rows = tx.query(&page, &[&tenant, &vars.p]).await?;
        tx.commit().await?;
        let more = rows.len() > 50;
        let mut end = None;
        let edges: Vec<Edge> = rows
            .iter()
            .take(50)
            .map(|r| {
                let id: Uuid = r.get(0);
                let at: chrono::DateTime<chrono::Utc> = r.get(4);
                end = Some((at, id));
                let user: Option<Uuid> = r.get(5);
                Edge {
                    node: Node {
                        id: id.to_string(),
                        title: r.get(1),
                        status: r.get::<_, String>(2).to_uppercase(),
                        priority: i32::from(r.get::<_, i16>(3)),
                        assignee: user.map(|u| Member {
                            id: u.to_string(),
                            display_name: r.get(6),
                        }),
                    },
                }
            })
            .collect();
        // An opaque cursor, as any keyset page returns one.
        let cursor = end.map(|(at, id)| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("{}|{id}", at.timestamp_micros()))
        });
        Ok(json!({ "data": { "tasks": { "edges": edges,
            "pageInfo": { "hasNextPage": more, "endCursor": cursor } } } }))
    }
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn create(State(b): State<Arc<Baseline>>, headers: HeaderMap, body: Bytes) -> Response {
    let (tenant, vars) = match b.read(&headers, &body) {
        Ok(r) => r,
        Err(refused) => return refused.into_response(),
    };
    let Some(key) = vars.k else {
        return fail(StatusCode::BAD_REQUEST, "no key");
    };
    let title = "Write the report";
    let result: anyhow::Result<Option<Value>> = async {
        let mut client = b.pool.get().await?;
        let tx = client.transaction().await?;
        let bind = tx.prepare_cached(BIND).await?;
        tx.query_one(&bind, &[&tenant.to_string()]).await?;
        let id = Uuid::now_v7();
        let insert = tx.prepare_cached(INSERT_TASK).await?;
        let Some(row) = tx
            .query_opt(&insert, &[&tenant, &id, &title, &vars.p])
            .await?
        else {
            return Ok(None);
        };
        let version: i32 = row.get(0);
        let fingerprint = format!("{}|{title}", vars.p);
        let remember = tx.prepare_cached(INSERT_KEY).await?;
        tx.execute(&remember, &[&tenant, &key, &fingerprint, &id])
            .await?;
        let payload = json!({ "id": id, "projectId": vars.p, "title": title, "status": "TODO",
            "priority": 0, "version": version })
        .to_string();
        let event = tx.prepare_cached(INSERT_EVENT).await?;
        tx.execute(&event, &[&tenant, &Uuid::now_v7(), &payload])
            .await?;
        tx.commit().await?;
        Ok(Some(
            json!({ "data": { "createTask": { "id": id.to_string(), "title": title, "status": "TODO", "version": version } } }),
        ))
    }
    .await;
    match result {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => fail(StatusCode::NOT_FOUND, "no such project"),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
    }
}

/// The wrk script: random tenant and project per request, and for creates a
/// fresh idempotency key; counts responses that are not a 200 without errors.
fn script(tokens: &[(String, Vec<String>)], create: bool, run: &str) -> String {
    let mut s = String::from("local tokens = {\n");
    for (t, _) in tokens {
        let _ = writeln!(s, "  \"{t}\",");
    }
    s.push_str("}\nlocal projects = {\n");
    for (_, ps) in tokens {
        let quoted: Vec<String> = ps.iter().map(|p| format!("\"{p}\"")).collect();
        let _ = writeln!(s, "  {{{}}},", quoted.join(","));
    }
    let (query, op) = if create {
        (CREATE, "Create")
    } else {
        (LIST, "Tasks")
    };
    let _ = write!(
        s,
        r#"}}
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
errors = 0
sample = nil
local n = 0
function init(args)
  math.randomseed(os.time() * 1000 + tid)
end
function request()
  local i = math.random(#tokens)
  local ps = projects[i]
  local p = ps[math.random(#ps)]
  n = n + 1
  local body = '{{"query":"{query}","operationName":"{op}","variables":{{"p":"' .. p .. '","t":"Write the report","k":"{run}-' .. tid .. '-' .. n .. '"}}}}'
  return wrk.format("POST", nil, {{["Authorization"] = "Bearer " .. tokens[i], ["Content-Type"] = "application/json"}}, body)
end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
    if sample == nil then sample = status .. " " .. string.sub(body, 1, 300) end
  end
end
function done(summary, latency, requests)
  local e, why = 0, ""
  for _, t in ipairs(threads) do
    e = e + t:get("errors")
    why = why .. (t:get("sample") or "")
  end
  io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e))
  if e > 0 then io.write("SAMPLE " .. why .. "\n") end
end
"#
    );
    s
}

struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// One wrk run against `url`.
fn wrk(url: &str, script: &std::path::Path, conns: usize, secs: u64) -> anyhow::Result<Figures> {
    let out = std::process::Command::new("wrk")
        .args(["-t2", &format!("-c{conns}"), &format!("-d{secs}s"), "-s"])
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk (install it: apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .with_context(|| format!("no result from wrk: {text}"))?;
    let f: Vec<f64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(f64::NAN))
        .collect();
    if f[4] > 0.0 {
        bail!("{} of {} requests to {url} failed: {text}", f[4], f[0]);
    }
    Ok(Figures {
        rps: f[0] / (f[1] / 1e6),
        p50_ms: f[2] / 1000.0,
        p99_ms: f[3] / 1000.0,
    })
}

async fn post_json(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let res = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await?;
    ensure!(res.status() == 200, "{url}: {}", res.text().await?);
    Ok(res.json().await?)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let tenants = env_or("BENCH_TENANTS", 100);
    let projects = env_or("BENCH_PROJECTS", 10);
    let tasks = env_or("BENCH_TASKS", 100);
    let secs: u64 = env_or("BENCH_SECONDS", 15);
    let warmup: u64 = env_or("BENCH_WARMUP", 5);
    let cases: String = env_or("BENCH_CASES", "list,create".to_owned());

    let (_admin, url) = fresh_database("tenantry_bench_hot").await?;
    let figment = Settings::figment()
        .merge(("app_env", "test"))
        .merge(("server.port", 0))
        .merge(("metrics.listen", ""))
        // Without TLS, as the baseline's `NoTls`: the same transport for both.
        .merge(("database.url", format!("{url}?sslmode=disable")))
        .merge(("demo.seed_on_first_start", false))
        .merge(("log.filter", "off"))
        .merge(("rate_limit.sign_in_per_client", 1_000_000))
        .merge(("rate_limit.sign_in_per_account", 1_000_000))
        .merge(("rate_limit.requests.user_per_second", 1_000_000))
        .merge(("rate_limit.requests.tenant_work_per_second", 1_000_000));
    let settings = Settings::from_figment(figment)?;
    let pool_size = settings.database.max_connections as usize;
    let app = Application::build(settings.clone()).await?;
    let gql = format!("http://{}/graphql", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));

    let platform = api::app::platform(&settings).await?;
    let services = api::app::services(&platform, &settings)?;

    // The baseline: its own pool of the same size, on the same database.
    let mut pg = tokio_postgres::Config::new();
    let parsed: reqwest::Url = url.parse()?;
    pg.host(parsed.host_str().unwrap_or("127.0.0.1"))
        .port(parsed.port().unwrap_or(5432))
        .user(parsed.username())
        .dbname(parsed.path().trim_start_matches('/'));
    if let Some(p) = parsed.password() {
        pg.password(p);
    }
    let manager = Manager::from_config(
        pg,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let baseline = Arc::new(Baseline {
        pool: Pool::builder(manager).max_size(pool_size).build()?,
        tokens: services.tokens.clone(),
    });
    let plain = Router::new()
        .route("/list", post(list))
        .route("/create", post(create))
        .with_state(baseline.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, plain).await });

    println!("seeding {tenants} tenants × {projects} projects × {tasks} tasks…");
    let bar = ProgressBar::new(tenants as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} tenants {elapsed}",
    )?);
    let password = domain::values::Password::parse("bench-password-1").expect("a valid password");
    let hash = services.hasher.hash(&password).await?;
    let set = seed::scale::load(
        &platform,
        seed::scale::ScaleSpec {
            tenants,
            projects_per_tenant: projects,
            tasks_per_project: tasks,
            seed: 42,
        },
        "bench",
        &hash,
        |n| bar.set_position(n as u64),
    )
    .await?;
    bar.finish();
    // As autovacuum would leave it in a while: the visibility map set (index-only
    // scans without heap fetches) and statistics for the planner, for both servers.
    baseline
        .pool
        .get()
        .await?
        .batch_execute("VACUUM ANALYZE")
        .await?;
    let mut tokens = Vec::new();
    for t in &set {
        let signed = services
            .auth()
            .sign_in(&t.owner_email, "bench-password-1", None, None)
            .await?;
        tokens.push((
            signed.access.token,
            t.project_ids
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        ));
    }

    // The same answer from both, or the comparison means nothing.
    let client = reqwest::Client::new();
    let (token, ps) = &tokens[0];
    let body = json!({ "query": LIST, "variables": { "p": ps[0] } });
    let (g, b) = (
        post_json(&client, &gql, token, &body).await?,
        post_json(&client, &format!("{base}/list"), token, &body).await?,
    );
    let edges = |v: &Value| v["data"]["tasks"]["edges"].clone();
    ensure!(
        edges(&g).as_array().map(Vec::len) == Some(50),
        "graphql: {g}"
    );
    ensure!(edges(&g) == edges(&b), "the two answers differ:\n{g}\n{b}");
    ensure!(
        edges(&g)
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| !e["node"]["assignee"].is_null()),
        "the page has assignees: {g}"
    );

    println!(
        "\nwrk -t2, {secs} s after {warmup} s of warm-up; pools of {pool_size} connections; {} cores\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<22} {:>12} {:>8} {:>8}   {:>12} {:>8} {:>8}   {:>7} {:>9}",
        "case",
        "baseline/s",
        "p50 ms",
        "p99 ms",
        "graphql/s",
        "p50 ms",
        "p99 ms",
        "ratio",
        "p99 ratio"
    );
    let dir = std::env::temp_dir();
    let mut runs: Vec<(&str, bool, usize)> = Vec::new();
    if cases.contains("list") {
        runs.push(("list, 32 connections", false, 32));
        runs.push(("list, 128 connections", false, 128));
    }
    if cases.contains("create") {
        runs.push(("create, 32 connections", true, 32));
    }
    let stamp = Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id());
    for (i, (label, create, conns)) in runs.into_iter().enumerate() {
        let mut figures = Vec::new();
        for (j, url) in [
            format!("{base}/{}", if create { "create" } else { "list" }),
            gql.clone(),
        ]
        .iter()
        .enumerate()
        {
            // A script per wrk run: each run's idempotency keys are its own.
            let mut measured = None;
            for (k, duration) in [warmup, secs].into_iter().enumerate() {
                let path = dir.join(format!("tenantry-hot-path-{i}-{j}-{k}.lua"));
                let run = format!("r{stamp}-{i}-{j}-{k}-{}", Uuid::now_v7().simple());
                std::fs::write(&path, script(&tokens, create, &run))?;
                let u = url.clone();
                measured = Some(
                    tokio::task::spawn_blocking(move || wrk(&u, &path, conns, duration)).await??,
                );
            }
            figures.push(measured.expect("a measured run"));
        }
        let (b, g) = (&figures[0], &figures[1]);
        println!(
            "{label:<22} {:>12.0} {:>8.2} {:>8.2}   {:>12.0} {:>8.2} {:>8.2}   {:>7.2} {:>9.2}",
            b.rps,
            b.p50_ms,
            b.p99_ms,
            g.rps,
            g.p50_ms,
            g.p99_ms,
            g.rps / b.rps,
            g.p99_ms / b.p99_ms
        );
    }
    println!(
        "\nratio: graphql / baseline requests per second (targets: list ≥ 0.6, create ≥ 0.5); p99 ratio: graphql / baseline (target ≤ 2)"
    );
    Ok(())
}
