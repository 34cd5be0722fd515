//! Moving a tenant as a job from `/admin/graphql`: queued by an operator,
//! run by a node's worker, its progress readable until it ends; taken up by
//! another node when the one running it stops.

use crate::helpers::{
    Account, Backend, TestApp, assert_code, bad_fields, spawn_with, spawn_with_platform,
};
use domain::lifecycle::TenantLifecycle;
use domain::moves::{MovePhase, MovePlan, MoveProgress, Progress};
use domain::{Isolation, TenantId};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::Duration;

const MOVE: &str = "mutation($id: ID!, $to: TenantStrategy!, $server: String, $reason: String) {
    moveTenant(id: $id, to: $to, server: $server, reason: $reason) {
        id tenantId from to status requestedBy reason attempts } }";
const READ: &str = "query($id: ID!) { tenantMove(id: $id) {
    status phase tablesCopied tablesTotal rowsCopied attempts placement error
    requestedBy startedAt finishedAt } }";

/// Where each backend's tenants go: every strategy is a source and a target
/// on some backend, on both databases.
fn target(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "DATABASE",
        Backend::Postgres => "SCHEMA",
        Backend::PostgresSchema => "DATABASE",
        Backend::PostgresDatabase | Backend::SqliteDatabase => "ROW",
    }
}

async fn queue(app: &TestApp, op: &Account, tenant: &str, vars: Value) -> Value {
    let mut vars = vars;
    vars["id"] = json!(tenant);
    app.admin_data(&op.token, MOVE, vars).await["moveTenant"].clone()
}

/// The move once it has ended (within 30 s).
async fn ended(app: &TestApp, op: &Account, id: &str) -> Value {
    let mut m = Value::Null;
    for _ in 0..300 {
        m = app.admin_data(&op.token, READ, json!({ "id": id })).await["tenantMove"].clone();
        if m["status"] == "SUCCEEDED" || m["status"] == "FAILED" {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the move did not end within 30 s: {m}");
}

/// The tenant's task titles as its member sees them. Until this node has
/// applied a move's switch, a request may be asked to retry.
async fn titles(app: &TestApp, token: &str) -> Vec<String> {
    const QUERY: &str = "{ tasks(first: 50) { edges { node { title } } } }";
    let mut body = app.gql(Some(token), QUERY, json!({})).await;
    for _ in 0..100 {
        if body.get("errors").is_none() {
            break;
        }
        assert_code(&body, "RATE_LIMITED");
        tokio::time::sleep(Duration::from_millis(20)).await;
        body = app.gql(Some(token), QUERY, json!({})).await;
    }
    let mut t: Vec<String> = body["data"]["tasks"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect();
    t.sort();
    t
}

async fn an_operator_moves_a_tenant_as_a_job(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    let op = app.operator().await;
    let a = app.sign_up().await;
    let other = app.sign_up().await;
    let project = app.create_project(&a.token, "Moved").await;
    for i in 0..3 {
        app.create_task(
            &a.token,
            json!({ "projectId": project, "title": format!("task {i}") }),
        )
        .await;
    }
    let other_project = app.create_project(&other.token, "Stays").await;
    app.create_task(
        &other.token,
        json!({ "projectId": other_project, "title": "other's" }),
    )
    .await;
    let before = titles(&app, &a.token).await;
    let to = target(backend);

    let queued = queue(
        &app,
        &op,
        &a.tenant_id,
        json!({ "to": to, "reason": "a bigger customer" }),
    )
    .await;
    assert_eq!(
        (
            &queued["status"],
            &queued["from"],
            &queued["to"],
            &queued["tenantId"]
        ),
        (
            &json!("QUEUED"),
            &json!(backend.isolation().to_uppercase()),
            &json!(to),
            &json!(a.tenant_id)
        ),
        "{queued}"
    );
    assert_eq!(queued["requestedBy"], op.user_id.as_str());

    let done = ended(&app, &op, queued["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["phase"], "CLEANING", "{done}");
    assert_eq!(done["attempts"], 1, "{done}");
    assert!(done["error"].is_null(), "{done}");
    assert!(done["placement"].is_string(), "{done}");
    // Every table copied; at least the project and its three tasks.
    let total = done["tablesTotal"].as_u64().unwrap();
    assert_eq!(done["tablesCopied"].as_u64(), Some(total), "{done}");
    assert_eq!(total as usize, migration::TENANT_TABLES.len(), "{done}");
    assert!(done["rowsCopied"].as_u64().unwrap() >= 4, "{done}");
    let (started, finished) = (
        done["startedAt"].as_str().unwrap(),
        done["finishedAt"].as_str().unwrap(),
    );
    assert!(started <= finished, "{done}");

    // The tenant lives there now, with every row, served to its token.
    let t = app
        .admin_data(
            &op.token,
            "query($id: ID!) { tenant(id: $id) { strategy moves { id status } } }",
            json!({ "id": a.tenant_id }),
        )
        .await;
    assert_eq!(t["tenant"]["strategy"], to, "{t}");
    assert_eq!(t["tenant"]["moves"][0]["id"], queued["id"], "{t}");
    assert_eq!(titles(&app, &a.token).await, before);
    app.create_task(
        &a.token,
        json!({ "projectId": project, "title": "after the move" }),
    )
    .await;
    // The other tenant neither moved nor saw anything.
    assert_eq!(titles(&app, &other.token).await, ["other's"]);
    let o = app
        .admin_data(
            &op.token,
            "query($id: ID!) { tenant(id: $id) { strategy moves { id } } }",
            json!({ "id": other.tenant_id }),
        )
        .await;
    assert_eq!(o["tenant"]["strategy"], backend.isolation().to_uppercase());
    assert_eq!(o["tenant"]["moves"], json!([]));

    // Its owners see who asked and why, and the move itself.
    let by_op = app.audit_by(&a.token, &op.user_id).await;
    let log = format!("{by_op:#?}");
    let asked = by_op
        .iter()
        .find(|n| n["action"] == "tenant.move_requested")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(asked["after"]["reason"], "a bigger customer", "{log}");
    assert!(
        by_op.iter().any(|n| n["action"] == "tenant.moved"),
        "the move is the operator's: {log}"
    );
}

async fn a_move_that_cannot_be_made_is_refused(backend: Backend) {
    // No worker: what is queued stays queued.
    let app = spawn_with(backend, |s| s.tenancy.moves.worker = false).await;
    let op = app.operator().await;
    let a = app.sign_up().await;
    let here = backend.isolation().to_uppercase();
    let refused = |vars: Value| {
        let (app, op, id) = (&app, &op, a.tenant_id.clone());
        async move {
            let mut vars = vars;
            vars["id"] = json!(id);
            app.admin(Some(&op.token), MOVE, vars).await
        }
    };

    let body = refused(json!({ "to": here })).await;
    assert_eq!(bad_fields(&body), ["to"], "already there: {body}");
    let body = refused(json!({ "to": "DATABASE", "server": "nowhere" })).await;
    assert_eq!(bad_fields(&body), ["server"], "{body}");
    let elsewhere = "DATABASE";
    if backend.is_postgres() {
        let body = refused(json!({ "to": "SCHEMA", "server": "main" })).await;
        assert_eq!(
            bad_fields(&body),
            ["server"],
            "a server for a schema: {body}"
        );
    }
    if !backend.is_postgres() {
        let body = refused(json!({ "to": "SCHEMA" })).await;
        assert_eq!(bad_fields(&body), ["to"], "schemas need PostgreSQL: {body}");
    }
    let body = refused(json!({ "to": elsewhere, "reason": "x".repeat(501) })).await;
    assert_eq!(bad_fields(&body), ["reason"], "{body}");
    assert_code(
        &app.admin(
            Some(&op.token),
            MOVE,
            json!({ "id": uuid::Uuid::now_v7().to_string(), "to": elsewhere }),
        )
        .await,
        "NOT_FOUND",
    );
    // Operators only.
    assert_code(
        &app.admin(
            Some(&a.token),
            MOVE,
            json!({ "id": a.tenant_id, "to": elsewhere }),
        )
        .await,
        "FORBIDDEN",
    );

    // One move of a tenant at a time.
    let queued = queue(&app, &op, &a.tenant_id, json!({ "to": elsewhere })).await;
    assert_code(&refused(json!({ "to": elsewhere })).await, "CONFLICT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = app
        .admin_data(&op.token, READ, json!({ "id": queued["id"] }))
        .await;
    assert_eq!(m["tenantMove"]["status"], "QUEUED", "{m}");
    let unknown = app
        .admin_data(
            &op.token,
            READ,
            json!({ "id": uuid::Uuid::now_v7().to_string() }),
        )
        .await;
    assert!(unknown["tenantMove"].is_null(), "{unknown}");

    // A deleted tenant is not moved.
    let b = app.sign_up().await;
    app.admin_data(
        &op.token,
        "mutation($id: ID!) { deleteTenant(id: $id) { id } }",
        json!({ "id": b.tenant_id }),
    )
    .await;
    assert_code(
        &app.admin(
            Some(&op.token),
            MOVE,
            json!({ "id": b.tenant_id, "to": elsewhere }),
        )
        .await,
        "TENANT_DELETED",
    );
}

/// Makes a queued move look like one whose node stopped while running it.
async fn left_running(app: &TestApp, id: &str, attempts: i32) {
    let db = Database::connect(&app.database_url).await.unwrap();
    let (sql, backend) = if app.database_url.starts_with("postgres") {
        (
            "UPDATE tenant_moves SET status = 'running', attempts = $1, \
             lease_until = now() - interval '1 minute' WHERE id = $2",
            DbBackend::Postgres,
        )
    } else {
        (
            "UPDATE tenant_moves SET status = 'running', attempts = $1, \
             lease_until = '2000-01-01T00:00:00+00:00' WHERE id = $2",
            DbBackend::Sqlite,
        )
    };
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [attempts.into(), id.parse::<uuid::Uuid>().unwrap().into()],
        ))
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

/// A node that stopped mid-move loses its lease; another node takes the
/// move up: runs it when it had not switched, records it done when it had,
/// and gives it up after three runs.
async fn a_move_left_by_a_stopped_node_is_taken_up(backend: Backend) {
    let (app, platform, _) = spawn_with_platform(backend, |s| s.tenancy.moves.worker = false).await;
    let op = app.operator().await;
    let to = target(backend);
    let (a, b, c) = (
        app.sign_up().await,
        app.sign_up().await,
        app.sign_up().await,
    );
    let mut ids = Vec::new();
    for t in [&a, &b, &c] {
        let m = queue(&app, &op, &t.tenant_id, json!({ "to": to })).await;
        ids.push(m["id"].as_str().unwrap().to_owned());
    }
    // a: stopped before its switch. b: stopped after it (moved by hand here).
    // c: stopped three times already.
    left_running(&app, &ids[0], 1).await;
    let b_id: TenantId = b.tenant_id.parse().unwrap();
    let to_isolation: Isolation = to.to_lowercase().parse().unwrap();
    platform
        .lifecycle()
        .move_tenant(b_id, to_isolation, None)
        .await
        .unwrap();
    left_running(&app, &ids[1], 1).await;
    left_running(&app, &ids[2], 3).await;

    let node = app.another_node(|s| s.tenancy.moves.worker = true).await;
    let (ma, mb, mc) = (
        ended(&node, &op, &ids[0]).await,
        ended(&node, &op, &ids[1]).await,
        ended(&node, &op, &ids[2]).await,
    );
    assert_eq!(
        (&ma["status"], &ma["attempts"]),
        (&json!("SUCCEEDED"), &json!(2)),
        "{ma}"
    );
    assert_eq!(ma["tablesCopied"], ma["tablesTotal"], "{ma}");
    assert_eq!(
        (&mb["status"], &mb["attempts"]),
        (&json!("SUCCEEDED"), &json!(2)),
        "{mb}"
    );
    assert_eq!(mb["rowsCopied"], 0, "found done, not moved again: {mb}");
    assert_eq!(mc["status"], "FAILED", "{mc}");
    assert!(
        mc["error"].as_str().unwrap().contains("stopped 3 times"),
        "{mc}"
    );
    let strategy = |t: &Account| {
        let (node, op, id) = (&node, &op, t.tenant_id.clone());
        async move {
            node.admin_data(
                &op.token,
                "query($id: ID!) { tenant(id: $id) { strategy } }",
                json!({ "id": id }),
            )
            .await["tenant"]["strategy"]
                .clone()
        }
    };
    assert_eq!(strategy(&a).await, to);
    assert_eq!(strategy(&b).await, to);
    assert_eq!(strategy(&c).await, backend.isolation().to_uppercase());

    // Removing a move's leftovers never touches the copy a tenant lives in.
    let placement = node
        .admin_data(
            &op.token,
            "query($id: ID!) { tenant(id: $id) { placement } }",
            json!({ "id": b.tenant_id }),
        )
        .await["tenant"]["placement"]
        .as_str()
        .map(str::to_owned);
    let lifecycle = platform.lifecycle();
    assert!(
        !lifecycle
            .remove_old_copy(b_id, to_isolation, placement.as_deref())
            .await
            .unwrap()
    );
    let from: Isolation = backend.isolation().parse().unwrap();
    assert!(lifecycle.remove_old_copy(b_id, from, None).await.unwrap());
    node.data(
        Some(&b.token),
        "{ me { id } projects { totalCount } }",
        json!({}),
    )
    .await;
}

/// A run whose lease another node took (its node stalled past it) writes
/// nothing more: neither its progress nor its end; a run stopped on purpose
/// goes back to the queue without counting.
async fn a_run_whose_lease_was_taken_writes_nothing(backend: Backend) {
    use domain::moves::MoveQueue;
    let (app, platform, _) = spawn_with_platform(backend, |s| s.tenancy.moves.worker = false).await;
    let op = app.operator().await;
    let a = app.sign_up().await;
    let to = if backend.is_postgres() {
        "SCHEMA"
    } else {
        "DATABASE"
    };
    let id = queue(&app, &op, &a.tenant_id, json!({ "to": to })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let queue = platform.move_queue();
    let now = chrono::Utc::now();
    let lease = chrono::Duration::seconds(30);
    let first = queue
        .claim(now, now + lease)
        .await
        .unwrap()
        .expect("queued");
    assert_eq!((first.id.to_string(), first.attempts), (id.clone(), 1));
    assert!(
        queue.claim(now, now + lease).await.unwrap().is_none(),
        "leased"
    );
    let step = Progress {
        phase: MovePhase::Copying,
        tables_done: 1,
        tables_total: 7,
        rows_copied: 10,
    };
    assert!(
        queue
            .heartbeat(first.id, 1, step, now + lease)
            .await
            .unwrap()
    );

    // Its lease over, another node takes it: the first run's token is stale.
    let later = now + chrono::Duration::seconds(31);
    let second = queue
        .claim(later, later + lease)
        .await
        .unwrap()
        .expect("lapsed");
    assert_eq!(second.attempts, 2);
    assert_eq!(second.progress, step, "the progress so far is kept");
    assert!(
        !queue
            .heartbeat(first.id, 1, Progress::default(), later + lease)
            .await
            .unwrap()
    );
    assert!(
        !queue
            .finish(first.id, 1, step, Ok("nowhere".into()))
            .await
            .unwrap()
    );
    let m = app.admin_data(&op.token, READ, json!({ "id": id })).await["tenantMove"].clone();
    assert_eq!(
        (&m["status"], &m["attempts"]),
        (&json!("RUNNING"), &json!(2)),
        "{m}"
    );

    // Put back at shutdown: queued again, that run not counted.
    queue.release(second.id, 2).await.unwrap();
    let m = app.admin_data(&op.token, READ, json!({ "id": id })).await["tenantMove"].clone();
    assert_eq!(
        (&m["status"], &m["attempts"]),
        (&json!("QUEUED"), &json!(1)),
        "{m}"
    );
    let third = queue
        .claim(later, later + lease)
        .await
        .unwrap()
        .expect("queued again");
    assert_eq!(third.attempts, 2);
    assert!(
        queue
            .finish(third.id, 2, step, Err("boom".into()))
            .await
            .unwrap()
    );
    let m = app.admin_data(&op.token, READ, json!({ "id": id })).await["tenantMove"].clone();
    assert_eq!(
        (&m["status"], &m["error"]),
        (&json!("FAILED"), &json!("boom")),
        "{m}"
    );
}

#[derive(Default)]
struct Recorded(Mutex<Vec<Progress>>);

impl MoveProgress for Recorded {
    fn report(&self, p: Progress) {
        self.0.lock().unwrap().push(p);
    }
}

/// The storage's move tells its listener each step, in order, and each
/// batch of rows as it is written.
async fn a_move_reports_its_progress(backend: Backend) {
    let (app, platform, _) = spawn_with_platform(backend, |_| {}).await;
    let a = app.sign_up().await;
    let project = app.create_project(&a.token, "P").await;
    for i in 0..5 {
        app.create_task(
            &a.token,
            json!({ "projectId": project, "title": format!("t{i}") }),
        )
        .await;
    }
    let recorded = Recorded::default();
    let to: Isolation = target(backend).to_lowercase().parse().unwrap();
    let plan = MovePlan {
        to,
        server: None,
        actor: None,
    };
    let moved = platform
        .lifecycle()
        .move_with(a.tenant_id.parse().unwrap(), &plan, &recorded)
        .await
        .unwrap();
    let seen = recorded.0.into_inner().unwrap();
    let phases: Vec<MovePhase> = seen.iter().map(|p| p.phase).fold(Vec::new(), |mut v, p| {
        if v.last() != Some(&p) {
            v.push(p);
        }
        v
    });
    assert_eq!(
        phases,
        [
            MovePhase::Preparing,
            MovePhase::Copying,
            MovePhase::Switching,
            MovePhase::Cleaning
        ]
    );
    let last = seen.last().unwrap();
    let rows: u64 = moved.rows.iter().map(|(_, n)| n).sum();
    assert_eq!(last.rows_copied, rows, "{seen:?}");
    assert_eq!(last.tables_done, last.tables_total);
    assert_eq!(last.tables_total as usize, moved.rows.len());
    // Tables counted one by one, rows never going back.
    assert!(
        seen.windows(2).all(|w| w[1].tables_done >= w[0].tables_done
            && w[1].tables_done <= w[0].tables_done + 1
            && w[1].rows_copied >= w[0].rows_copied),
        "{seen:?}"
    );
}

crate::on_every_backend!(
    an_operator_moves_a_tenant_as_a_job,
    a_move_left_by_a_stopped_node_is_taken_up,
    a_move_reports_its_progress,
);

mod fencing {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        a_run_whose_lease_was_taken_writes_nothing(Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        a_run_whose_lease_was_taken_writes_nothing(Backend::Postgres).await;
    }
}

mod both {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        a_move_that_cannot_be_made_is_refused(Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        a_move_that_cannot_be_made_is_refused(Backend::Postgres).await;
    }
}
