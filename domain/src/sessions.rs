//! Session use cases: refresh rotation with theft detection, sign-out, password
//! change, and opening sessions.

use crate::auth::{Auth, BAD_REFRESH, SignedIn};
use crate::budgets::{spend, spend_in_order};
use crate::error::{Error, Result};
use crate::identity::{Tenant, User};
use crate::ids::SessionId;
use crate::ports::Rotation;
use crate::tenancy::TenantContext;
use crate::validate::AtField;
use crate::values::Password;
use chrono::{Duration, Utc};

impl Auth<'_> {
    /// Exchanges a refresh token for a new access and refresh token. A token
    /// that was already exchanged means it was stolen or replayed: the whole
    /// session is ended, for the thief and the owner alike.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] for an unknown, used, expired or revoked token,
    /// or when the user is no longer a member of the session's tenant.
    pub async fn refresh(&self, presented: &str) -> Result<SignedIn> {
        let presented = self.tokens.refresh_hash(presented);
        // The session's budget is spent before the token is: a refused
        // exchange leaves the client's token good for its retry.
        let session = self
            .sessions
            .session_of(&presented)
            .await?
            .ok_or(Error::Unauthenticated(BAD_REFRESH))?;
        spend(
            self.budgets.refresh_per_session,
            &session.as_uuid().to_string(),
        )
        .await?;
        let (next, next_hash) = self.tokens.new_refresh_token();
        let idle_since = Utc::now() - self.policy.idle;
        match self
            .sessions
            .rotate(&presented, &next_hash, idle_since)
            .await?
        {
            Rotation::Rotated {
                session,
                user,
                tenant,
            } => {
                if self.identity.membership(user, tenant).await?.is_none() {
                    self.end_sessions(&[session], "membership_ended").await?;
                    return Err(Error::Unauthenticated(BAD_REFRESH));
                }
                let access = self.tokens.issue(user, tenant, session)?;
                let user = self.identity.user(user).await?;
                let tenant = self.identity.tenant(tenant).await?;
                Ok(SignedIn {
                    user,
                    tenant,
                    session_id: session,
                    access,
                    refresh: next,
                })
            }
            Rotation::Reused { session } => {
                // The store revoked it in the same transaction; refuse its access tokens now too.
                self.list_revoked(session).await;
                Err(Error::Unauthenticated(
                    "this refresh token was already used; the session was ended",
                ))
            }
            Rotation::Invalid => Err(Error::Unauthenticated(BAD_REFRESH)),
        }
    }

    /// Ends the caller's session, or every session of the caller (with an
    /// external provider, every subject linked to them too).
    ///
    /// # Errors
    /// [`Error::Forbidden`] for a context that is not a signed-in user.
    pub async fn sign_out(&self, ctx: &TenantContext, all_sessions: bool) -> Result<()> {
        let (user, session) = ctx
            .user_id()
            .zip(ctx.session_id())
            .ok_or(Error::Forbidden)?;
        let external = ctx.external_session();
        if all_sessions {
            let ended = self.sessions.revoke_all(user, None, "sign_out_all").await?;
            self.end_sessions(&ended, "sign_out_all").await?;
            self.sign_out_external(user, external, true).await
        } else if external.is_some() {
            // A provider's session is not ours: its end is kept against its subject.
            self.sign_out_external(user, external, false).await
        } else {
            self.end_sessions(&[session], "sign_out").await
        }
    }

    /// Changes the caller's password after checking the current one, and ends
    /// every other session of theirs. Each attempt spends the user's
    /// password-change budget and then, like a sign-in, their account's
    /// sign-in budget: a stolen access token cannot guess the password faster
    /// than the sign-in form can.
    ///
    /// # Errors
    /// [`Error::RateLimited`] past either budget; [`Error::Invalid`] on
    /// `currentPassword` when it is wrong, on `newPassword` when it breaks the
    /// length rule.
    pub async fn change_password(
        &self,
        ctx: &TenantContext,
        current: &str,
        new: &str,
    ) -> Result<()> {
        let (user, session) = ctx
            .user_id()
            .zip(ctx.session_id())
            .ok_or(Error::Forbidden)?;
        let new = Password::parse(new).at("newPassword")?;
        let email = self.identity.user(user).await?.email;
        spend_in_order(&[
            (
                self.budgets.password_change_per_user,
                &user.as_uuid().to_string(),
            ),
            (self.budgets.sign_in_per_account, email.as_str()),
        ])
        .await?;
        let stored = self.identity.password_hash(user).await?;
        if !self.hasher.verify(current, Some(&stored)).await? {
            return Err(Error::invalid(
                "currentPassword",
                "is not your current password",
            ));
        }
        let hash = self.hasher.hash(&new).await?;
        self.identity.set_password_hash(user, &hash).await?;
        let ended = self
            .sessions
            .revoke_all(user, Some(session), "password_changed")
            .await?;
        self.end_sessions(&ended, "password_changed").await
    }

    pub(crate) async fn end_sessions(&self, sessions: &[SessionId], reason: &str) -> Result<()> {
        for s in sessions {
            self.sessions.revoke(*s, reason).await?;
            self.list_revoked(*s).await;
        }
        Ok(())
    }

    /// Puts a session on the revocation list. The database already says it is
    /// revoked, and `authenticate` asks the database whenever the list cannot
    /// answer, so a list that is down does not fail the sign-out (its adapter
    /// logs the failure).
    pub(crate) async fn list_revoked(&self, session: SessionId) {
        let _ = self
            .revocations
            .revoke(session, self.revocation_ttl())
            .await;
    }

    pub(crate) fn revocation_ttl(&self) -> std::time::Duration {
        // A little beyond the access token's life, to cover clock skew leeway.
        (self.policy.access_ttl + Duration::minutes(1))
            .to_std()
            .unwrap_or_default()
    }

    /// Opens a session for a user without a password. For test fixtures, which
    /// hand out ready tokens; no request path reaches it.
    ///
    /// # Errors
    /// When storing the session fails.
    pub async fn session_for_fixture(&self, user: User, tenant: Tenant) -> Result<SignedIn> {
        self.start_session(user, tenant).await
    }

    pub(crate) async fn start_session(&self, user: User, tenant: Tenant) -> Result<SignedIn> {
        let (refresh, hash) = self.tokens.new_refresh_token();
        let session_id = self
            .sessions
            .open(user.id, tenant.id, Utc::now() + self.policy.absolute, &hash)
            .await?;
        let access = self.tokens.issue(user.id, tenant.id, session_id)?;
        Ok(SignedIn {
            user,
            tenant,
            session_id,
            access,
            refresh,
        })
    }
}
