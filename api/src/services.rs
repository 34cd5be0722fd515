//! The adapters behind the domain's ports, chosen once at start-up.

use domain::TenantContext;
use domain::auth::{Auth, SessionPolicy};
use domain::ports::{
    IdentityStore, PasswordHasher, RevocationList, SessionStore, Tenancy, TokenService,
};
use domain::work::Work;
use std::sync::Arc;

#[derive(Clone)]
pub struct Services {
    pub tenancy: Arc<dyn Tenancy>,
    pub identity: Arc<dyn IdentityStore>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn TokenService>,
    pub sessions: Arc<dyn SessionStore>,
    pub revocations: Arc<dyn RevocationList>,
    pub session_policy: SessionPolicy,
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
