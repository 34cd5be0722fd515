//! What operators see of a tenant's use: its requests in the last day, as the
//! servers metered them, and the rows it stores as its plan counts them; and
//! the hourly totals behind the first, added to by every flush.

use crate::helpers::{Account, Backend, TestApp, spawn, spawn_with};
use chrono::{Duration as Hours, Utc};
use domain::TenantId;
use domain::metering::{RequestCounts, hour_of, last_day_since};
use domain::ports::Directory;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const USAGE: &str = "query($id: ID!) { tenant(id: $id) { usage { requestsLastDay members storedProjects storedTasks } } }";
const PAGE: &str = "{ tenants(first: 100) { edges { node { id usage { requestsLastDay } limits { projects } } } } }";

/// The tenant's usage as the operator reads it.
async fn usage(app: &TestApp, op: &Account, tenant: &Account) -> Value {
    app.admin_data(&op.token, USAGE, json!({ "id": tenant.tenant_id }))
        .await["tenant"]["usage"]
        .clone()
}

fn requests(usage: &Value) -> u64 {
    usage["requestsLastDay"].as_u64().expect("requestsLastDay")
}

async fn each_tenant_sees_its_own_requests_and_stored_rows(backend: Backend) {
    // Flushed every 50 ms, so the totals are in at once.
    let app = spawn_with(backend, |s| s.metering.flush_every_ms = 50).await;
    // Signing up and granting the role send no token to /graphql: no
    // tenant's requests. The operator's own go to /admin/graphql.
    let op = app.operator().await;
    let (a, b) = (app.sign_up().await, app.sign_up().await);

    // A: 6 operations with its token.
    let kept = app.create_project(&a.token, "Kept").await;
    let gone = app.create_project(&a.token, "Gone").await;
    for title in ["One", "Two", "Three"] {
        app.create_task(&a.token, json!({ "projectId": kept, "title": title }))
            .await;
    }
    app.data(
        Some(&a.token),
        "mutation($id: ID!) { deleteProject(id: $id) }",
        json!({ "id": gone }),
    )
    .await;
    // B: 2, one of them refused: refused operations count too.
    app.data(Some(&b.token), "{ projects { totalCount } }", json!({}))
        .await;
    let refused = app.gql(Some(&b.token), "{ noSuchField }", json!({})).await;
    assert!(refused["errors"].is_array(), "{refused}");

    let deadline = Instant::now() + Duration::from_secs(5);
    let (ua, ub) = loop {
        let (ua, ub) = (usage(&app, &op, &a).await, usage(&app, &op, &b).await);
        if requests(&ua) >= 6 && requests(&ub) >= 2 {
            break (ua, ub);
        }
        assert!(
            Instant::now() < deadline,
            "the counts were not flushed in time: A {ua}, B {ub}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Exactly each one's own: the polling went to /admin/graphql.
    assert_eq!(
        ua,
        json!({ "requestsLastDay": 6, "members": 1, "storedProjects": 2, "storedTasks": 3 }),
        "the deleted project counts until it is purged"
    );
    assert_eq!(
        ub,
        json!({ "requestsLastDay": 2, "members": 1, "storedProjects": 0, "storedTasks": 0 })
    );

    // A page of tenants reads the same totals (in one query, by the loader).
    let page = app.admin_data(&op.token, PAGE, json!({})).await;
    let seen: Vec<(String, u64)> = page["tenants"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (n["id"].as_str().unwrap().to_owned(), requests(&n["usage"]))
        })
        .collect();
    assert!(seen.contains(&(a.tenant_id.clone(), 6)), "{seen:?}");
    assert!(seen.contains(&(b.tenant_id.clone(), 2)), "{seen:?}");
    assert!(seen.contains(&(op.tenant_id.clone(), 0)), "{seen:?}");
}

async fn hourly_totals_add_up_and_go_with_their_tenant(backend: Backend) {
    let app = spawn(backend).await;
    let (a, b) = (app.sign_up().await, app.sign_up().await);
    let ta: TenantId = a.tenant_id.parse().unwrap();
    let tb: TenantId = b.tenant_id.parse().unwrap();
    let counts = infra::metering::SqlRequestCounts::new(&app.storage().await);
    let now = Utc::now();
    let hour = hour_of(now);

    // Two servers' flushes (or two of one server) add to the same bucket.
    counts.add(hour, &[(ta, 3), (tb, 1)]).await.unwrap();
    counts.add(hour, &[(ta, 4)]).await.unwrap();
    // A bucket older than the last day is not in it.
    counts
        .add(hour - Hours::hours(30), &[(ta, 100)])
        .await
        .unwrap();
    // Counts of a tenant that no longer exists are dropped, not a failure.
    counts
        .add(hour, &[(TenantId::generate(), 9), (ta, 1)])
        .await
        .unwrap();
    let nobody = TenantId::generate();
    let got = counts
        .since(&[ta, tb, nobody], last_day_since(now))
        .await
        .unwrap();
    assert_eq!(got.get(&ta), Some(&8));
    assert_eq!(got.get(&tb), Some(&1));
    assert_eq!(got.get(&nobody), None);
    let year_back = hour - Hours::days(365);
    assert_eq!(
        counts.since(&[ta], year_back).await.unwrap().get(&ta),
        Some(&108)
    );

    // Pruning takes the old hours only.
    assert_eq!(counts.prune(hour - Hours::hours(24)).await.unwrap(), 1);
    assert_eq!(
        counts.since(&[ta], year_back).await.unwrap().get(&ta),
        Some(&8)
    );

    // A deleted tenant's totals go with it.
    assert!(
        app.platform()
            .await
            .identity()
            .delete_tenant(tb)
            .await
            .unwrap()
    );
    assert_eq!(counts.since(&[tb], year_back).await.unwrap().get(&tb), None);
}

crate::on_every_backend!(each_tenant_sees_its_own_requests_and_stored_rows);

mod one {
    use super::*;
    // What is stored where is the control plane's alone: one backend per
    // database engine is enough.
    crate::on_one_backend!(hourly_totals_add_up_and_go_with_their_tenant);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hourly_totals_add_up_on_postgres() {
        hourly_totals_add_up_and_go_with_their_tenant(Backend::Postgres).await;
    }
}
