//! Impersonation for support: an operator obtains a short-lived access token
//! to act as a member of a tenant, read-only unless asked otherwise. The
//! token carries the operator as its actor (RFC 8693 `act`); starting one and
//! every request made with it are written to the tenant's audit log, with the
//! operator as actor, so the tenant's owners see that it happened.

use crate::audit::{AuditAction, AuditRecord, AuditValue, state};
use crate::auth::Auth;
use crate::error::{Entity, Error, Result};
use crate::identity::{Actor, IssuedToken};
use crate::operator::{OperatorContext, Operators};
use crate::tenancy::TenantContext;
use crate::{TenantId, UserId};
use chrono::{Duration, Utc};

/// An impersonation token and what it is for.
#[derive(Debug, Clone)]
pub struct Impersonation {
    pub access: IssuedToken,
    pub user: UserId,
    pub tenant: TenantId,
    pub writes: bool,
}

/// Impersonation use cases.
pub struct Impersonations<'a> {
    pub auth: Auth<'a>,
    pub operators: &'a dyn Operators,
    /// How long a token lives; there is no refresh.
    pub ttl: Duration,
}

impl Impersonations<'_> {
    /// # Errors
    /// `BAD_USER_INPUT` on `reason` (required, at most 500 characters);
    /// `NotFound(Membership)` when the user is not a member of the tenant;
    /// `TENANT_SUSPENDED`/`TENANT_DELETED` for a tenant out of service.
    pub async fn start(
        &self,
        op: &OperatorContext,
        tenant: TenantId,
        user: UserId,
        writes: bool,
        reason: &str,
    ) -> Result<Impersonation> {
        let reason = crate::operator::recorded_reason(Some(reason))?.ok_or_else(|| {
            Error::invalid("reason", "say why (a ticket, say): the owners will read it")
        })?;
        let member = self
            .auth
            .identity
            .membership(user, tenant)
            .await?
            .ok_or(Error::NotFound(Entity::Membership))?;
        // Operators act as themselves: one operator's rights never pass to another.
        if self.operators.is_operator(user).await? {
            return Err(Error::Forbidden);
        }
        if let Some(refused) = member.standing.refusal() {
            return Err(refused);
        }
        // A session of its own, so signing the user out everywhere (or its
        // revocation) ends it too; its refresh token is never handed out.
        let expires_at = Utc::now() + self.ttl;
        let (_, hash) = self.auth.tokens.new_refresh_token();
        let session = self
            .auth
            .sessions
            .open(user, tenant, expires_at, &hash)
            .await?;
        let actor = Actor {
            operator: op.user_id,
            writes,
        };
        let access =
            self.auth
                .tokens
                .issue_acting(user, tenant, session, actor, self.ttl.num_seconds())?;
        let mut after = state("writes", writes.to_string());
        after.insert("reason".to_owned(), AuditValue::Text(reason.to_owned()));
        after.insert(
            "expiresAt".to_owned(),
            AuditValue::Text(expires_at.to_rfc3339()),
        );
        let record = AuditRecord {
            action: AuditAction::ImpersonationStarted,
            target: format!("user:{user}"),
            before: None,
            after: Some(after),
        };
        self.operators.record(tenant, op.user_id, &record).await?;
        Ok(Impersonation {
            access,
            user,
            tenant,
            writes,
        })
    }
}

/// Why an impersonation token stopped working before its expiry.
pub const OPERATOR_GONE: &str = "the operator who started this impersonation is no longer one";

/// Writes one request made with an impersonation token to the tenant's
/// audit log: `operation` is its name, or its kind when it has none.
///
/// # Errors
/// `UNAUTHENTICATED` once its operator is no longer one: the token dies
/// with the role, not at its expiry. When the log cannot be written: the
/// request must then not run, since an impersonation nobody can see is what
/// this exists to prevent.
pub async fn record_request(
    operators: &dyn Operators,
    ctx: &TenantContext,
    operation: &str,
) -> Result<()> {
    let (Some(actor), Some(user)) = (ctx.actor(), ctx.user_id()) else {
        return Ok(());
    };
    if !operators.is_operator(actor.operator).await? {
        return Err(Error::Unauthenticated(OPERATOR_GONE));
    }
    let record = AuditRecord {
        action: AuditAction::ImpersonatedRequest,
        target: format!("user:{user}"),
        before: None,
        after: Some(state("operation", operation)),
    };
    operators
        .record(ctx.tenant_id(), actor.operator, &record)
        .await
}
