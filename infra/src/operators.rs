//! The operator list and the tenant directory as operators see it.

use crate::authz::PolicyEngine;
use crate::authz::audit;
use crate::authz::store::{finish_change, write_tx};
use crate::entities::{membership, operator, tenant, user};
use crate::errors::DbResultExt;
use crate::identity::tenant_to_domain;
use crate::tenancy::contains_pattern;
use crate::terms::{features_column, terms_of};
use crate::users::user_to_domain;
use async_trait::async_trait;
use domain::audit::{AuditAction, AuditRecord, AuditState, AuditValue, state};
use domain::error::Entity as Kind;
use domain::identity::{Standing, Tenant, User};
use domain::operator::{OperatorContext, Operators, TenantSummary, TermsChange};
use domain::page::Page;
use domain::plan::MAX_OWN_FEATURES;
use domain::values::{Email, SearchTerm, TenantSlug};
use domain::{Error, Result, TenantId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use std::sync::Arc;

pub struct SqlOperators {
    pub(crate) db: DatabaseConnection,
    /// Told of standing changes at commit, like membership changes, so every
    /// node's cached memberships of the tenant go stale at once.
    pub(crate) engine: Option<Arc<PolicyEngine>>,
}

impl SqlOperators {
    async fn user_by_email(&self, email: &Email) -> Result<user::Model> {
        user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await
            .or_unexpected()?
            .ok_or(Error::NotFound(Kind::User))
    }

    /// Adds member counts to tenant rows, in one query.
    async fn summaries(&self, rows: Vec<tenant::Model>) -> Result<Vec<TenantSummary>> {
        let ids: Vec<_> = rows.iter().map(|t| t.id).collect();
        let counts: HashMap<uuid::Uuid, i64> = membership::Entity::find()
            .select_only()
            .column(membership::Column::TenantId)
            .column_as(membership::Column::UserId.count(), "n")
            .filter(membership::Column::TenantId.is_in(ids))
            .group_by(membership::Column::TenantId)
            .into_tuple::<(uuid::Uuid, i64)>()
            .all(&self.db)
            .await
            .or_unexpected()?
            .into_iter()
            .collect();
        rows.into_iter()
            .map(|t| {
                let members = counts.get(&t.id).copied().unwrap_or(0).unsigned_abs();
                let placement = t.placement.clone();
                Ok(TenantSummary {
                    tenant: tenant_to_domain(t)?,
                    placement,
                    members,
                })
            })
            .collect()
    }
}

#[async_trait]
impl Operators for SqlOperators {
    async fn is_operator(&self, user: UserId) -> Result<bool> {
        Ok(operator::Entity::find_by_id(user.as_uuid())
            .count(&self.db)
            .await
            .or_unexpected()?
            > 0)
    }

    async fn grant(&self, email: &Email) -> Result<User> {
        let u = self.user_by_email(email).await?;
        let granted = operator::ActiveModel {
            user_id: Set(u.id),
            granted_at: Set(crate::now()),
        };
        // Granting twice is granting.
        operator::Entity::insert(granted)
            .on_conflict_do_nothing_on([operator::Column::UserId])
            .exec_without_returning(&self.db)
            .await
            .or_unexpected()?;
        user_to_domain(u)
    }

    async fn revoke(&self, email: &Email) -> Result<bool> {
        let u = self.user_by_email(email).await?;
        let gone = operator::Entity::delete_by_id(u.id)
            .exec(&self.db)
            .await
            .or_unexpected()?;
        Ok(gone.rows_affected > 0)
    }

    async fn operators(&self) -> Result<Vec<(User, chrono::DateTime<chrono::Utc>)>> {
        let granted = operator::Entity::find()
            .order_by_asc(operator::Column::GrantedAt)
            .all(&self.db)
            .await
            .or_unexpected()?;
        let mut users: HashMap<uuid::Uuid, user::Model> = user::Entity::find()
            .filter(user::Column::Id.is_in(granted.iter().map(|o| o.user_id)))
            .all(&self.db)
            .await
            .or_unexpected()?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        granted
            .into_iter()
            .filter_map(|o| users.remove(&o.user_id).map(|u| (u, o.granted_at)))
            .map(|(u, at)| Ok((user_to_domain(u)?, at)))
            .collect()
    }

    async fn tenants(
        &self,
        search: Option<&SearchTerm>,
        after: Option<&TenantSlug>,
        first: u64,
    ) -> Result<Page<TenantSummary>> {
        let mut q = tenant::Entity::find().order_by_asc(tenant::Column::Slug);
        if let Some(term) = search {
            q = q.filter(
                Condition::any()
                    .add(
                        Expr::expr(Func::lower(Expr::col(tenant::Column::Slug)))
                            .like(contains_pattern(term.as_str())),
                    )
                    .add(
                        Expr::expr(Func::lower(Expr::col(tenant::Column::Name)))
                            .like(contains_pattern(term.as_str())),
                    ),
            );
        }
        if let Some(slug) = after {
            q = q.filter(tenant::Column::Slug.gt(slug.as_str()));
        }
        let mut rows = q.limit(first + 1).all(&self.db).await.or_unexpected()?;
        let has_more = rows.len() as u64 > first;
        rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
        Ok(Page {
            items: self.summaries(rows).await?,
            has_more,
        })
    }

    async fn tenant(&self, id: TenantId) -> Result<TenantSummary> {
        let row = tenant::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .or_unexpected()?
            .ok_or(Error::NotFound(Kind::Tenant))?;
        self.summaries(vec![row])
            .await?
            .pop()
            .ok_or(Error::NotFound(Kind::Tenant))
    }

    async fn set_standing(
        &self,
        operator: &OperatorContext,
        id: TenantId,
        standing: Standing,
        reason: Option<&str>,
    ) -> Result<TenantSummary> {
        self.change_tenant(operator.user_id, id, |active, row| {
            // A deleted tenant is restored (made active) or purged: suspending
            // it would hide its deletion.
            if row.standing == Standing::Deleted.as_str() {
                if standing != Standing::Active {
                    return Err(Error::conflict(
                        "id",
                        "this tenant is deleted: restore it (resumeTenant) first",
                    ));
                }
                // Past it, the purge job may be deleting it: restoring then
                // could leave a tenant half emptied.
                if row.purge_after.is_some_and(|at| at <= crate::now()) {
                    return Err(Error::conflict(
                        "id",
                        "this tenant's grace period is over: it is being purged",
                    ));
                }
            }
            active.standing = Set(standing.as_str().to_owned());
            active.standing_since = Set(Some(crate::now()));
            active.purge_after = Set(None);
            Ok(AuditRecord {
                action: AuditAction::TenantStanding,
                target: format!("tenant:{id}"),
                before: Some(state("standing", &row.standing)),
                after: Some(with_reason(state("standing", standing.as_str()), reason)),
            })
        })
        .await
    }

    async fn change_terms(
        &self,
        operator: &OperatorContext,
        id: TenantId,
        change: &TermsChange,
        reason: Option<&str>,
    ) -> Result<TenantSummary> {
        self.change_tenant(operator.user_id, id, |active, row| match change {
            TermsChange::Plan(plan) => {
                active.plan = Set(Some(plan.as_str().to_owned()));
                Ok(AuditRecord {
                    action: AuditAction::TenantPlan,
                    target: format!("tenant:{id}"),
                    before: Some(state("plan", row.plan.as_deref().unwrap_or("default"))),
                    after: Some(with_reason(state("plan", plan.as_str()), reason)),
                })
            }
            TermsChange::Feature(feature, on) => {
                let mut features = terms_of(row).features;
                let before = features.contains(feature);
                if *on {
                    features.insert(feature.clone());
                } else {
                    features.remove(feature);
                }
                if features.len() > MAX_OWN_FEATURES {
                    return Err(Error::invalid(
                        "feature",
                        format!("a tenant may have at most {MAX_OWN_FEATURES} features of its own"),
                    ));
                }
                active.features = Set(features_column(&features));
                let flag = |on: bool| {
                    let mut s = state("feature", feature.as_str());
                    s.insert("enabled".to_owned(), AuditValue::Text(on.to_string()));
                    s
                };
                Ok(AuditRecord {
                    action: AuditAction::TenantFeature,
                    target: format!("tenant:{id}"),
                    before: Some(flag(before)),
                    after: Some(with_reason(flag(*on), reason)),
                })
            }
        })
        .await
    }

    async fn schedule_deletion(
        &self,
        actor: UserId,
        id: TenantId,
        purge_after: chrono::DateTime<chrono::Utc>,
        reason: Option<&str>,
    ) -> Result<TenantSummary> {
        self.change_tenant(actor, id, |active, row| {
            if row.standing == Standing::Deleted.as_str() {
                return Err(Error::conflict("id", "this tenant is deleted already"));
            }
            active.standing = Set(Standing::Deleted.as_str().to_owned());
            active.standing_since = Set(Some(crate::now()));
            active.purge_after = Set(Some(purge_after));
            let mut after = state("standing", Standing::Deleted.as_str());
            after.insert(
                "purgeAfter".to_owned(),
                AuditValue::Text(purge_after.to_rfc3339()),
            );
            Ok(AuditRecord {
                action: AuditAction::TenantDeletionScheduled,
                target: format!("tenant:{id}"),
                before: Some(state("standing", &row.standing)),
                after: Some(with_reason(after, reason)),
            })
        })
        .await
    }

    async fn record(&self, tenant: TenantId, actor: UserId, record: &AuditRecord) -> Result<()> {
        audit::write(&self.db, tenant, Some(actor), record)
            .await
            .or_unexpected()
    }

    async fn due_for_purge(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<Tenant>> {
        tenant::Entity::find()
            .filter(tenant::Column::Standing.eq(Standing::Deleted.as_str()))
            .filter(tenant::Column::PurgeAfter.lte(now))
            .all(&self.db)
            .await
            .or_unexpected()?
            .into_iter()
            .map(tenant_to_domain)
            .collect()
    }
}

impl SqlOperators {
    /// One change of a tenant's row by an operator (or an owner deleting it):
    /// locked (the lock every member and role change of the tenant takes
    /// too), changed by `apply`, which says what to record, audited with
    /// `actor` (the tenant's owners see who did it) and told to every node,
    /// in one transaction.
    async fn change_tenant(
        &self,
        actor: UserId,
        id: TenantId,
        apply: impl FnOnce(&mut tenant::ActiveModel, &tenant::Model) -> Result<AuditRecord>,
    ) -> Result<TenantSummary> {
        let tx = write_tx(&self.db).await?;
        let row = tenant::Entity::find_by_id(id.as_uuid())
            .lock_exclusive()
            .one(&tx)
            .await
            .or_unexpected()?
            .ok_or(Error::NotFound(Kind::Tenant))?;
        let mut active: tenant::ActiveModel = row.clone().into();
        let record = apply(&mut active, &row)?;
        active.update(&tx).await.or_unexpected()?;
        audit::write(&tx, id, Some(actor), &record)
            .await
            .or_unexpected()?;
        finish_change(tx, id.as_uuid(), self.engine.as_deref()).await?;
        self.tenant(id).await
    }
}

/// `state` with the operator's reason, when one was given.
fn with_reason(mut s: AuditState, reason: Option<&str>) -> AuditState {
    if let Some(r) = reason {
        s.insert("reason".to_owned(), AuditValue::Text(r.to_owned()));
    }
    s
}
