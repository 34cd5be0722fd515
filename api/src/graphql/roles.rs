//! Roles, members and the audit log of the caller's tenant.

use super::context::{page_limits, services, tenant};
use super::error::{ApiError, ApiResult};
use super::guard::Guarded;
use super::pagination::IdPage;
use super::scalars::parse_id;
use super::types::UserNode;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Json, Object};
use chrono::{DateTime, Utc};
use domain::UserId;
use domain::audit::{AuditEntry, AuditState, AuditValue};
use domain::authz::Role;
use domain::ports::Member;

pub struct RoleNode(pub Role);

#[Object(name = "Role")]
impl RoleNode {
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    /// `resource:action` names, e.g. `task:read`.
    async fn permissions(&self) -> Vec<&'static str> {
        self.0.permissions.iter().map(|p| p.as_str()).collect()
    }
    /// One of the four default roles, the same in every tenant: it cannot be
    /// changed or deleted.
    async fn builtin(&self) -> bool {
        self.0.builtin
    }
}

pub struct MemberNode(pub Member);

#[Object(name = "Member")]
impl MemberNode {
    async fn user(&self) -> UserNode {
        UserNode(self.0.user.clone())
    }
    async fn role(&self) -> &str {
        self.0.role.as_str()
    }
    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.joined_at
    }
}

fn json(state: Option<&AuditState>) -> Option<Json<serde_json::Value>> {
    state.map(|s| {
        Json(serde_json::Value::Object(
            s.iter()
                .map(|(k, v)| {
                    let v = match v {
                        AuditValue::Text(t) => serde_json::Value::from(t.as_str()),
                        AuditValue::List(l) => serde_json::Value::from(l.clone()),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ))
    })
}

pub struct AuditEntryNode(pub AuditEntry);

#[Object(name = "AuditEntry")]
impl AuditEntryNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Who made the change; null for the system (fixtures, invitations).
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.map(|a| ID(a.to_string()))
    }
    /// e.g. `member.role_changed`, `role.created`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// `user:<id>` or `role:<name>`.
    async fn target(&self) -> &str {
        &self.0.target
    }
    /// The state before; null when the thing did not exist.
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        json(self.0.before.as_ref())
    }
    /// The state after; null when the thing was removed.
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        json(self.0.after.as_ref())
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

#[derive(InputObject)]
pub struct CreateRoleInput {
    /// 2–32 characters of a-z, 0-9, _ and -, not a default role's name.
    pub name: String,
    /// Permissions, each of which the caller must hold.
    pub permissions: Vec<String>,
}

#[derive(InputObject)]
pub struct UpdateRoleInput {
    /// The role's new permissions, replacing the old.
    pub permissions: Vec<String>,
}

fn user_id(id: &ID) -> ApiResult<UserId> {
    parse_id(id).ok_or_else(|| ApiError::invalid("userId", "not a valid id"))
}

#[derive(Default)]
pub struct RoleQuery;

#[Object]
impl RoleQuery {
    /// The tenant's roles: the four defaults, then custom roles by name.
    #[graphql(guard = "Guarded(\"roles\")")]
    async fn roles(&self, ctx: &Context<'_>) -> ApiResult<Vec<RoleNode>> {
        let t = tenant(ctx)?;
        let book = services(ctx).access(t).book().await?;
        Ok(book.into_vec().into_iter().map(RoleNode).collect())
    }

    /// Members of the tenant, ordered by user id.
    #[graphql(guard = "Guarded(\"members\")")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, MemberNode>> {
        let t = tenant(ctx)?;
        let page = IdPage::new("members", page_limits(ctx), first, after.as_deref())?;
        let rows = services(ctx)
            .access(t)
            .members(page.after.map(UserId::from_uuid), page.fetch())
            .await?;
        Ok(page.connection(rows, |m| m.user.id.as_uuid(), MemberNode))
    }

    /// Changes to members and roles, newest first (owners and admins).
    #[graphql(guard = "Guarded(\"auditLog\")")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, AuditEntryNode>> {
        let t = tenant(ctx)?;
        let page = IdPage::new("audit", page_limits(ctx), first, after.as_deref())?;
        let rows = services(ctx)
            .access(t)
            .audit_log(page.after, page.fetch())
            .await?;
        Ok(page.connection(rows, |e| e.id, AuditEntryNode))
    }
}

#[derive(Default)]
pub struct RoleMutation;

#[Object]
impl RoleMutation {
    /// Makes a custom role from permissions the caller holds.
    #[graphql(guard = "Guarded(\"createRole\")")]
    async fn create_role(&self, ctx: &Context<'_>, input: CreateRoleInput) -> ApiResult<RoleNode> {
        let t = tenant(ctx)?;
        let role = services(ctx)
            .access(t)
            .create_role(&input.name, &input.permissions)
            .await?;
        Ok(RoleNode(role))
    }

    /// Replaces a custom role's permissions; its members gain or lose them at once.
    #[graphql(guard = "Guarded(\"updateRole\")")]
    async fn update_role(
        &self,
        ctx: &Context<'_>,
        name: String,
        input: UpdateRoleInput,
    ) -> ApiResult<RoleNode> {
        let t = tenant(ctx)?;
        let role = services(ctx)
            .access(t)
            .update_role(&name, &input.permissions)
            .await?;
        Ok(RoleNode(role))
    }

    /// Deletes a custom role no member holds.
    #[graphql(guard = "Guarded(\"deleteRole\")")]
    async fn delete_role(&self, ctx: &Context<'_>, name: String) -> ApiResult<bool> {
        let t = tenant(ctx)?;
        services(ctx).access(t).delete_role(&name).await?;
        Ok(true)
    }

    /// Gives a member another role. Nobody grants or takes away more than they
    /// hold, and the last owner stays an owner.
    #[graphql(guard = "Guarded(\"updateMemberRole\")")]
    async fn update_member_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: String,
    ) -> ApiResult<MemberNode> {
        let t = tenant(ctx)?;
        let member = services(ctx)
            .access(t)
            .update_member_role(self::user_id(&user_id)?, &role)
            .await?;
        Ok(MemberNode(member))
    }

    /// Hands the tenant to another member (owners): they become an owner,
    /// then the caller an admin. Returns the new owner.
    #[graphql(guard = "Guarded(\"transferOwnership\")")]
    async fn transfer_ownership(&self, ctx: &Context<'_>, user_id: ID) -> ApiResult<MemberNode> {
        let t = tenant(ctx)?;
        let member = services(ctx)
            .access(t)
            .transfer_ownership(self::user_id(&user_id)?)
            .await?;
        Ok(MemberNode(member))
    }

    /// Leaves the current tenant: the caller's sessions in it end (this
    /// token is refused from the next request) and their pending
    /// invitations to it are voided. The last owner cannot leave.
    #[graphql(guard = "Guarded(\"leaveTenant\")")]
    async fn leave_tenant(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        services(ctx).invitations().leave(tenant(ctx)?).await?;
        Ok(true)
    }

    /// Removes a member from the tenant, ends their sessions in it and voids
    /// their pending invitations to it.
    #[graphql(guard = "Guarded(\"removeMember\")")]
    async fn remove_member(&self, ctx: &Context<'_>, user_id: ID) -> ApiResult<bool> {
        let t = tenant(ctx)?;
        services(ctx)
            .invitations()
            .remove_member(t, self::user_id(&user_id)?)
            .await?;
        Ok(true)
    }
}
