//! Custom domains of the caller's tenant: owners ask for one, an operator
//! approves it (`/admin/graphql`), and requests to it are then the tenant's.

use super::context::{services, tenant};
use super::error::ApiResult;
use super::guard::Guarded;
use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};
use domain::hosts::TenantDomain;

pub struct DomainNode(pub TenantDomain);

/// A custom domain of a tenant.
#[Object(name = "TenantDomain")]
impl DomainNode {
    async fn domain(&self) -> &str {
        self.0.domain.as_str()
    }
    /// Only an approved domain leads to the tenant; an operator approves it.
    async fn approved(&self) -> bool {
        self.0.approved
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct DomainMutation;

#[Object]
impl DomainMutation {
    /// Asks for a custom domain for the current tenant (owners), e.g.
    /// `tasks.acme.com`, pointed at this service. It leads to the tenant
    /// once an operator approves it; signing in there then signs in to this
    /// tenant, and other tenants' tokens are refused there. At most 10.
    #[graphql(guard = "Guarded(\"addTenantDomain\")")]
    async fn add_tenant_domain(&self, ctx: &Context<'_>, domain: String) -> ApiResult<DomainNode> {
        Ok(DomainNode(
            services(ctx)
                .domains()
                .request(tenant(ctx)?, &domain)
                .await?,
        ))
    }

    /// Removes one of the current tenant's custom domains (owners).
    #[graphql(guard = "Guarded(\"removeTenantDomain\")")]
    async fn remove_tenant_domain(&self, ctx: &Context<'_>, domain: String) -> ApiResult<bool> {
        services(ctx)
            .domains()
            .remove(tenant(ctx)?, &domain)
            .await?;
        Ok(true)
    }
}
