//! Benchmark: what authentication costs per request.
//!
//! 1. Per call, in-process: verifying an access token, and verifying it plus
//!    the revocation check, with the in-process list and with Redis.
//! 2. Per request, over HTTP: `{ __typename }` with authentication skipped (no
//!    token) beside the same request with a token (verify, revocation check,
//!    membership lookup), with the membership cache off, in Redis only, in
//!    process only, and both (the default with Redis).
//!
//! Run: `cargo bench -p api --bench auth_cost` (PostgreSQL and Redis on their
//! test URLs). Knobs: BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_CONCURRENCY (16).

mod common;

use api::app::Application;
use api::config::Settings;
use common::{env_or, fresh_database, median};
use domain::ports::{RevocationList, TokenService};
use domain::{SessionId, TenantId, UserId};
use infra::jwt::{JwtSettings, JwtTokens, SigningKeys};
use infra::revocations::{InProcessRevocations, RedisRevocations};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Median over 7 batches of the mean time of one call, in microseconds.
async fn per_call<F, Fut>(n: u32, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut batches = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        for _ in 0..n {
            f().await;
        }
        batches.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    }
    median(batches)
}

async fn load(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    secs: u64,
    concurrency: u64,
) -> (f64, Vec<Duration>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut handles = Vec::new();
    for _ in 0..concurrency {
        let (client, url, token) = (client.clone(), url.to_owned(), token.map(str::to_owned));
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                let mut req = client
                    .post(&url)
                    .json(&json!({ "query": "{ __typename }" }));
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let body: Value = req
                    .send()
                    .await
                    .expect("request")
                    .json()
                    .await
                    .expect("json");
                assert_eq!(body["data"]["__typename"], "Query", "{body}");
                lat.push(start.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("worker"));
    }
    (all.len() as f64 / secs as f64, all)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs = env_or("BENCH_SECONDS", 5);
    let rounds = env_or("BENCH_ROUNDS", 3);
    let concurrency = env_or("BENCH_CONCURRENCY", 16);
    let redis_url =
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());

    // 1. Per call.
    let tokens = JwtTokens::new(JwtSettings {
        keys: SigningKeys::Hs256(
            "bench-secret-bench-secret-bench-secret-0000"
                .to_owned()
                .into(),
        ),
        issuer: "tenantry".into(),
        audience: "tenantry-api".into(),
        ttl_seconds: 900,
    })?;
    let issued = tokens.issue(
        UserId::generate(),
        TenantId::generate(),
        SessionId::generate(),
    )?;
    let in_process = InProcessRevocations::default();
    let conn = infra::redis_conn::connect(&redis_url)?;
    infra::redis_conn::ping(&conn)
        .await
        .map_err(|e| anyhow::anyhow!("Redis is not reachable at {redis_url}: {e}"))?;
    let redis = RedisRevocations::new(conn, "bench:revoked".into());
    // A list with entries, as in a running deployment.
    for _ in 0..1000 {
        in_process
            .revoke(SessionId::generate(), Duration::from_secs(600))
            .await?;
    }
    let t = issued.token.as_str();
    let verify = per_call(20_000, || async {
        tokens.verify(t).unwrap();
    })
    .await;
    let with_memory = per_call(20_000, || async {
        let c = tokens.verify(t).unwrap();
        assert!(!in_process.is_revoked(c.session_id).await.unwrap());
    })
    .await;
    let with_redis = per_call(2_000, || async {
        let c = tokens.verify(t).unwrap();
        assert!(!redis.is_revoked(c.session_id).await.unwrap());
    })
    .await;
    println!("per call (median of 7 batches)");
    println!("  verify the JWT (HS256, all claims)             {verify:>8.2} µs");
    println!("  verify + revocation check, in-process           {with_memory:>8.2} µs");
    println!("  verify + revocation check, Redis (a round trip) {with_redis:>8.2} µs");

    // 2. Per request, over HTTP.
    let (_admin, url) = fresh_database("tenantry_bench_auth").await?;
    // (Redis, in-process cache entries, shared cache)
    let servers = [
        (false, 0, false),
        (true, 0, true),
        (false, 100_000, false),
        (true, 100_000, true),
    ];
    let mut bases = Vec::new();
    for (with_redis, local_entries, shared) in servers {
        let mut figment = Settings::figment()
            .merge(("app_env", "test"))
            .merge(("server.port", 0))
            .merge(("metrics.listen", ""))
            .merge(("database.url", url.clone()))
            .merge(("database.max_connections", 20))
            .merge(("log.filter", "off"))
            .merge(("redis.key_prefix", "bench"))
            .merge(("cache.local_entries", local_entries))
            .merge(("cache.shared", shared));
        if with_redis {
            figment = figment.merge(("redis.url", redis_url.clone()));
        }
        let app = Application::build(Settings::from_figment(figment)?).await?;
        bases.push(format!("http://{}/graphql", app.local_addr()));
        tokio::spawn(app.run(std::future::pending()));
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .build()?;
    let d: Value = client
        .post(&bases[0])
        .json(&json!({ "query": "mutation { signUp(input: {email: \"bench@example.test\", password: \"bench password 1\", displayName: \"B\", tenantName: \"B\", tenantSlug: \"bench\"}) { accessToken } }" }))
        .send()
        .await?
        .json()
        .await?;
    let token = d["data"]["signUp"]["accessToken"]
        .as_str()
        .expect("signed up")
        .to_owned();

    let paths: [(&str, &String, Option<&str>); 5] = [
        ("no token (authentication skipped)", &bases[0], None),
        (
            "token, no cache (in-process revocations)",
            &bases[0],
            Some(&token),
        ),
        ("token, Redis: revocations + cache", &bases[1], Some(&token)),
        ("token, in-process cache", &bases[2], Some(&token)),
        ("token, Redis + in-process cache", &bases[3], Some(&token)),
    ];
    for (_, url, tok) in &paths {
        load(&client, url, *tok, 1, concurrency).await;
    }
    let mut rps: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    let mut lat: Vec<Vec<Duration>> = vec![Vec::new(); paths.len()];
    for _ in 0..rounds {
        for (i, (_, url, tok)) in paths.iter().enumerate() {
            let (r, l) = load(&client, url, *tok, secs, concurrency).await;
            rps[i].push(r);
            lat[i].extend(l);
        }
    }
    println!(
        "\nper request, `{{ __typename }}` over HTTP, {concurrency} clients, {rounds} rounds × {secs}s"
    );
    println!(
        "  {:<42} {:>10} {:>8} {:>8} {:>8}",
        "path", "req/s med", "p50 ms", "p99 ms", "ratio"
    );
    let base_rps = median(rps[0].clone());
    for (i, (name, _, _)) in paths.iter().enumerate() {
        lat[i].sort();
        let r = median(rps[i].clone());
        println!(
            "  {name:<42} {r:>10.0} {:>8.2} {:>8.2} {:>8.2}",
            pct(&lat[i], 0.5),
            pct(&lat[i], 0.99),
            r / base_rps
        );
    }
    Ok(())
}
