//! `taskEvents` over WebSocket with a real graphql-transport-ws client:
//! order, tenant isolation, the project filter, sign-in through
//! `connection_init`, and the connection closed when its session is revoked.

use crate::helpers::{Backend, TestApp, spawn_with};
use crate::ws::{Read, Ws};
use serde_json::{Value, json};
use std::time::Duration;

const EVENTS: &str = "subscription($p: ID) { taskEvents(projectId: $p) { id kind task { id projectId title status } } }";
const UPDATE: &str = "mutation($id: ID!, $t: String!, $v: Int!) { updateTask(id: $id, input: {title: $t}, expectedVersion: $v) { version } }";

/// A subscription's events from now on, skipping those of probe tasks
/// (this one's and other subscriptions').
struct Sub {
    id: &'static str,
}

impl Sub {
    /// Subscribes, then changes a probe task until its event arrives: from
    /// then on the subscription is certainly live.
    async fn start(
        app: &TestApp,
        ws: &mut Ws,
        token: &str,
        id: &'static str,
        project: &str,
        filter: Option<&str>,
    ) -> Self {
        ws.subscribe(id, EVENTS, json!({ "p": filter })).await;
        let probe = app
            .create_task(token, json!({ "projectId": project, "title": "probe" }))
            .await;
        let probe_id = probe["id"].as_str().unwrap().to_owned();
        for version in 1.. {
            assert!(version < 100, "the subscription never went live");
            app.data(
                Some(token),
                UPDATE,
                json!({ "id": probe_id, "t": format!("probe {version}"), "v": version }),
            )
            .await;
            if let Read::Message(m) = ws.read(Duration::from_millis(300)).await {
                assert_eq!(m["type"], "next", "{m}");
                assert_eq!(
                    m["payload"]["data"]["taskEvents"]["task"]["id"],
                    probe_id.as_str()
                );
                break;
            }
        }
        Self { id }
    }

    /// The next event that is not a probe's.
    async fn next(&self, ws: &mut Ws) -> Value {
        loop {
            let d = ws.next_data(self.id).await;
            let title = d["taskEvents"]["task"]["title"].as_str().unwrap_or("");
            if !title.starts_with("probe") {
                return d["taskEvents"].clone();
            }
        }
    }
}

async fn task_events_arrive_in_order_for_their_tenant_only(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    let a = app.sign_up().await;
    let b = app.sign_up().await;
    let p1 = app.create_project(&a.token, "One").await;
    let p2 = app.create_project(&a.token, "Two").await;
    let bp = app.create_project(&b.token, "B").await;

    let mut all = Ws::signed_in(&app.addr, &a.token).await;
    let all_sub = Sub::start(&app, &mut all, &a.token, "all", &p1, None).await;
    let mut only_p2 = Ws::signed_in(&app.addr, &a.token).await;
    let p2_sub = Sub::start(&app, &mut only_p2, &a.token, "p2", &p2, Some(&p2)).await;
    let mut other = Ws::signed_in(&app.addr, &b.token).await;
    let b_sub = Sub::start(&app, &mut other, &b.token, "b", &bp, None).await;

    let t1 = app
        .create_task(&a.token, json!({ "projectId": p1, "title": "First" }))
        .await;
    app.data(
        Some(&a.token),
        UPDATE,
        json!({ "id": t1["id"], "t": "First, renamed", "v": 1 }),
    )
    .await;
    let t2 = app
        .create_task(&a.token, json!({ "projectId": p2, "title": "Second" }))
        .await;
    app.data(
        Some(&a.token),
        "mutation($id: ID!) { deleteTask(id: $id) }",
        json!({ "id": t1["id"] }),
    )
    .await;

    let mut seen = Vec::new();
    for _ in 0..4 {
        let e = all_sub.next(&mut all).await;
        seen.push((
            e["kind"].clone(),
            e["task"]["id"].clone(),
            e["task"]["title"].clone(),
        ));
    }
    assert_eq!(
        seen,
        [
            (json!("CREATED"), t1["id"].clone(), json!("First")),
            (json!("UPDATED"), t1["id"].clone(), json!("First, renamed")),
            (json!("CREATED"), t2["id"].clone(), json!("Second")),
            (json!("DELETED"), t1["id"].clone(), json!("First, renamed")),
        ],
        "every change, in the order it committed"
    );
    let e = p2_sub.next(&mut only_p2).await;
    assert_eq!(
        (e["kind"].clone(), e["task"]["id"].clone()),
        (json!("CREATED"), t2["id"].clone())
    );
    assert_eq!(e["task"]["projectId"], p2.as_str());

    // B's subscription saw none of A's events: its next one is B's own.
    let bt = app
        .create_task(&b.token, json!({ "projectId": bp, "title": "B's" }))
        .await;
    let e = b_sub.next(&mut other).await;
    assert_eq!(e["task"]["id"], bt["id"], "A's events never reach B: {e}");
    // Nor did the filtered one see p1's events.
    assert!(matches!(
        only_p2.read(Duration::from_millis(300)).await,
        Read::Nothing
    ));
}

crate::on_every_backend!(task_events_arrive_in_order_for_their_tenant_only);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_does_not_sign_in_in_time_is_closed_with_4408() {
    let app = spawn_with(Backend::Sqlite, |s| s.subscriptions.init_timeout_ms = 300).await;
    let mut silent = Ws::connect(&app.addr).await;
    match silent.read(Duration::from_secs(5)).await {
        Read::Closed(Some(4408), _) => {}
        other => panic!("expected close 4408, got {other:?}"),
    }
    // One that signed in in time stays open past the deadline.
    let acc = app.sign_up().await;
    let mut signed_in = Ws::signed_in(&app.addr, &acc.token).await;
    match signed_in.read(Duration::from_millis(800)).await {
        Read::Nothing => {}
        other => panic!("a signed-in connection was not left alone: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_a_valid_token_are_refused() {
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    for payload in [
        json!({}),
        json!({ "authorization": "Bearer not-a-token" }),
        json!({ "authorization": "Basic abc" }),
    ] {
        let mut ws = Ws::open(&app.addr, payload.clone()).await;
        match ws.read(Duration::from_secs(5)).await {
            Read::Closed(Some(4403), _) => {}
            other => panic!("{payload}: expected close 4403, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_closes_the_connection() {
    let app = spawn_with(Backend::Sqlite, |s| {
        s.subscriptions.session_check_ms = 100;
    })
    .await;
    let a = app.sign_up().await;
    let p = app.create_project(&a.token, "P").await;
    let mut ws = Ws::signed_in(&app.addr, &a.token).await;
    Sub::start(&app, &mut ws, &a.token, "s", &p, None).await;

    let d = app
        .data(Some(&a.token), "mutation { signOut }", json!({}))
        .await;
    assert_eq!(d["signOut"], true);
    loop {
        match ws.read(Duration::from_secs(5)).await {
            // The probe's late events.
            Read::Message(m) if m["type"] == "next" => {}
            Read::Closed(Some(4403), reason) => {
                assert!(reason.contains("session"), "{reason}");
                break;
            }
            other => panic!("expected close 4403 after sign-out, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_subscriptions_run_over_the_socket() {
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    let a = app.sign_up().await;
    app.create_project(&a.token, "P").await;
    let mut ws = Ws::signed_in(&app.addr, &a.token).await;
    // A query reaching loaders it would have over HTTP: refused, not run.
    ws.subscribe(
        "q",
        "{ projects { edges { node { tasks(first: 1) { totalCount } } } } }",
        json!({}),
    )
    .await;
    let m = match ws.read(Duration::from_secs(5)).await {
        Read::Message(m) => m,
        other => panic!("expected an answer, got {other:?}"),
    };
    let errors = match m["type"].as_str() {
        Some("next") => m["payload"]["errors"].clone(),
        Some("error") => m["payload"].clone(),
        _ => panic!("{m}"),
    };
    assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT", "{m}");
    assert!(m["payload"]["data"].is_null(), "{m}");
    if m["type"] == "next" {
        match ws.read(Duration::from_secs(5)).await {
            Read::Message(c) if c["type"] == "complete" && c["id"] == "q" => {}
            other => panic!("expected the refused operation to complete, got {other:?}"),
        }
    }
    // The connection is still fine for subscriptions.
    let p = app.create_project(&a.token, "Q").await;
    Sub::start(&app, &mut ws, &a.token, "s", &p, None).await;
}

/// Errors of the first answer to subscription `id` (a `next` with errors,
/// then `complete`; or an `error`).
async fn refused(ws: &mut Ws, id: &str) -> Value {
    let m = match ws.read(Duration::from_secs(5)).await {
        Read::Message(m) if m["id"] == id => m,
        other => panic!("expected an answer to {id}, got {other:?}"),
    };
    match m["type"].as_str() {
        Some("next") => {
            assert!(matches!(
                ws.read(Duration::from_secs(5)).await,
                Read::Message(c) if c["type"] == "complete" && c["id"] == id
            ));
            m["payload"]["errors"].clone()
        }
        Some("error") => m["payload"].clone(),
        _ => panic!("{m}"),
    }
}

/// Apollo's Automatic Persisted Queries over the socket too: the socket
/// takes its documents from the server's parsed-document cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persisted_subscription_runs_by_its_hash_alone() {
    use sha2::{Digest, Sha256};
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    let a = app.sign_up().await;
    let p = app.create_project(&a.token, "P").await;
    let mut ws = Ws::signed_in(&app.addr, &a.token).await;
    let hash: String = Sha256::digest(EVENTS.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let by_hash = |id: &str| json!({ "id": id, "type": "subscribe", "payload": { "variables": { "p": p }, "extensions": ext } });

    // Not seen yet: the client is told to send the document.
    ws.send(by_hash("early")).await;
    let errors = refused(&mut ws, "early").await;
    assert_eq!(
        errors[0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
        "{errors}"
    );

    // Sent once with its document, then by its hash alone: both run.
    ws.send(json!({ "id": "full", "type": "subscribe", "payload": { "query": EVENTS, "variables": { "p": p }, "extensions": ext } }))
        .await;
    ws.send(by_hash("hashed")).await;
    let mut seen = std::collections::BTreeSet::new();
    for attempt in 0..50 {
        app.create_task(
            &a.token,
            json!({ "projectId": p, "title": format!("t{attempt}") }),
        )
        .await;
        while let Read::Message(m) = ws.read(Duration::from_millis(300)).await {
            assert_eq!(m["type"], "next", "{m}");
            assert_eq!(m["payload"]["data"]["taskEvents"]["kind"], "CREATED", "{m}");
            seen.insert(m["id"].as_str().unwrap().to_owned());
        }
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen, ["full".to_owned(), "hashed".to_owned()].into());
}

/// Opens a socket signed in with `token`: `Ok` once acknowledged, or the
/// close code and reason it was refused with.
async fn connect(app: &TestApp, token: &str) -> Result<Ws, (Option<u16>, String)> {
    let mut ws = Ws::open(
        &app.addr,
        json!({ "authorization": format!("Bearer {token}") }),
    )
    .await;
    match ws.read(Duration::from_secs(10)).await {
        Read::Message(m) if m["type"] == "connection_ack" => Ok(ws),
        Read::Closed(code, reason) => Err((code, reason)),
        other => panic!("expected an ack or a close, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_sockets_are_capped_per_user_and_per_tenant() {
    const SECRET: &str = "socket-caps-fixtures-0123456789abcdef";
    let app = spawn_with(Backend::Sqlite, |s| {
        s.fixtures.secret = Some(SECRET.to_owned().into());
        s.subscriptions.max_sockets_per_user = 2;
        s.subscriptions.max_sockets_per_tenant = 3;
    })
    .await;
    let f = app
        .fixture(
            SECRET,
            json!({ "users": [{ "role": "owner" }, { "role": "member" }] }),
        )
        .await;
    let token = |i: usize| f["users"][i]["accessToken"].as_str().unwrap().to_owned();
    let (a, b) = (token(0), token(1));

    let first = connect(&app, &a).await.expect("a's first socket");
    let _second = connect(&app, &a).await.expect("a's second socket");
    let (code, reason) = connect(&app, &a).await.err().expect("a's third refused");
    assert_eq!(code, Some(4403));
    assert!(reason.contains("2 connections"), "{reason}");

    // The tenant's third socket is b's first; b's second is one too many.
    let _b1 = connect(&app, &b).await.expect("b's first socket");
    let (code, reason) = connect(&app, &b)
        .await
        .err()
        .expect("the tenant's fourth refused");
    assert_eq!(code, Some(4403));
    assert!(reason.contains("your tenant"), "{reason}");

    // A socket that closes gives its place back.
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        if let Ok(ws) = connect(&app, &a).await {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        again.is_some(),
        "the closed socket's place was never given back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_is_disconnected() {
    let app = spawn_with(Backend::Sqlite, |s| {
        s.subscriptions.session_check_ms = 100;
        s.fixtures.secret = Some("subs-fixtures-secret-0123456789abcdef".to_owned().into());
    })
    .await;
    let f = app
        .fixture(
            "subs-fixtures-secret-0123456789abcdef",
            json!({ "users": [{ "role": "owner" }, { "role": "member" }], "projects": 1 }),
        )
        .await;
    let owner = f["users"][0]["accessToken"].as_str().unwrap();
    let member = f["users"][1]["accessToken"].as_str().unwrap();
    let project = f["projects"][0]["id"].as_str().unwrap();
    let mut ws = Ws::signed_in(&app.addr, member).await;
    Sub::start(&app, &mut ws, member, "s", project, None).await;

    app.data(
        Some(owner),
        "mutation($u: ID!) { removeMember(userId: $u) }",
        json!({ "u": f["users"][1]["id"] }),
    )
    .await;
    loop {
        match ws.read(Duration::from_secs(5)).await {
            Read::Message(m) if m["type"] == "next" => {}
            Read::Closed(Some(4403), _) => break,
            other => panic!("expected close 4403 after removal, got {other:?}"),
        }
    }
}
