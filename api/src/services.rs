//! The adapters behind the domain's ports, chosen once at start-up.

use domain::TenantContext;
use domain::access::Access;
use domain::auth::{Auth, SessionPolicy, TenantPolicy};
use domain::authz::Authorizer;
use domain::budgets::Budgets;
use domain::external::ExternalProvider;
use domain::invitation::{Invitations, InvitePolicy};
use domain::operator::{Operations, Operators};
use domain::ports::{
    AccessStore, ExternalIdentities, ExternalTokenVerifier, IdentityStore, Mailer, PasswordHasher,
    RateLimiter, RevocationList, SessionStore, Tenancy, TokenService,
};
use domain::project::Projects;
use domain::task::Tasks;
use domain::webhook::{TargetPolicy, Webhooks};
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
    /// The revocation list's database side, with Redis: replayed by housekeeping.
    pub replays: Option<Arc<infra::revocations::DurableRevocations>>,
    pub budgets: Limiters,
    pub tenant_policy: TenantPolicy,
    pub session_policy: SessionPolicy,
    pub mailer: Arc<dyn Mailer>,
    pub authorizer: Arc<dyn Authorizer>,
    /// Set when an external OpenID Connect provider is configured.
    pub external: Option<Arc<dyn ExternalTokenVerifier>>,
    /// Links from the provider's subjects to users.
    pub external_identities: Arc<dyn ExternalIdentities>,
    /// Who may use `/admin/graphql`, and the tenant directory they see.
    pub operators: Arc<dyn Operators>,
    /// Tenants' custom domains.
    pub domains: Arc<dyn domain::hosts::TenantDomains>,
    /// Tenants' hourly request totals, for operators.
    pub request_counts: Arc<dyn domain::metering::RequestCounts>,
    /// The tenant a request's host names (`tenancy.base_domain`, custom domains).
    pub hosts: Arc<infra::hosts::HostResolver>,
    pub base_domain: Option<domain::hosts::Hostname>,
    /// How long an impersonation token lives.
    pub impersonation_ttl: chrono::Duration,
    pub invite_policy: InvitePolicy,
    /// Which webhook targets are allowed (none private in production).
    pub webhook_targets: TargetPolicy,
    /// Task and project events for this node's subscribers.
    pub hub: Arc<infra::realtime::Hub>,
    /// Tenant moves run as jobs, the storage's lifecycle that runs them, and
    /// the bell that wakes this node's worker when one is queued here.
    pub moves: Arc<dyn domain::moves::MoveQueue>,
    pub lifecycle: Arc<dyn domain::lifecycle::TenantLifecycle>,
    pub move_queued: Arc<tokio::sync::Notify>,
    /// Set when Redis is configured, for readiness checks.
    pub redis: Option<redis::aio::ConnectionManager>,
}

/// The limiters behind [`Budgets`].
#[derive(Clone)]
pub struct Limiters {
    pub sign_in_per_account: Arc<dyn RateLimiter>,
    pub sign_in_per_client: Arc<dyn RateLimiter>,
    pub sign_up_per_client: Arc<dyn RateLimiter>,
    pub password_change_per_user: Arc<dyn RateLimiter>,
    pub refresh_per_session: Arc<dyn RateLimiter>,
    pub tenant_creation_per_user: Arc<dyn RateLimiter>,
    pub invitations_per_tenant: Arc<dyn RateLimiter>,
}

impl Limiters {
    fn budgets(&self) -> Budgets<'_> {
        Budgets {
            sign_in_per_account: &*self.sign_in_per_account,
            sign_in_per_client: &*self.sign_in_per_client,
            sign_up_per_client: &*self.sign_up_per_client,
            password_change_per_user: &*self.password_change_per_user,
            refresh_per_session: &*self.refresh_per_session,
            tenant_creation_per_user: &*self.tenant_creation_per_user,
            invitations_per_tenant: &*self.invitations_per_tenant,
        }
    }
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
            budgets: self.budgets.budgets(),
            tenants: &self.tenant_policy,
            external: self.external.as_deref().map(|verifier| ExternalProvider {
                verifier,
                identities: &*self.external_identities,
            }),
        }
    }

    /// The operator plane's use cases.
    pub fn operations(&self) -> Operations<'_> {
        Operations {
            auth: self.auth(),
            operators: &*self.operators,
        }
    }

    /// Operators acting as members, for support.
    pub fn impersonations(&self) -> domain::impersonation::Impersonations<'_> {
        domain::impersonation::Impersonations {
            auth: self.auth(),
            operators: &*self.operators,
            ttl: self.impersonation_ttl,
        }
    }

    /// Custom domains: owners ask, operators approve.
    pub fn domains(&self) -> domain::hosts::Domains<'_> {
        domain::hosts::Domains {
            store: &*self.domains,
            base: self.base_domain.as_ref(),
        }
    }

    /// Moving tenants between strategies as jobs.
    pub fn moves(&self) -> domain::moves::Moves<'_> {
        domain::moves::Moves {
            operators: &*self.operators,
            queue: &*self.moves,
            lifecycle: &*self.lifecycle,
        }
    }

    /// Deleting a tenant with a grace period, by its owner or an operator.
    pub fn deletions(&self) -> domain::deletion::Deletions<'_> {
        domain::deletion::Deletions {
            operators: &*self.operators,
            directory: &*self.identity,
            grace: self.tenant_policy.deletion_grace,
        }
    }

    /// Invitation use cases (and removing a member, which voids theirs).
    pub fn invitations(&self) -> Invitations<'_> {
        Invitations {
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

    /// Project use cases, bound to the caller's tenant.
    pub fn projects<'a>(&'a self, ctx: &'a TenantContext) -> Projects<'a> {
        Projects {
            tenancy: &*self.tenancy,
            ctx,
        }
    }

    /// Task use cases, bound to the caller's tenant.
    pub fn tasks<'a>(&'a self, ctx: &'a TenantContext) -> Tasks<'a> {
        Tasks {
            tenancy: &*self.tenancy,
            identity: &*self.identity,
            ctx,
        }
    }

    // generate: services
}
