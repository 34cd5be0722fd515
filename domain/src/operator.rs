//! The operator plane: people who run the SaaS, outside every tenant. The
//! role is granted from the command line only (`tenantry operators add`),
//! never by a tenant's owner; operators sign in like anyone and use their
//! access token on their own endpoint (`/admin/graphql`), where the user, not
//! the token's tenant, is checked against the operator list on every request.

use crate::audit::AuditRecord;
use crate::auth::Auth;
use crate::error::{Error, Result};
use crate::identity::{Standing, Tenant, User};
use crate::ids::{TenantId, UserId};
use crate::page::Page;
use crate::plan::{Feature, PlanName};
use crate::values::{Email, SearchTerm, TenantSlug};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A request of a signed-in operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatorContext {
    pub user_id: UserId,
}

/// A tenant as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSummary {
    pub tenant: Tenant,
    /// The database server of a database tenant.
    pub placement: Option<String>,
    pub members: u64,
}

/// A change of what a tenant is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermsChange {
    Plan(PlanName),
    /// One of its own feature flags, on or off.
    Feature(Feature, bool),
}

/// The operator list and the directory of tenants as operators use it.
///
/// # Errors (every method)
/// [`crate::Error::Unexpected`] for storage failures.
#[async_trait]
pub trait Operators: Send + Sync {
    async fn is_operator(&self, user: UserId) -> Result<bool>;
    /// # Errors
    /// `NotFound(User)` for an unknown email.
    async fn grant(&self, email: &Email) -> Result<User>;
    /// Whether the user was an operator.
    async fn revoke(&self, email: &Email) -> Result<bool>;
    async fn operators(&self) -> Result<Vec<(User, DateTime<Utc>)>>;
    /// Tenants by slug, after `after`, whose slug or name contains `search`.
    async fn tenants(
        &self,
        search: Option<&SearchTerm>,
        after: Option<&TenantSlug>,
        first: u64,
    ) -> Result<Page<TenantSummary>>;
    /// # Errors
    /// `NotFound(Tenant)`.
    async fn tenant(&self, id: TenantId) -> Result<TenantSummary>;
    /// Changes the tenant's standing, writes it to the tenant's audit log with
    /// the operator as actor, and tells every node (the change feed), in one
    /// transaction. `reason` is recorded with it.
    async fn set_standing(
        &self,
        operator: &OperatorContext,
        tenant: TenantId,
        standing: Standing,
        reason: Option<&str>,
    ) -> Result<TenantSummary>;
    /// Changes the tenant's plan or one of its feature flags, audited and
    /// told to every node like a standing change.
    ///
    /// # Errors
    /// `Invalid` on `feature` past [`crate::plan::MAX_OWN_FEATURES`].
    async fn change_terms(
        &self,
        operator: &OperatorContext,
        tenant: TenantId,
        change: &TermsChange,
        reason: Option<&str>,
    ) -> Result<TenantSummary>;
    /// Marks the tenant deleted, to be purged after `purge_after`; audited
    /// with `actor` (an owner or an operator) and told to every node, like a
    /// standing change.
    ///
    /// # Errors
    /// `CONFLICT` when it is deleted already.
    async fn schedule_deletion(
        &self,
        actor: UserId,
        tenant: TenantId,
        purge_after: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Result<TenantSummary>;
    /// Writes an entry to the tenant's audit log, with `actor` (an operator).
    async fn record(&self, tenant: TenantId, actor: UserId, record: &AuditRecord) -> Result<()>;
    /// Deleted tenants whose grace period ended before `now`.
    async fn due_for_purge(&self, now: DateTime<Utc>) -> Result<Vec<Tenant>>;
}

/// A reason as recorded: trimmed, none when empty.
///
/// # Errors
/// `BAD_USER_INPUT` on `reason` over 500 characters.
pub(crate) fn recorded_reason(reason: Option<&str>) -> Result<Option<&str>> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > 500) {
        return Err(Error::invalid("reason", "must be at most 500 characters"));
    }
    Ok(reason)
}

/// The operator use cases.
pub struct Operations<'a> {
    pub auth: Auth<'a>,
    pub operators: &'a dyn Operators,
}

impl Operations<'_> {
    /// # Errors
    /// `Unauthenticated` for a token that does not stand; `Forbidden` for a
    /// user who is not an operator.
    pub async fn authenticate(&self, token: &str) -> Result<OperatorContext> {
        let user_id = self.auth.signed_in_user(token).await?;
        if !self.operators.is_operator(user_id).await? {
            return Err(Error::Forbidden);
        }
        Ok(OperatorContext { user_id })
    }

    pub async fn tenants(
        &self,
        search: Option<&SearchTerm>,
        after: Option<&TenantSlug>,
        first: u64,
    ) -> Result<Page<TenantSummary>> {
        self.operators.tenants(search, after, first).await
    }

    pub async fn tenant(&self, id: TenantId) -> Result<TenantSummary> {
        self.operators.tenant(id).await
    }

    /// # Errors
    /// `BAD_USER_INPUT` for a reason over 500 characters.
    pub async fn set_standing(
        &self,
        operator: &OperatorContext,
        tenant: TenantId,
        standing: Standing,
        reason: Option<&str>,
    ) -> Result<TenantSummary> {
        self.operators
            .set_standing(operator, tenant, standing, recorded_reason(reason)?)
            .await
    }

    /// # Errors
    /// `BAD_USER_INPUT` on `plan` for a name the catalog does not have, or
    /// on `reason`.
    pub async fn set_plan(
        &self,
        operator: &OperatorContext,
        tenant: TenantId,
        plan: &str,
        why: Option<&str>,
    ) -> Result<TenantSummary> {
        let plan = self.auth.tenants.plans.named(plan)?.name.clone();
        let why = recorded_reason(why)?;
        self.operators
            .change_terms(operator, tenant, &TermsChange::Plan(plan), why)
            .await
    }

    /// # Errors
    /// `BAD_USER_INPUT` on `feature` for a bad name, or on `reason`.
    pub async fn set_feature(
        &self,
        operator: &OperatorContext,
        tenant: TenantId,
        feature: &str,
        on: bool,
        why: Option<&str>,
    ) -> Result<TenantSummary> {
        let change = TermsChange::Feature(Feature::parse(feature)?, on);
        let why = recorded_reason(why)?;
        self.operators
            .change_terms(operator, tenant, &change, why)
            .await
    }
}
