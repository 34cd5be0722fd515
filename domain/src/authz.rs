//! Permissions and roles. Every operation of the API declares the permission
//! it needs; a role is a set of permissions within a tenant.

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
}

impl Permission {
    pub const ALL: [Permission; 10] = [
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
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The permissions of the four roles every tenant has. Defined once, for all
/// tenants.
pub fn default_role(role: &str) -> Option<&'static [Permission]> {
    use Permission as P;
    const OWNER: &[Permission] = &Permission::ALL;
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
    ];
    const MEMBER: &[Permission] = &[
        P::ProjectRead,
        P::ProjectWrite,
        P::TaskRead,
        P::TaskWrite,
        P::MemberRead,
    ];
    const VIEWER: &[Permission] = &[P::ProjectRead, P::TaskRead, P::MemberRead];
    match role {
        RoleName::OWNER => Some(OWNER),
        RoleName::ADMIN => Some(ADMIN),
        RoleName::MEMBER => Some(MEMBER),
        RoleName::VIEWER => Some(VIEWER),
        _ => None,
    }
}

/// Decides whether the context's principal holds a permission in its tenant.
pub trait Authorizer: Send + Sync {
    fn allowed(&self, ctx: &TenantContext, permission: Permission) -> bool;
}

/// The four default roles only. Custom roles need a policy store.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultRoles;

impl Authorizer for DefaultRoles {
    fn allowed(&self, ctx: &TenantContext, permission: Permission) -> bool {
        ctx.role()
            .and_then(|r| default_role(r.as_str()))
            .is_some_and(|ps| ps.contains(&permission))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_round_trip_their_names() {
        for p in Permission::ALL {
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
