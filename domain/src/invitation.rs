//! Invitations to join a tenant: a single-use token sent by email. An
//! invitation is stored first, then emailed; accepting it creates the user if
//! needed and the membership, and signs them in. An invitation can be
//! revoked, and removing a member voids theirs.

use crate::access::Access;
use crate::auth::{Auth, SignedIn};
use crate::authz::RoleBook;
use crate::budgets::spend;
use crate::error::{Entity, Error, Result};
use crate::identity::RoleName;
use crate::ids::{TenantId, UserId};
use crate::plan::room_for;
use crate::ports::{AccessStore, Mailer, Tenancy, TxMode};
use crate::tenancy::TenantContext;
use crate::validate::{AllValid, AtField, Invalid};
use crate::values::{DisplayName, Email, Password};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// What became of an invitation's email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailStatus {
    Pending,
    Sent,
    /// Every attempt failed; the invitation stands and can be sent again.
    Failed,
}

impl EmailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailStatus::Pending => "pending",
            EmailStatus::Sent => "sent",
            EmailStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(EmailStatus::Pending),
            "sent" => Some(EmailStatus::Sent),
            "failed" => Some(EmailStatus::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub email: Email,
    pub role: RoleName,
    pub invited_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub email_status: EmailStatus,
    pub email_attempts: i32,
}

/// An email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// What sending an email came to, after the adapter's retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent { attempts: u32 },
    Failed { attempts: u32, reason: String },
}

/// How invitations are made.
#[derive(Debug, Clone)]
pub struct InvitePolicy {
    pub ttl: Duration,
    /// The link in the email; the token is appended.
    pub accept_url: String,
}

/// When a failed invitation email is tried again.
#[derive(Debug, Clone, Copy)]
pub struct EmailRetry {
    /// Attempts (each of the mailer's own counted) after which it stays failed.
    pub max_attempts: i32,
    /// The first wait; each further one doubles.
    pub backoff: Duration,
}

impl EmailRetry {
    fn is_due(&self, i: &Invitation, now: chrono::DateTime<Utc>) -> bool {
        let wait = self.backoff
            * 2_i32.saturating_pow(u32::try_from(i.email_attempts.clamp(0, 20)).unwrap_or(20));
        i.email_status == EmailStatus::Failed
            && i.accepted_at.is_none()
            && i.expires_at > now
            && i.email_attempts < self.max_attempts
            && i.created_at + wait <= now
    }
}

/// Invitation use cases.
pub struct Invitations<'a> {
    pub auth: Auth<'a>,
    pub tenancy: &'a dyn Tenancy,
    pub access: &'a dyn AccessStore,
    pub mailer: &'a dyn Mailer,
    pub policy: &'a InvitePolicy,
}

const BAD_INVITATION: &str = "invalid, used or expired invitation";

/// Roles an invitation may grant: any role of the tenant whose permissions
/// the inviter holds too (so only owners invite owners).
fn invitable_role(raw: &str, book: &RoleBook, ctx: &TenantContext) -> Result<RoleName, Invalid> {
    let role = book
        .get(raw)
        .ok_or_else(|| Invalid::new("no such role in this tenant"))?;
    if role.within(book.permissions_of(ctx)) {
        Ok(role.name.clone())
    } else {
        Err(Invalid::new("this role has permissions you lack"))
    }
}

/// The tenant an invitation token names: `<tenant id>.<secret>`.
fn token_tenant(token: &str) -> Option<TenantId> {
    token.split_once('.').and_then(|(t, _)| t.parse().ok())
}

impl Invitations<'_> {
    /// Invites `email` with `role`. The invitation is committed before the
    /// email is sent, so a provider outage never loses it; the returned
    /// invitation says whether the email went out.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for a context without a member; [`Error::Invalid`]
    /// on `email` or `role`; [`Error::Conflict`] on `email` for a current member;
    /// [`Error::RateLimited`] past the tenant's invitation budget.
    pub async fn invite(&self, ctx: &TenantContext, email: &str, role: &str) -> Result<Invitation> {
        // Whether the caller may manage members at all is the API's guard's
        // call (`member:manage`); here only what the invitation itself grants.
        let inviter = ctx.user_id().ok_or(Error::Forbidden)?;
        // Each invitation is an email sent in the tenant's name.
        spend(
            self.auth.budgets.invitations_per_tenant,
            &ctx.tenant_id().as_uuid().to_string(),
        )
        .await?;
        let book = RoleBook::new(self.access.custom_roles(ctx).await?);
        let (email, role) = (
            Email::parse(email).at("email"),
            invitable_role(role, &book, ctx).at("role"),
        )
            .all_valid()?;
        if let Some((user, _)) = self.auth.identity.credentials(&email).await?
            && self
                .auth
                .identity
                .membership(user.id, ctx.tenant_id())
                .await?
                .is_some()
        {
            return Err(Error::conflict("email", "already a member of this tenant"));
        }
        let members = self.auth.identity.member_ids(ctx.tenant_id()).await?.len() as u64;
        let token = self.new_token(ctx.tenant_id());
        let now = Utc::now();
        let invitation = Invitation {
            id: Uuid::now_v7(),
            tenant_id: ctx.tenant_id(),
            email,
            role,
            invited_by: inviter,
            created_at: now,
            expires_at: now + self.policy.ttl,
            accepted_at: None,
            email_status: EmailStatus::Pending,
            email_attempts: 0,
        };
        let tx = self.tenancy.begin(ctx, TxMode::Write).await?;
        // Each pending invitation is a member to be: the plan counts it, and
        // invitations made at once take turns so none passes it.
        tx.lock_invitations().await?;
        let pending = tx
            .pending_invitations()
            .await?
            .iter()
            .filter(|i| i.expires_at > now)
            .count() as u64;
        room_for(
            "members",
            ctx.entitlements().limits.members,
            members + pending,
        )?;
        tx.create_invitation(&invitation, &self.auth.tokens.refresh_hash(&token))
            .await?;
        tx.commit().await?;
        self.email(ctx, invitation, &token).await
    }

    /// `<tenant id>.<secret>`: the tenant tells acceptance where to look.
    fn new_token(&self, tenant: TenantId) -> String {
        let (secret, _) = self.auth.tokens.new_refresh_token();
        format!("{}.{}", tenant.as_uuid().simple(), secret.0)
    }

    /// Sends the invitation's email with `token`'s link and records how it went.
    async fn email(
        &self,
        ctx: &TenantContext,
        mut invitation: Invitation,
        token: &str,
    ) -> Result<Invitation> {
        let tenant = self.auth.identity.tenant(ctx.tenant_id()).await?;
        let message = OutgoingEmail {
            to: invitation.email.as_str().to_owned(),
            subject: format!("You are invited to {}", tenant.name),
            text: format!(
                "You have been invited to join {} as {}.\n\nAccept: {}{}\n\nThe link expires on {}.",
                tenant.name,
                invitation.role,
                self.policy.accept_url,
                token,
                invitation.expires_at.format("%Y-%m-%d %H:%M UTC"),
            ),
        };
        let (status, attempts) = match self.mailer.send(&message).await {
            Delivery::Sent { attempts } => (EmailStatus::Sent, attempts),
            Delivery::Failed { attempts, .. } => (EmailStatus::Failed, attempts),
        };
        let attempts = invitation
            .email_attempts
            .saturating_add(i32::try_from(attempts).unwrap_or(i32::MAX));
        let tx = self.tenancy.begin(ctx, TxMode::Write).await?;
        tx.set_email_status(invitation.id, status, attempts).await?;
        tx.commit().await?;
        invitation.email_status = status;
        invitation.email_attempts = attempts;
        Ok(invitation)
    }

    /// Sends again the tenant's invitation emails that failed, once each is
    /// due (`retry.backoff` × 2^attempts after the invitation was made), until
    /// `retry.max_attempts` or its expiry. Each goes with a new link: the
    /// token is stored only hashed, and the failed email's never arrived.
    /// Returns how many were sent.
    ///
    /// # Errors
    /// Storage errors; a failed email is not one (it waits for its next turn).
    pub async fn retry_failed_emails(
        &self,
        ctx: &TenantContext,
        retry: &EmailRetry,
    ) -> Result<u64> {
        let now = Utc::now();
        let due: Vec<Invitation> = {
            let tx = self.tenancy.begin(ctx, TxMode::Read).await?;
            tx.pending_invitations().await?
        }
        .into_iter()
        .filter(|i| retry.is_due(i, now))
        .collect();
        let mut sent = 0;
        for invitation in due {
            let token = self.new_token(ctx.tenant_id());
            let tx = self.tenancy.begin(ctx, TxMode::Write).await?;
            // Accepted or revoked meanwhile: nothing to send.
            if !tx
                .reissue_invitation(invitation.id, &self.auth.tokens.refresh_hash(&token))
                .await?
            {
                continue;
            }
            tx.commit().await?;
            if self.email(ctx, invitation, &token).await?.email_status == EmailStatus::Sent {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Invitations of the caller's tenant not yet accepted.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn pending(&self, ctx: &TenantContext) -> Result<Vec<Invitation>> {
        let tx = self.tenancy.begin(ctx, TxMode::Read).await?;
        tx.pending_invitations().await
    }

    /// Revokes an invitation of the caller's tenant not yet accepted: its
    /// token then joins nobody. As with inviting, only someone holding every
    /// permission of its role may (so only owners revoke an owner's).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an id that is no pending invitation of this
    /// tenant; [`Error::Forbidden`] for a role with permissions the caller lacks.
    pub async fn revoke(&self, ctx: &TenantContext, id: Uuid) -> Result<()> {
        let book = RoleBook::new(self.access.custom_roles(ctx).await?);
        let tx = self.tenancy.begin(ctx, TxMode::Write).await?;
        let invitation = tx
            .pending_invitation(id)
            .await?
            .ok_or(Error::NotFound(Entity::Invitation))?;
        // A custom role deleted since grants nothing: anyone here may revoke it.
        if book
            .get(invitation.role.as_str())
            .is_some_and(|role| !role.within(book.permissions_of(ctx)))
        {
            return Err(Error::Forbidden);
        }
        if !tx.revoke_invitation(id).await? {
            return Err(Error::NotFound(Entity::Invitation));
        }
        tx.commit().await
    }

    /// Removes a member (see [`Access::remove_member`]) and voids their
    /// pending invitations to this tenant, so an unused one cannot bring them
    /// back. The removal's own transaction is what voids them: acceptance
    /// refuses an invitation made before the invitee's latest removal (see
    /// [`crate::ports::IdentityStore::add_invited_membership`]). The
    /// invitations, in the tenant plane, are then deleted so they leave the
    /// pending list; should that fail, the removal stands, the error is
    /// returned, and they stay listed but void.
    ///
    /// # Errors
    /// As [`Access::remove_member`]; storage errors.
    pub async fn remove_member(&self, ctx: &TenantContext, user: UserId) -> Result<()> {
        Access {
            store: self.access,
            ctx,
        }
        .remove_member(user)
        .await?;
        let email = self.auth.identity.user(user).await?.email;
        let tx = self.tenancy.begin(ctx, TxMode::Write).await?;
        tx.revoke_invitations_for(&email).await?;
        tx.commit().await
    }

    /// The caller leaves the tenant (see [`Access::leave`]); invitations to
    /// it still pending for their email are voided, as when removed.
    ///
    /// # Errors
    /// As [`Access::leave`].
    pub async fn leave(&self, ctx: &TenantContext) -> Result<()> {
        let user = ctx.user_id().ok_or(Error::Forbidden)?;
        Access {
            store: self.access,
            ctx,
        }
        .leave()
        .await?;
        let email = self.auth.identity.user(user).await?.email;
        let tx = self.tenancy.begin(ctx, TxMode::Write).await?;
        tx.revoke_invitations_for(&email).await?;
        tx.commit().await
    }

    /// Accepts an invitation: a new user sets their password here; an existing
    /// user proves it is them with theirs. Signs them in to the tenant.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] for an unknown, used, expired or revoked
    /// token (also one voided by removing its invitee since), or a wrong
    /// password for an existing account; [`Error::Invalid`] on `password` or
    /// `displayName` for a new account, or on `role` for a role deleted since.
    pub async fn accept(
        &self,
        token: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<SignedIn> {
        let bad = || Error::Unauthenticated(BAD_INVITATION);
        let tenant_id = token_tenant(token).ok_or_else(bad)?;
        let tenant = self
            .auth
            .identity
            .tenant(tenant_id)
            .await
            .map_err(|_| bad())?;
        // Nothing is made for a tenant out of service (no user, no member).
        if let Some(refused) = tenant.standing.refusal() {
            return Err(refused);
        }
        let ctx = TenantContext::for_invitation(tenant.id, tenant.isolation);
        let hash = self.auth.tokens.refresh_hash(token);
        let invitation = {
            let tx = self.tenancy.begin(&ctx, TxMode::Read).await?;
            tx.invitation_by_token(&hash).await?.ok_or_else(bad)?
        };
        if invitation.accepted_at.is_some() || invitation.expires_at <= Utc::now() {
            return Err(bad());
        }
        // Counted when it was made; checked again in case the plan shrank since.
        let max = self
            .auth
            .tenants
            .plans
            .entitlements(&tenant.terms)
            .limits
            .members;
        room_for(
            "members",
            max,
            self.auth.identity.member_ids(tenant.id).await?.len() as u64,
        )?;
        let user = match self.auth.identity.credentials(&invitation.email).await? {
            Some((user, hash)) => {
                // A password check like a sign-in's, on the same account budget.
                spend(self.auth.budgets.sign_in_per_account, user.email.as_str()).await?;
                if !self.auth.hasher.verify(password, Some(&hash)).await? {
                    return Err(Error::Unauthenticated(
                        "wrong password for the invited account",
                    ));
                }
                user
            }
            None => {
                let fallback = invitation
                    .email
                    .as_str()
                    .split('@')
                    .next()
                    .unwrap_or("New member")
                    .to_owned();
                let (password, name) = (
                    Password::parse(password).at("password"),
                    DisplayName::parse(display_name.unwrap_or(&fallback)).at("displayName"),
                )
                    .all_valid()?;
                let hash = self.auth.hasher.hash(&password).await?;
                self.auth
                    .identity
                    .create_user(&invitation.email, &hash, &name)
                    .await?
            }
        };
        // Claimed first, so a revocation racing this either wins (nothing to
        // claim) or finds it used. Then the control plane, never one inside the
        // other (on SQLite they share a file, and its single writer would wait
        // on itself).
        let tx = self.tenancy.begin(&ctx, TxMode::Write).await?;
        if !tx.accept_invitation(invitation.id).await? {
            return Err(bad());
        }
        tx.commit().await?;
        let joined = self
            .auth
            .identity
            .add_invited_membership(tenant_id, user.id, &invitation.role, invitation.created_at)
            .await;
        match joined {
            Ok(true) | Err(Error::Conflict { .. }) => {}
            // Voided by a removal since it was made: it stays used.
            Ok(false) => return Err(bad()),
            // Not joined (a role deleted since, or a failure): the invitation
            // stands for another try. Should giving it back fail too, it stays
            // used and a new one is needed; the first error is the one to report.
            Err(e) => {
                if let Ok(tx) = self.tenancy.begin(&ctx, TxMode::Write).await
                    && tx.release_invitation(invitation.id).await.is_ok()
                {
                    tx.commit().await.ok();
                }
                return Err(e);
            }
        }
        self.auth.start_session(user, tenant).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_email_is_due_after_a_doubling_wait_until_its_last_attempt() {
        let retry = EmailRetry {
            max_attempts: 6,
            backoff: Duration::seconds(30),
        };
        let made = Utc::now();
        let invitation = |status, attempts| Invitation {
            id: Uuid::now_v7(),
            tenant_id: TenantId::generate(),
            email: Email::parse("a@example.test").unwrap(),
            role: RoleName::new("member"),
            invited_by: UserId::generate(),
            created_at: made,
            expires_at: made + Duration::days(3),
            accepted_at: None,
            email_status: status,
            email_attempts: attempts,
        };
        let failed3 = invitation(EmailStatus::Failed, 3);
        // 30 s × 2^3 = 4 min after it was made.
        assert!(!retry.is_due(&failed3, made + Duration::seconds(239)));
        assert!(retry.is_due(&failed3, made + Duration::seconds(240)));
        let later = made + Duration::hours(1);
        assert!(!retry.is_due(&invitation(EmailStatus::Sent, 1), later));
        assert!(!retry.is_due(&invitation(EmailStatus::Failed, 6), later));
        assert!(!retry.is_due(&failed3, made + Duration::days(4)), "expired");
    }

    #[test]
    fn only_owners_invite_owners() {
        use crate::authz::{Permission, Role};
        let as_role = crate::tenancy::member_context;
        let book = RoleBook::new(vec![Role::new(
            RoleName::new("auditor"),
            [Permission::AuditRead],
        )]);
        let (owner, admin, member) = (as_role("owner"), as_role("admin"), as_role("member"));
        assert!(invitable_role("owner", &book, &owner).is_ok());
        assert!(invitable_role("owner", &book, &admin).is_err());
        assert!(invitable_role("viewer", &book, &admin).is_ok());
        assert!(invitable_role("auditor", &book, &admin).is_ok());
        assert!(invitable_role("auditor", &book, &member).is_err());
        assert!(invitable_role("superuser", &book, &owner).is_err());
    }

    #[test]
    fn a_token_names_its_tenant() {
        let t = TenantId::generate();
        assert_eq!(
            token_tenant(&format!("{}.secret", t.as_uuid().simple())),
            Some(t)
        );
        assert_eq!(token_tenant("garbage"), None);
    }
}
