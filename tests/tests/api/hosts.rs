//! Tenants found by host name: `<slug>.<base domain>` and approved custom
//! domains. Signing in on a tenant's host signs in to it; another tenant's
//! token is refused there; the token alone decides where no host rule applies.

use crate::helpers::{
    Account, Backend, Setup, TestApp, assert_code, spawn_setup_with, spawn_with, unique,
};
use serde_json::{Value, json};
use std::time::Duration;

const BASE: &str = "app.test";
const WHERE: &str = "{ tenant { slug } }";
const SIGN_IN: &str =
    "mutation($i: SignInInput!) { signIn(input: $i) { accessToken tenant { slug } } }";

impl TestApp {
    /// POSTs a GraphQL request as if sent to `host`.
    async fn gql_at(
        &self,
        host: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        let mut req = self
            .client()
            .post(self.url("/graphql"))
            .header(reqwest::header::HOST, host)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    async fn sign_in_at(&self, host: &str, a: &Account, slug: Option<&str>) -> Value {
        self.gql_at(
            host,
            None,
            SIGN_IN,
            json!({ "i": { "email": a.email, "password": a.password, "tenantSlug": slug } }),
        )
        .await
    }
}

fn slug_of(body: &Value) -> &str {
    body["data"]["tenant"]["slug"]
        .as_str()
        .unwrap_or_else(|| panic!("no tenant in {body}"))
}

fn host(slug: &str) -> String {
    format!("{slug}.{BASE}")
}

async fn a_tenants_host_signs_in_to_it_and_refuses_other_tenants_tokens(backend: Backend) {
    let app = spawn_with(backend, |s| s.tenancy.base_domain = Some(BASE.to_owned())).await;
    let a = app.sign_up().await;
    // The same user owns a second tenant; signing in without a slug
    // elsewhere picks their first.
    let second = unique("second");
    let d = app
        .data(
            Some(&a.token),
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { id } }",
            json!({ "i": { "name": "Second", "slug": second } }),
        )
        .await;
    assert!(d["createTenant"]["id"].is_string());

    // On the second tenant's host, signing in is signing in to it.
    let body = app.sign_in_at(&host(&second), &a, None).await;
    assert_eq!(
        body["data"]["signIn"]["tenant"]["slug"],
        second.as_str(),
        "{body}"
    );
    let token_b = body["data"]["signIn"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_code(
        &app.sign_in_at(&host(&second), &a, Some(&a.slug)).await,
        "UNAUTHENTICATED",
    );
    assert_eq!(
        slug_of(
            &app.gql_at(&host(&second), Some(&token_b), WHERE, json!({}))
                .await
        ),
        second
    );

    // The first tenant's token: refused on the second's host, served on its
    // own, on the base domain and where no host rule applies.
    let refused = app
        .gql_at(&host(&second), Some(&a.token), WHERE, json!({}))
        .await;
    assert_code(&refused, "UNAUTHENTICATED");
    assert!(refused["data"].is_null(), "{refused}");
    for h in [
        host(&a.slug),
        BASE.to_owned(),
        "127.0.0.1".to_owned(),
        format!("x.y.{BASE}"),
    ] {
        let body = app.gql_at(&h, Some(&a.token), WHERE, json!({})).await;
        assert_eq!(slug_of(&body), a.slug, "on {h}: {body}");
    }

    // A new slug moves the tenant's host at once.
    let renamed = unique("renamed");
    app.data(
        Some(&token_b),
        "mutation($s: String!) { updateTenant(input: { slug: $s }) { slug } }",
        json!({ "s": renamed }),
    )
    .await;
    assert_code(
        &app.gql_at(&host(&renamed), Some(&a.token), WHERE, json!({}))
            .await,
        "UNAUTHENTICATED",
    );
    let old = app
        .gql_at(&host(&second), Some(&a.token), WHERE, json!({}))
        .await;
    assert_eq!(
        slug_of(&old),
        a.slug,
        "the old host names no tenant now: {old}"
    );
}

const ADD: &str = "mutation($d: String!) { addTenantDomain(domain: $d) { domain approved } }";
const APPROVE: &str = "mutation($d: String!) { approveTenantDomain(domain: $d) { approved } }";

/// A custom domain leads to its tenant once an operator approves it, on
/// every node.
async fn a_custom_domain_leads_to_its_tenant_once_approved(setup: Setup) {
    let one = spawn_setup_with(setup, |s| s.tenancy.base_domain = Some(BASE.to_owned())).await;
    let two = one.another_node(|_| {}).await;
    let op = one.operator().await;
    let (a, b) = (one.sign_up().await, one.sign_up().await);
    let domain = format!("{}.acme.example", unique("tasks"));

    let d = one
        .data(Some(&a.token), ADD, json!({ "d": domain.to_uppercase() }))
        .await;
    assert_eq!(
        d["addTenantDomain"],
        json!({ "domain": domain, "approved": false })
    );
    assert_code(
        &one.gql(Some(&b.token), ADD, json!({ "d": domain })).await,
        "CONFLICT",
    );
    let under_base = one
        .gql(Some(&b.token), ADD, json!({ "d": format!("x.{BASE}") }))
        .await;
    assert_code(&under_base, "BAD_USER_INPUT");

    // Waiting for approval, it names no tenant: any token decides alone.
    assert_eq!(
        slug_of(&two.gql_at(&domain, Some(&b.token), WHERE, json!({})).await),
        b.slug
    );
    one.admin_data(&op.token, APPROVE, json!({ "d": domain }))
        .await;
    let since = tokio::time::Instant::now();
    loop {
        let body = two.gql_at(&domain, Some(&b.token), WHERE, json!({})).await;
        if body.get("errors").is_some() {
            assert_code(&body, "UNAUTHENTICATED");
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "node two still serves {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let body = two.sign_in_at(&domain, &a, None).await;
    assert_eq!(
        body["data"]["signIn"]["tenant"]["slug"],
        a.slug.as_str(),
        "{body}"
    );
    let d = one
        .admin_data(
            &op.token,
            "query($id: ID!) { tenant(id: $id) { domains { domain approved } } }",
            json!({ "id": a.tenant_id }),
        )
        .await;
    assert_eq!(
        d["tenant"]["domains"],
        json!([{ "domain": domain, "approved": true }])
    );

    // Removed by its owner: no rule again; every step is in the audit log.
    one.data(
        Some(&a.token),
        "mutation($d: String!) { removeTenantDomain(domain: $d) }",
        json!({ "d": domain }),
    )
    .await;
    assert_eq!(
        slug_of(&one.gql_at(&domain, Some(&b.token), WHERE, json!({})).await),
        b.slug
    );
    let log = one
        .data(
            Some(&a.token),
            "{ auditLog(first: 10) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = log["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    for want in [
        "tenant.domain_added",
        "tenant.domain_approved",
        "tenant.domain_removed",
    ] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    let d = one
        .data(
            Some(&a.token),
            "{ tenant { domains { domain } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["tenant"]["domains"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_domain_leads_to_its_tenant_once_approved_by_polling() {
    a_custom_domain_leads_to_its_tenant_once_approved(Setup::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_domain_leads_to_its_tenant_once_approved_through_redis() {
    a_custom_domain_leads_to_its_tenant_once_approved(Setup::PostgresRedis).await;
}

crate::on_every_backend!(a_tenants_host_signs_in_to_it_and_refuses_other_tenants_tokens);

/// A host is resolved before any rate limit sees the request: lookups of
/// hosts the cache cannot answer take turns (four at once), and one that
/// waits past its second is refused `RATE_LIMITED`, not queued without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_of_unknown_hosts_are_bounded() {
    use domain::hosts::Hostname;
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    let (app, platform, _) = crate::helpers::spawn_with_platform(Backend::Postgres, |s| {
        s.tenancy.base_domain = Some(BASE.to_owned());
    })
    .await;
    let resolver =
        std::sync::Arc::new(platform.host_resolver(Some(Hostname::parse(BASE).unwrap())));
    let host = |i: usize| Hostname::parse(&format!("made-up-{i}.{BASE}")).unwrap();
    // The directory held: every lookup waits on it, holding its turn.
    let db = Database::connect(&app.database_url).await.unwrap();
    let lock = db.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let waiting: Vec<_> = (0..4)
        .map(|i| {
            let (r, h) = (resolver.clone(), host(i));
            tokio::spawn(async move { r.tenant(&h).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    // Unbounded, it would wait for the lock like the others.
    let fifth = tokio::time::timeout(Duration::from_secs(5), resolver.tenant(&host(4))).await;
    assert!(
        matches!(fifth, Ok(Err(domain::Error::RateLimited { .. }))),
        "{fifth:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    lock.rollback().await.unwrap();
    for w in waiting {
        assert_eq!(w.await.unwrap().unwrap(), None, "no tenant has that host");
    }
    // Its turn free again, the next lookup runs.
    assert_eq!(resolver.tenant(&host(5)).await.unwrap(), None);
}
