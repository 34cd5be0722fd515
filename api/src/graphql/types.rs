//! Output types, built from domain values (never from ORM rows).

use super::context::{services, tenant};
use super::error::{ApiError, ApiResult};
use super::guard::Guarded;
use super::loaders::Loaders;
use super::pagination::PageArgs;
use super::plain_fields::{Plain, PlainFields};
use super::scalars::{Date, Isolation, TaskStatus, to_id};
use super::tasks::{TaskConnection, TaskOrder, TaskScope, task_connection};
use async_graphql::resolver_utils::enum_value;
use async_graphql::{ComplexObject, Context, ID, Object, ScalarType, SimpleObject, Value};
use chrono::{DateTime, Utc};
use domain::error::Entity;
use domain::identity::{Membership, Tenant, User};
use domain::project::Project;
use domain::task::Task;

pub struct UserNode(pub User);

#[Object(name = "User")]
impl UserNode {
    async fn id(&self) -> ID {
        to_id(self.0.id.as_uuid())
    }
    async fn email(&self) -> &str {
        self.0.email.as_str()
    }
    async fn display_name(&self) -> &str {
        self.0.display_name.as_str()
    }
}

/// As the resolvers above answer them.
impl PlainFields for UserNode {
    fn plain(&self, name: &str) -> Option<Value> {
        let u = &self.0;
        Some(match name {
            "id" => Value::String(to_id(u.id.as_uuid()).0),
            "email" => Value::String(u.email.as_str().to_owned()),
            "displayName" => Value::String(u.display_name.as_str().to_owned()),
            _ => return None,
        })
    }
}

pub struct TenantNode(pub Tenant);

#[Object(name = "Tenant")]
impl TenantNode {
    async fn id(&self) -> ID {
        to_id(self.0.id.as_uuid())
    }
    async fn slug(&self) -> &str {
        self.0.slug.as_str()
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    async fn isolation(&self) -> Isolation {
        self.0.isolation.into()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// What the tenant holds, beside its limits (owners); null for any
    /// tenant but the one the token is for.
    #[graphql(guard = "Guarded(\"Tenant.usage\")")]
    async fn usage(&self, ctx: &Context<'_>) -> ApiResult<Option<TenantUsageNode>> {
        let t = tenant(ctx)?;
        if t.tenant_id() != self.0.id {
            return Ok(None);
        }
        let s = services(ctx);
        let usage = domain::usage::usage(&*s.tenancy, &*s.identity, t).await?;
        Ok(Some(TenantUsageNode(usage, t.entitlements().limits)))
    }

    /// The tenant's plan; null for any tenant but the one the token is for.
    async fn plan(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        Ok(self
            .own(ctx)?
            .map(|t| t.entitlements().plan.as_str().to_owned()))
    }

    /// What the tenant's plan allows (with any limit an operator set for
    /// it); null for any tenant but the one the token is for.
    async fn limits(&self, ctx: &Context<'_>) -> ApiResult<Option<PlanLimits>> {
        Ok(self.own(ctx)?.map(|t| PlanLimits(t.entitlements().limits)))
    }

    /// Its custom domains, approved or waiting; null for any tenant but the
    /// one the token is for.
    async fn domains(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<Vec<super::domains::DomainNode>>> {
        let Some(t) = self.own(ctx)? else {
            return Ok(None);
        };
        let found = services(ctx).domains.domains_of(t.tenant_id()).await?;
        Ok(Some(
            found.into_iter().map(super::domains::DomainNode).collect(),
        ))
    }

    /// The feature flags the tenant has (its plan's and its own), by name;
    /// null for any tenant but the one the token is for. Clients show or hide
    /// what a flag gates; the server checks it too.
    async fn features(&self, ctx: &Context<'_>) -> ApiResult<Option<Vec<String>>> {
        Ok(self.own(ctx)?.map(|t| {
            t.entitlements()
                .features
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect()
        }))
    }
}

impl TenantNode {
    /// The request's context when this is the token's tenant.
    fn own<'a>(&self, ctx: &Context<'a>) -> ApiResult<Option<&'a domain::TenantContext>> {
        let t = tenant(ctx)?;
        Ok((t.tenant_id() == self.0.id).then_some(t))
    }
}

/// What a plan allows one tenant.
pub struct PlanLimits(pub domain::plan::Limits);

#[Object(name = "PlanLimits")]
impl PlanLimits {
    /// Members, pending invitations included.
    async fn members(&self) -> u32 {
        self.0.members
    }
    /// Projects, deleted ones included until they are purged.
    async fn projects(&self) -> u32 {
        self.0.projects
    }
    /// Tasks, those of deleted projects included until they are purged.
    async fn tasks(&self) -> u32 {
        self.0.tasks
    }
    async fn webhooks(&self) -> u32 {
        self.0.webhooks
    }
    /// Database round trips of the tenant's requests together, per second.
    async fn tenant_work_per_second(&self) -> u32 {
        self.0.tenant_work_per_second
    }
    /// Requests of one member, per second.
    async fn requests_per_member_per_second(&self) -> u32 {
        self.0.user_per_second
    }
    /// Subscriptions open at once, on one server.
    async fn subscriptions(&self) -> u32 {
        self.0.subscriptions
    }
    /// Signed-in sockets open at once, on one server.
    async fn sockets(&self) -> u32 {
        self.0.sockets
    }
}

/// Counts of a tenant's data and the limits that apply to them.
pub struct TenantUsageNode(pub domain::usage::TenantUsage, pub domain::plan::Limits);

#[Object(name = "TenantUsage")]
impl TenantUsageNode {
    async fn members(&self) -> u64 {
        self.0.members
    }
    /// Live projects (soft-deleted ones are not counted).
    async fn projects(&self) -> u64 {
        self.0.projects
    }
    /// Tasks of live projects.
    async fn tasks(&self) -> u64 {
        self.0.tasks
    }
    async fn webhooks(&self) -> u64 {
        self.0.webhooks
    }
    /// Projects as `limits.projects` counts them: deleted ones included until
    /// they are purged.
    async fn stored_projects(&self) -> u64 {
        self.0.stored_projects
    }
    /// Tasks as `limits.tasks` counts them: those of deleted projects
    /// included until they are purged.
    async fn stored_tasks(&self) -> u64 {
        self.0.stored_tasks
    }
    /// The most webhooks the tenant's plan allows (also in `Tenant.limits`).
    async fn webhook_limit(&self) -> u64 {
        u64::from(self.1.webhooks)
    }
}

/// One of the caller's tenants, with their role in it.
pub struct MembershipNode(pub Membership, pub Tenant);

#[Object(name = "Membership")]
impl MembershipNode {
    async fn role(&self) -> &str {
        self.0.role.as_str()
    }
    async fn tenant(&self) -> TenantNode {
        TenantNode(self.1.clone())
    }
}

/// What signing in, signing up, refreshing and switching tenant return.
#[derive(SimpleObject)]
#[graphql(complex, name = "AuthPayload")]
pub struct AuthPayload {
    /// Send as `Authorization: Bearer <accessToken>`; valid for one tenant.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque; exchange it with `refreshSession` for new tokens. Each can be
    /// used once: presenting a used one ends the session.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    #[graphql(skip)]
    pub user: User,
    #[graphql(skip)]
    pub tenant: Tenant,
}

#[ComplexObject]
impl AuthPayload {
    async fn user(&self) -> UserNode {
        UserNode(self.user.clone())
    }
    async fn tenant(&self) -> TenantNode {
        TenantNode(self.tenant.clone())
    }
}

impl From<domain::auth::SignedIn> for AuthPayload {
    fn from(s: domain::auth::SignedIn) -> Self {
        Self {
            access_token: s.access.token,
            expires_in: s.access.expires_in_seconds,
            refresh_token: s.refresh.0,
            token_type: "Bearer",
            user: s.user,
            tenant: s.tenant,
        }
    }
}

pub struct ProjectNode(pub Project);

#[Object(name = "Project")]
impl ProjectNode {
    async fn id(&self) -> ID {
        to_id(self.0.id.as_uuid())
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    async fn description(&self) -> &str {
        self.0.description.as_str()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Set while the project is soft-deleted.
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
    /// Pass it back as `expectedVersion` when updating.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// This project's tasks.
    #[graphql(guard = "Guarded(\"Project.tasks\")")]
    #[allow(clippy::too_many_arguments)]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<super::tasks::ProjectTaskFilter>,
        order_by: Option<TaskOrder>,
    ) -> ApiResult<TaskConnection> {
        let scope = TaskScope::Project(self.0.id, filter.unwrap_or_default());
        task_connection(
            ctx,
            scope,
            PageArgs {
                first,
                after,
                last,
                before,
            },
            order_by.unwrap_or_default(),
        )
        .await
    }
}

pub struct TaskNode(pub Task);

#[Object(name = "Task")]
impl TaskNode {
    async fn id(&self) -> ID {
        to_id(self.0.id.as_uuid())
    }
    async fn title(&self) -> &str {
        self.0.title.as_str()
    }
    async fn description(&self) -> &str {
        self.0.description.as_str()
    }
    async fn status(&self) -> TaskStatus {
        self.0.status.into()
    }
    /// 0 (none) to 4 (urgent).
    async fn priority(&self) -> i32 {
        i32::from(self.0.priority.value())
    }
    async fn due_date(&self) -> Option<Date> {
        self.0.due_date.map(|d| d.date().into())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
    #[graphql(guard = "Guarded(\"Task.project\")")]
    async fn project(&self, ctx: &Context<'_>) -> async_graphql::Result<ProjectNode> {
        let loaders = ctx.data_unchecked::<Loaders>();
        match loaders.projects.load_one(self.0.project_id).await? {
            Some(p) => Ok(ProjectNode(p)),
            None => Err(ApiError::from(domain::Error::NotFound(Entity::Project)).into()),
        }
    }
    #[graphql(guard = "Guarded(\"Task.assignee\")")]
    async fn assignee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Plain<UserNode>>> {
        let Some(id) = self.0.assignee_id else {
            return Ok(None);
        };
        let loaders = ctx.data_unchecked::<Loaders>();
        Ok(loaders
            .members
            .load_one(id)
            .await?
            .map(|u| Plain(UserNode(u))))
    }
}

/// As the resolvers above answer them (a test compares the two).
impl PlainFields for TaskNode {
    fn plain(&self, name: &str) -> Option<Value> {
        let t = &self.0;
        Some(match name {
            "id" => Value::String(to_id(t.id.as_uuid()).0),
            "title" => Value::String(t.title.as_str().to_owned()),
            "description" => Value::String(t.description.as_str().to_owned()),
            "status" => enum_value(TaskStatus::from(t.status)),
            "priority" => Value::from(i32::from(t.priority.value())),
            "dueDate" => t
                .due_date
                .map_or(Value::Null, |d| Date::from(d.date()).to_value()),
            "createdAt" => t.created_at.to_value(),
            "updatedAt" => t.updated_at.to_value(),
            "version" => Value::from(t.version),
            _ => return None,
        })
    }
}
