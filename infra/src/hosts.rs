//! Custom domains in the control plane, and the resolution of a request's
//! host to its tenant (see `domain::hosts`), cached per process.
//!
//! A resolved host is believed while no change of its tenant has reached
//! this node through the change feed (a slug change, a domain added,
//! approved or removed, a deletion all write to it); a host that names no
//! tenant is believed while no change of any tenant has. So no entry waits
//! for an expiry, and no invalidation can be lost.

use crate::authz::PolicyEngine;
use crate::authz::audit;
use crate::authz::store::{finish_change, write_tx};
use crate::entities::{tenant, tenant_domain as row};
use crate::errors::{DbResultExt, unique_as_conflict};
use crate::membership_cache::Freshness;
use async_trait::async_trait;
use domain::audit::{AuditAction, AuditRecord, state};
use domain::error::Entity as Kind;
use domain::hosts::{HostRule, HostTenant, Hostname, TenantDomain, TenantDomains};
use domain::values::TenantSlug;
use domain::{Error, Result, TenantId, UserId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use std::sync::Arc;

pub struct SqlTenantDomains {
    pub(crate) db: DatabaseConnection,
    pub(crate) engine: Option<Arc<PolicyEngine>>,
}

fn to_domain(r: row::Model) -> Result<TenantDomain> {
    Ok(TenantDomain {
        domain: Hostname::parse(&r.domain)
            .map_err(|_| Error::unexpected("a stored domain does not parse"))?,
        tenant_id: TenantId::from_uuid(r.tenant_id),
        approved: r.approved,
        created_at: r.created_at,
    })
}

fn record(action: AuditAction, tenant: TenantId, domain: &Hostname) -> AuditRecord {
    AuditRecord {
        action,
        target: format!("tenant:{tenant}"),
        before: None,
        after: Some(state("domain", domain.as_str())),
    }
}

/// The domain's row, locked for the rest of `tx`.
async fn locked(
    tx: &sea_orm::DatabaseTransaction,
    domain: &Hostname,
) -> Result<Option<row::Model>> {
    row::Entity::find_by_id(domain.as_str())
        .lock_exclusive()
        .one(tx)
        .await
        .or_unexpected()
}

impl SqlTenantDomains {
    /// Writes the audit entry and the feed row, and commits.
    async fn finish(
        &self,
        tx: sea_orm::DatabaseTransaction,
        actor: UserId,
        tenant: TenantId,
        record: &AuditRecord,
    ) -> Result<()> {
        audit::write(&tx, tenant, Some(actor), record)
            .await
            .or_unexpected()?;
        finish_change(tx, tenant.as_uuid(), self.engine.as_deref()).await
    }
}

#[async_trait]
impl TenantDomains for SqlTenantDomains {
    async fn add_domain(
        &self,
        actor: UserId,
        tenant: TenantId,
        domain: &Hostname,
    ) -> Result<TenantDomain> {
        let tx = write_tx(&self.db).await?;
        let added = row::ActiveModel {
            domain: Set(domain.as_str().to_owned()),
            tenant_id: Set(tenant.as_uuid()),
            approved: Set(false),
            created_at: Set(crate::now()),
        };
        let added = added
            .insert(&tx)
            .await
            .map_err(|e| unique_as_conflict(e, "domain", "this domain is taken"))?;
        self.finish(
            tx,
            actor,
            tenant,
            &record(AuditAction::TenantDomainAdded, tenant, domain),
        )
        .await?;
        to_domain(added)
    }

    async fn remove_domain(
        &self,
        actor: UserId,
        tenant: Option<TenantId>,
        domain: &Hostname,
    ) -> Result<()> {
        let tx = write_tx(&self.db).await?;
        let found = locked(&tx, domain)
            .await?
            .filter(|r| tenant.is_none_or(|t| t.as_uuid() == r.tenant_id))
            .ok_or(Error::NotFound(Kind::Tenant))?;
        let owner = TenantId::from_uuid(found.tenant_id);
        row::Entity::delete_by_id(domain.as_str())
            .exec(&tx)
            .await
            .or_unexpected()?;
        self.finish(
            tx,
            actor,
            owner,
            &record(AuditAction::TenantDomainRemoved, owner, domain),
        )
        .await
    }

    async fn approve_domain(&self, actor: UserId, domain: &Hostname) -> Result<TenantDomain> {
        let tx = write_tx(&self.db).await?;
        let found = locked(&tx, domain)
            .await?
            .ok_or(Error::NotFound(Kind::Tenant))?;
        let owner = TenantId::from_uuid(found.tenant_id);
        let mut active: row::ActiveModel = found.into();
        active.approved = Set(true);
        let approved = active.update(&tx).await.or_unexpected()?;
        self.finish(
            tx,
            actor,
            owner,
            &record(AuditAction::TenantDomainApproved, owner, domain),
        )
        .await?;
        to_domain(approved)
    }

    async fn domains_of(&self, tenant: TenantId) -> Result<Vec<TenantDomain>> {
        row::Entity::find()
            .filter(row::Column::TenantId.eq(tenant.as_uuid()))
            .order_by_asc(row::Column::Domain)
            .all(&self.db)
            .await
            .or_unexpected()?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn approved(&self, domain: &Hostname) -> Result<Option<TenantId>> {
        Ok(row::Entity::find_by_id(domain.as_str())
            .filter(row::Column::Approved.eq(true))
            .one(&self.db)
            .await
            .or_unexpected()?
            .map(|r| TenantId::from_uuid(r.tenant_id)))
    }
}

/// See the module documentation.
pub struct HostResolver {
    db: DatabaseConnection,
    freshness: Arc<dyn Freshness>,
    base: Option<Hostname>,
    /// What a host resolved to, stamped with the feed version read before.
    read: quick_cache::sync::Cache<Hostname, (Option<HostTenant>, i64)>,
    /// Turns of the lookups the cache cannot answer (see [`MISSES_AT_ONCE`]).
    misses: tokio::sync::Semaphore,
}

/// Lookups of hosts not in the cache at once. A host is resolved before any
/// rate limit has seen the request, so a flood of made-up `Host` headers
/// would otherwise be a control-plane query each: it holds at most this
/// many connections, and a lookup that waits [`MISS_WAIT`] for its turn is
/// refused `RATE_LIMITED`.
const MISSES_AT_ONCE: usize = 4;
const MISS_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

impl HostResolver {
    pub(crate) fn new(
        db: DatabaseConnection,
        freshness: Arc<dyn Freshness>,
        base: Option<Hostname>,
    ) -> Self {
        Self {
            db,
            freshness,
            base,
            read: quick_cache::sync::Cache::new(10_000),
            misses: tokio::sync::Semaphore::new(MISSES_AT_ONCE),
        }
    }

    /// The tenant `host` names, if a host rule applies to it and it names one.
    ///
    /// # Errors
    /// When the control plane cannot be read; `RATE_LIMITED` when lookups
    /// of unknown hosts are flooding in (see [`MISSES_AT_ONCE`]).
    pub async fn tenant(&self, host: &Hostname) -> Result<Option<HostTenant>> {
        let Some(rule) = HostRule::of(host, self.base.as_ref()) else {
            return Ok(None);
        };
        if let Some((found, read_at)) = self.read.get(host) {
            let fresh = match &found {
                Some(t) => self.freshness.still_fresh(t.id.as_uuid(), read_at),
                // No change of any tenant since, and the feed still followed
                // (the nil tenant has no changes of its own).
                None => {
                    self.freshness.version() == read_at
                        && self.freshness.still_fresh(uuid::Uuid::nil(), read_at)
                }
            };
            if fresh {
                return Ok(found);
            }
        }
        let _turn = tokio::time::timeout(MISS_WAIT, self.misses.acquire())
            .await
            .map_err(|_| {
                metrics::counter!("tenantry_limit_refusals_total", "reason" => "host_lookup")
                    .increment(1);
                Error::RateLimited {
                    retry_after_secs: 1,
                }
            })?
            .map_err(|_| Error::unexpected("the host lookups were closed"))?;
        // Stamped before the read: a change committed meanwhile makes it stale.
        let read_at = self.freshness.version();
        let found = self.look_up(&rule).await?;
        self.read.insert(host.clone(), (found.clone(), read_at));
        Ok(found)
    }

    async fn look_up(&self, rule: &HostRule) -> Result<Option<HostTenant>> {
        let q = tenant::Entity::find()
            .select_only()
            .column(tenant::Column::Id)
            .column(tenant::Column::Slug);
        let q = match rule {
            HostRule::Subdomain(slug) => q.filter(tenant::Column::Slug.eq(slug.as_str())),
            // The approved domain and its tenant in one statement.
            HostRule::Custom(host) => q.filter(
                tenant::Column::Id.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(row::Column::TenantId)
                        .from(row::Entity)
                        .and_where(row::Column::Domain.eq(host.as_str()))
                        .and_where(row::Column::Approved.eq(true))
                        .to_owned(),
                ),
            ),
        };
        let found: Option<(uuid::Uuid, String)> =
            q.into_tuple().one(&self.db).await.or_unexpected()?;
        found
            .map(|(id, slug)| {
                Ok(HostTenant {
                    id: TenantId::from_uuid(id),
                    slug: TenantSlug::parse(&slug)
                        .map_err(|_| Error::unexpected("a stored slug does not parse"))?,
                })
            })
            .transpose()
    }
}
