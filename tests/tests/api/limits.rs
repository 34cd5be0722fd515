//! Resource limits that hold whatever the storage: documents measured before
//! they run (fragments costed once, database round trips counted, standard
//! introspection admitted) and subscription caps per socket, user and tenant.

use crate::helpers::{Backend, TestApp, assert_code, spawn_with};
use crate::ws::{Read, Ws};
use serde_json::{Value, json};
use std::time::Duration;

const EVENTS: &str = "subscription { taskEvents { id task { id title } } }";

/// Fragments each spreading the next four times, twelve deep: 4^11 fields
/// in place, in under a kilobyte.
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

async fn documents_are_measured_before_anything_runs(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;

    // Anonymous, and refused by its expanded size.
    let body = app.gql(None, &fan_out(), json!({})).await;
    assert_code(&body, "QUERY_TOO_COMPLEX");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("expands to fields"), "{message}");

    // graphql-js's getIntrospectionQuery(), with every option, at the defaults.
    let intro = include_str!("../../../api/tests/data/introspection.graphql");
    let d = app.data(None, intro, json!({})).await;
    let types = d["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Task"), "{d}");

    // Twelve aliased heavy lists: refused by their database round trips, and
    // nothing was read.
    let acc = app.sign_up().await;
    let t = Some(acc.token.as_str());
    let one = "projects(first: 100) { edges { node { tasks(first: 1) { totalCount } } } }";
    let heavy: String = (0..12).map(|i| format!("p{i}: {one} ")).collect();
    let body = app.gql(t, &format!("{{ {heavy} }}"), json!({})).await;
    assert_code(&body, "QUERY_TOO_COMPLEX");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("round trips"),
        "{body}"
    );
    assert!(body["data"].is_null(), "{body}");
    // Even one of them is past the limit (201 round trips); a page of 20 fits.
    let one_body = app.gql(t, &format!("{{ {one} }}"), json!({})).await;
    assert_code(&one_body, "QUERY_TOO_COMPLEX");
    let fits = "projects(first: 20) { edges { node { tasks(first: 1) { totalCount } } } }";
    let d = app.data(t, &format!("{{ {fits} }}"), json!({})).await;
    assert_eq!(d["projects"]["edges"], json!([]));

    // A document past its byte limit is refused before it is parsed.
    let long = format!("{{ __typename {} }}", " ".repeat(70_000));
    assert_code(&app.gql(None, &long, json!({})).await, "QUERY_TOO_COMPLEX");
}

crate::on_every_backend!(documents_are_measured_before_anything_runs);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_subscription_is_refused_on_the_socket() {
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    let a = app.sign_up().await;
    let mut ws = Ws::signed_in(&app.addr, &a.token).await;
    let doc = fan_out().replace("query { ...F0 }", "subscription { ...F0 }");
    ws.subscribe("bomb", &doc, json!({})).await;
    match ws.read(Duration::from_secs(5)).await {
        Read::Message(m) => {
            assert_eq!(m["id"], "bomb", "{m}");
            assert_eq!(
                m["payload"]["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
                "{m}"
            );
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
}

/// The next `error` message, skipping others; panics on a close or silence.
async fn refusal(ws: &mut Ws) -> Value {
    loop {
        match ws.read(Duration::from_secs(5)).await {
            Read::Message(m) if m["type"] == "error" => return m,
            Read::Message(_) => {}
            other => panic!("expected an error message, got {other:?}"),
        }
    }
}

/// Subscribes under `id` and proves the subscription live: a task made now
/// reaches it.
async fn live(app: &TestApp, ws: &mut Ws, token: &str, project: &str, id: &str) {
    ws.subscribe(id, EVENTS, json!({})).await;
    // The subscription is registered once the engine has read it; a task
    // created after that reaches it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let title = format!("probe {id}");
    app.create_task(token, json!({ "projectId": project, "title": title }))
        .await;
    loop {
        match ws.read(Duration::from_secs(10)).await {
            Read::Message(m)
                if m["type"] == "next"
                    && m["id"] == id
                    && m["payload"]["data"]["taskEvents"]["task"]["title"] == title.as_str() =>
            {
                return;
            }
            Read::Message(m) if m["type"] == "error" => panic!("{id} was refused: {m}"),
            Read::Message(_) => {}
            other => panic!("{id} never received its probe: {other:?}"),
        }
    }
}

async fn subscriptions_are_capped_per_socket_user_and_tenant(backend: Backend) {
    let app = spawn_with(backend, |s| {
        s.subscriptions.max_per_socket = 2;
        s.subscriptions.max_per_user = 3;
        s.subscriptions.max_per_tenant = 4;
        s.fixtures.secret = Some("caps-fixtures-secret-0123456789abcdef".to_owned().into());
    })
    .await;
    let f = app
        .fixture(
            "caps-fixtures-secret-0123456789abcdef",
            json!({ "users": [{ "role": "owner" }, { "role": "member" }], "projects": 1 }),
        )
        .await;
    let owner = f["users"][0]["accessToken"].as_str().unwrap();
    let member = f["users"][1]["accessToken"].as_str().unwrap();
    let project = f["projects"][0]["id"].as_str().unwrap();

    // Per socket: the third is refused with an `error` for its id, and the
    // socket goes on.
    let mut first = Ws::signed_in(&app.addr, owner).await;
    live(&app, &mut first, owner, project, "s1").await;
    live(&app, &mut first, owner, project, "s2").await;
    first.subscribe("s3", EVENTS, json!({})).await;
    let m = refusal(&mut first).await;
    assert_eq!(m["id"], "s3", "{m}");
    assert_eq!(m["payload"][0]["extensions"]["code"], "RATE_LIMITED", "{m}");
    assert!(
        m["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("connection")
    );
    // Completing one gives its place back.
    first.send(json!({ "type": "complete", "id": "s1" })).await;
    live(&app, &mut first, owner, project, "s3").await;

    // Per user: a second socket of the same user gets one more, not two.
    let mut second = Ws::signed_in(&app.addr, owner).await;
    live(&app, &mut second, owner, project, "u1").await;
    second.subscribe("u2", EVENTS, json!({})).await;
    let m = refusal(&mut second).await;
    assert_eq!(m["id"], "u2");
    assert!(
        m["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("user"),
        "{m}"
    );

    // Per tenant: another member gets the tenant's last place.
    let mut third = Ws::signed_in(&app.addr, member).await;
    live(&app, &mut third, member, project, "m1").await;
    third.subscribe("m2", EVENTS, json!({})).await;
    let m = refusal(&mut third).await;
    assert!(
        m["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("tenant"),
        "{m}"
    );

    // Another tenant is not affected.
    let other = app.sign_up().await;
    let other_project = app.create_project(&other.token, "Other").await;
    let mut fourth = Ws::signed_in(&app.addr, &other.token).await;
    live(&app, &mut fourth, &other.token, &other_project, "o1").await;

    // A closed socket gives its places back.
    drop(first);
    let mut freed = false;
    for attempt in 0..50 {
        let id = format!("m-{attempt}");
        third.subscribe(&id, EVENTS, json!({})).await;
        match third.read(Duration::from_millis(300)).await {
            Read::Message(m) if m["type"] == "error" => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Read::Nothing => {
                freed = true;
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(freed, "the closed socket's subscriptions still count");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_capped_per_socket_user_and_tenant_sqlite() {
    subscriptions_are_capped_per_socket_user_and_tenant(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_capped_per_socket_user_and_tenant_postgres() {
    subscriptions_are_capped_per_socket_user_and_tenant(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_subscribes_on_one_socket_is_refused_past_the_cap() {
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    let a = app.sign_up().await;
    let mut ws = Ws::signed_in(&app.addr, &a.token).await;
    let n = 2_000;
    for i in 0..n {
        ws.subscribe(&format!("f{i}"), EVENTS, json!({})).await;
    }
    let mut refused = 0;
    while refused < n - 50 {
        let m = refusal(&mut ws).await;
        assert_eq!(m["payload"][0]["extensions"]["code"], "RATE_LIMITED");
        refused += 1;
    }
    // The node counts them, without a label per tenant.
    let metrics = app.metrics_text().await;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("tenantry_limit_refusals_total") && l.contains("subscriptions_per_socket")
        })
        .unwrap_or_else(|| panic!("no refusal counter in {metrics}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= f64::from(n - 50), "{line}");
}

/// A tenant past its share of the shared pool waits, then is refused with a
/// retry-after; another tenant always finds room meanwhile.
async fn one_tenant_cannot_take_the_shared_pool(backend: Backend) {
    let app = spawn_with(backend, |s| {
        // Two connections for tenants, at most one each, and no patience.
        s.database.max_connections = 4;
        s.tenancy.admission.reserved = 2;
        s.tenancy.admission.per_tenant = 1;
        s.tenancy.admission.wait_ms = 1;
    })
    .await;
    let busy = app.sign_up().await;
    let quiet = app.sign_up().await;
    for i in 0..3 {
        app.create_project(&busy.token, &format!("p{i}")).await;
    }
    app.create_project(&quiet.token, "q").await;
    // Forty round trips a request, sixteen at a time.
    let heavy = "{ projects(first: 20) { edges { node { tasks(first: 1) { totalCount } } } } }";
    let flood = futures::future::join_all((0..16).map(|_| async {
        let mut refused = Vec::new();
        for _ in 0..5 {
            let body = app.gql(Some(&busy.token), heavy, json!({})).await;
            if body.get("errors").is_some() {
                refused.push(body);
            }
        }
        refused
    }));
    let light = async {
        for _ in 0..20 {
            let d = app
                .data(
                    Some(&quiet.token),
                    "{ projects(first: 5) { totalCount } }",
                    json!({}),
                )
                .await;
            assert_eq!(d["projects"]["totalCount"], 1);
        }
    };
    let (refusals, ()) = tokio::join!(flood, light);
    let refusals: Vec<Value> = refusals.into_iter().flatten().collect();
    assert!(
        !refusals.is_empty(),
        "the flood never waited past its share"
    );
    for body in &refusals {
        let e = &body["errors"][0];
        assert_eq!(e["extensions"]["code"], "RATE_LIMITED", "{body}");
        assert_eq!(e["extensions"]["retryAfter"], 1, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_cannot_take_the_shared_pool_sqlite() {
    one_tenant_cannot_take_the_shared_pool(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_cannot_take_the_shared_pool_postgres() {
    one_tenant_cannot_take_the_shared_pool(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_cannot_take_the_shared_pool_postgres_schema() {
    one_tenant_cannot_take_the_shared_pool(Backend::PostgresSchema).await;
}

/// A webhook target that takes 8 s to answer holds only its own deliveries:
/// its tenant's subscribers, and another tenant's webhooks, are served at
/// once even with one relaying slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_webhook_target_delays_neither_subscribers_nor_other_tenants() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(8)))
        .mount(&slow)
        .await;
    let quick = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&quick)
        .await;
    let app = spawn_with(Backend::Postgres, |s| {
        s.webhooks.concurrency = 1;
        s.webhooks.timeout_ms = 10_000;
    })
    .await;
    let hook = "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }";
    let (a, b) = (app.sign_up().await, app.sign_up().await);
    for (acc, target) in [(&a, &slow), (&b, &quick)] {
        let i = json!({ "url": format!("{}/hook", target.uri()), "events": ["task.created"],
                        "secret": "whsec-0123456789abcdef" });
        app.data(Some(&acc.token), hook, json!({ "i": i })).await;
    }
    let (pa, pb) = (
        app.create_project(&a.token, "A").await,
        app.create_project(&b.token, "B").await,
    );
    let mut ws = Ws::signed_in(&app.addr, &a.token).await;
    ws.subscribe("s", EVENTS, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The first task's delivery starts its 8 s wait.
    app.create_task(&a.token, json!({ "projectId": pa, "title": "first" }))
        .await;
    while slow
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = std::time::Instant::now();
    app.create_task(&a.token, json!({ "projectId": pa, "title": "second" }))
        .await;
    loop {
        match ws.read(Duration::from_secs(10)).await {
            Read::Message(m) if m["payload"]["data"]["taskEvents"]["task"]["title"] == "second" => {
                break;
            }
            Read::Message(_) => {}
            other => panic!("the second event never came: {other:?}"),
        }
    }
    let to_subscriber = started.elapsed();
    app.create_task(&b.token, json!({ "projectId": pb, "title": "other" }))
        .await;
    while quick
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "another tenant's delivery waited for the slow target"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Both well before the slow target answers (8 s after the first call).
    assert!(to_subscriber < Duration::from_secs(4), "{to_subscriber:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}
