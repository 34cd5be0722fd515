//! Two server processes share PostgreSQL (and Redis): a role or permission
//! change made through one applies on the other within a second, through
//! Redis pub/sub, and without Redis through polling the change feed; a task
//! changed through one reaches a subscriber connected to the other.
//!
//! Needs PostgreSQL (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432)
//! and, for the Redis case, Redis (TEST_REDIS_URL, default redis://127.0.0.1:6379).

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const SECRET: &str = "two-nodes-fixtures-secret-0123456789";
const JWT: &str = "two-nodes-jwt-secret-of-at-least-32-bytes!";

fn server_url() -> String {
    let url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/tenantry_test".into());
    url.rsplit_once('/').map(|(s, _)| s.to_owned()).unwrap()
}

/// A database of its own, dropped at the end.
struct TempDb {
    server: String,
    name: String,
}

impl TempDb {
    async fn create() -> Self {
        let server = server_url();
        let name = format!("tenantry_nodes_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(format!("{server}/postgres"))
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL is not reachable at {server} ({e}): start it (`bash .ci/run` does) or set TEST_DATABASE_URL")
            });
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Self { server, name }
    }
    fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                if let Ok(admin) = Database::connect(format!("{server}/postgres")).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join()
        .ok();
    }
}

struct Node {
    _child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(db: &str, redis: Option<&str>, prefix: &str, poll_ms: u64) -> Node {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APP_ENV", "test")
        .env("PORT", port.to_string())
        .env("APP_SERVER__HOST", "127.0.0.1")
        .env("DATABASE_URL", db)
        .env("JWT_SECRET", JWT)
        .env("FIXTURES_SECRET", SECRET)
        .env("APP_REDIS__KEY_PREFIX", prefix)
        .env("APP_DEMO__SEED_ON_FIRST_START", "false")
        .env("APP_AUTHZ__POLL_INTERVAL_MS", poll_ms.to_string())
        .env("APP_LOG__FILTER", "warn")
        .env("APP_METRICS__LISTEN", "")
        // These tests poll faster than people do.
        .env("APP_RATE_LIMIT__REQUESTS__USER_PER_SECOND", "100000")
        .env("APP_RATE_LIMIT__REQUESTS__ANONYMOUS_PER_SECOND", "100000")
        .env("APP_RATE_LIMIT__REQUESTS__TENANT_WORK_PER_SECOND", "100000")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if let Some(r) = redis {
        cmd.env("REDIS_URL", r);
    }
    let child = cmd.spawn().expect("the tenantry binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "node on {port} did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Node {
        _child: child,
        base,
    }
}

async fn gql(node: &Node, token: &str, query: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{}/graphql", node.base))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn forbidden(body: &Value) -> bool {
    body["errors"]
        .as_array()
        .is_some_and(|es| es.iter().any(|e| e["extensions"]["code"] == "FORBIDDEN"))
}

/// How long until `query` stops being FORBIDDEN on `node` (panics after 5 s).
async fn until_allowed(node: &Node, token: &str, query: &str) -> Duration {
    let started = Instant::now();
    loop {
        let body = gql(node, token, query).await;
        if !forbidden(&body) {
            assert!(body["errors"].is_null(), "{body}");
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still FORBIDDEN after 5 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn changes_reach_the_other_node(redis: Option<&str>, poll_ms: u64) {
    let db = TempDb::create().await;
    let prefix = format!("nodes{}", uuid::Uuid::new_v4().simple());
    let a = start(&db.url(), redis, &prefix, poll_ms).await;
    let b = start(&db.url(), redis, &prefix, poll_ms).await;

    let fixture: Value = reqwest::Client::new()
        .post(format!("{}/_fixtures/tenants", a.base))
        .header("x-fixtures-secret", SECRET)
        .json(&json!({ "users": [{ "role": "owner" }, { "role": "member" }] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let owner = fixture["users"][0]["accessToken"].as_str().unwrap();
    let member = fixture["users"][1]["accessToken"].as_str().unwrap();
    let member_id = fixture["users"][1]["id"].as_str().unwrap();

    // A member role change made on A.
    const INVITES: &str = "{ invitations { id } }";
    assert!(forbidden(&gql(&b, member, INVITES).await));
    let changed = gql(
        &a,
        owner,
        &format!(
            "mutation {{ updateMemberRole(userId: \"{member_id}\", role: \"admin\") {{ role }} }}"
        ),
    )
    .await;
    assert_eq!(
        changed["data"]["updateMemberRole"]["role"], "admin",
        "{changed}"
    );
    let took = until_allowed(&b, member, INVITES).await;
    eprintln!("member role change reached the other node in {took:?}");
    assert!(
        took < Duration::from_secs(1),
        "role change took {took:?} to reach B"
    );

    // A custom role's permissions changed on A.
    const AUDIT: &str = "{ auditLog(first: 1) { edges { node { action } } } }";
    for q in [
        "mutation { createRole(input: {name: \"helper\", permissions: [\"task:read\"]}) { name } }"
            .to_owned(),
        format!(
            "mutation {{ updateMemberRole(userId: \"{member_id}\", role: \"helper\") {{ role }} }}"
        ),
    ] {
        let r = gql(&a, owner, &q).await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !forbidden(&gql(&b, member, AUDIT).await) {
        assert!(Instant::now() < deadline, "B never applied the demotion");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = gql(
        &a,
        owner,
        "mutation { updateRole(name: \"helper\", input: {permissions: [\"task:read\", \"audit:read\"]}) { name } }",
    )
    .await;
    assert!(r["errors"].is_null(), "{r}");
    let took = until_allowed(&b, member, AUDIT).await;
    eprintln!("custom role update reached the other node in {took:?}");
    assert!(
        took < Duration::from_secs(1),
        "role update took {took:?} to reach B"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_a_change_reaches_the_other_node_by_pub_sub() {
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = redis::Client::open(redis.as_str()).unwrap();
    assert!(
        client.get_multiplexed_async_connection().await.is_ok(),
        "Redis is not reachable at {redis}: start it (`bash .ci/run` does) or set TEST_REDIS_URL"
    );
    // Polling every minute: only pub/sub can make it within a second.
    changes_reach_the_other_node(Some(&redis), 60_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_change_reaches_the_other_node_by_polling() {
    changes_reach_the_other_node(None, 500).await;
}

/// A graphql-transport-ws subscriber's next `taskEvents` payload, or `None`
/// when nothing comes within `wait`.
async fn next_event<S>(ws: &mut S, wait: Duration) -> Option<Value>
where
    S: futures::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Text(t)))) => {
                let m: Value = serde_json::from_str(&t).unwrap();
                match m["type"].as_str() {
                    Some("next") => return Some(m["payload"]["data"]["taskEvents"].clone()),
                    Some("connection_ack" | "ping" | "pong") => {}
                    _ => panic!("unexpected message {m}"),
                }
            }
            Ok(other) => panic!("the connection ended: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_made_on_one_node_reaches_a_subscriber_on_the_other() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    assert!(
        redis::Client::open(redis.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .is_ok(),
        "Redis is not reachable at {redis}: start it (`bash .ci/run` does) or set TEST_REDIS_URL"
    );
    let db = TempDb::create().await;
    let prefix = format!("events{}", uuid::Uuid::new_v4().simple());
    let one = start(&db.url(), Some(&redis), &prefix, 500).await;
    let fixture: Value = reqwest::Client::new()
        .post(format!("{}/_fixtures/tenants", one.base))
        .header("x-fixtures-secret", SECRET)
        .json(&json!({ "users": [{ "role": "owner" }], "projects": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = fixture["users"][0]["accessToken"].as_str().unwrap();
    let project = fixture["projects"][0]["id"].as_str().unwrap();
    // Started after the fixture, so it knows the tenant's roles at once.
    let two = start(&db.url(), Some(&redis), &prefix, 500).await;
    let create = async |title: &str| {
        let d = gql(
            &one,
            token,
            &format!("mutation {{ createTask(input: {{projectId: \"{project}\", title: \"{title}\"}}) {{ id }} }}"),
        )
        .await;
        d["data"]["createTask"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{d}"))
            .to_owned()
    };

    let mut req = format!("{}/graphql", two.base.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let text = |v: Value| Message::Text(v.to_string().into());
    ws.send(text(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })))
        .await
        .unwrap();
    ws.send(text(json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription { taskEvents { kind task { id title } } }" } })))
        .await
        .unwrap();
    // Changes made through the first node until one arrives: the
    // subscription is live from then on.
    for i in 0.. {
        assert!(i < 50, "no event crossed from one node to the other");
        create(&format!("probe {i}")).await;
        if next_event(&mut ws, Duration::from_millis(500))
            .await
            .is_some()
        {
            break;
        }
    }
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(create(&format!("task {i}")).await);
    }
    let mut got = Vec::new();
    while got.len() < made.len() {
        let e = next_event(&mut ws, Duration::from_secs(10))
            .await
            .expect("the events made on the first node");
        if e["task"]["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("task"))
        {
            assert_eq!(e["kind"], "CREATED");
            got.push(e["task"]["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(got, made, "every event, in order");
}
