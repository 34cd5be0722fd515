//! Permissions and roles. Every operation of the API declares the permission
//! it needs; a role is a set of permissions within a tenant.

use crate::audit::{AuditState, AuditValue};
use crate::identity::RoleName;
use crate::tenancy::TenantContext;

/// What a role may do: a resource and an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    ProjectRead,
    ProjectWrite,
    TaskRead,
    TaskWrite,
    MemberRead,
    MemberManage,
    RoleManage,
    WebhookManage,
    AuditRead,
    TenantManage,
    // generate: permissions
}

impl Permission {
    pub const ALL: &[Permission] = &[
        Permission::ProjectRead,
        Permission::ProjectWrite,
        Permission::TaskRead,
        Permission::TaskWrite,
        Permission::MemberRead,
        Permission::MemberManage,
        Permission::RoleManage,
        Permission::WebhookManage,
        Permission::AuditRead,
        Permission::TenantManage,
        // generate: permission-list
    ];

    /// `resource:action`, as roles and the API name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ProjectRead => "project:read",
            Permission::ProjectWrite => "project:write",
            Permission::TaskRead => "task:read",
            Permission::TaskWrite => "task:write",
            Permission::MemberRead => "member:read",
            Permission::MemberManage => "member:manage",
            Permission::RoleManage => "role:manage",
            Permission::WebhookManage => "webhook:manage",
            Permission::AuditRead => "audit:read",
            Permission::TenantManage => "tenant:manage",
            // generate: permission-names
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == s)
    }
}

/// The permissions of the four roles every tenant has. Defined once, for all
/// tenants.
pub fn default_role(role: &str) -> Option<&'static [Permission]> {
    use Permission as P;
    const OWNER: &[Permission] = Permission::ALL;
    const ADMIN: &[Permission] = &[
        P::ProjectRead,
        P::ProjectWrite,
        P::TaskRead,
        P::TaskWrite,
        P::MemberRead,
        P::MemberManage,
        P::RoleManage,
        P::WebhookManage,
        P::AuditRead,
        // generate: admin-permissions
    ];
    const MEMBER: &[Permission] = &[
        P::ProjectRead,
        P::ProjectWrite,
        P::TaskRead,
        P::TaskWrite,
        P::MemberRead,
        // generate: member-permissions
    ];
    const VIEWER: &[Permission] = &[
        P::ProjectRead,
        P::TaskRead,
        P::MemberRead,
        // generate: viewer-permissions
    ];
    match role {
        RoleName::OWNER => Some(OWNER),
        RoleName::ADMIN => Some(ADMIN),
        RoleName::MEMBER => Some(MEMBER),
        RoleName::VIEWER => Some(VIEWER),
        _ => None,
    }
}

/// A role of a tenant: one of the four defaults (the same in every tenant) or
/// a custom role the tenant made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: RoleName,
    /// Sorted, without repeats.
    pub permissions: Vec<Permission>,
    pub builtin: bool,
}

impl Role {
    pub fn new(name: RoleName, permissions: impl IntoIterator<Item = Permission>) -> Self {
        let mut permissions: Vec<_> = permissions.into_iter().collect();
        permissions.sort_unstable();
        permissions.dedup();
        let builtin = default_role(name.as_str()).is_some();
        Self {
            name,
            permissions,
            builtin,
        }
    }

    /// `{"permissions": [...]}`, as the audit log records a role.
    pub fn audit_state(&self) -> AuditState {
        AuditState::from([(
            "permissions".to_owned(),
            AuditValue::List(
                self.permissions
                    .iter()
                    .map(|p| p.as_str().to_owned())
                    .collect(),
            ),
        )])
    }

    /// Whether this role grants nothing `holder` lacks.
    pub fn within(&self, holder: &[Permission]) -> bool {
        self.permissions.iter().all(|p| holder.contains(p))
    }
}

/// The four default roles, owner first.
pub fn default_roles() -> Vec<Role> {
    [
        RoleName::OWNER,
        RoleName::ADMIN,
        RoleName::MEMBER,
        RoleName::VIEWER,
    ]
    .into_iter()
    .map(|n| {
        Role::new(
            RoleName::new(n),
            default_role(n).unwrap_or_default().iter().copied(),
        )
    })
    .collect()
}

/// Every role of one tenant: the defaults, then its custom roles by name.
#[derive(Debug, Clone)]
pub struct RoleBook(Vec<Role>);

impl RoleBook {
    pub fn new(mut custom: Vec<Role>) -> Self {
        custom.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        let mut roles = default_roles();
        roles.extend(custom.into_iter().filter(|r| !r.builtin));
        Self(roles)
    }

    pub fn get(&self, name: &str) -> Option<&Role> {
        self.0.iter().find(|r| r.name.as_str() == name)
    }

    /// What the context's member may do; nothing for other principals.
    pub fn permissions_of(&self, ctx: &TenantContext) -> &[Permission] {
        ctx.role()
            .and_then(|r| self.get(r.as_str()))
            .map_or(&[], |r| &r.permissions)
    }

    pub fn into_vec(self) -> Vec<Role> {
        self.0
    }
}

/// Decides whether the context's principal holds a permission in its tenant.
#[async_trait::async_trait]
pub trait Authorizer: Send + Sync {
    async fn allowed(&self, ctx: &TenantContext, permission: Permission) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_round_trip_their_names() {
        for &p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::parse("project:delete"), None);
    }

    #[test]
    fn each_default_role_is_a_subset_of_the_one_above() {
        let chain = ["viewer", "member", "admin", "owner"];
        for w in chain.windows(2) {
            let (lower, upper) = (default_role(w[0]).unwrap(), default_role(w[1]).unwrap());
            assert!(
                lower.iter().all(|p| upper.contains(p)),
                "{} ⊄ {}",
                w[0],
                w[1]
            );
        }
        assert!(
            !default_role("admin")
                .unwrap()
                .contains(&Permission::TenantManage)
        );
    }
}
