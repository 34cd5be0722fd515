//! `Task.project` and `Task.assignee` are batched: listing many tasks costs one
//! lookup per kind, not one per row. Counted in-process, behind the ports.

use api::config::Settings;
use api::services::Services;
use async_graphql::Request;
use async_trait::async_trait;
use domain::identity::{Membership, RoleName, Tenant, User};
use domain::ports::{
    Accounts, Directory, IdentityStore, Memberships, NewAccount, NewTenant, Tenancy, TenantTx,
    TxMode,
};
use domain::values::{DisplayName, Email, TenantSlug};
use domain::{Result, TenantContext, TenantId, UserId};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

struct CountingTenancy {
    inner: Arc<dyn Tenancy>,
    begins: AtomicUsize,
}

#[async_trait]
impl Tenancy for CountingTenancy {
    async fn begin(&self, ctx: &TenantContext, mode: TxMode) -> Result<Box<dyn TenantTx>> {
        self.begins.fetch_add(1, Ordering::SeqCst);
        self.inner.begin(ctx, mode).await
    }
}

struct CountingIdentity {
    inner: Arc<dyn IdentityStore>,
    member_lookups: AtomicUsize,
}

#[async_trait]
impl Accounts for CountingIdentity {
    async fn create_account(&self, a: &NewAccount) -> Result<(User, Tenant)> {
        self.inner.create_account(a).await
    }
    async fn create_user(&self, e: &Email, h: &str, d: &DisplayName) -> Result<User> {
        self.inner.create_user(e, h, d).await
    }
    async fn credentials(&self, e: &Email) -> Result<Option<(User, String)>> {
        self.inner.credentials(e).await
    }
    async fn user(&self, id: UserId) -> Result<User> {
        self.inner.user(id).await
    }
    async fn delete_users_without_tenants(&self, u: &[UserId]) -> Result<u64> {
        self.inner.delete_users_without_tenants(u).await
    }
    async fn set_password_hash(&self, u: UserId, h: &str) -> Result<()> {
        self.inner.set_password_hash(u, h).await
    }
    async fn password_hash(&self, u: UserId) -> Result<String> {
        self.inner.password_hash(u).await
    }
}

#[async_trait]
impl Directory for CountingIdentity {
    async fn create_tenant(&self, o: UserId, t: &NewTenant) -> Result<Tenant> {
        self.inner.create_tenant(o, t).await
    }
    async fn tenant(&self, id: TenantId) -> Result<Tenant> {
        self.inner.tenant(id).await
    }
    async fn tenant_by_slug(&self, s: &TenantSlug) -> Result<Option<Tenant>> {
        self.inner.tenant_by_slug(s).await
    }
    async fn delete_tenant(&self, t: TenantId) -> Result<bool> {
        self.inner.delete_tenant(t).await
    }
    async fn create_tenant_within(&self, o: UserId, t: &NewTenant, max: u32) -> Result<Tenant> {
        self.inner.create_tenant_within(o, t, max).await
    }
    async fn update_tenant(
        &self,
        ctx: &TenantContext,
        change: &domain::ports::TenantChange,
    ) -> Result<Tenant> {
        self.inner.update_tenant(ctx, change).await
    }
}

#[async_trait]
impl Memberships for CountingIdentity {
    async fn add_membership(&self, t: TenantId, u: UserId, r: &RoleName) -> Result<()> {
        self.inner.add_membership(t, u, r).await
    }
    async fn add_invited_membership(
        &self,
        t: TenantId,
        u: UserId,
        r: &RoleName,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        self.inner.add_invited_membership(t, u, r, at).await
    }
    async fn membership(&self, u: UserId, t: TenantId) -> Result<Option<Membership>> {
        self.inner.membership(u, t).await
    }
    async fn memberships_of(&self, u: UserId) -> Result<Vec<(Membership, Tenant)>> {
        self.inner.memberships_of(u).await
    }
    async fn members_by_ids(&self, ctx: &TenantContext, ids: &[UserId]) -> Result<Vec<User>> {
        self.member_lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.members_by_ids(ctx, ids).await
    }
    async fn member_ids(&self, t: TenantId) -> Result<Vec<UserId>> {
        self.inner.member_ids(t).await
    }
    async fn set_membership_role(&self, t: TenantId, u: UserId, r: &RoleName) -> Result<()> {
        self.inner.set_membership_role(t, u, r).await
    }
}

// Multi-threaded, as in the server: a loader's batch task may run on another worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_tasks_joins_assignees_and_loads_projects_in_one_batch() {
    let file = std::env::temp_dir().join(format!("tenantry-loaders-{}.db", uuid::Uuid::now_v7()));
    let figment = Settings::figment().merge(("app_env", "test")).merge((
        "database.url",
        format!("sqlite://{}?mode=rwc", file.display()),
    ));
    let settings = Settings::from_figment(figment).unwrap();
    let storage = infra::db::Storage::connect(&api::app::db_settings(&settings))
        .await
        .unwrap();
    storage.migrate().await.unwrap();
    let platform = infra::platform::Platform::compose(storage, infra::platform::Settings::local())
        .await
        .unwrap();
    let base = api::app::services(&platform, &settings).unwrap();
    let tenancy = Arc::new(CountingTenancy {
        inner: base.tenancy.clone(),
        begins: AtomicUsize::new(0),
    });
    let identity = Arc::new(CountingIdentity {
        inner: base.identity.clone(),
        member_lookups: AtomicUsize::new(0),
    });
    let services = Arc::new(Services {
        tenancy: tenancy.clone(),
        identity: identity.clone(),
        ..base
    });

    // The demo tenant: 9 tasks over 3 projects, assigned to 2 members.
    seed::demo::seed(&seed::demo::Ports::from_auth(
        services.auth(),
        &*services.tenancy,
    ))
    .await
    .unwrap();
    let signed = services
        .auth()
        .sign_in("owner@demo.test", seed::demo::PASSWORD, None, None)
        .await
        .unwrap();
    let ctx = services
        .auth()
        .authenticate(&signed.access.token)
        .await
        .unwrap();

    let schema = api::graphql::build(services.clone(), &settings.graphql, true);
    tenancy.begins.store(0, Ordering::SeqCst);
    identity.member_lookups.store(0, Ordering::SeqCst);
    let request = Request::new("{ tasks(first: 50) { edges { node { title project { name } assignee { displayName } } } } }")
        .data(api::graphql::loaders::Loaders::new(&services, &ctx))
        .data(api::graphql::context::Caller::Member(ctx));
    let response = schema.execute(request).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let json = response.data.into_json().unwrap();
    let edges = json["tasks"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 9);
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["project"]["name"].is_string()
                && e["node"]["assignee"]["displayName"].is_string())
    );

    // One transaction for the list, one for the batch of projects; the
    // assignees came with the page (joined), so no member lookup at all.
    assert_eq!(tenancy.begins.load(Ordering::SeqCst), 2);
    assert_eq!(identity.member_lookups.load(Ordering::SeqCst), 0);

    platform.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
