//! Benchmark: the `tasks(first: 50, filter: {projectId})` query with assignee
//! and project, over GraphQL, beside a baseline that runs the same SQL through
//! the same repositories from a plain axum handler (no GraphQL).
//!
//! Run: `cargo bench -p api --bench tasks_query` (needs PostgreSQL; uses
//! TEST_DATABASE_URL's server and recreates the database `tenantry_bench`).
//! Knobs: BENCH_TENANTS (100), BENCH_PROJECTS (10), BENCH_TASKS (100),
//! BENCH_SECONDS per round (8), BENCH_ROUNDS (3), BENCH_CONCURRENCY (16).

mod common;

use api::app::Application;
use api::config::Settings;
use api::services::Services;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use common::{env_or, fresh_database, median};
use domain::page::{Direction, PageQuery};
use domain::task::{TaskFilter, TaskOrderField};
use domain::{ProjectId, UserId};
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// As in the server binary (see `api/src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const QUERY: &str = "query Tasks($p: ID!) { tasks(first: 50, filter: {projectId: $p}) {
  edges { node { id title status priority assignee { id displayName } project { id name } } }
  pageInfo { hasNextPage endCursor } } }";

/// The baseline: same ports, same SQL, JSON by hand.
async fn plain_tasks(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let ctx = services
        .auth()
        .authenticate(token)
        .await
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    let project: ProjectId = q
        .get("projectId")
        .and_then(|p| p.parse().ok())
        .ok_or(StatusCode::BAD_REQUEST)?;
    let work = services.work(&ctx);
    let page = PageQuery {
        field: TaskOrderField::CreatedAt,
        direction: Direction::Desc,
        limit: 50,
        cursor: None,
        backward: false,
    };
    let filter = TaskFilter {
        project_id: Some(project),
        ..Default::default()
    };
    let tasks = work
        .list_tasks(&filter, &page)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let project_ids: Vec<ProjectId> = tasks
        .items
        .iter()
        .map(|t| t.project_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let user_ids: Vec<UserId> = tasks
        .items
        .iter()
        .filter_map(|t| t.assignee_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let (projects, users) = tokio::join!(
        work.projects_by_ids(&project_ids),
        services.identity.members_by_ids(&ctx, &user_ids)
    );
    let projects: HashMap<_, _> = projects
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let users: HashMap<_, _> = users
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let edges: Vec<Value> = tasks
        .items
        .iter()
        .map(|t| {
            let p = &projects[&t.project_id];
            json!({ "node": {
                "id": t.id.to_string(), "title": t.title.as_str(), "status": t.status.as_str(), "priority": t.priority.value(),
                "assignee": t.assignee_id.and_then(|a| users.get(&a)).map(|u| json!({ "id": u.id.to_string(), "displayName": u.display_name.as_str() })),
                "project": { "id": p.id.to_string(), "name": p.name.as_str() },
            }})
        })
        .collect();
    Ok(Json(
        json!({ "data": { "tasks": { "edges": edges, "pageInfo": { "hasNextPage": tasks.has_more } } } }),
    ))
}

struct Target {
    tokens: Vec<(String, Vec<String>)>,
}

#[derive(Clone, Copy)]
enum Path {
    GraphQl,
    Plain,
}

struct RoundResult {
    rps: f64,
    latencies: Vec<Duration>,
}

async fn round(
    client: &reqwest::Client,
    base: &str,
    path: Path,
    target: &Arc<Target>,
    secs: u64,
    concurrency: usize,
) -> RoundResult {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut handles = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let base = base.to_owned();
        let target = target.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let (token, project) = {
                    let mut rng = rand::thread_rng();
                    let (token, projects) = &target.tokens[rng.gen_range(0..target.tokens.len())];
                    (token.clone(), projects[rng.gen_range(0..projects.len())].clone())
                };
                let start = Instant::now();
                let res = match path {
                    Path::GraphQl => client
                        .post(format!("{base}/graphql"))
                        .bearer_auth(&token)
                        .json(&json!({ "query": QUERY, "variables": { "p": project }, "operationName": "Tasks" }))
                        .send()
                        .await,
                    Path::Plain => client.get(format!("{base}/plain/tasks")).bearer_auth(&token).query(&[("projectId", &project)]).send().await,
                };
                let body: Value = res.expect("request").json().await.expect("json");
                assert_eq!(body["data"]["tasks"]["edges"].as_array().map(Vec::len), Some(50), "{body}");
                lat.push(start.elapsed());
            }
            lat
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await.expect("worker"));
    }
    let elapsed = started.elapsed().as_secs_f64().max(secs as f64);
    RoundResult {
        rps: latencies.len() as f64 / elapsed,
        latencies,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let tenants = env_or("BENCH_TENANTS", 100);
    let projects = env_or("BENCH_PROJECTS", 10);
    let tasks = env_or("BENCH_TASKS", 100);
    let secs = env_or("BENCH_SECONDS", 8) as u64;
    let rounds = env_or("BENCH_ROUNDS", 3);
    let concurrency = env_or("BENCH_CONCURRENCY", 16);

    let (_admin, url) = fresh_database("tenantry_bench").await?;

    let figment = Settings::figment()
        .merge(("app_env", "test"))
        .merge(("server.port", 0))
        .merge(("metrics.listen", ""))
        .merge(("database.url", url.clone()))
        .merge(("database.max_connections", 20))
        .merge(("demo.seed_on_first_start", false))
        .merge(("log.filter", "off"))
        // One client signs in every owner: lift the sign-in limits for the setup.
        .merge(("rate_limit.sign_in_per_client", 1_000_000))
        .merge(("rate_limit.sign_in_per_account", 1_000_000));
    let settings = Settings::from_figment(figment)?;
    let app = Application::build(settings.clone()).await?;
    let gql_base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));

    // The baseline server: its own pool of the same size, the same adapters.
    let mut storage = infra::db::Storage::connect(&api::app::db_settings(&settings)).await?;
    let services = Arc::new(api::app::services(&mut storage, &settings).await?);
    let plain = Router::new()
        .route("/plain/tasks", get(plain_tasks))
        .with_state(services.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let plain_base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, plain).await });

    println!("seeding {tenants} tenants × {projects} projects × {tasks} tasks on PostgreSQL…");
    let bar = ProgressBar::new(tenants as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} tenants {elapsed}",
    )?);
    let password = domain::values::Password::parse("bench-password-1").expect("a valid password");
    let hash = services.hasher.hash(&password).await?;
    let started = Instant::now();
    let set = seed::scale::load(
        &storage,
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
    println!(
        "seeded {} tasks in {:.1}s",
        tenants * projects * tasks,
        started.elapsed().as_secs_f64()
    );

    let mut tokens = Vec::new();
    for t in &set {
        let signed = services
            .auth()
            .sign_in(&t.owner_email, "bench-password-1", None, None)
            .await?;
        tokens.push((
            signed.access.token,
            t.project_ids.iter().map(ToString::to_string).collect(),
        ));
    }
    let target = Arc::new(Target { tokens });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;

    println!("warming up…");
    round(&client, &plain_base, Path::Plain, &target, 2, concurrency).await;
    round(&client, &gql_base, Path::GraphQl, &target, 2, concurrency).await;

    println!(
        "{rounds} rounds × {secs}s per path, {concurrency} concurrent clients, alternating paths\n"
    );
    let (mut plain_rps, mut gql_rps) = (Vec::new(), Vec::new());
    let (mut plain_lat, mut gql_lat) = (Vec::new(), Vec::new());
    for r in 1..=rounds {
        let p = round(
            &client,
            &plain_base,
            Path::Plain,
            &target,
            secs,
            concurrency,
        )
        .await;
        let g = round(
            &client,
            &gql_base,
            Path::GraphQl,
            &target,
            secs,
            concurrency,
        )
        .await;
        println!(
            "round {r}: baseline {:>8.0} req/s   graphql {:>8.0} req/s   ratio {:.2}",
            p.rps,
            g.rps,
            g.rps / p.rps
        );
        plain_rps.push(p.rps);
        gql_rps.push(g.rps);
        plain_lat.extend(p.latencies);
        gql_lat.extend(g.latencies);
    }
    plain_lat.sort();
    gql_lat.sort();
    let (pm, gm) = (median(plain_rps.clone()), median(gql_rps.clone()));
    println!(
        "\n{:<28} {:>12} {:>10} {:>10}",
        "path", "req/s (med)", "p50 ms", "p99 ms"
    );
    println!(
        "{:<28} {:>12.0} {:>10.2} {:>10.2}",
        "baseline (plain axum)",
        pm,
        percentile(&plain_lat, 0.5),
        percentile(&plain_lat, 0.99)
    );
    println!(
        "{:<28} {:>12.0} {:>10.2} {:>10.2}",
        "graphql",
        gm,
        percentile(&gql_lat, 0.5),
        percentile(&gql_lat, 0.99)
    );
    println!(
        "\ngraphql / baseline throughput: {:.2} (target ≥ 0.50)",
        gm / pm
    );
    Ok(())
}
