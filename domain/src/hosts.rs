//! Tenants found by the host a request was sent to: `<slug>.<base domain>`
//! (`tenancy.base_domain`), or a custom domain its owner asked for and an
//! operator approved. Where a host names a tenant, a token of another tenant
//! is refused there and signing in there signs in to that tenant; where no
//! host rule applies (API clients on the API's own host), the token's tenant
//! stands alone.

use crate::error::{Error, Result};
use crate::ids::{TenantId, UserId};
use crate::operator::OperatorContext;
use crate::tenancy::TenantContext;
use crate::values::TenantSlug;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::fmt;

/// A host name as a request names it: lowercase, without a port or a
/// trailing dot, labels of letters, digits and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hostname(String);

impl Hostname {
    /// # Errors
    /// [`Error::Invalid`] on `domain` for anything but a host name with at
    /// least two labels.
    pub fn parse(s: &str) -> Result<Self> {
        let host = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        let labels: Vec<&str> = host.split('.').collect();
        // A numeric last label is an IPv4 address, not a name.
        let numeric = labels
            .last()
            .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()));
        if host.len() > 253 || labels.len() < 2 || numeric || !labels.iter().all(|l| label_ok(l)) {
            return Err(Error::invalid(
                "domain",
                "a host name such as tasks.example.com (letters, digits, '-' and dots)",
            ));
        }
        Ok(Self(host))
    }

    /// The host of a `Host` header: its port dropped; `None` when it is not a
    /// host name (an IP address, say).
    pub fn from_header(value: &str) -> Option<Self> {
        let host = match value.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => value,
        };
        Self::parse(host).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names under the base domain that are the service's own, never a
/// tenant's: a tenant with such a slug is reached by its token only.
pub const RESERVED_LABELS: &[&str] = &[
    "www", "api", "app", "admin", "auth", "login", "mail", "static", "assets", "cdn", "docs",
    "status",
];

/// Where to look a host up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRule {
    /// `<slug>.<base domain>`: the tenant with this slug.
    Subdomain(TenantSlug),
    /// Any other host: an approved custom domain, if one is.
    Custom(Hostname),
}

impl HostRule {
    /// The rule for `host` under `base` (the deployment's base domain, if
    /// set); `None` for the base domain itself, or a deeper subdomain of it.
    pub fn of(host: &Hostname, base: Option<&Hostname>) -> Option<Self> {
        let Some(base) = base else {
            return Some(Self::Custom(host.clone()));
        };
        if host == base {
            return None;
        }
        match host.as_str().strip_suffix(&format!(".{base}")) {
            Some(label) if !label.contains('.') && !RESERVED_LABELS.contains(&label) => {
                TenantSlug::parse(label).ok().map(Self::Subdomain)
            }
            Some(_) => None,
            None => Some(Self::Custom(host.clone())),
        }
    }
}

/// The tenant a host names, as resolution found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTenant {
    pub id: TenantId,
    pub slug: TenantSlug,
}

impl HostTenant {
    /// A token is for one tenant: on another tenant's host it is refused.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] when `ctx` is another tenant's.
    pub fn admits(&self, ctx: &TenantContext) -> Result<()> {
        if ctx.tenant_id() == self.id {
            Ok(())
        } else {
            Err(Error::Unauthenticated(
                "this token is for another tenant than this host's; sign in here",
            ))
        }
    }
}

/// A custom domain of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantDomain {
    pub domain: Hostname,
    pub tenant_id: TenantId,
    /// Only an approved domain resolves.
    pub approved: bool,
    pub created_at: DateTime<Utc>,
}

/// Custom domains, in the control plane. Each change is audited in the
/// tenant's log and written to the change feed, so every node's resolution
/// of the tenant's hosts turns over.
///
/// # Errors (every method)
/// [`Error::Unexpected`] for storage failures.
#[async_trait]
pub trait TenantDomains: Send + Sync {
    /// # Errors
    /// `CONFLICT` on `domain` when any tenant has it.
    async fn add_domain(
        &self,
        actor: UserId,
        tenant: TenantId,
        domain: &Hostname,
    ) -> Result<TenantDomain>;
    /// # Errors
    /// `NotFound(Tenant)` when `tenant` (if given) does not have it, or nobody does.
    async fn remove_domain(
        &self,
        actor: UserId,
        tenant: Option<TenantId>,
        domain: &Hostname,
    ) -> Result<()>;
    /// # Errors
    /// `NotFound(Tenant)` when no tenant asked for it.
    async fn approve_domain(&self, actor: UserId, domain: &Hostname) -> Result<TenantDomain>;
    async fn domains_of(&self, tenant: TenantId) -> Result<Vec<TenantDomain>>;
    /// The tenant an approved domain is for.
    async fn approved(&self, domain: &Hostname) -> Result<Option<TenantId>>;
}

/// Custom domains a tenant may ask for.
pub const MAX_DOMAINS: usize = 10;

/// Custom-domain use cases.
pub struct Domains<'a> {
    pub store: &'a dyn TenantDomains,
    /// A custom domain must not be a subdomain of the base domain, which
    /// tenants have by their slug already.
    pub base: Option<&'a Hostname>,
}

impl Domains<'_> {
    /// An owner asks for a custom domain; it resolves once an operator approves it.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `domain`; `CONFLICT` when taken;
    /// `LIMIT_REACHED` past [`MAX_DOMAINS`].
    pub async fn request(&self, ctx: &TenantContext, domain: &str) -> Result<TenantDomain> {
        let actor = ctx.user_id().ok_or(Error::Forbidden)?;
        let domain = Hostname::parse(domain)?;
        if let Some(base) = self.base
            && (domain == *base || domain.as_str().ends_with(&format!(".{base}")))
        {
            return Err(Error::invalid(
                "domain",
                format!("hosts under {base} are the tenants' own by their slug"),
            ));
        }
        let have = self.store.domains_of(ctx.tenant_id()).await?.len() as u64;
        crate::plan::room_for("domains", MAX_DOMAINS as u32, have)?;
        self.store.add_domain(actor, ctx.tenant_id(), &domain).await
    }

    /// # Errors
    /// `NOT_FOUND` when the tenant does not have it.
    pub async fn remove(&self, ctx: &TenantContext, domain: &str) -> Result<()> {
        let actor = ctx.user_id().ok_or(Error::Forbidden)?;
        let domain = Hostname::parse(domain)?;
        self.store
            .remove_domain(actor, Some(ctx.tenant_id()), &domain)
            .await
    }

    /// # Errors
    /// `NOT_FOUND` when no tenant asked for it.
    pub async fn approve(&self, op: &OperatorContext, domain: &str) -> Result<TenantDomain> {
        self.store
            .approve_domain(op.user_id, &Hostname::parse(domain)?)
            .await
    }

    /// # Errors
    /// `NOT_FOUND` when no tenant has it.
    pub async fn revoke(&self, op: &OperatorContext, domain: &str) -> Result<()> {
        self.store
            .remove_domain(op.user_id, None, &Hostname::parse(domain)?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> Hostname {
        Hostname::parse(s).unwrap()
    }

    #[test]
    fn headers_give_hosts_without_ports() {
        assert_eq!(
            Hostname::from_header("Acme.App.Test:8080"),
            Some(host("acme.app.test"))
        );
        assert_eq!(
            Hostname::from_header("acme.app.test."),
            Some(host("acme.app.test"))
        );
        for not_a_name in [
            "127.0.0.1:80",
            "[::1]:8080",
            "localhost",
            "-x.test",
            "a..test",
        ] {
            assert_eq!(Hostname::from_header(not_a_name), None, "{not_a_name}");
        }
    }

    #[test]
    fn a_single_label_under_the_base_is_a_slug() {
        let base = host("app.test");
        assert_eq!(
            HostRule::of(&host("acme.app.test"), Some(&base)),
            Some(HostRule::Subdomain(TenantSlug::parse("acme").unwrap()))
        );
        assert_eq!(HostRule::of(&base, Some(&base)), None);
        assert_eq!(HostRule::of(&host("api.app.test"), Some(&base)), None);
        assert_eq!(HostRule::of(&host("a.b.app.test"), Some(&base)), None);
        // Only a whole label matches: `evilapp.test` is not under `app.test`.
        assert_eq!(
            HostRule::of(&host("evilapp.test"), Some(&base)),
            Some(HostRule::Custom(host("evilapp.test")))
        );
        assert_eq!(
            HostRule::of(&host("tasks.acme.example"), None),
            Some(HostRule::Custom(host("tasks.acme.example")))
        );
    }
}
