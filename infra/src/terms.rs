//! What an operator set for a tenant, on the tenants table: its plan, its own
//! request rates and its own feature flags (see `domain::plan::Terms`). They
//! are read with every membership and cached with it; each change writes to
//! the change feed, so every node's cached memberships of the tenant go stale
//! within the feed's interval.

use crate::authz::PolicyEngine;
use crate::authz::store::{finish_change, write_tx};
use crate::entities::tenant;
use crate::errors::DbResultExt;
use async_trait::async_trait;
use domain::error::Entity;
use domain::plan::{Feature, PlanName, Terms};
use domain::ports::TenantRates;
use domain::rates::RequestRates;
use domain::{Error, Result, TenantId};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait, QuerySelect};
use std::collections::BTreeSet;
use std::sync::Arc;

fn rate(v: Option<i32>) -> Option<u32> {
    v.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0)
}

fn column(v: Option<u32>) -> Option<i32> {
    v.map(|n| i32::try_from(n).unwrap_or(i32::MAX))
}

/// The terms stored on a tenant's row. A name that no longer parses is
/// skipped: the tenant keeps the rest.
pub(crate) fn terms_of(r: &tenant::Model) -> Terms {
    Terms {
        plan: r.plan.as_deref().and_then(|p| PlanName::parse(p).ok()),
        rates: RequestRates {
            tenant_work: rate(r.rate_tenant_work),
            per_user: rate(r.rate_per_user),
        },
        features: r
            .features
            .split(',')
            .filter_map(|f| Feature::parse(f).ok())
            .collect(),
    }
}

/// The features column: names cannot hold a comma.
pub(crate) fn features_column(features: &BTreeSet<Feature>) -> String {
    features
        .iter()
        .map(Feature::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// The `tenantry tenants rates` store.
pub struct SqlTenantRates {
    pub(crate) db: DatabaseConnection,
    pub(crate) engine: Option<Arc<PolicyEngine>>,
}

#[async_trait]
impl TenantRates for SqlTenantRates {
    async fn request_rates(&self, tenant: TenantId) -> Result<RequestRates> {
        let row = tenant::Entity::find_by_id(tenant.as_uuid())
            .one(&self.db)
            .await
            .or_unexpected()?
            .ok_or(Error::NotFound(Entity::Tenant))?;
        Ok(terms_of(&row).rates)
    }

    async fn set_request_rates(&self, tenant: TenantId, rates: RequestRates) -> Result<()> {
        let tx = write_tx(&self.db).await?;
        let row = tenant::Entity::find_by_id(tenant.as_uuid())
            .lock_exclusive()
            .one(&tx)
            .await
            .or_unexpected()?
            .ok_or(Error::NotFound(Entity::Tenant))?;
        let mut active: tenant::ActiveModel = row.into();
        active.rate_tenant_work = Set(column(rates.tenant_work));
        active.rate_per_user = Set(column(rates.per_user));
        active.update(&tx).await.or_unexpected()?;
        finish_change(tx, tenant.as_uuid(), self.engine.as_deref()).await
    }
}
