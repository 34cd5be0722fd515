//! The tenant a request is bound to. Holding a [`TenantContext`] is the only way
//! to open a tenant-plane transaction ([`crate::ports::Tenancy::begin`]), so code
//! without one cannot reach tenant data: the compiler says so.

use crate::error::{Error, Result};
use crate::identity::{AccessClaims, ExternalSession, Membership, RoleName, Standing};
use crate::ids::{SessionId, TenantId, UserId};
use crate::plan::{Entitlements, Plans};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Where a tenant's rows live (see DESIGN.md, Tenancy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Isolation {
    /// Shared tables, filtered by `tenant_id` (plus row-level security on PostgreSQL).
    #[default]
    Row,
    /// A PostgreSQL schema per tenant.
    Schema,
    /// A database per tenant.
    Database,
}

impl Isolation {
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Row => "row",
            Isolation::Schema => "schema",
            Isolation::Database => "database",
        }
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Isolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "row" => Ok(Isolation::Row),
            "schema" => Ok(Isolation::Schema),
            "database" => Ok(Isolation::Database),
            other => Err(format!(
                "unknown isolation {other:?} (expected row, schema or database)"
            )),
        }
    }
}

/// Who is acting inside a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in member, from a verified access token.
    Member {
        user_id: UserId,
        session_id: SessionId,
        role: RoleName,
        /// Set when the token came from an external provider.
        external: Option<ExternalSession>,
    },
    /// The system itself: the CLI, seeding, background work. Never made from a request.
    System,
    /// Someone holding an invitation token of this tenant, not yet a member.
    /// Made only while accepting that invitation.
    Invitee,
}

/// A request's binding to one tenant. Fields are private: a context is made
/// from verified claims plus a live membership, or explicitly as the system.
///
/// Code outside this crate cannot conjure one from a client-supplied id:
///
/// ```compile_fail
/// # use domain::{Isolation, Principal, TenantContext, TenantId};
/// let forged = TenantContext {
///     tenant_id: TenantId::generate(),
///     isolation: Isolation::Row,
///     principal: Principal::System,
/// };
/// ```
///
/// and nothing reaches tenant data without one:
///
/// ```compile_fail
/// # async fn f(tenancy: &dyn domain::ports::Tenancy) {
/// let tx = tenancy.begin(domain::ports::TxMode::Read).await;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantContext {
    tenant_id: TenantId,
    isolation: Isolation,
    principal: Principal,
    /// The tenant is suspended for writes (see [`crate::identity::Standing`]).
    read_only: bool,
    /// Its plan's limits and features, with its own over them.
    entitlements: Arc<Entitlements>,
    /// The operator acting as the member, with an impersonation token.
    actor: Option<crate::identity::Actor>,
}

impl TenantContext {
    /// Binds verified token claims to the membership that was looked up for them.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] when the membership is not the one the claims
    /// name (another user or another tenant): a token is for one tenant only;
    /// [`Error::TenantSuspended`] when an operator suspended the tenant, and
    /// [`Error::TenantDeleted`] when it was deleted.
    pub fn for_member(
        claims: &AccessClaims,
        membership: &Membership,
        plans: &Plans,
    ) -> Result<Self> {
        if claims.user_id != membership.user_id || claims.tenant_id != membership.tenant_id {
            return Err(Error::Unauthenticated("token does not match a membership"));
        }
        if let Some(refused) = membership.standing.refusal() {
            return Err(refused);
        }
        Ok(Self {
            read_only: membership.standing == Standing::ReadOnly,
            entitlements: plans.entitlements(&membership.terms),
            actor: claims.actor,
            tenant_id: membership.tenant_id,
            isolation: membership.isolation,
            principal: Principal::Member {
                user_id: claims.user_id,
                session_id: claims.session_id,
                role: membership.role.clone(),
                external: claims.external.clone(),
            },
        })
    }

    /// A context for checking an invitation token that names this tenant; it
    /// reaches only what accepting the invitation needs.
    pub fn for_invitation(tenant_id: TenantId, isolation: Isolation) -> Self {
        Self {
            tenant_id,
            isolation,
            principal: Principal::Invitee,
            read_only: false,
            entitlements: Arc::new(Entitlements::unlimited()),
            actor: None,
        }
    }

    /// A context for work the system does itself (CLI, seeding, jobs).
    pub fn system(tenant_id: TenantId, isolation: Isolation) -> Self {
        Self {
            tenant_id,
            isolation,
            principal: Principal::System,
            read_only: false,
            entitlements: Arc::new(Entitlements::unlimited()),
            actor: None,
        }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }
    /// Writes are refused: an operator suspended the tenant for writes.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn isolation(&self) -> Isolation {
        self.isolation
    }
    /// The operator acting as this member (an impersonation token), if one is.
    pub fn actor(&self) -> Option<crate::identity::Actor> {
        self.actor
    }

    /// What the tenant's plan allows: its limits and features.
    pub fn entitlements(&self) -> &Entitlements {
        &self.entitlements
    }
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
    /// The session the acting user signed in with.
    pub fn session_id(&self) -> Option<SessionId> {
        match &self.principal {
            Principal::Member { session_id, .. } => Some(*session_id),
            Principal::System | Principal::Invitee => None,
        }
    }

    /// The external provider's session, when the token came from one.
    pub fn external_session(&self) -> Option<&ExternalSession> {
        match &self.principal {
            Principal::Member { external, .. } => external.as_ref(),
            Principal::System | Principal::Invitee => None,
        }
    }

    /// The acting user, if a person (not the system) is acting.
    pub fn user_id(&self) -> Option<UserId> {
        match &self.principal {
            Principal::Member { user_id, .. } => Some(*user_id),
            Principal::System | Principal::Invitee => None,
        }
    }
}

impl TenantContext {
    /// The acting member's role, if a member is acting.
    pub fn role(&self) -> Option<&RoleName> {
        match &self.principal {
            Principal::Member { role, .. } => Some(role),
            Principal::System | Principal::Invitee => None,
        }
    }
}

/// A signed-in member's context with `role`, in a fresh tenant (unit tests).
#[cfg(test)]
pub(crate) fn member_context(role: &str) -> TenantContext {
    use crate::identity::{AccessClaims, Membership, RoleName};
    use crate::ids::{SessionId, TenantId, UserId};
    let (user_id, tenant_id) = (UserId::generate(), TenantId::generate());
    let claims = AccessClaims {
        user_id,
        tenant_id,
        session_id: SessionId::generate(),
        expires_at: chrono::Utc::now(),
        external: None,
        actor: None,
    };
    let membership = Membership {
        user_id,
        tenant_id,
        isolation: crate::Isolation::Row,
        role: RoleName::new(role),
        standing: crate::identity::Standing::Active,
        terms: crate::plan::Terms::default(),
    };
    let plan = crate::plan::Plan {
        name: crate::plan::PlanName::parse("everything").unwrap(),
        limits: crate::plan::Limits::UNLIMITED,
        features: [crate::plan::Feature::parse(crate::access::CUSTOM_ROLES).unwrap()].into(),
    };
    let plans = crate::plan::Plans::new(plan.name.clone(), [plan]).unwrap();
    TenantContext::for_member(&claims, &membership, &plans).expect("a member of the claims' tenant")
}
