//! Custom roles, member changes and the audit log, in the control plane.
//! Each change runs in one transaction with its audit entry and its row in
//! the change feed, then is applied to this node's enforcer.

use super::defaults::permission_role;
use super::{PolicyEngine, audit, changes};
use crate::entities::{audit_log, casbin_rule, membership, session, tenant, user};
use crate::errors::DbResultExt;
use crate::users::user_to_domain;
use async_trait::async_trait;
use domain::audit::{AuditEntry, AuditRecord};
use domain::authz::{Permission, Role};
use domain::error::Entity as Kind;
use domain::identity::RoleName;
use domain::ports::{AccessStore, Member, MemberChange, MemberDecision, MemberState};
use domain::{Error, Result, TenantContext, TenantId, UserId};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct SqlAccessStore {
    db: DatabaseConnection,
    engine: Option<Arc<PolicyEngine>>,
}

impl SqlAccessStore {
    /// `engine` is this node's enforcer, told of each change at commit; other
    /// processes (the seed binary) leave it out and servers catch up by polling.
    pub fn new(db: DatabaseConnection, engine: Option<Arc<PolicyEngine>>) -> Self {
        Self { db, engine }
    }

    async fn write(&self) -> Result<DatabaseTransaction> {
        write_tx(&self.db).await
    }

    /// Opens a role change: a write transaction holding the tenant's lock,
    /// in which `name` exists (or, for a new role, does not yet).
    async fn role_change(
        &self,
        ctx: &TenantContext,
        name: &RoleName,
        new: bool,
    ) -> Result<DatabaseTransaction> {
        let tx = self.write().await?;
        lock_tenant(&tx, ctx).await?;
        match (role_exists(&tx, ctx.tenant_id(), name).await?, new) {
            (true, true) => Err(Error::conflict("name", "a role with this name exists")),
            (false, false) => Err(Error::NotFound(Kind::Role)),
            _ => Ok(tx),
        }
    }

    /// Writes the audit entry and the change-feed row, commits, applies.
    async fn finish(
        &self,
        tx: DatabaseTransaction,
        ctx: &TenantContext,
        record: &AuditRecord,
    ) -> Result<()> {
        audit::write(&tx, ctx.tenant_id(), ctx.user_id(), record)
            .await
            .or_unexpected()?;
        finish_change(tx, ctx.tenant_id().as_uuid(), self.engine.as_deref()).await
    }
}

/// A control-plane write transaction; on SQLite it takes the write lock up
/// front, so a read-then-write cannot fail on a lock upgrade.
pub(crate) async fn write_tx(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
    .or_unexpected()
}

/// Records a change of `tenant` in the feed, commits, and applies it here.
pub(crate) async fn finish_change(
    tx: DatabaseTransaction,
    tenant: uuid::Uuid,
    engine: Option<&PolicyEngine>,
) -> Result<()> {
    changes::record(&tx, tenant).await.or_unexpected()?;
    tx.commit().await.or_unexpected()?;
    if let Some(e) = engine {
        e.committed().await;
    }
    Ok(())
}

fn role_lines(tenant: TenantId, name: Option<&RoleName>) -> Condition {
    use casbin_rule::Column as C;
    let mut c = Condition::all()
        .add(C::Ptype.eq("g"))
        .add(C::V2.eq(tenant.to_string()))
        .add(C::V1.starts_with("perm:"));
    if let Some(n) = name {
        c = c.add(C::V0.eq(n.as_str()));
    }
    c
}

/// Serializes role and member changes of one tenant (PostgreSQL; SQLite
/// writers are serialized anyway): checks made in the transaction then hold
/// until it commits.
async fn lock_tenant(tx: &DatabaseTransaction, ctx: &TenantContext) -> Result<()> {
    lock_tenant_row(tx, ctx.tenant_id()).await
}

/// Takes the tenant's row lock, which every member change holds.
pub(crate) async fn lock_tenant_row(tx: &DatabaseTransaction, tenant_id: TenantId) -> Result<()> {
    tenant::Entity::find_by_id(tenant_id.as_uuid())
        .lock_exclusive()
        .one(tx)
        .await
        .or_unexpected()?
        .ok_or(Error::NotFound(Kind::Tenant))
        .map(|_| ())
}

/// A default role, or a custom role with lines in `tenant`.
pub(crate) async fn role_exists(
    tx: &DatabaseTransaction,
    tenant: TenantId,
    name: &RoleName,
) -> Result<bool> {
    if name.is_builtin() {
        return Ok(true);
    }
    Ok(casbin_rule::Entity::find()
        .filter(role_lines(tenant, Some(name)))
        .count(tx)
        .await
        .or_unexpected()?
        > 0)
}

async fn insert_role(tx: &DatabaseTransaction, ctx: &TenantContext, role: &Role) -> Result<()> {
    let rows = role.permissions.iter().map(|p| casbin_rule::ActiveModel {
        ptype: Set("g".into()),
        v0: Set(role.name.as_str().to_owned()),
        v1: Set(permission_role(*p)),
        v2: Set(ctx.tenant_id().to_string()),
        v3: Set(String::new()),
        v4: Set(String::new()),
        v5: Set(String::new()),
        ..Default::default()
    });
    casbin_rule::Entity::insert_many(rows)
        .exec_without_returning(tx)
        .await
        .or_unexpected()?;
    Ok(())
}

async fn delete_role_lines(
    tx: &DatabaseTransaction,
    ctx: &TenantContext,
    name: &RoleName,
) -> Result<()> {
    casbin_rule::Entity::delete_many()
        .filter(role_lines(ctx.tenant_id(), Some(name)))
        .exec(tx)
        .await
        .or_unexpected()?;
    Ok(())
}

#[async_trait]
impl AccessStore for SqlAccessStore {
    async fn custom_roles(&self, ctx: &TenantContext) -> Result<Vec<Role>> {
        let rows = casbin_rule::Entity::find()
            .filter(role_lines(ctx.tenant_id(), None))
            .all(&self.db)
            .await
            .or_unexpected()?;
        let mut roles: BTreeMap<String, Vec<Permission>> = BTreeMap::new();
        for r in rows {
            let p = r.v1.strip_prefix("perm:").and_then(Permission::parse);
            let entry = roles.entry(r.v0).or_default();
            // A permission this build no longer knows grants nothing.
            entry.extend(p);
        }
        Ok(roles
            .into_iter()
            .map(|(name, ps)| Role::new(RoleName::new(name), ps))
            .collect())
    }

    async fn create_role(
        &self,
        ctx: &TenantContext,
        role: &Role,
        audit: &AuditRecord,
    ) -> Result<()> {
        let tx = self.role_change(ctx, &role.name, true).await?;
        insert_role(&tx, ctx, role).await?;
        self.finish(tx, ctx, audit).await
    }

    async fn update_role(
        &self,
        ctx: &TenantContext,
        role: &Role,
        audit: &AuditRecord,
    ) -> Result<()> {
        let tx = self.role_change(ctx, &role.name, false).await?;
        delete_role_lines(&tx, ctx, &role.name).await?;
        insert_role(&tx, ctx, role).await?;
        self.finish(tx, ctx, audit).await
    }

    async fn delete_role(
        &self,
        ctx: &TenantContext,
        name: &RoleName,
        audit: &AuditRecord,
    ) -> Result<()> {
        let tx = self.role_change(ctx, name, false).await?;
        let holders = membership::Entity::find()
            .filter(membership::Column::TenantId.eq(ctx.tenant_id().as_uuid()))
            .filter(membership::Column::Role.eq(name.as_str()))
            .count(&tx)
            .await
            .or_unexpected()?;
        if holders > 0 {
            return Err(Error::conflict(
                "name",
                format!("{holders} member(s) hold this role; give them another first"),
            ));
        }
        delete_role_lines(&tx, ctx, name).await?;
        self.finish(tx, ctx, audit).await
    }

    async fn members(
        &self,
        ctx: &TenantContext,
        after: Option<UserId>,
        first: u64,
    ) -> Result<Vec<Member>> {
        let mut q = membership::Entity::find()
            .find_also_related(user::Entity)
            .filter(membership::Column::TenantId.eq(ctx.tenant_id().as_uuid()));
        if let Some(a) = after {
            q = q.filter(membership::Column::UserId.gt(a.as_uuid()));
        }
        q.order_by_asc(membership::Column::UserId)
            .limit(first)
            .all(&self.db)
            .await
            .or_unexpected()?
            .into_iter()
            .filter_map(|(m, u)| u.map(|u| (m, u)))
            .map(|(m, u)| {
                Ok(Member {
                    user: user_to_domain(u)?,
                    role: RoleName::new(m.role),
                    joined_at: m.created_at,
                })
            })
            .collect()
    }

    async fn change_member(
        &self,
        ctx: &TenantContext,
        user: UserId,
        change: &MemberChange,
        decide: MemberDecision<'_>,
    ) -> Result<Option<Member>> {
        let t = ctx.tenant_id().as_uuid();
        let tx = self.write().await?;
        // One member change per tenant at a time: two owners demoting each
        // other cannot both win, nor a role be deleted while being granted.
        lock_tenant(&tx, ctx).await?;
        if let MemberChange::SetRole(role) = change
            && !role_exists(&tx, ctx.tenant_id(), role).await?
        {
            return Err(Error::invalid("role", "no such role in this tenant"));
        }
        let current = membership::Entity::find_by_id((t, user.as_uuid()))
            .one(&tx)
            .await
            .or_unexpected()?
            .ok_or(Error::NotFound(Kind::Membership))?;
        let owners = membership::Entity::find()
            .filter(membership::Column::TenantId.eq(t))
            .filter(membership::Column::Role.eq(RoleName::OWNER))
            .count(&tx)
            .await
            .or_unexpected()?;
        let record = decide(&MemberState {
            role: RoleName::new(current.role.clone()),
            owners,
        })?;
        let kept = match change {
            MemberChange::SetRole(role) => {
                membership::Entity::update_many()
                    .col_expr(
                        membership::Column::Role,
                        sea_orm::sea_query::Expr::value(role.as_str()),
                    )
                    .filter(membership::Column::TenantId.eq(t))
                    .filter(membership::Column::UserId.eq(user.as_uuid()))
                    .exec(&tx)
                    .await
                    .or_unexpected()?;
                let u = user::Entity::find_by_id(user.as_uuid())
                    .one(&tx)
                    .await
                    .or_unexpected()?
                    .ok_or(Error::NotFound(Kind::User))?;
                Some(Member {
                    user: user_to_domain(u)?,
                    role: role.clone(),
                    joined_at: current.created_at,
                })
            }
            MemberChange::Remove => {
                membership::Entity::delete_by_id((t, user.as_uuid()))
                    .exec(&tx)
                    .await
                    .or_unexpected()?;
                // Their sessions in this tenant end with the membership.
                session::Entity::update_many()
                    .col_expr(
                        session::Column::RevokedAt,
                        sea_orm::sea_query::Expr::value(crate::now()),
                    )
                    .col_expr(
                        session::Column::RevokedReason,
                        sea_orm::sea_query::Expr::value("removed"),
                    )
                    .filter(session::Column::TenantId.eq(t))
                    .filter(session::Column::UserId.eq(user.as_uuid()))
                    .filter(session::Column::RevokedAt.is_null())
                    .exec(&tx)
                    .await
                    .or_unexpected()?;
                None
            }
        };
        self.finish(tx, ctx, &record).await?;
        Ok(kept)
    }

    async fn audit_log(
        &self,
        ctx: &TenantContext,
        before: Option<uuid::Uuid>,
        first: u64,
    ) -> Result<Vec<AuditEntry>> {
        let mut q = audit_log::Entity::find()
            .filter(audit_log::Column::TenantId.eq(ctx.tenant_id().as_uuid()));
        if let Some(b) = before {
            q = q.filter(audit_log::Column::Id.lt(b));
        }
        Ok(q.order_by_desc(audit_log::Column::Id)
            .limit(first)
            .all(&self.db)
            .await
            .or_unexpected()?
            .into_iter()
            .map(audit::to_domain)
            .collect())
    }
}
