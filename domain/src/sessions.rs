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
                let Some(membership) = self.identity.membership(user, tenant).await? else {
                    self.end_sessions(&[session], "membership_ended").await?;
                    return Err(Error::Unauthenticated(BAD_REFRESH));
                };
                // The session stays: it works again once the tenant is resumed.
                if let Some(refused) = membership.standing.refusal() {
                    return Err(refused);
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
        if let Some(refused) = tenant.standing.refusal() {
            return Err(refused);
        }
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

/// Refresh rotation against in-memory ports: what the use case does with
/// each answer of the session store (whose adapter decides, atomically,
/// whether a token was current, used or unknown).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{SessionPolicy, TenantPolicy};
    use crate::budgets::Budgets;
    use crate::identity::{IssuedToken, Membership, RefreshToken, RoleName};
    use crate::ids::{TenantId, UserId};
    use crate::ports::{
        Accounts, Directory, Memberships, NewAccount, NewTenant, PasswordHasher, RateDecision,
        RateLimiter, RevocationList, SessionStore, TenantChange, TokenService,
    };
    use crate::tenancy::Isolation;
    use crate::values::{DisplayName, Email, TenantName, TenantSlug};
    use async_trait::async_trait;
    use chrono::DateTime;
    use futures::executor::block_on;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// One user in one tenant; `member` says whether they still belong to it.
    struct OneMember {
        user: User,
        tenant: Tenant,
        member: AtomicBool,
    }

    #[async_trait]
    impl Accounts for OneMember {
        async fn create_account(&self, _: &NewAccount) -> Result<(User, Tenant)> {
            unreachable!("not used by refresh")
        }
        async fn create_user(&self, _: &Email, _: &str, _: &DisplayName) -> Result<User> {
            unreachable!("not used by refresh")
        }
        async fn credentials(&self, _: &Email) -> Result<Option<(User, String)>> {
            unreachable!("not used by refresh")
        }
        async fn user(&self, _: UserId) -> Result<User> {
            Ok(self.user.clone())
        }
        async fn set_password_hash(&self, _: UserId, _: &str) -> Result<()> {
            unreachable!("not used by refresh")
        }
        async fn password_hash(&self, _: UserId) -> Result<String> {
            unreachable!("not used by refresh")
        }
        async fn delete_users_without_tenants(&self, _: &[UserId]) -> Result<u64> {
            unreachable!("not used by refresh")
        }
    }

    #[async_trait]
    impl Directory for OneMember {
        async fn create_tenant(&self, _: UserId, _: &NewTenant) -> Result<Tenant> {
            unreachable!("not used by refresh")
        }
        async fn tenant(&self, _: TenantId) -> Result<Tenant> {
            Ok(self.tenant.clone())
        }
        async fn tenant_by_slug(&self, _: &TenantSlug) -> Result<Option<Tenant>> {
            unreachable!("not used by refresh")
        }
        async fn delete_tenant(&self, _: TenantId) -> Result<bool> {
            unreachable!("not used by refresh")
        }
        async fn update_tenant(&self, _: &TenantContext, _: &TenantChange) -> Result<Tenant> {
            unreachable!("not used by refresh")
        }
        async fn create_tenant_within(&self, _: UserId, _: &NewTenant, _: u32) -> Result<Tenant> {
            unreachable!("not used by refresh")
        }
    }

    #[async_trait]
    impl Memberships for OneMember {
        async fn add_membership(&self, _: TenantId, _: UserId, _: &RoleName) -> Result<()> {
            unreachable!("not used by refresh")
        }
        async fn add_invited_membership(
            &self,
            _: TenantId,
            _: UserId,
            _: &RoleName,
            _: DateTime<Utc>,
        ) -> Result<bool> {
            unreachable!("not used by refresh")
        }
        async fn member_ids(&self, _: TenantId) -> Result<Vec<UserId>> {
            unreachable!("not used by refresh")
        }
        async fn set_membership_role(&self, _: TenantId, _: UserId, _: &RoleName) -> Result<()> {
            unreachable!("not used by refresh")
        }
        async fn membership(&self, user: UserId, tenant: TenantId) -> Result<Option<Membership>> {
            Ok(self.member.load(Ordering::SeqCst).then(|| Membership {
                user_id: user,
                tenant_id: tenant,
                isolation: Isolation::Row,
                role: RoleName::new(RoleName::MEMBER),
                standing: crate::identity::Standing::Active,
                terms: crate::plan::Terms::default(),
            }))
        }
        async fn memberships_of(&self, _: UserId) -> Result<Vec<(Membership, Tenant)>> {
            unreachable!("not used by refresh")
        }
        async fn members_by_ids(&self, _: &TenantContext, _: &[UserId]) -> Result<Vec<User>> {
            unreachable!("not used by refresh")
        }
    }

    /// Refresh tokens `r1`, `r2`, … stored as `hash:<token>`.
    #[derive(Default)]
    struct Tokens(AtomicUsize);

    impl TokenService for Tokens {
        fn issue(&self, _: UserId, _: TenantId, session: SessionId) -> Result<IssuedToken> {
            Ok(IssuedToken {
                token: format!("access-for-{session}"),
                expires_in_seconds: 900,
            })
        }
        fn issue_acting(
            &self,
            _: UserId,
            _: TenantId,
            _: SessionId,
            _: crate::identity::Actor,
            _: i64,
        ) -> Result<IssuedToken> {
            unreachable!("not used by refresh")
        }
        fn verify(&self, _: &str) -> Result<crate::identity::AccessClaims> {
            unreachable!("not used by refresh")
        }
        fn new_refresh_token(&self) -> (RefreshToken, String) {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 2;
            (RefreshToken(format!("r{n}")), format!("hash:r{n}"))
        }
        fn refresh_hash(&self, token: &str) -> String {
            format!("hash:{token}")
        }
    }

    /// One session, its tokens by hash (`true` once used), and the store's
    /// rule: a used token presented again ends the session.
    struct Sessions {
        session: SessionId,
        user: UserId,
        tenant: TenantId,
        tokens: Mutex<HashMap<String, bool>>,
        revoked: Mutex<Vec<String>>,
        rotations: AtomicUsize,
    }

    #[async_trait]
    impl SessionStore for Sessions {
        async fn open(
            &self,
            _: UserId,
            _: TenantId,
            _: DateTime<Utc>,
            _: &str,
        ) -> Result<SessionId> {
            unreachable!("not used by refresh")
        }
        async fn session_of(&self, hash: &str) -> Result<Option<SessionId>> {
            Ok(self
                .tokens
                .lock()
                .unwrap()
                .contains_key(hash)
                .then_some(self.session))
        }
        async fn rotate(&self, presented: &str, next: &str, _: DateTime<Utc>) -> Result<Rotation> {
            self.rotations.fetch_add(1, Ordering::SeqCst);
            if !self.revoked.lock().unwrap().is_empty() {
                return Ok(Rotation::Invalid);
            }
            let mut tokens = self.tokens.lock().unwrap();
            match tokens.get(presented).copied() {
                None => Ok(Rotation::Invalid),
                Some(true) => {
                    self.revoked.lock().unwrap().push("reused".into());
                    Ok(Rotation::Reused {
                        session: self.session,
                    })
                }
                Some(false) => {
                    tokens.insert(presented.to_owned(), true);
                    tokens.insert(next.to_owned(), false);
                    Ok(Rotation::Rotated {
                        session: self.session,
                        user: self.user,
                        tenant: self.tenant,
                    })
                }
            }
        }
        async fn revoke(&self, _: SessionId, reason: &str) -> Result<()> {
            self.revoked.lock().unwrap().push(reason.to_owned());
            Ok(())
        }
        async fn revoke_all(
            &self,
            _: UserId,
            _: Option<SessionId>,
            _: &str,
        ) -> Result<Vec<SessionId>> {
            unreachable!("not used by refresh")
        }
        async fn is_active(&self, _: SessionId) -> Result<bool> {
            Ok(self.revoked.lock().unwrap().is_empty())
        }
    }

    #[derive(Default)]
    struct Listed(Mutex<Vec<SessionId>>);

    #[async_trait]
    impl RevocationList for Listed {
        async fn revoke(&self, session: SessionId, _: std::time::Duration) -> Result<()> {
            self.0.lock().unwrap().push(session);
            Ok(())
        }
        async fn is_revoked(&self, session: SessionId) -> Result<bool> {
            Ok(self.0.lock().unwrap().contains(&session))
        }
    }

    struct NoHasher;

    #[async_trait]
    impl PasswordHasher for NoHasher {
        async fn hash(&self, _: &Password) -> Result<String> {
            unreachable!("not used by refresh")
        }
        async fn verify(&self, _: &str, _: Option<&str>) -> Result<bool> {
            unreachable!("not used by refresh")
        }
    }

    /// Allows everything until told to refuse.
    #[derive(Default)]
    struct Budget(AtomicBool);

    #[async_trait]
    impl RateLimiter for Budget {
        async fn check_n(&self, _: &str, _: u32) -> RateDecision {
            if self.0.load(Ordering::SeqCst) {
                RateDecision::Limited {
                    retry_after: std::time::Duration::from_secs(30),
                }
            } else {
                RateDecision::Allowed
            }
        }
    }

    struct World {
        directory: OneMember,
        tokens: Tokens,
        sessions: Sessions,
        listed: Listed,
        budget: Budget,
        policy: TenantPolicy,
    }

    impl World {
        /// A signed-in member whose current refresh token is `r1`.
        fn new() -> Self {
            let user = User {
                id: UserId::generate(),
                email: Email::parse("ada@example.test").unwrap(),
                display_name: DisplayName::parse("Ada").unwrap(),
                created_at: Utc::now(),
            };
            let tenant = Tenant {
                id: TenantId::generate(),
                slug: TenantSlug::parse("acme").unwrap(),
                name: TenantName::parse("Acme").unwrap(),
                isolation: Isolation::Row,
                created_at: Utc::now(),
                fixture: false,
                standing: crate::identity::Standing::Active,
                standing_since: None,
                purge_after: None,
                terms: crate::plan::Terms::default(),
            };
            Self {
                sessions: Sessions {
                    session: SessionId::generate(),
                    user: user.id,
                    tenant: tenant.id,
                    tokens: Mutex::new(HashMap::from([("hash:r1".to_owned(), false)])),
                    revoked: Mutex::default(),
                    rotations: AtomicUsize::new(0),
                },
                directory: OneMember {
                    user,
                    tenant,
                    member: AtomicBool::new(true),
                },
                tokens: Tokens::default(),
                listed: Listed::default(),
                budget: Budget::default(),
                policy: TenantPolicy::only(Isolation::Row),
            }
        }

        fn auth(&self) -> Auth<'_> {
            Auth {
                identity: &self.directory,
                hasher: &NoHasher,
                tokens: &self.tokens,
                sessions: &self.sessions,
                revocations: &self.listed,
                policy: SessionPolicy::default(),
                budgets: Budgets::all(&self.budget),
                tenants: &self.policy,
                external: None,
            }
        }

        fn ended(&self) -> bool {
            !self.sessions.revoked.lock().unwrap().is_empty()
                && self
                    .listed
                    .0
                    .lock()
                    .unwrap()
                    .contains(&self.sessions.session)
        }
    }

    #[test]
    fn a_refresh_hands_out_the_next_token_in_the_same_session() {
        let w = World::new();
        let signed = block_on(w.auth().refresh("r1")).unwrap();
        assert_eq!(signed.session_id, w.sessions.session);
        assert_eq!(signed.refresh.0, "r2");
        assert_eq!(
            signed.access.token,
            format!("access-for-{}", w.sessions.session)
        );
        // The next one works in turn; nothing was ended.
        assert_eq!(block_on(w.auth().refresh("r2")).unwrap().refresh.0, "r3");
        assert!(!w.ended());
    }

    #[test]
    fn a_used_token_presented_again_ends_the_session_for_everyone() {
        let w = World::new();
        let next = block_on(w.auth().refresh("r1")).unwrap().refresh;
        let replay = block_on(w.auth().refresh("r1")).unwrap_err();
        assert!(
            matches!(replay, Error::Unauthenticated(m) if m.contains("already used")),
            "{replay:?}"
        );
        // Its access tokens are refused from now on, and the thief's
        // successor token is worthless too.
        assert!(w.ended());
        assert!(matches!(
            block_on(w.auth().refresh(&next.0)),
            Err(Error::Unauthenticated(BAD_REFRESH))
        ));
    }

    #[test]
    fn an_unknown_token_is_refused_without_touching_the_session() {
        let w = World::new();
        assert!(matches!(
            block_on(w.auth().refresh("forged")),
            Err(Error::Unauthenticated(BAD_REFRESH))
        ));
        assert_eq!(w.sessions.rotations.load(Ordering::SeqCst), 0);
        assert!(!w.ended());
    }

    #[test]
    fn a_refused_budget_leaves_the_token_good_for_its_retry() {
        let w = World::new();
        w.budget.0.store(true, Ordering::SeqCst);
        assert!(matches!(
            block_on(w.auth().refresh("r1")),
            Err(Error::RateLimited { .. })
        ));
        assert_eq!(w.sessions.rotations.load(Ordering::SeqCst), 0);
        w.budget.0.store(false, Ordering::SeqCst);
        assert_eq!(block_on(w.auth().refresh("r1")).unwrap().refresh.0, "r2");
    }

    #[test]
    fn a_member_removed_since_gets_no_token_and_the_session_ends() {
        let w = World::new();
        w.directory.member.store(false, Ordering::SeqCst);
        assert!(matches!(
            block_on(w.auth().refresh("r1")),
            Err(Error::Unauthenticated(BAD_REFRESH))
        ));
        assert!(w.ended());
        assert_eq!(
            w.sessions.revoked.lock().unwrap().as_slice(),
            ["membership_ended"]
        );
    }
}
