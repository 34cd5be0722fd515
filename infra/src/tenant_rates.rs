//! Tenants' own request rates, on the tenants table; read on every request,
//! so each process keeps what it read for a short while.

use crate::entities::tenant;
use crate::errors::DbResultExt;
use async_trait::async_trait;
use domain::error::Entity;
use domain::ports::TenantRates;
use domain::rates::RequestRates;
use domain::{Error, Result, TenantId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::time::{Duration, Instant};

/// See the module documentation.
pub struct SqlTenantRates {
    db: DatabaseConnection,
    /// What was read, and when: believed for `fresh_for`.
    read: quick_cache::sync::Cache<TenantId, (RequestRates, Instant)>,
    fresh_for: Duration,
}

impl SqlTenantRates {
    /// A change made elsewhere (the CLI, another node) is seen within `fresh_for`.
    pub fn new(db: DatabaseConnection, fresh_for: Duration) -> Self {
        Self {
            db,
            read: quick_cache::sync::Cache::new(10_000),
            fresh_for,
        }
    }
}

fn rate(v: Option<i32>) -> Option<u32> {
    v.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0)
}

fn column(v: Option<u32>) -> Option<i32> {
    v.map(|n| i32::try_from(n).unwrap_or(i32::MAX))
}

#[async_trait]
impl TenantRates for SqlTenantRates {
    async fn request_rates(&self, tenant: TenantId) -> Result<RequestRates> {
        if let Some((rates, at)) = self.read.get(&tenant)
            && at.elapsed() < self.fresh_for
        {
            return Ok(rates);
        }
        let row = tenant::Entity::find_by_id(tenant.as_uuid())
            .one(&self.db)
            .await
            .or_unexpected()?
            .ok_or(Error::NotFound(Entity::Tenant))?;
        let rates = RequestRates {
            tenant_work: rate(row.rate_tenant_work),
            per_user: rate(row.rate_per_user),
        };
        if !self.fresh_for.is_zero() {
            self.read.insert(tenant, (rates, Instant::now()));
        }
        Ok(rates)
    }

    async fn set_request_rates(&self, tenant: TenantId, rates: RequestRates) -> Result<()> {
        let updated = tenant::Entity::update_many()
            .col_expr(
                tenant::Column::RateTenantWork,
                Expr::value(column(rates.tenant_work)),
            )
            .col_expr(
                tenant::Column::RatePerUser,
                Expr::value(column(rates.per_user)),
            )
            .filter(tenant::Column::Id.eq(tenant.as_uuid()))
            .exec(&self.db)
            .await
            .or_unexpected()?;
        if updated.rows_affected == 0 {
            return Err(Error::NotFound(Entity::Tenant));
        }
        self.read.remove(&tenant);
        Ok(())
    }
}
