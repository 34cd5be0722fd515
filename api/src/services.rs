//! The adapters behind the domain's ports, chosen once at start-up.

use domain::TenantContext;
use domain::access::Access;
use domain::auth::{Auth, SessionPolicy, SignInLimits};
use domain::authz::Authorizer;
use domain::external::ExternalProvider;
use domain::members::{InvitePolicy, Members};
use domain::ports::{
    AccessStore, ExternalIdentities, ExternalTokenVerifier, IdentityStore, Mailer, PasswordHasher,
    RateLimiter, RevocationList, SessionStore, Tenancy, TokenService,
};
use domain::webhook::{TargetPolicy, Webhooks};
use domain::work::Work;
use std::sync::Arc;

#[derive(Clone)]
pub struct Services {
    pub tenancy: Arc<dyn Tenancy>,
    pub identity: Arc<dyn IdentityStore>,
    pub access: Arc<dyn AccessStore>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn TokenService>,
    pub sessions: Arc<dyn SessionStore>,
    pub revocations: Arc<dyn RevocationList>,
    pub sign_in_per_account: Arc<dyn RateLimiter>,
    pub sign_in_per_client: Arc<dyn RateLimiter>,
    pub session_policy: SessionPolicy,
    pub mailer: Arc<dyn Mailer>,
    pub authorizer: Arc<dyn Authorizer>,
    /// Set when an external OpenID Connect provider is configured.
    pub external: Option<Arc<dyn ExternalTokenVerifier>>,
    /// Links from the provider's subjects to users.
    pub external_identities: Arc<dyn ExternalIdentities>,
    pub invite_policy: InvitePolicy,
    /// Which webhook targets are allowed (none private in production).
    pub webhook_targets: TargetPolicy,
    /// Task and project events for this node's subscribers.
    pub hub: Arc<infra::realtime::Hub>,
    /// Set when Redis is configured, for readiness checks.
    pub redis: Option<redis::aio::ConnectionManager>,
}

impl Services {
    pub fn auth(&self) -> Auth<'_> {
        Auth {
            identity: &*self.identity,
            hasher: &*self.hasher,
            tokens: &*self.tokens,
            sessions: &*self.sessions,
            revocations: &*self.revocations,
            policy: self.session_policy,
            limits: SignInLimits {
                per_account: &*self.sign_in_per_account,
                per_client: &*self.sign_in_per_client,
            },
            external: self.external.as_deref().map(|verifier| ExternalProvider {
                verifier,
                identities: &*self.external_identities,
            }),
        }
    }

    /// Invitations and members.
    pub fn members(&self) -> Members<'_> {
        Members {
            auth: self.auth(),
            tenancy: &*self.tenancy,
            access: &*self.access,
            mailer: &*self.mailer,
            policy: &self.invite_policy,
        }
    }

    /// Roles, member management and the audit log of the caller's tenant.
    pub fn access<'a>(&'a self, ctx: &'a TenantContext) -> Access<'a> {
        Access {
            store: &*self.access,
            ctx,
        }
    }

    /// Webhooks of the caller's tenant.
    pub fn webhooks<'a>(&'a self, ctx: &'a TenantContext) -> Webhooks<'a> {
        Webhooks {
            tenancy: &*self.tenancy,
            ctx,
            policy: self.webhook_targets,
        }
    }

    /// Project and task use cases, bound to the caller's tenant.
    pub fn work<'a>(&'a self, ctx: &'a TenantContext) -> Work<'a> {
        Work {
            tenancy: &*self.tenancy,
            identity: &*self.identity,
            ctx,
        }
    }
}
