//! The audit log: who changed which member, role or policy, when, and what it
//! was before and after. Written in the transaction of the change it records.

use crate::ids::{TenantId, UserId};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    MemberAdded,
    MemberRoleChanged,
    MemberRemoved,
    MemberLeft,
    RoleCreated,
    RoleUpdated,
    RoleDeleted,
    TenantDeleted,
    TenantMoved,
    /// An operator asked for the tenant to be moved (it moves as a job).
    TenantMoveRequested,
    TenantUpdated,
    /// An operator changed the tenant's standing (suspended, read-only, resumed).
    TenantStanding,
    /// An operator gave the tenant another plan.
    TenantPlan,
    /// An operator turned one of the tenant's own feature flags on or off.
    TenantFeature,
    /// An owner or an operator deleted the tenant; it is purged after its
    /// grace period unless restored.
    TenantDeletionScheduled,
    /// An owner asked for a custom domain.
    TenantDomainAdded,
    /// An operator approved a custom domain: requests to it are the tenant's.
    TenantDomainApproved,
    TenantDomainRemoved,
    /// An operator obtained a token to act as a member.
    ImpersonationStarted,
    /// A request made with such a token.
    ImpersonatedRequest,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MemberAdded => "member.added",
            Self::MemberRoleChanged => "member.role_changed",
            Self::MemberRemoved => "member.removed",
            Self::MemberLeft => "member.left",
            Self::RoleCreated => "role.created",
            Self::RoleUpdated => "role.updated",
            Self::RoleDeleted => "role.deleted",
            Self::TenantDeleted => "tenant.deleted",
            Self::TenantMoved => "tenant.moved",
            Self::TenantMoveRequested => "tenant.move_requested",
            Self::TenantUpdated => "tenant.updated",
            Self::TenantStanding => "tenant.standing_changed",
            Self::TenantPlan => "tenant.plan_changed",
            Self::TenantFeature => "tenant.feature_changed",
            Self::TenantDeletionScheduled => "tenant.deletion_scheduled",
            Self::TenantDomainAdded => "tenant.domain_added",
            Self::TenantDomainApproved => "tenant.domain_approved",
            Self::TenantDomainRemoved => "tenant.domain_removed",
            Self::ImpersonationStarted => "impersonation.started",
            Self::ImpersonatedRequest => "impersonation.request",
        }
    }
}

/// One value of a recorded state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditValue {
    Text(String),
    List(Vec<String>),
}

/// A state as named values, e.g. `{"role": "admin"}`.
pub type AuditState = BTreeMap<String, AuditValue>;

/// One-value state: `state("role", "admin")`.
pub fn state(key: &str, value: impl Into<String>) -> AuditState {
    BTreeMap::from([(key.to_owned(), AuditValue::Text(value.into()))])
}

/// What a change records; the store adds who, where and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub action: AuditAction,
    /// What was changed: `user:<id>` or `role:<name>`.
    pub target: String,
    pub before: Option<AuditState>,
    pub after: Option<AuditState>,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Time-ordered (UUID v7): newest first is descending id.
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// None for changes made by the system (fixtures, invitations).
    pub actor_id: Option<UserId>,
    pub action: String,
    pub target: String,
    pub before: Option<AuditState>,
    pub after: Option<AuditState>,
    pub at: DateTime<Utc>,
}
