//! Who may run each operation: declared once here, enforced by the guard each
//! resolver carries (`#[graphql(guard = "Guarded(\"projects\")")]`). An
//! operation missing from this table is refused, and a test fails.

use super::context::{Caller, PermissionMemo, services, tenant};
use super::error::ApiError;
use async_graphql::{Context, ErrorExtensions, Guard};
use domain::authz::Permission;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: signing up and in, refreshing, accepting an invitation.
    Public,
    /// Any signed-in member, whatever their role.
    SignedIn,
    /// A member whose role grants this permission in the token's tenant.
    Needs(Permission),
}

use Access::{Needs, Public, SignedIn};
use Permission as P;

/// Root operations, and the nested fields that reach other data.
pub const ACCESS: &[(&str, Access)] = &[
    ("signUp", Public),
    ("signIn", Public),
    ("refreshSession", Public),
    ("acceptInvitation", Public),
    ("me", SignedIn),
    ("myTenants", SignedIn),
    ("tenant", SignedIn),
    ("switchTenant", SignedIn),
    ("signOut", SignedIn),
    ("changePassword", SignedIn),
    ("createTenant", SignedIn),
    ("updateTenant", Needs(P::TenantManage)),
    ("deleteTenant", Needs(P::TenantManage)),
    ("addTenantDomain", Needs(P::TenantManage)),
    ("removeTenantDomain", Needs(P::TenantManage)),
    ("leaveTenant", SignedIn),
    ("transferOwnership", Needs(P::TenantManage)),
    ("projects", Needs(P::ProjectRead)),
    ("project", Needs(P::ProjectRead)),
    ("createProject", Needs(P::ProjectWrite)),
    ("updateProject", Needs(P::ProjectWrite)),
    ("deleteProject", Needs(P::ProjectWrite)),
    ("restoreProject", Needs(P::ProjectWrite)),
    ("tasks", Needs(P::TaskRead)),
    ("task", Needs(P::TaskRead)),
    ("createTask", Needs(P::TaskWrite)),
    ("updateTask", Needs(P::TaskWrite)),
    ("deleteTask", Needs(P::TaskWrite)),
    ("invitations", Needs(P::MemberManage)),
    ("inviteMember", Needs(P::MemberManage)),
    ("revokeInvitation", Needs(P::MemberManage)),
    ("roles", Needs(P::MemberRead)),
    ("createRole", Needs(P::RoleManage)),
    ("updateRole", Needs(P::RoleManage)),
    ("deleteRole", Needs(P::RoleManage)),
    ("members", Needs(P::MemberRead)),
    ("updateMemberRole", Needs(P::MemberManage)),
    ("removeMember", Needs(P::MemberManage)),
    ("auditLog", Needs(P::AuditRead)),
    ("webhooks", Needs(P::WebhookManage)),
    ("webhookDeliveries", Needs(P::WebhookManage)),
    ("createWebhook", Needs(P::WebhookManage)),
    ("deleteWebhook", Needs(P::WebhookManage)),
    ("redeliverWebhookDelivery", Needs(P::WebhookManage)),
    ("taskEvents", Needs(P::TaskRead)),
    ("Project.tasks", Needs(P::TaskRead)),
    ("Task.project", Needs(P::ProjectRead)),
    ("Task.assignee", Needs(P::MemberRead)),
    ("Tenant.usage", Needs(P::TenantManage)),
    // generate: access
];

/// What an operator's impersonation token may never do, writes or not: act
/// on the member's account or start sessions of its own (a token without the
/// operator as actor, or a refreshable one, would escape the audit).
pub const NOT_WHILE_IMPERSONATING: &[&str] = &[
    "switchTenant",
    "createTenant",
    "changePassword",
    "refreshSession",
    "deleteTenant",
];

pub fn access_of(operation: &str) -> Option<Access> {
    ACCESS
        .iter()
        .find(|(name, _)| *name == operation)
        .map(|(_, a)| *a)
}

/// The guard every resolver carries, naming its entry in [`ACCESS`].
pub struct Guarded(pub &'static str);

impl Guard for Guarded {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if NOT_WHILE_IMPERSONATING.contains(&self.0)
            && let Some(Caller::Member(t)) = ctx.data_opt::<Caller>()
            && t.actor().is_some()
        {
            return Err(async_graphql::Error::new(
                "not with an impersonation token: it acts in this tenant only, as this member",
            )
            .extend_with(|_, ext| ext.set("code", super::error::code::FORBIDDEN)));
        }
        match access_of(self.0) {
            Some(Public) => Ok(()),
            Some(SignedIn) => tenant(ctx).map(|_| ()).map_err(Into::into),
            Some(Needs(permission)) => {
                let t = tenant(ctx)?;
                let memo = ctx.data_opt::<PermissionMemo>();
                let allowed = match memo.and_then(|m| m.get(permission)) {
                    Some(known) => known,
                    None => {
                        let allowed = services(ctx).authorizer.allowed(t, permission).await;
                        if let Some(m) = memo {
                            m.set(permission, allowed);
                        }
                        allowed
                    }
                };
                if allowed {
                    Ok(())
                } else {
                    Err(ApiError::from(domain::Error::Forbidden).into())
                }
            }
            // Not declared: refuse, whoever asks.
            None => Err(ApiError::from(domain::Error::Forbidden).into()),
        }
    }
}
