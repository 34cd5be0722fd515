//! Two server processes (the real binary) sharing one database and Redis:
//! a task changed through one reaches a subscriber connected to the other.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `tenantry serve` and waits until it answers; its base URL.
async fn start(db: &str, prefix: &str) -> (Server, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .arg("serve")
        .env("DATABASE_URL", db)
        .env("REDIS_URL", redis_url())
        .env("PORT", port.to_string())
        .env("APP_ENV", "test")
        .env("APP_LOG__FILTER", "off")
        .env("APP_REDIS__KEY_PREFIX", prefix)
        .env("FIXTURES_SECRET", "realtime")
        .stdout(Stdio::null())
        .spawn()
        .expect("the tenantry binary starts");
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return (server, base);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("tenantry serve did not come up on {base}");
}

async fn gql(base: &str, token: &str, query: &str, variables: Value) -> Value {
    let body: Value = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

async fn create_task(base: &str, token: &str, project: &str, title: &str) -> String {
    let d = gql(
        base,
        token,
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        json!({ "i": { "projectId": project, "title": title } }),
    )
    .await;
    d["createTask"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_made_on_one_process_reaches_a_subscriber_on_another() {
    let redis = redis::Client::open(redis_url()).unwrap();
    assert!(
        redis.get_multiplexed_async_connection().await.is_ok(),
        "Redis is not reachable at {}. Start it (`redis-server --daemonize yes`) or set TEST_REDIS_URL.",
        redis_url()
    );
    let file = std::env::temp_dir().join(format!("tenantry-rt-{}.db", uuid::Uuid::new_v4()));
    let db = format!("sqlite://{}?mode=rwc", file.display());
    let prefix = format!("rt{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);

    let (_one, one) = start(&db, &prefix).await;
    let fixture: Value = reqwest::Client::new()
        .post(format!("{one}/_fixtures/tenants"))
        .header("x-fixtures-secret", "realtime")
        .json(&json!({ "users": [{ "role": "owner" }], "projects": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = fixture["users"][0]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let project = fixture["projects"][0]["id"].as_str().unwrap().to_owned();
    let (_two, two) = start(&db, &prefix).await;

    // A graphql-transport-ws client on the second process.
    let mut req = format!("{}/graphql", two.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })))
        .await
        .unwrap();
    ws.send(send(json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription { taskEvents { kind task { id title } } }" } })))
        .await
        .unwrap();
    let next_event = async |ws: &mut tokio_tungstenite::WebSocketStream<_>, wait| loop {
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
    };
    // Changes made through the first process until one arrives: the
    // subscription is live from then on.
    for i in 0.. {
        assert!(i < 50, "no event crossed from one process to the other");
        create_task(&one, &token, &project, &format!("probe {i}")).await;
        if next_event(&mut ws, Duration::from_millis(500))
            .await
            .is_some()
        {
            break;
        }
    }
    let made: Vec<String> = {
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(create_task(&one, &token, &project, &format!("task {i}")).await);
        }
        ids
    };
    let mut got = Vec::new();
    while got.len() < made.len() {
        let e = next_event(&mut ws, Duration::from_secs(10))
            .await
            .expect("the events made on the first process");
        if e["task"]["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("task"))
        {
            assert_eq!(e["kind"], "CREATED");
            got.push(e["task"]["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(got, made, "every event, in order");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
