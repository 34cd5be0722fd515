//! Webhooks with the receiver mocked by wiremock: signed deliveries from the
//! outbox, retries, timeouts, dead letters and redelivery, a node killed
//! mid-delivery, several nodes sharing the work, retention, and tenant isolation.

use crate::helpers::{Account, Backend, TestApp, assert_code, bad_fields, spawn_with};
use api::config::Settings;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "whsec-0123456789abcdef";
const CREATE: &str =
    "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id url events createdAt } }";
const DELIVERIES: &str = "query($w: ID, $s: DeliveryStatus) { webhookDeliveries(first: 50, webhookId: $w, status: $s) { edges { node { id webhookId eventId eventType status attempts lastStatusCode lastError deliveredAt } } } }";

/// Quick retries and a short deadline, so tests take seconds.
fn fast(s: &mut Settings) {
    s.webhooks.timeout_ms = 500;
    s.webhooks.max_attempts = 3;
    s.webhooks.backoff_base_ms = 50;
    s.webhooks.backoff_max_ms = 200;
    s.webhooks.sweep_interval_ms = 300;
}

async fn create_webhook(app: &TestApp, token: &str, url: &str, events: &[&str]) -> String {
    let d = app
        .data(
            Some(token),
            CREATE,
            json!({ "i": { "url": url, "events": events, "secret": SECRET } }),
        )
        .await;
    d["createWebhook"]["id"].as_str().unwrap().to_owned()
}

/// A new tenant whose webhook sends `events` to the receiver's `/hook`.
async fn tenant_hooked_to(app: &TestApp, receiver: &MockServer, events: &[&str]) -> Account {
    let a = app.sign_up().await;
    create_webhook(app, &a.token, &format!("{}/hook", receiver.uri()), events).await;
    a
}

async fn deliveries(app: &TestApp, token: &str) -> Vec<Value> {
    let d = app
        .data(Some(token), DELIVERIES, json!({ "w": null, "s": null }))
        .await;
    d["webhookDeliveries"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// Polls the tenant's deliveries until `done` holds (or fails after 20 s).
async fn wait_for(
    app: &TestApp,
    token: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = deliveries(app, token).await;
        if done(&list) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; deliveries: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn all_have(status: &'static str, n: usize) -> impl Fn(&[Value]) -> bool {
    move |l| l.len() == n && l.iter().all(|d| d["status"] == status)
}

/// The receiver's check, written from the documented format.
fn verify(header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_owned()),
            Some(("v1", x)) => v1 = Some(x.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let fresh = t
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    fresh && hex::decode(v1).is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
}

/// Bodies the receiver got, parsed, in arrival order.
async fn received(receiver: &MockServer) -> Vec<(Value, bool)> {
    receiver
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let sig = r
                .headers
                .get("x-tenantry-signature")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            (
                serde_json::from_slice(&r.body).unwrap(),
                verify(sig, &r.body),
            )
        })
        .collect()
}

/// How many different events the bodies carry.
fn distinct(got: &[(Value, bool)]) -> usize {
    got.iter()
        .map(|(b, _)| b["id"].as_str().unwrap().to_owned())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

async fn ok_receiver() -> MockServer {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    receiver
}

async fn signed_events_reach_the_receiver_and_stay_in_their_tenant(backend: Backend) {
    let receiver = ok_receiver().await;
    let app = spawn_with(backend, fast).await;
    let a = app.sign_up().await;
    let b = app.sign_up().await;
    let url = format!("{}/hook", receiver.uri());
    let hook = create_webhook(&app, &a.token, &url, &["task.created", "task.updated"]).await;

    // project.created is not subscribed; the task's creation and update are.
    let project = app.create_project(&a.token, "Launch").await;
    let task = app
        .create_task(&a.token, json!({ "projectId": project, "title": "Write" }))
        .await;
    app.data(
        Some(&a.token),
        "mutation($id: ID!) { updateTask(id: $id, input: {status: DONE}, expectedVersion: 1) { id } }",
        json!({ "id": task["id"] }),
    )
    .await;
    // Tenant B's changes never reach A's webhook.
    let b_project = app.create_project(&b.token, "Other").await;
    app.create_task(&b.token, json!({ "projectId": b_project, "title": "B's" }))
        .await;

    let list = wait_for(&app, &a.token, "two deliveries", all_have("DELIVERED", 2)).await;
    let got = received(&receiver).await;
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(
        got.iter().all(|(_, signed)| *signed),
        "every body is signed"
    );
    let types: Vec<_> = got.iter().map(|(b, _)| b["type"].clone()).collect();
    assert_eq!(
        types,
        [json!("task.created"), json!("task.updated")],
        "in order"
    );
    let (created, _) = &got[0];
    assert_eq!(created["tenantId"], a.tenant_id.as_str());
    assert_eq!(created["data"]["task"]["id"], task["id"]);
    assert_eq!(created["data"]["task"]["title"], "Write");
    assert!(chrono::DateTime::parse_from_rfc3339(created["occurredAt"].as_str().unwrap()).is_ok());
    assert_eq!(got[1].0["data"]["task"]["status"], "DONE");
    assert_ne!(got[0].0["id"], got[1].0["id"], "each event has its own id");
    for d in &list {
        assert_eq!(d["webhookId"], hook.as_str());
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["lastStatusCode"], 204);
        assert!(d["deliveredAt"].is_string());
    }
    let ids: Vec<_> = got.iter().map(|(b, _)| b["id"].clone()).collect();
    assert!(list.iter().all(|d| ids.contains(&d["eventId"])));

    // B sees none of A's webhooks or deliveries and cannot touch them.
    let d = app
        .data(Some(&b.token), "{ webhooks { id } }", json!({}))
        .await;
    assert_eq!(d["webhooks"], json!([]));
    assert!(deliveries(&app, &b.token).await.is_empty());
    let body = app
        .gql(
            Some(&b.token),
            "mutation($id: ID!) { deleteWebhook(id: $id) }",
            json!({ "id": hook }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
    let body = app
        .gql(
            Some(&b.token),
            "mutation($id: ID!) { redeliverWebhookDelivery(id: $id) { id } }",
            json!({ "id": list[0]["id"] }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
    let d = app
        .data(Some(&a.token), "{ webhooks { id } }", json!({}))
        .await;
    assert_eq!(
        d["webhooks"][0]["id"],
        hook.as_str(),
        "A's webhook is untouched"
    );
}

async fn failed_attempts_are_retried_until_delivered(backend: Backend) {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let app = spawn_with(backend, fast).await;
    let a = tenant_hooked_to(&app, &receiver, &["project.created"]).await;
    app.create_project(&a.token, "Retry me").await;

    let list = wait_for(&app, &a.token, "a delivery", all_have("DELIVERED", 1)).await;
    assert_eq!(list[0]["attempts"], 3, "two 500s, then a 200: {list:#?}");
    assert_eq!(list[0]["lastStatusCode"], 200);
    let got = received(&receiver).await;
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|(b, signed)| *signed && b["id"] == got[0].0["id"]),
        "every attempt sends the same signed event"
    );
}

async fn timeouts_end_in_the_dead_letter_and_redelivery_sends_again(backend: Backend) {
    let receiver = MockServer::start().await;
    // Slower than the 500 ms deadline.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&receiver)
        .await;
    let app = spawn_with(backend, fast).await;
    let a = tenant_hooked_to(&app, &receiver, &["project.created"]).await;
    app.create_project(&a.token, "Slow receiver").await;

    let list = wait_for(&app, &a.token, "a dead letter", all_have("DEAD", 1)).await;
    assert_eq!(list[0]["attempts"], 3, "{list:#?}");
    assert_eq!(list[0]["lastError"], "timed out");
    assert!(list[0]["lastStatusCode"].is_null());
    let dead = app
        .data(
            Some(&a.token),
            DELIVERIES,
            json!({ "w": null, "s": "DEAD" }),
        )
        .await;
    assert_eq!(
        dead["webhookDeliveries"]["edges"].as_array().unwrap().len(),
        1
    );

    // The receiver is fixed; the dead delivery is sent again on request.
    receiver.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let d = app
        .data(
            Some(&a.token),
            "mutation($id: ID!) { redeliverWebhookDelivery(id: $id) { status attempts } }",
            json!({ "id": list[0]["id"] }),
        )
        .await;
    assert_eq!(d["redeliverWebhookDelivery"]["status"], "PENDING");
    assert_eq!(d["redeliverWebhookDelivery"]["attempts"], 0);
    let list = wait_for(&app, &a.token, "the redelivery", all_have("DELIVERED", 1)).await;
    assert_eq!(list[0]["attempts"], 1);
    let got = received(&receiver).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0["id"], list[0]["eventId"], "the same event, again");
}

async fn bad_webhooks_are_refused_with_every_reason(backend: Backend) {
    let app = spawn_with(backend, |s| s.webhooks.allow_private_targets = Some(false)).await;
    let a = app.sign_up().await;
    let body = app
        .gql(
            Some(&a.token),
            CREATE,
            json!({ "i": { "url": "http://127.0.0.1:9/hook", "events": ["task.exploded"], "secret": "short" } }),
        )
        .await;
    assert_code(&body, "BAD_USER_INPUT");
    assert_eq!(bad_fields(&body), ["url", "events", "secret"]);
    for url in [
        "http://10.0.0.8/hook",
        "http://localhost/x",
        "http://[::1]/",
        "ftp://example.com/",
    ] {
        let body = app
            .gql(
                Some(&a.token),
                CREATE,
                json!({ "i": { "url": url, "events": ["task.created"], "secret": SECRET } }),
            )
            .await;
        assert_eq!(bad_fields(&body), ["url"], "{url}: {body}");
    }
    let d = app
        .data(Some(&a.token), "{ webhooks { id } }", json!({}))
        .await;
    assert_eq!(d["webhooks"], json!([]), "nothing was made");
    // A public address is fine; deleting it takes it away.
    let id = create_webhook(
        &app,
        &a.token,
        "https://hooks.example.com/in",
        &["task.created"],
    )
    .await;
    let d = app
        .data(
            Some(&a.token),
            "mutation($id: ID!) { deleteWebhook(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["deleteWebhook"], true);
    let d = app
        .data(Some(&a.token), "{ webhooks { id } }", json!({}))
        .await;
    assert_eq!(d["webhooks"], json!([]));
}

/// The sweep prunes finished deliveries past the retention, and never a
/// pending one.
async fn finished_deliveries_are_pruned_after_the_retention(backend: Backend) {
    let receiver = ok_receiver().await;
    Mock::given(method("POST"))
        .and(path("/fail"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&receiver)
        .await;
    let app = spawn_with(backend, |s| {
        fast(s);
        s.webhooks.retention_secs = 2;
        // The failing one waits a minute before its second try.
        s.webhooks.max_attempts = 5;
        s.webhooks.backoff_base_ms = 60_000;
        s.webhooks.backoff_max_ms = 60_000;
    })
    .await;
    let a = tenant_hooked_to(&app, &receiver, &["project.created"]).await;
    let fail = format!("{}/fail", receiver.uri());
    create_webhook(&app, &a.token, &fail, &["project.created"]).await;
    app.create_project(&a.token, "Old news").await;
    let has = |status: &'static str| {
        move |list: &[Value]| {
            list.iter()
                .any(|d| d["status"] == status && d["attempts"] == 1)
        }
    };
    wait_for(&app, &a.token, "one delivered, one retrying", |l| {
        l.len() == 2 && has("DELIVERED")(l) && has("PENDING")(l)
    })
    .await;
    wait_for(&app, &a.token, "the delivered one pruned", |l| {
        l.len() == 1 && has("PENDING")(l)
    })
    .await;
}

/// Twelve creates at once under a plan of five webhooks: counted one after
/// another, so five stand and the others are refused `LIMIT_REACHED`.
async fn the_webhook_cap_holds_under_concurrent_creates(backend: Backend) {
    const CAP: usize = 5;
    let app = spawn_with(backend, |s| {
        s.tenancy.admission.wait_ms = 10_000;
        s.plans.webhooks = CAP as u32;
    })
    .await;
    let a = app.sign_up().await;
    let creates = (0..12).map(|i| {
        let (app, token) = (&app, a.token.as_str());
        async move {
            let url = format!("http://127.0.0.1:9/hook-{i}");
            app.gql(
                Some(token),
                CREATE,
                json!({ "i": { "url": url, "events": ["task.created"], "secret": SECRET } }),
            )
            .await
        }
    });
    let answers = futures::future::join_all(creates).await;
    let made = answers.iter().filter(|b| b.get("errors").is_none()).count();
    for b in answers.iter().filter(|b| b.get("errors").is_some()) {
        assert_code(b, "LIMIT_REACHED");
        assert_eq!(b["errors"][0]["extensions"]["limit"], "webhooks", "{b}");
        assert_eq!(b["errors"][0]["extensions"]["max"], CAP, "{b}");
    }
    assert_eq!(made, CAP, "{answers:?}");
    let d = app
        .data(
            Some(&a.token),
            "{ webhooks { id } tenant { usage { webhookLimit } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["webhooks"].as_array().unwrap().len(), CAP);
    assert_eq!(d["tenant"]["usage"]["webhookLimit"], CAP);
}

crate::on_every_backend!(
    the_webhook_cap_holds_under_concurrent_creates,
    signed_events_reach_the_receiver_and_stay_in_their_tenant,
    failed_attempts_are_retried_until_delivered,
    timeouts_end_in_the_dead_letter_and_redelivery_sends_again,
    bad_webhooks_are_refused_with_every_reason,
    finished_deliveries_are_pruned_after_the_retention,
);

/// Events written while no worker runs, and an attempt cut off by a killed
/// node, are delivered by the node started next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_when_a_node_dies_mid_delivery() {
    let receiver = MockServer::start().await;
    // Answers after a second: long enough to kill the node while it waits.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(1000)))
        .mount(&receiver)
        .await;
    let mut first = spawn_with(Backend::Postgres, |s| {
        fast(s);
        s.webhooks.timeout_ms = 2000;
    })
    .await;
    let a = tenant_hooked_to(&first, &receiver, &["project.created"]).await;
    first.create_project(&a.token, "In flight").await;
    // Wait until the receiver has the request, then kill the node before it answers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while received(&receiver).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first attempt never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().await;

    // While no worker runs, another change lands in the outbox.
    let quiet = first.another_node(|s| s.webhooks.worker = false).await;
    quiet
        .create_project(&a.token, "Written while no worker runs")
        .await;
    let pending = deliveries(&quiet, &a.token).await;
    assert_eq!(
        pending.len(),
        1,
        "the new event is still in the outbox: {pending:#?}"
    );
    assert_eq!(
        pending[0]["status"], "PENDING",
        "the cut-off attempt is not settled"
    );

    let second = first.another_node(|_| {}).await;
    wait_for(
        &second,
        &a.token,
        "both deliveries",
        all_have("DELIVERED", 2),
    )
    .await;
    let got = received(&receiver).await;
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for (body, signed) in &got {
        assert!(signed);
        *per_event
            .entry(body["id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_event.len(), 2, "both events arrived: {got:#?}");
    assert_eq!(
        per_event.values().max(),
        Some(&2),
        "the cut-off one arrived twice (at least once: receivers drop duplicates by id)"
    );
}

/// Two nodes, each with a worker, each taking writes: every event is
/// delivered exactly once when nothing fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_the_outbox_without_sending_twice() {
    let receiver = ok_receiver().await;
    let one = spawn_with(Backend::Postgres, fast).await;
    let a = tenant_hooked_to(&one, &receiver, &["project.created"]).await;
    // Started after the sign-up, so it loads the new tenant's roles at once.
    let two = one.another_node(fast).await;
    for i in 0..20 {
        let node = if i % 2 == 0 { &one } else { &two };
        node.create_project(&a.token, &format!("p{i}")).await;
    }
    wait_for(&two, &a.token, "20 deliveries", all_have("DELIVERED", 20)).await;
    // Let any duplicate arrive before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = received(&receiver).await;
    assert_eq!((got.len(), distinct(&got)), (20, 20), "each event once");
}

/// A slow receiver and two nodes: a webhook's deliveries are sent one after
/// another, and each is leased for as long as its turn takes, so the other
/// node never sends one a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_gets_each_event_once_from_two_nodes() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(600)))
        .mount(&receiver)
        .await;
    let slow = |s: &mut Settings| {
        fast(s);
        s.webhooks.timeout_ms = 1000;
    };
    let one = spawn_with(Backend::Postgres, slow).await;
    let a = tenant_hooked_to(&one, &receiver, &["project.created"]).await;
    let two = one.another_node(slow).await;
    // Written while neither worker is woken for them: one pass leases all eight.
    for i in 0..8 {
        one.create_project(&a.token, &format!("p{i}")).await;
    }
    wait_for(&two, &a.token, "8 deliveries", all_have("DELIVERED", 8)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = received(&receiver).await;
    assert_eq!(
        (got.len(), distinct(&got)),
        (8, 8),
        "each event once, though the batch took ~5 s"
    );
}
