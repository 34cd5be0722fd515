//! Where a GraphQL request's CPU goes, counted in instructions: the hot
//! path's list (the first 50 tasks of a project with their assignees)
//! through the whole router in process (authentication, request rates, the
//! document cache, the cost gate, the engine, storage on SQLite, JSON), with
//! no sockets. Instruction counts are steady on a noisy machine, so this is
//! the profile to read before and after a change:
//!
//! ```text
//! cargo bench -p api --bench graphql_cpu --no-run
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured*' \
//!   --callgrind-out-file=/tmp/cg.out target/release/deps/graphql_cpu-<hash>
//! callgrind_annotate --inclusive=yes /tmp/cg.out | head -80
//! ```
//!
//! Run by itself it prints the mean time per request (BENCH_REQUESTS, 2000).
//! `BENCH_POSTGRES=1` serves it from PostgreSQL instead (row tenants).

mod common;

use api::app::Application;
use api::config::Settings;
use axum::body::Body;
use axum::http::Request;
use common::env_or;
use serde_json::{Value, json};
use std::time::Instant;
use tower::ServiceExt;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LIST: &str = "query Tasks($p: ID!) { tasks(first: 50, filter: {projectId: $p}) { edges { node { id title status priority assignee { id displayName } } } pageInfo { hasNextPage endCursor } } }";

fn request(token: &str, body: &str) -> Request<Body> {
    Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.to_owned()))
        .expect("a request")
}

async fn once(router: &axum::Router, token: &str, body: &str) -> axum::body::Bytes {
    let res = router
        .clone()
        .oneshot(request(token, body))
        .await
        .expect("a response");
    assert_eq!(res.status(), 200);
    axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("a body")
}

/// The requests callgrind counts (`--toggle-collect='*measured*'`): a plain
/// function around the runtime's `block_on`, so every poll happens in its
/// frame (an `async fn`'s body is inlined into its caller's poll).
#[inline(never)]
fn measured(
    rt: &tokio::runtime::Runtime,
    router: &axum::Router,
    token: &str,
    body: &str,
    n: usize,
) {
    rt.block_on(async {
        for _ in 0..n {
            std::hint::black_box(once(router, token, body).await);
        }
    });
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (router, token, body, platform, file) = rt.block_on(prepare())?;
    let n: usize = env_or("BENCH_REQUESTS", 2000);
    let started = Instant::now();
    measured(&rt, &router, &token, &body, n);
    println!(
        "{n} list requests in process: {:.1} µs each",
        started.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    rt.block_on(platform.close());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    Ok(())
}

/// The server, a member's token, the request, the storage to close and
/// the SQLite file to remove.
async fn prepare() -> anyhow::Result<(
    axum::Router,
    String,
    String,
    infra::platform::Platform,
    std::path::PathBuf,
)> {
    let file = std::env::temp_dir().join(format!("tenantry-cpu-{}.db", uuid::Uuid::now_v7()));
    // BENCH_POSTGRES=1: the same on PostgreSQL (TEST_DATABASE_URL's server,
    // database `tenantry_bench_cpu`), whose work, in its own processes,
    // callgrind does not count: what is left is the server's share.
    let url = if env_or("BENCH_POSTGRES", 0) == 1 {
        let (_admin, url) = common::fresh_database("tenantry_bench_cpu").await?;
        format!("{url}?sslmode=disable")
    } else {
        format!("sqlite://{}?mode=rwc", file.display())
    };
    let figment = Settings::figment()
        .merge(("app_env", "test"))
        .merge(("server.port", 0))
        .merge(("metrics.listen", ""))
        .merge(("database.url", url))
        .merge(("demo.seed_on_first_start", false))
        .merge(("log.filter", "off"))
        .merge(("rate_limit.requests.user_per_second", 1_000_000))
        .merge(("rate_limit.requests.tenant_work_per_second", 1_000_000));
    let settings = Settings::from_figment(figment)?;
    // Seeded before the server is built, so that its authorization rules,
    // loaded then, hold the new members (no background sync runs here).
    let storage = infra::db::Storage::connect(&api::app::db_settings(&settings)).await?;
    storage.migrate().await?;
    let platform =
        infra::platform::Platform::compose(storage, infra::platform::Settings::local()).await?;
    let services = api::app::services(&platform, &settings)?;
    let password = domain::values::Password::parse("bench-password-1").expect("a valid password");
    let hash = services.hasher.hash(&password).await?;
    let set = seed::scale::load(
        &platform,
        seed::scale::ScaleSpec {
            tenants: 1,
            projects_per_tenant: 1,
            tasks_per_project: 60,
            seed: 42,
        },
        "cpu",
        &hash,
        |_| {},
    )
    .await?;
    let token = services
        .auth()
        .sign_in(&set[0].owner_email, "bench-password-1", None, None)
        .await?
        .access
        .token;
    let app = Application::build(settings.clone()).await?;
    let router = app.router();
    let body = json!({ "query": LIST, "operationName": "Tasks",
                       "variables": { "p": set[0].project_ids[0].to_string() } })
    .to_string();

    let first: Value = serde_json::from_slice(&once(&router, &token, &body).await)?;
    let edges = first["data"]["tasks"]["edges"].as_array().map(Vec::len);
    anyhow::ensure!(edges == Some(50), "the page: {first}");
    for _ in 0..50 {
        once(&router, &token, &body).await;
    }
    Ok((router, token, body, platform, file))
}
