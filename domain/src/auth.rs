//! Sign-up, sign-in and tenant switching: the use cases that turn credentials
//! into a token for exactly one tenant, and a token back into a [`TenantContext`].

use crate::error::{Entity, Error, Result};
use crate::identity::{IssuedToken, Tenant, User};
use crate::ids::{SessionId, TenantId, UserId};
use crate::ports::{IdentityStore, NewAccount, NewTenant, PasswordHasher, TokenService};
use crate::tenancy::{Isolation, TenantContext};
use crate::validate::{AllValid, AtField};
use crate::values::{DisplayName, Email, Password, TenantName, TenantSlug};

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
}

/// One message for every sign-in failure, so the answer never tells whether an
/// email is registered or which part was wrong.
const BAD_CREDENTIALS: &str = "invalid email, password or tenant";

/// The authentication use cases over their ports.
pub struct Auth<'a> {
    pub identity: &'a dyn IdentityStore,
    pub hasher: &'a dyn PasswordHasher,
    pub tokens: &'a dyn TokenService,
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
            },
        };
        let (user, tenant) = self.identity.create_account(&account).await?;
        self.start_session(user, tenant).await
    }

    /// Signs in to the tenant named by `tenant_slug`, or to the user's first tenant.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] with the same message for an unknown email, a
    /// wrong password, or a tenant the user does not belong to.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        tenant_slug: Option<&str>,
    ) -> Result<SignedIn> {
        let bad = || Error::Unauthenticated(BAD_CREDENTIALS);
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
                },
            )
            .await
    }

    /// Turns a bearer token into the request's tenant binding: the token must
    /// verify and its user must still be a member of its tenant.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] for a bad token or a membership that is gone.
    pub async fn authenticate(&self, token: &str) -> Result<TenantContext> {
        let claims = self.tokens.verify(token)?;
        let membership = self
            .identity
            .membership(claims.user_id, claims.tenant_id)
            .await?
            .ok_or(Error::Unauthenticated("not a member of this tenant"))?;
        TenantContext::for_member(&claims, &membership)
    }

    async fn start_session(&self, user: User, tenant: Tenant) -> Result<SignedIn> {
        let session_id = self.identity.open_session(user.id, tenant.id).await?;
        let access = self.tokens.issue(user.id, tenant.id, session_id)?;
        Ok(SignedIn {
            user,
            tenant,
            session_id,
            access,
        })
    }
}
