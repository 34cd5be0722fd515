//! The operator schema, served at `/admin/graphql` and committed as
//! `admin.graphql`: a schema of its own, so tenant clients never see (or
//! generate types for) operator fields. Every request's caller is an
//! [`OperatorContext`], checked against the operator list by the handler.

use super::domains::DomainNode;
use super::error::{ApiError, ApiResult};
use super::moves::MoveNode;
use super::scalars::{parse_id, to_id};
use super::tenant_usage::AdminTenantUsage;
use super::types::PlanLimits;
use crate::services::Services;
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, EmptySubscription, Enum, ID, Object, Schema};
use chrono::{DateTime, Utc};
use domain::error::Entity;
use domain::identity::Standing;
use domain::operator::{OperatorContext, TenantSummary};
use domain::plan::{Entitlements, Feature, Plan};
use domain::validate::AtField;
use domain::values::{SearchTerm, TenantSlug};
use domain::{Isolation, TenantId};
use std::sync::Arc;

pub type AdminSchema = Schema<AdminQuery, AdminMutation, EmptySubscription>;

/// Operator requests are few and trusted more than tenants', but still bounded.
pub fn build(services: Arc<Services>, introspection: bool) -> AdminSchema {
    let mut builder = Schema::build(AdminQuery, AdminMutation, EmptySubscription)
        .data(super::tenant_usage::requests_loader(&services))
        .data(super::tenant_usage::StoredReads::default())
        .data(services)
        .limit_depth(12)
        .limit_complexity(2_000)
        .limit_recursive_depth(32)
        .limit_directives(10);
    if !introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The operator schema in SDL, as committed in `admin.graphql`.
pub fn sdl() -> String {
    Schema::build(AdminQuery, AdminMutation, EmptySubscription)
        .finish()
        .sdl()
}

fn services<'a>(ctx: &Context<'a>) -> &'a Arc<Services> {
    ctx.data_unchecked::<Arc<Services>>()
}

fn operator<'a>(ctx: &Context<'a>) -> ApiResult<&'a OperatorContext> {
    ctx.data_opt::<OperatorContext>()
        .ok_or_else(ApiError::unauthenticated)
}

fn tenant_id_of(id: &ID) -> ApiResult<TenantId> {
    parse_id(id).ok_or_else(|| ApiError::from(domain::Error::NotFound(Entity::Tenant)))
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "TenantStanding")]
pub enum StandingValue {
    Active,
    /// Members read; every mutation is refused `TENANT_SUSPENDED`.
    ReadOnly,
    /// Every operation of its members is refused `TENANT_SUSPENDED`; its
    /// sockets close and its webhooks wait.
    Suspended,
    /// Deleted: refused like a suspended tenant (`TENANT_DELETED`) and purged
    /// at `purgeAfter` unless restored (`resumeTenant`).
    Deleted,
}

impl From<Standing> for StandingValue {
    fn from(s: Standing) -> Self {
        match s {
            Standing::Active => Self::Active,
            Standing::ReadOnly => Self::ReadOnly,
            Standing::Suspended => Self::Suspended,
            Standing::Deleted => Self::Deleted,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "TenantStrategy")]
pub enum StrategyValue {
    Row,
    Schema,
    Database,
}

impl From<StrategyValue> for Isolation {
    fn from(s: StrategyValue) -> Self {
        match s {
            StrategyValue::Row => Self::Row,
            StrategyValue::Schema => Self::Schema,
            StrategyValue::Database => Self::Database,
        }
    }
}

impl From<Isolation> for StrategyValue {
    fn from(i: Isolation) -> Self {
        match i {
            Isolation::Row => Self::Row,
            Isolation::Schema => Self::Schema,
            Isolation::Database => Self::Database,
        }
    }
}

pub struct AdminTenant(TenantSummary);

/// A tenant as operators see it.
#[Object(name = "Tenant")]
impl AdminTenant {
    async fn id(&self) -> ID {
        to_id(self.0.tenant.id.as_uuid())
    }
    async fn slug(&self) -> &str {
        self.0.tenant.slug.as_str()
    }
    async fn name(&self) -> &str {
        self.0.tenant.name.as_str()
    }
    /// How its data is kept apart: rows of shared tables, a schema, or a database.
    async fn strategy(&self) -> StrategyValue {
        self.0.tenant.isolation.into()
    }
    /// The database server of a database tenant.
    async fn placement(&self) -> Option<&str> {
        self.0.placement.as_deref()
    }
    async fn members(&self) -> u64 {
        self.0.members
    }
    async fn standing(&self) -> StandingValue {
        self.0.tenant.standing.into()
    }
    /// When an operator last changed `standing`.
    async fn standing_since(&self) -> Option<DateTime<Utc>> {
        self.0.tenant.standing_since
    }
    /// When a deleted tenant is purged with everything it holds.
    async fn purge_after(&self) -> Option<DateTime<Utc>> {
        self.0.tenant.purge_after
    }
    /// Made by the fixture endpoint of a test deployment.
    async fn fixture(&self) -> bool {
        self.0.tenant.fixture
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.tenant.created_at
    }
    /// Its plan: the one an operator gave it, else the deployment's default
    /// (also when the one it was given has left the catalog).
    async fn plan(&self, ctx: &Context<'_>) -> String {
        self.entitlements(ctx).plan.as_str().to_owned()
    }
    /// Its plan's limits, with its own request rates over them.
    async fn limits(&self, ctx: &Context<'_>) -> PlanLimits {
        PlanLimits(self.entitlements(ctx).limits)
    }
    /// Every feature flag it has: its plan's and its own.
    async fn features(&self, ctx: &Context<'_>) -> Vec<String> {
        names(&self.entitlements(ctx).features)
    }
    /// The feature flags turned on for it beside its plan's.
    async fn own_features(&self) -> Vec<String> {
        names(&self.0.tenant.terms.features)
    }
    /// Its latest moves between strategies, newest first.
    async fn moves(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
    ) -> ApiResult<Vec<MoveNode>> {
        let first = u64::try_from(first.clamp(1, 100)).unwrap_or(10);
        let found = services(ctx)
            .moves
            .of_tenant(self.0.tenant.id, first)
            .await?;
        Ok(found.into_iter().map(MoveNode).collect())
    }
    /// Its custom domains, approved or waiting for approval.
    async fn domains(&self, ctx: &Context<'_>) -> ApiResult<Vec<DomainNode>> {
        let found = services(ctx).domains.domains_of(self.0.tenant.id).await?;
        Ok(found.into_iter().map(DomainNode).collect())
    }
    /// What it uses, beside `limits`: its requests in the last day and the
    /// rows it stores.
    async fn usage(&self) -> AdminTenantUsage {
        AdminTenantUsage::of(&self.0)
    }
}

impl AdminTenant {
    fn entitlements(&self, ctx: &Context<'_>) -> Arc<Entitlements> {
        services(ctx)
            .tenant_policy
            .plans
            .entitlements(&self.0.tenant.terms)
    }
}

fn names(features: &std::collections::BTreeSet<Feature>) -> Vec<String> {
    features.iter().map(|f| f.as_str().to_owned()).collect()
}

/// One plan of the catalog (`[plans]` in the configuration).
pub struct AdminPlan(Plan, bool);

#[Object(name = "Plan")]
impl AdminPlan {
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    /// The plan of every tenant that has not been given another.
    async fn is_default(&self) -> bool {
        self.1
    }
    async fn limits(&self) -> PlanLimits {
        PlanLimits(self.0.limits)
    }
    async fn features(&self) -> Vec<String> {
        names(&self.0.features)
    }
}

/// A token to act as a member, for support.
#[derive(async_graphql::SimpleObject)]
#[graphql(name = "Impersonation")]
pub struct ImpersonationPayload {
    /// Send as `Authorization: Bearer <accessToken>` to `/graphql`. It names
    /// you as its actor: its every request is in the tenant's audit log.
    pub access_token: String,
    /// Seconds until it expires (`auth.impersonation_ttl_secs`); it cannot
    /// be refreshed.
    pub expires_in: i64,
    /// Whether mutations are allowed; otherwise they are refused `FORBIDDEN`.
    pub writes: bool,
}

pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Every tenant, by slug; `search` matches a part of the slug or name.
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
        search: Option<String>,
    ) -> ApiResult<Connection<String, AdminTenant>> {
        operator(ctx)?;
        let first = u64::try_from(first.clamp(1, 100)).unwrap_or(20);
        let (search, after) = (
            search
                .as_deref()
                .map(SearchTerm::parse)
                .transpose()
                .at("search"),
            after
                .as_deref()
                .map(TenantSlug::parse)
                .transpose()
                .at("after"),
        );
        let (search, after) = domain::validate::AllValid::all_valid((search, after))?;
        let page = services(ctx)
            .operations()
            .tenants(search.flatten().as_ref(), after.as_ref(), first)
            .await?;
        let mut conn = Connection::new(after.is_some(), page.has_more);
        conn.edges.extend(
            page.items
                .into_iter()
                .map(|t| Edge::new(t.tenant.slug.as_str().to_owned(), AdminTenant(t))),
        );
        Ok(conn)
    }

    /// One tenant by id.
    async fn tenant(&self, ctx: &Context<'_>, id: ID) -> ApiResult<AdminTenant> {
        operator(ctx)?;
        Ok(AdminTenant(
            services(ctx)
                .operations()
                .tenant(tenant_id_of(&id)?)
                .await?,
        ))
    }

    /// A move of a tenant, by the id `moveTenant` returned: poll it for
    /// its progress.
    async fn tenant_move(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<MoveNode>> {
        operator(ctx)?;
        let Some(id) = parse_id::<domain::MoveId>(&id) else {
            return Ok(None);
        };
        let found = services(ctx).moves.get(id).await?;
        Ok(found.map(MoveNode))
    }

    /// The plans tenants can be given, by name.
    async fn plans(&self, ctx: &Context<'_>) -> ApiResult<Vec<AdminPlan>> {
        operator(ctx)?;
        let plans = &services(ctx).tenant_policy.plans;
        let default = &plans.default_plan().name;
        Ok(plans
            .all()
            .map(|p| AdminPlan(p.clone(), &p.name == default))
            .collect())
    }
}

pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Suspends a tenant: its members are refused `TENANT_SUSPENDED` on every
    /// operation (only on writes with `readsAllowed`), its sockets close and
    /// its webhooks wait. Nothing is deleted. Every node follows within a
    /// second. Written to the tenant's audit log with you as actor.
    async fn suspend_tenant(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = false)] reads_allowed: bool,
        reason: Option<String>,
    ) -> ApiResult<AdminTenant> {
        let op = operator(ctx)?;
        let standing = if reads_allowed {
            Standing::ReadOnly
        } else {
            Standing::Suspended
        };
        Ok(AdminTenant(
            services(ctx)
                .operations()
                .set_standing(op, tenant_id_of(&id)?, standing, reason.as_deref())
                .await?,
        ))
    }

    /// Gives a tenant another plan (one of `plans`): its limits and features
    /// change on every node within a second. A limit lowered below what the
    /// tenant holds deletes nothing: its creates are refused `LIMIT_REACHED`
    /// until it is back under. Audited like a suspension.
    async fn set_tenant_plan(
        &self,
        ctx: &Context<'_>,
        id: ID,
        plan: String,
        reason: Option<String>,
    ) -> ApiResult<AdminTenant> {
        let op = operator(ctx)?;
        Ok(AdminTenant(
            services(ctx)
                .operations()
                .set_plan(op, tenant_id_of(&id)?, &plan, reason.as_deref())
                .await?,
        ))
    }

    /// Turns one of a tenant's own feature flags on or off (beside its
    /// plan's, which stay on). Every node follows within a second; audited.
    async fn set_tenant_feature(
        &self,
        ctx: &Context<'_>,
        id: ID,
        feature: String,
        enabled: bool,
        reason: Option<String>,
    ) -> ApiResult<AdminTenant> {
        let op = operator(ctx)?;
        Ok(AdminTenant(
            services(ctx)
                .operations()
                .set_feature(op, tenant_id_of(&id)?, &feature, enabled, reason.as_deref())
                .await?,
        ))
    }

    /// Deletes a tenant: its members are refused `TENANT_DELETED` on every
    /// server within a second, and it is purged with everything it holds at
    /// `purgeAfter` (`tenancy.deletion_grace_secs` from now) unless restored
    /// with `resumeTenant`. Audited; its owners see it if it is restored.
    async fn delete_tenant(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> ApiResult<AdminTenant> {
        let op = operator(ctx)?;
        Ok(AdminTenant(
            services(ctx)
                .deletions()
                .by_operator(op, tenant_id_of(&id)?, reason.as_deref())
                .await?,
        ))
    }

    /// Approves a custom domain a tenant's owner asked for: from then on,
    /// on every server within a second, requests to it are that tenant's.
    /// Check first that the domain is the tenant's (DNS, a verification
    /// record). Audited in the tenant's log.
    async fn approve_tenant_domain(
        &self,
        ctx: &Context<'_>,
        domain: String,
    ) -> ApiResult<DomainNode> {
        let op = operator(ctx)?;
        Ok(DomainNode(
            services(ctx).domains().approve(op, &domain).await?,
        ))
    }

    /// Removes a tenant's custom domain, approved or not; audited.
    async fn remove_tenant_domain(&self, ctx: &Context<'_>, domain: String) -> ApiResult<bool> {
        let op = operator(ctx)?;
        services(ctx).domains().revoke(op, &domain).await?;
        Ok(true)
    }

    /// A short-lived token to act as a member of a tenant, for support:
    /// read-only unless `writes`. Starting it and every request made with it
    /// are written to the tenant's audit log with you as actor, so its owners
    /// see it; `reason` (required) is recorded with it.
    async fn impersonate(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        user_id: ID,
        #[graphql(default = false)] writes: bool,
        reason: String,
    ) -> ApiResult<ImpersonationPayload> {
        let op = operator(ctx)?;
        let user = parse_id(&user_id)
            .map(domain::UserId::from_uuid)
            .ok_or_else(|| ApiError::from(domain::Error::NotFound(Entity::Membership)))?;
        let started = services(ctx)
            .impersonations()
            .start(op, tenant_id_of(&tenant_id)?, user, writes, &reason)
            .await?;
        Ok(ImpersonationPayload {
            access_token: started.access.token,
            expires_in: started.access.expires_in_seconds,
            writes: started.writes,
        })
    }

    /// Moves a tenant to another strategy (into `DATABASE`, onto `server`
    /// or the one the placement rule picks), as a job: this returns it
    /// queued, a worker on one of the servers runs it, and `tenantMove(id)`
    /// shows how far it got. While its rows are copied, the tenant's writes
    /// are refused `RATE_LIMITED` (retry in a second) and its reads go on;
    /// a move that fails leaves it where it was. One move of a tenant at a
    /// time (`CONFLICT`); audited with you as actor.
    async fn move_tenant(
        &self,
        ctx: &Context<'_>,
        id: ID,
        to: StrategyValue,
        server: Option<String>,
        reason: Option<String>,
    ) -> ApiResult<MoveNode> {
        let op = operator(ctx)?;
        let s = services(ctx);
        let plan = domain::moves::MovePlan {
            to: to.into(),
            server,
            actor: Some(op.user_id),
        };
        let queued = s
            .moves()
            .request(op, tenant_id_of(&id)?, plan, reason.as_deref())
            .await?;
        s.move_queued.notify_one();
        Ok(MoveNode(queued))
    }

    /// Ends a suspension, or restores a deleted tenant before it is purged;
    /// audited like them.
    async fn resume_tenant(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> ApiResult<AdminTenant> {
        let op = operator(ctx)?;
        Ok(AdminTenant(
            services(ctx)
                .operations()
                .set_standing(op, tenant_id_of(&id)?, Standing::Active, reason.as_deref())
                .await?,
        ))
    }
}
