//! PostgreSQL going away under write load and coming back. The server talks
//! to its database through a TCP proxy the test cuts (every connection
//! dropped, new ones closed at once) and restores: while cut, writes fail
//! quickly with a clean error and `/readyz` says the database is
//! unreachable; once restored, the same server, with the same tenant and
//! token, writes again within seconds, and every write it acknowledged is in
//! the database and reaches the tenant's webhook.

use crate::helpers::{Backend, TestApp, codes, postgres_url, spawn_with, unique};
use crate::proxy::Proxy;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CREATE: &str = "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }";
const WRITERS: usize = 4;
/// The longest a refused write may take: the pool's acquire timeout (1 s
/// here) and the admission wait (3 s), with room for a busy machine. The
/// request timeout (30 s) is far beyond it.
const PROMPT: Duration = Duration::from_secs(10);
const OUTAGE: Duration = Duration::from_secs(3);
/// What a write refused for the outage may answer: the database failed, or
/// the tenant's turn for a connection did not come in time.
const CLEAN: [&str; 2] = ["INTERNAL_SERVER_ERROR", "RATE_LIMITED"];

/// One `createProject` of the load: acknowledged (`Ok`), or refused with
/// its error codes (or how it failed without a GraphQL answer).
struct Attempt {
    name: String,
    started: Instant,
    took: Duration,
    outcome: Result<(), String>,
}

type Log = Arc<Mutex<Vec<Attempt>>>;

async fn create(client: &reqwest::Client, url: &str, token: &str, name: &str) -> Attempt {
    let started = Instant::now();
    let res = client
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": CREATE, "variables": { "i": { "name": name } } }))
        .timeout(Duration::from_secs(60))
        .send()
        .await;
    let outcome = match res {
        Err(e) => Err(format!("no answer: {e}")),
        Ok(res) => match res.json::<Value>().await {
            Err(e) => Err(format!("not JSON: {e}")),
            Ok(body) if body["data"]["createProject"]["id"].is_string() => Ok(()),
            Ok(body) => match codes(&body).join(",") {
                c if c.is_empty() => Err(format!("no code: {body}")),
                // Generic, with the request id: no SQL, no pool, no address.
                c if c == "INTERNAL_SERVER_ERROR"
                    && !body["errors"][0]["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("internal server error (request id ")) =>
                {
                    Err(format!("not generic: {body}"))
                }
                c => Err(c),
            },
        },
    };
    Attempt {
        name: name.to_owned(),
        started,
        took: started.elapsed(),
        outcome,
    }
}

/// `WRITERS` tasks creating projects named `<run>-w<i>-<n>` until `stop`.
fn start_load(
    app: &TestApp,
    token: &str,
    run: &str,
    stop: &Arc<AtomicBool>,
    log: &Log,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..WRITERS)
        .map(|i| {
            let (client, url) = (app.client().clone(), app.url("/graphql"));
            let (token, run) = (token.to_owned(), run.to_owned());
            let (stop, log) = (stop.clone(), log.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let attempt = create(&client, &url, &token, &format!("{run}-w{i}-{n}")).await;
                    log.lock().unwrap().push(attempt);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect()
}

/// Polls `check` until it holds; fails naming `what` after `within`.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(()) => return,
            Err(last) => assert!(Instant::now() < deadline, "{what}; last seen: {last}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let res = app
        .client()
        .get(app.url("/readyz"))
        .timeout(PROMPT)
        .send()
        .await
        .expect("/readyz answers promptly");
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Polls `/readyz` until it answers `status` with the database `database`.
async fn readiness_becomes(app: &TestApp, status: u16, database: &str) {
    let what = format!("/readyz answers {status} with the database {database}");
    eventually(&what, Duration::from_secs(20), || async {
        match ready(app).await {
            (s, body) if s == status && body["database"] == database => Ok(()),
            (s, body) => Err(format!("{s} {body}")),
        }
    })
    .await;
}

/// Whether some attempt that started after `since` matches `outcome`.
fn seen_since(log: &Log, since: Instant, outcome: fn(&Attempt) -> bool) -> Result<(), String> {
    let log = log.lock().unwrap();
    if log.iter().any(|a| a.started >= since && outcome(a)) {
        return Ok(());
    }
    let last = log
        .last()
        .map(|a| format!("{:?} after {:?}", a.outcome, a.took));
    Err(format!("{} attempts, the last {last:?}", log.len()))
}

/// The names of the tenant's projects of this run, read from the database
/// directly (not through the proxy, not through the server).
async fn stored_names(app: &TestApp, tenant: &str, run: &str) -> HashSet<String> {
    let db = Database::connect(&app.database_url).await.unwrap();
    let tenant: uuid::Uuid = tenant.parse().unwrap();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT name FROM projects WHERE tenant_id = $1 AND name LIKE $2",
            [tenant.into(), format!("{run}-%").into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

/// The project names the receiver's `project.created` deliveries carry.
async fn delivered_names(receiver: &MockServer) -> HashSet<String> {
    receiver
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter_map(|b| b["data"]["project"]["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_resume_after_a_postgres_outage_and_no_acknowledged_write_is_lost() {
    let proxy = Proxy::to(&postgres_url()).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let app = spawn_with(Backend::Postgres, |s| {
        s.database.url = proxy.route(&s.database.url);
        s.database.acquire_timeout_secs = 1;
        // One admission grant in all for tenants (5 connections, 4 kept
        // for the control plane): a grant the outage leaked would refuse
        // every later request of the tenant.
        s.tenancy.admission.reserved = 4;
        s.tenancy.admission.wait_ms = 3000;
    })
    .await;
    let acc = app.sign_up().await;
    app.data(
        Some(&acc.token),
        "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }",
        json!({ "i": { "url": format!("{}/hook", receiver.uri()),
                       "events": ["project.created"], "secret": "whsec-0123456789abcdef" } }),
    )
    .await;
    let run = unique("load");
    let (stop, log) = (Arc::new(AtomicBool::new(false)), Log::default());
    let writers = start_load(&app, &acc.token, &run, &stop, &log);
    eventually(
        "the load writes before the outage",
        Duration::from_secs(30),
        || async {
            let log = log.lock().unwrap();
            match log.iter().filter(|a| a.outcome.is_ok()).count() {
                n if n >= 5 * WRITERS => Ok(()),
                n => Err(format!("{n} acknowledged of {}", log.len())),
            }
        },
    )
    .await;

    proxy.cut().await;
    let cut_at = Instant::now();
    readiness_becomes(&app, 503, "unreachable").await;
    eventually(
        "writes fail during the outage",
        Duration::from_secs(20),
        || async {
            seen_since(&log, cut_at, |a| {
                a.outcome
                    .as_ref()
                    .is_err_and(|c| c == "INTERNAL_SERVER_ERROR")
            })
        },
    )
    .await;
    tokio::time::sleep_until(cut_at + OUTAGE).await;
    let (status, body) = ready(&app).await;
    assert_eq!(
        (status, &body["database"]),
        (503, &json!("unreachable")),
        "still cut: {body}"
    );
    let probe = create(
        app.client(),
        &app.url("/graphql"),
        &acc.token,
        &format!("{run}-probe"),
    )
    .await;
    assert!(
        probe
            .outcome
            .as_ref()
            .is_err_and(|c| CLEAN.contains(&c.as_str()))
            && probe.took < PROMPT,
        "a write while cut fails promptly and cleanly: {:?} after {:?}",
        probe.outcome,
        probe.took
    );

    proxy.restore();
    let restored_at = Instant::now();
    // Without a restart.
    readiness_becomes(&app, 200, "ok").await;
    eventually("the load writes again", Duration::from_secs(20), || async {
        seen_since(&log, restored_at, |a| a.outcome.is_ok())
    })
    .await;
    let recovered_in = restored_at.elapsed();
    // The same token still serves the same tenant.
    let d = app
        .data(Some(&acc.token), "{ tenant { id } }", json!({}))
        .await;
    assert_eq!(d["tenant"]["id"], acc.tenant_id.as_str());
    app.create_project(&acc.token, &format!("{run}-after"))
        .await;

    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let log = std::mem::take(&mut *log.lock().unwrap());
    let acked: HashSet<String> = log
        .iter()
        .filter(|a| a.outcome.is_ok())
        .map(|a| a.name.clone())
        .chain([format!("{run}-after")])
        .collect();
    let refused: Vec<&Attempt> = log.iter().filter(|a| a.outcome.is_err()).collect();
    let mut by_code = std::collections::BTreeMap::<&str, usize>::new();
    for a in &refused {
        *by_code.entry(a.outcome.as_ref().unwrap_err()).or_default() += 1;
    }
    eprintln!(
        "postgres outage: {} writes, {} acknowledged, refused {by_code:?} (slowest {:?}); \
         writes again {recovered_in:?} after the restore",
        log.len(),
        acked.len(),
        refused.iter().map(|a| a.took).max().unwrap_or_default(),
    );
    for a in &refused {
        let code = a.outcome.as_ref().unwrap_err();
        assert!(
            CLEAN.contains(&code.as_str()),
            "a refused write carries a clean error code, not {code}"
        );
        assert!(a.took < PROMPT, "a refused write took {:?}", a.took);
    }

    let stored = stored_names(&app, &acc.tenant_id, &run).await;
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "acknowledged writes missing from the database: {lost:?}"
    );
    // The outbox worker came back too: every acknowledged project's event
    // reaches the webhook.
    eventually(
        "every acknowledged project is delivered",
        Duration::from_secs(30),
        || async {
            let delivered = delivered_names(&receiver).await;
            let missing: Vec<_> = acked.difference(&delivered).collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} not delivered, e.g. {:?}",
                    missing.len(),
                    missing.first()
                ))
            }
        },
    )
    .await;
}
