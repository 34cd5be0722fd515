//! Sign-up, sign-in and tenant switching: the use cases that turn credentials
//! into a token for exactly one tenant, and a token back into a [`TenantContext`].

use crate::error::{Entity, Error, Result};
use crate::identity::{AccessClaims, IssuedToken, RefreshToken, Tenant, User};
use crate::ids::{SessionId, TenantId, UserId};
use crate::ports::{
    ExternalTokenVerifier, IdentityStore, NewAccount, NewTenant, PasswordHasher, RateDecision,
    RateLimiter, RevocationList, SessionStore, TokenService,
};
use crate::tenancy::{Isolation, TenantContext};
use crate::validate::{AllValid, AtField};
use crate::values::{DisplayName, Email, Password, TenantName, TenantSlug};
use chrono::Duration;
use std::net::IpAddr;

/// Raw sign-up input, as typed by the user.
#[derive(Debug, Clone)]
pub struct SignUpInput {
    pub email: String,
    pub password: String,
    pub display_name: String,
    pub tenant_name: String,
    pub tenant_slug: String,
    pub isolation: Isolation,
}

/// Raw tenant-creation input.
#[derive(Debug, Clone)]
pub struct TenantInput {
    pub name: String,
    pub slug: String,
    pub isolation: Isolation,
}

/// A signed-in user bound to one tenant.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub tenant: Tenant,
    pub session_id: SessionId,
    pub access: IssuedToken,
    pub refresh: RefreshToken,
}

/// How long sessions and their tokens live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session ends this long after sign-in, however active.
    pub absolute: Duration,
    /// A session ends when not refreshed for this long.
    pub idle: Duration,
    /// Access tokens' lifetime: how long a revoked session stays on the revocation list.
    pub access_ttl: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            absolute: Duration::days(30),
            idle: Duration::days(7),
            access_ttl: Duration::minutes(15),
        }
    }
}

/// One message for every sign-in failure, so the answer never tells whether an
/// email is registered or which part was wrong.
const BAD_CREDENTIALS: &str = "invalid email, password or tenant";

pub(crate) const BAD_REFRESH: &str = "invalid or expired refresh token; sign in again";

/// The authentication use cases over their ports.
pub struct Auth<'a> {
    pub identity: &'a dyn IdentityStore,
    pub hasher: &'a dyn PasswordHasher,
    pub tokens: &'a dyn TokenService,
    pub sessions: &'a dyn SessionStore,
    pub revocations: &'a dyn RevocationList,
    pub policy: SessionPolicy,
    pub limits: SignInLimits<'a>,
    /// Also accept tokens of an external OpenID Connect provider.
    pub external: Option<&'a dyn ExternalTokenVerifier>,
}

/// Sign-in attempts allowed per account (the email as typed, whether or not it
/// is registered) and per client address.
#[derive(Clone, Copy)]
pub struct SignInLimits<'a> {
    pub per_account: &'a dyn RateLimiter,
    pub per_client: &'a dyn RateLimiter,
}

impl Auth<'_> {
    /// Creates a user, their first tenant and the owner membership, and signs them in.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming every bad field; [`Error::Conflict`] on a taken
    /// email or slug; nothing is written in either case.
    pub async fn sign_up(&self, input: SignUpInput) -> Result<SignedIn> {
        let (email, password, display_name, tenant_name, tenant_slug) = (
            Email::parse(&input.email).at("email"),
            Password::parse(&input.password).at("password"),
            DisplayName::parse(&input.display_name).at("displayName"),
            TenantName::parse(&input.tenant_name).at("tenantName"),
            TenantSlug::parse(&input.tenant_slug).at("tenantSlug"),
        )
            .all_valid()?;
        let password_hash = self.hasher.hash(&password).await?;
        let account = NewAccount {
            email,
            password_hash,
            display_name,
            tenant: NewTenant {
                name: tenant_name,
                slug: tenant_slug,
                isolation: input.isolation,
                fixture: false,
            },
        };
        let (user, tenant) = self.identity.create_account(&account).await?;
        self.start_session(user, tenant).await
    }

    /// Signs in to the tenant named by `tenant_slug`, or to the user's first tenant.
    ///
    /// # Errors
    /// [`Error::RateLimited`] past the per-account or per-client limit;
    /// [`Error::Unauthenticated`] with the same message for an unknown email, a
    /// wrong password, or a tenant the user does not belong to.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        tenant_slug: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<SignedIn> {
        let bad = || Error::Unauthenticated(BAD_CREDENTIALS);
        // Both limits are checked before anything else, keyed on the email as
        // typed: a registered and an unknown email are limited alike.
        let account_key = email.trim().to_lowercase();
        let client_key = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let (by_account, by_client) = (
            self.limits.per_account.check(&account_key).await,
            self.limits.per_client.check(&client_key).await,
        );
        let wait = [by_account, by_client]
            .iter()
            .filter_map(|d| match d {
                RateDecision::Limited { retry_after } => Some(*retry_after),
                RateDecision::Allowed => None,
            })
            .max();
        if let Some(wait) = wait {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(Error::RateLimited {
                retry_after_secs: secs.max(1),
            });
        }
        // Malformed input still costs a hash verification: no timing shortcut.
        let email = Email::parse(email).ok();
        let found = match &email {
            Some(e) => self.identity.credentials(e).await?,
            None => None,
        };
        let ok = self
            .hasher
            .verify(password, found.as_ref().map(|(_, h)| h.as_str()))
            .await?;
        let user = match found {
            Some((user, _)) if ok => user,
            _ => return Err(bad()),
        };
        let tenant = match tenant_slug {
            Some(slug) => {
                let slug = TenantSlug::parse(slug).map_err(|_| bad())?;
                let tenant = self.identity.tenant_by_slug(&slug).await?.ok_or_else(bad)?;
                self.identity
                    .membership(user.id, tenant.id)
                    .await?
                    .ok_or_else(bad)?;
                tenant
            }
            None => {
                self.identity
                    .memberships_of(user.id)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(bad)?
                    .1
            }
        };
        self.start_session(user, tenant).await
    }

    /// Issues a token for another tenant of the same user.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the user is not a member (existence is not disclosed).
    pub async fn switch_tenant(&self, ctx: &TenantContext, tenant: TenantId) -> Result<SignedIn> {
        let user_id = ctx.user_id().ok_or(Error::Forbidden)?;
        self.identity
            .membership(user_id, tenant)
            .await?
            .ok_or(Error::NotFound(Entity::Tenant))?;
        let user = self.identity.user(user_id).await?;
        let tenant = self.identity.tenant(tenant).await?;
        self.start_session(user, tenant).await
    }

    /// Creates a tenant owned by the acting user.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad name or slug, [`Error::Conflict`] for a taken slug.
    pub async fn create_tenant(&self, owner: UserId, input: TenantInput) -> Result<Tenant> {
        let (name, slug) = (
            TenantName::parse(&input.name).at("name"),
            TenantSlug::parse(&input.slug).at("slug"),
        )
            .all_valid()?;
        self.identity
            .create_tenant(
                owner,
                &NewTenant {
                    name,
                    slug,
                    isolation: input.isolation,
                    fixture: false,
                },
            )
            .await
    }

    /// Turns a bearer token into the request's tenant binding: the token must
    /// verify, its session must not be revoked, and its user must still be a
    /// member of its tenant. The store may answer that from a cache, which
    /// follows member and role changes as the authorization rules do.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] for a bad token, a revoked session or a membership that is gone.
    pub async fn authenticate(&self, token: &str) -> Result<TenantContext> {
        let claims = self.live_claims(token).await?;
        let membership = self
            .identity
            .membership(claims.user_id, claims.tenant_id)
            .await?
            .ok_or(Error::Unauthenticated("not a member of this tenant"))?;
        TenantContext::for_member(&claims, &membership)
    }

    /// Whether a token presented earlier still stands: not expired, its
    /// session not revoked. For long-lived connections, checked now and then
    /// without the membership lookup of [`Auth::authenticate`].
    ///
    /// # Errors
    /// `Unauthenticated` when it no longer stands; `Unexpected` when that
    /// cannot be told (storage down).
    pub async fn check_session(&self, token: &str) -> Result<()> {
        self.live_claims(token).await.map(|_| ())
    }

    async fn live_claims(&self, token: &str) -> Result<AccessClaims> {
        let claims = match (self.tokens.verify(token), self.external) {
            (Ok(claims), _) => claims,
            (Err(_), Some(external)) => self.external_claims(external, token).await?,
            (Err(e), None) => return Err(e),
        };
        let revoked = match self.revocations.is_revoked(claims.session_id).await {
            Ok(revoked) => revoked,
            // The shared list is unreachable: the database still knows.
            Err(_) => !self.sessions.is_active(claims.session_id).await?,
        };
        if revoked {
            return Err(Error::Unauthenticated(
                "this session has ended; sign in again",
            ));
        }
        Ok(claims)
    }

    /// A provider's token names a user by email and a tenant by a claim; both
    /// must exist here, and the membership is checked like any other.
    async fn external_claims(
        &self,
        external: &dyn ExternalTokenVerifier,
        token: &str,
    ) -> Result<AccessClaims> {
        let bad = || Error::Unauthenticated("invalid or expired access token");
        let c = external.verify(token).await?;
        let email = c
            .email
            .as_deref()
            .and_then(|e| Email::parse(e).ok())
            .ok_or_else(bad)?;
        let (user, _) = self.identity.credentials(&email).await?.ok_or_else(bad)?;
        let tenant_id = c.tenant_id.ok_or_else(bad)?;
        // No session of ours: a stable id per provider subject, so signing out
        // (the revocation list) still refuses this subject's tokens.
        let name = format!("{}|{}", c.issuer, c.subject);
        let session_id = SessionId::from_uuid(uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            name.as_bytes(),
        ));
        Ok(AccessClaims {
            user_id: user.id,
            tenant_id,
            session_id,
            expires_at: c.expires_at,
        })
    }
}
