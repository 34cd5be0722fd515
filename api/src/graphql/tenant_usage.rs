//! What operators see of a tenant's use (`Tenant.usage` on `/admin/graphql`):
//! its requests in the last day, as every server metered them (see
//! `crate::metering`), and the rows it stores as its plan counts them.

use super::error::{ApiError, ApiResult};
use crate::services::Services;
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Object};
use domain::metering::{RequestCounts, last_day_since};
use domain::operator::TenantSummary;
use domain::usage::StoredRows;
use domain::{Isolation, TenantId};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The last day's requests of a page of tenants, in one query. It is the
/// operator schema's (registered once, without a cache): operators see
/// every tenant, so a batch of two operators' requests shares no secret.
pub struct RequestsLoader {
    counts: Arc<dyn RequestCounts>,
}

impl Loader<TenantId> for RequestsLoader {
    type Value = u64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, u64>, Self::Error> {
        let since = last_day_since(chrono::Utc::now());
        Ok(self
            .counts
            .since(keys, since)
            .await
            .map_err(ApiError::from)?)
    }
}

pub fn requests_loader(services: &Services) -> DataLoader<RequestsLoader> {
    DataLoader::new(
        RequestsLoader {
            counts: services.request_counts.clone(),
        },
        tokio::spawn,
    )
}

/// Tenants whose stored rows one operator schema reads at once.
pub struct StoredReads(pub tokio::sync::Semaphore);

impl Default for StoredReads {
    fn default() -> Self {
        Self(tokio::sync::Semaphore::new(4))
    }
}

pub struct AdminTenantUsage {
    tenant: TenantId,
    isolation: Isolation,
    members: u64,
    /// Both stored counts come from one read transaction, made when the
    /// first of them is asked for.
    stored: OnceCell<StoredRows>,
}

impl AdminTenantUsage {
    pub fn of(summary: &TenantSummary) -> Self {
        Self {
            tenant: summary.tenant.id,
            isolation: summary.tenant.isolation,
            members: summary.members,
            stored: OnceCell::new(),
        }
    }

    /// Read through the lifecycle: operators are no members of the tenant.
    /// A page of tenants reads a few at a time ([`StoredReads`]): these
    /// transactions skip the tenants' fair admission, so they must not take
    /// the shared pool for themselves.
    async fn stored(&self, ctx: &Context<'_>) -> ApiResult<StoredRows> {
        let services = ctx.data_unchecked::<Arc<Services>>();
        let turns = ctx.data_unchecked::<StoredReads>();
        self.stored
            .get_or_try_init(|| async {
                let _turn = turns.0.acquire().await.map_err(|_| {
                    domain::Error::unexpected("the stored-rows readers were closed")
                })?;
                services
                    .lifecycle
                    .stored_rows(self.tenant, self.isolation)
                    .await
            })
            .await
            .copied()
            .map_err(ApiError::from)
    }
}

/// What a tenant uses, beside its plan's `limits`.
#[Object(name = "TenantUsage")]
impl AdminTenantUsage {
    /// Its GraphQL operations (and subscriptions started), refused ones
    /// included, in the last 24 to 25 hours, by hour, counted by every
    /// server and written every flush interval (`metering.flush_every_ms`):
    /// the latest seconds may not be in yet.
    async fn requests_last_day(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let loader = ctx.data_unchecked::<DataLoader<RequestsLoader>>();
        Ok(loader.load_one(self.tenant).await?.unwrap_or(0))
    }
    /// Its members.
    async fn members(&self) -> u64 {
        self.members
    }
    /// Projects as its plan counts them: deleted ones included until they
    /// are purged. Read from the tenant's storage, one transaction per
    /// tenant with `storedTasks`.
    async fn stored_projects(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(self.stored(ctx).await?.projects)
    }
    /// Tasks as its plan counts them: those of deleted projects included
    /// until they are purged.
    async fn stored_tasks(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(self.stored(ctx).await?.tasks)
    }
}
