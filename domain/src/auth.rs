//! Sign-up, sign-in and tenant switching: the use cases that turn credentials
//! into a token for exactly one tenant, and a token back into a [`TenantContext`].

use crate::budgets::{Budgets, spend, spend_in_order};
use crate::error::{Entity, Error, FieldError, Result};
use crate::external::ExternalProvider;
use crate::identity::{AccessClaims, IssuedToken, RefreshToken, RoleName, Tenant, User};
use crate::ids::{SessionId, TenantId, UserId};
use crate::ports::{
    IdentityStore, NewAccount, NewTenant, PasswordHasher, RevocationList, SessionStore,
    TenantChange, TokenService,
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
    /// Must be the deployment's default when given: anyone may sign up, and
    /// no one unauthenticated may make the server run DDL by asking.
    pub isolation: Option<Isolation>,
}

/// Raw tenant-creation input.
#[derive(Debug, Clone)]
pub struct TenantInput {
    pub name: String,
    pub slug: String,
    /// The deployment's default when absent.
    pub isolation: Option<Isolation>,
}

/// What users may create for themselves. Other strategies come from the
/// CLI, the fixture endpoint or an operator, which do not go through here.
#[derive(Debug, Clone)]
pub struct TenantPolicy {
    /// The deployment's default: every sign-up's tenant, and `createTenant`'s
    /// when it names none.
    pub default: Isolation,
    /// Strategies `createTenant` may name besides the default.
    pub choosable: Vec<Isolation>,
    /// Tenants one user may own at once, the sign-up's included.
    pub max_owned: u32,
    /// The plans tenants are held to.
    pub plans: std::sync::Arc<crate::plan::Plans>,
    /// How long a deleted tenant can be restored before it is purged.
    pub deletion_grace: chrono::Duration,
}

impl TenantPolicy {
    /// Only the default, and a handful of tenants per user.
    #[must_use]
    pub fn only(default: Isolation) -> Self {
        Self {
            default,
            choosable: Vec::new(),
            max_owned: 5,
            plans: std::sync::Arc::new(crate::plan::Plans::single(crate::plan::Limits::UNLIMITED)),
            deletion_grace: chrono::Duration::days(30),
        }
    }

    fn isolation(
        &self,
        requested: Option<Isolation>,
        choice_allowed: bool,
    ) -> std::result::Result<Isolation, FieldError> {
        match requested {
            None => Ok(self.default),
            Some(i) if i == self.default => Ok(i),
            Some(i) if choice_allowed && self.choosable.contains(&i) => Ok(i),
            Some(_) if !choice_allowed => Err(FieldError::new(
                "isolation",
                "sign-up uses the deployment's default isolation; choose another with createTenant",
            )),
            Some(_) => Err(FieldError::new(
                "isolation",
                "this deployment does not let users choose this isolation; an operator can move the tenant",
            )),
        }
    }
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

pub(crate) const SESSION_ENDED: &str = "this session has ended; sign in again";

/// The authentication use cases over their ports.
pub struct Auth<'a> {
    pub identity: &'a dyn IdentityStore,
    pub hasher: &'a dyn PasswordHasher,
    pub tokens: &'a dyn TokenService,
    pub sessions: &'a dyn SessionStore,
    pub revocations: &'a dyn RevocationList,
    pub policy: SessionPolicy,
    pub budgets: Budgets<'a>,
    pub tenants: &'a TenantPolicy,
    /// Also accept tokens of an external OpenID Connect provider.
    pub external: Option<ExternalProvider<'a>>,
}

/// The refusal at the owned-tenant cap, wherever it is found.
pub fn owned_cap(max: u32) -> Error {
    Error::Conflict {
        field: None,
        message: format!(
            "you own {max} tenants, the most one user may; delete one or ask an operator"
        ),
    }
}

/// The key of a client address's budgets; requests whose address is unknown share one.
fn client_key(client: Option<IpAddr>) -> String {
    client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

impl Auth<'_> {
    /// Creates a user, their first tenant and the owner membership, and signs them in.
    ///
    /// Everything that can refuse the request is asked before anything costly
    /// is done: the client's budget, the input, the email and the slug, then
    /// the password hash and the tenant's storage.
    ///
    /// # Errors
    /// [`Error::RateLimited`] past the client's sign-up budget;
    /// [`Error::Invalid`] naming every bad field; [`Error::Conflict`] on a taken
    /// email or slug; nothing is written in any case.
    pub async fn sign_up(&self, input: SignUpInput, client: Option<IpAddr>) -> Result<SignedIn> {
        spend(self.budgets.sign_up_per_client, &client_key(client)).await?;
        let (email, password, display_name, tenant_name, tenant_slug, isolation) = (
            Email::parse(&input.email).at("email"),
            Password::parse(&input.password).at("password"),
            DisplayName::parse(&input.display_name).at("displayName"),
            TenantName::parse(&input.tenant_name).at("tenantName"),
            TenantSlug::parse(&input.tenant_slug).at("tenantSlug"),
            self.tenants.isolation(input.isolation, false),
        )
            .all_valid()?;
        if self.identity.credentials(&email).await?.is_some() {
            return Err(Error::conflict(
                "email",
                "an account with this email exists; sign in instead",
            ));
        }
        self.slug_free(&tenant_slug, "tenantSlug").await?;
        let password_hash = self.hasher.hash(&password).await?;
        let account = NewAccount {
            email,
            password_hash,
            display_name,
            tenant: NewTenant {
                name: tenant_name,
                slug: tenant_slug,
                isolation,
                fixture: false,
            },
        };
        // The store's unique constraints still decide a race between two sign-ups.
        let (user, tenant) = self.identity.create_account(&account).await?;
        self.start_session(user, tenant).await
    }

    /// Renames the caller's tenant and/or changes its slug (owners: the
    /// guard asks for `tenant:manage`). Signing in by the old slug stops
    /// working at once; tokens name the tenant by id, so sessions go on.
    ///
    /// # Errors
    /// [`Error::Invalid`] on `name` or `slug` (every bad field at once), or
    /// on `input` when neither is given; [`Error::Conflict`] on `slug` when
    /// another tenant has it (the store's unique slug says so: nothing is
    /// provisioned here that a check up front would spare).
    pub async fn update_tenant(
        &self,
        ctx: &TenantContext,
        name: Option<&str>,
        slug: Option<&str>,
    ) -> Result<Tenant> {
        if ctx.user_id().is_none() {
            return Err(Error::Forbidden);
        }
        if name.is_none() && slug.is_none() {
            return Err(Error::invalid("input", "give a name, a slug or both"));
        }
        let (name, slug) = (
            name.map(TenantName::parse).transpose().at("name"),
            slug.map(TenantSlug::parse).transpose().at("slug"),
        )
            .all_valid()?;
        self.identity
            .update_tenant(ctx, &TenantChange { name, slug })
            .await
    }

    async fn slug_free(&self, slug: &TenantSlug, field: &str) -> Result<()> {
        match self.identity.tenant_by_slug(slug).await? {
            Some(_) => Err(Error::conflict(field, "this slug is taken")),
            None => Ok(()),
        }
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
        // Before anything else, keyed on the email as typed: a registered and
        // an unknown email are limited alike. The client's budget first: an
        // attempt it refuses does not spend the account's.
        let account_key = email.trim().to_lowercase();
        spend_in_order(&[
            (self.budgets.sign_in_per_client, &client_key(client)),
            (self.budgets.sign_in_per_account, &account_key),
        ])
        .await?;
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

    /// Creates a tenant owned by the acting user, within the tenant policy.
    ///
    /// # Errors
    /// [`Error::RateLimited`] past the user's creation budget; [`Error::Invalid`]
    /// for a bad name or slug or an isolation users may not choose;
    /// [`Error::Conflict`] for a taken slug, or when the user owns as many
    /// tenants as one may. Nothing is made in storage in any of these cases.
    pub async fn create_tenant(&self, owner: UserId, input: TenantInput) -> Result<Tenant> {
        spend(
            self.budgets.tenant_creation_per_user,
            &owner.as_uuid().to_string(),
        )
        .await?;
        let (name, slug, isolation) = (
            TenantName::parse(&input.name).at("name"),
            TenantSlug::parse(&input.slug).at("slug"),
            self.tenants.isolation(input.isolation, true),
        )
            .all_valid()?;
        let owned = self
            .identity
            .memberships_of(owner)
            .await?
            .iter()
            .filter(|(m, _)| m.role.as_str() == RoleName::OWNER)
            .count();
        // Refused here before any storage is made; the store counts again
        // in its transaction, where concurrent creations take turns.
        if owned >= usize::try_from(self.tenants.max_owned).unwrap_or(usize::MAX) {
            return Err(owned_cap(self.tenants.max_owned));
        }
        self.slug_free(&slug, "slug").await?;
        self.identity
            .create_tenant_within(
                owner,
                &NewTenant {
                    name,
                    slug,
                    isolation,
                    fixture: false,
                },
                self.tenants.max_owned,
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
        TenantContext::for_member(&claims, &membership, &self.tenants.plans)
    }

    /// The user a token was issued to, whatever its tenant: for the operator
    /// endpoint, where the user, not the tenant, is what is checked.
    ///
    /// # Errors
    /// `Unauthenticated` when it does not stand (expired, revoked);
    /// `Unexpected` when that cannot be told (storage down).
    pub async fn signed_in_user(&self, token: &str) -> Result<UserId> {
        let claims = self.live_claims(token).await?;
        // An impersonation token is the member's in one tenant, never the
        // user's elsewhere (an operator impersonating an operator, say).
        if claims.actor.is_some() {
            return Err(Error::Unauthenticated(
                "an impersonation token is for the tenant endpoint only",
            ));
        }
        Ok(claims.user_id)
    }

    async fn live_claims(&self, token: &str) -> Result<AccessClaims> {
        let claims = match (self.tokens.verify(token), self.external) {
            (Ok(claims), _) => claims,
            // Its sign-out is recorded against its subject, and checked there.
            (Err(_), Some(provider)) => return self.external_claims(provider, token).await,
            (Err(e), None) => return Err(e),
        };
        let revoked = match self.revocations.is_revoked(claims.session_id).await {
            Ok(revoked) => revoked,
            // The shared list is unreachable: the database still knows.
            Err(_) => !self.sessions.is_active(claims.session_id).await?,
        };
        if revoked {
            return Err(Error::Unauthenticated(SESSION_ENDED));
        }
        Ok(claims)
    }
}
