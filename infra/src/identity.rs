//! The control-plane store: users, tenants, memberships, sessions.

use crate::authz::PolicyEngine;
use crate::authz::audit;
use crate::authz::store::{finish_change, write_tx};
use crate::entities::{casbin_rule, membership, session, tenant, user};
use crate::errors::{DbResultExt, unique_as_conflict};
use crate::membership_cache::MembershipCache;
use crate::tenancy::database::TenantDatabases;
use crate::tenancy::provision::{self, Provisioner};
use crate::users::{corrupt, user_to_domain};
use async_trait::async_trait;
use domain::audit::{AuditAction, AuditRecord, AuditValue, state};
use domain::error::Entity as Kind;
use domain::identity::{Membership, RoleName, Standing, Tenant, User};
use domain::ports::{Accounts, Directory, Memberships, NewAccount, NewTenant, TenantChange};
use domain::values::{DisplayName, Email, TenantName, TenantSlug};
use domain::{Error, Result, TenantContext, TenantId, UserId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use std::sync::Arc;

pub struct SqlIdentityStore {
    db: DatabaseConnection,
    /// Told of every membership change at commit (see [`crate::authz`]).
    engine: Option<Arc<PolicyEngine>>,
    /// Makes and removes a tenant's schema or database with its row.
    storage: Provisioner,
    /// Membership lookups, made on every request, are answered from here.
    cache: Option<Arc<MembershipCache>>,
}

impl SqlIdentityStore {
    pub fn new(db: DatabaseConnection, engine: Option<Arc<PolicyEngine>>) -> Self {
        Self {
            storage: Provisioner::new(&db, None),
            db,
            engine,
            cache: None,
        }
    }

    #[must_use]
    pub fn with_cache(mut self, cache: Option<Arc<MembershipCache>>) -> Self {
        self.cache = cache;
        self
    }

    /// The membership with its tenant's directory entry, from the database.
    async fn read_membership(&self, user: UserId, tenant: TenantId) -> Result<Option<Membership>> {
        let found = membership::Entity::find_by_id((tenant.as_uuid(), user.as_uuid()))
            .find_also_related(tenant::Entity)
            .one(&self.db)
            .await
            .or_unexpected()?;
        match found {
            Some((m, Some(t))) => Ok(Some(membership_to_domain(m, &tenant_to_domain(t)?))),
            _ => Ok(None),
        }
    }

    #[must_use]
    pub fn with_databases(mut self, databases: Option<Arc<TenantDatabases>>) -> Self {
        self.storage = Provisioner::new(&self.db, databases);
        self
    }

    /// Creates a tenant owned by `owner`, refused at `max_owned` tenants
    /// owned: counted under the owner's row lock (PostgreSQL; SQLite writers
    /// take turns anyway), so concurrent creations cannot pass it together.
    async fn create_owned(
        &self,
        owner: UserId,
        t: &NewTenant,
        max_owned: Option<u32>,
    ) -> Result<Tenant> {
        self.storage
            .with_storage(t, async |tenant_id, placement| {
                let tx = write_tx(&self.db).await?;
                if let Some(max) = max_owned {
                    user::Entity::find_by_id(owner.as_uuid())
                        .lock_exclusive()
                        .one(&tx)
                        .await
                        .or_unexpected()?
                        .ok_or(Error::NotFound(Kind::User))?;
                    let owned = membership::Entity::find()
                        .filter(membership::Column::UserId.eq(owner.as_uuid()))
                        .filter(membership::Column::Role.eq(RoleName::OWNER))
                        .count(&tx)
                        .await
                        .or_unexpected()?;
                    if owned >= u64::from(max) {
                        return Err(domain::auth::owned_cap(max));
                    }
                }
                let tenant = insert_tenant(&tx, (tenant_id, placement), owner, t, "slug").await?;
                self.finish_join(tx, tenant.id, owner, RoleName::OWNER, Some(owner))
                    .await?;
                Ok(tenant)
            })
            .await
    }

    /// Audits a new membership, records the change in the feed, commits.
    async fn finish_join(
        &self,
        tx: DatabaseTransaction,
        tenant: TenantId,
        user: UserId,
        role: &str,
        actor: Option<UserId>,
    ) -> Result<()> {
        let record = AuditRecord {
            action: AuditAction::MemberAdded,
            target: format!("user:{user}"),
            before: None,
            after: Some(state("role", role)),
        };
        audit::write(&tx, tenant, actor, &record)
            .await
            .or_unexpected()?;
        finish_change(tx, tenant.as_uuid(), self.engine.as_deref()).await
    }
}

async fn insert_membership(
    tx: &DatabaseTransaction,
    tenant: TenantId,
    user: UserId,
    role: &RoleName,
) -> Result<()> {
    membership::Entity::insert(membership::ActiveModel {
        tenant_id: Set(tenant.as_uuid()),
        user_id: Set(user.as_uuid()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(crate::now()),
    })
    .exec_without_returning(tx)
    .await
    .map_err(|e| unique_as_conflict(e, "userId", "already a member of this tenant"))?;
    Ok(())
}

pub(crate) fn tenant_to_domain(r: tenant::Model) -> Result<Tenant> {
    Ok(Tenant {
        id: TenantId::from_uuid(r.id),
        slug: TenantSlug::parse(&r.slug).map_err(|_| corrupt("slug"))?,
        name: TenantName::parse(&r.name).map_err(|_| corrupt("tenant name"))?,
        isolation: r.isolation.parse().map_err(|_| corrupt("isolation"))?,
        created_at: r.created_at,
        fixture: r.fixture,
        standing: r.standing.parse().map_err(|()| corrupt("standing"))?,
        standing_since: r.standing_since,
        purge_after: r.purge_after,
        terms: crate::terms::terms_of(&r),
    })
}

fn membership_to_domain(m: membership::Model, t: &Tenant) -> Membership {
    Membership {
        user_id: UserId::from_uuid(m.user_id),
        tenant_id: TenantId::from_uuid(m.tenant_id),
        isolation: t.isolation,
        role: RoleName::new(m.role),
        standing: t.standing,
        terms: t.terms.clone(),
    }
}

/// Inserts the tenant and its owner's membership, and provisions a schema
/// tenant's schema in the same transaction. A database tenant's database
/// already exists on `placement` (see [`Provisioner::with_storage`]).
async fn insert_tenant(
    db: &DatabaseTransaction,
    (tenant_id, placement): (TenantId, Option<&str>),
    owner: UserId,
    t: &NewTenant,
    slug_field: &str,
) -> Result<Tenant> {
    let now = crate::now();
    let id = tenant_id.as_uuid();
    let row = tenant::ActiveModel {
        id: Set(id),
        slug: Set(t.slug.as_str().to_owned()),
        name: Set(t.name.as_str().to_owned()),
        isolation: Set(t.isolation.as_str().to_owned()),
        placement: Set(placement.map(str::to_owned)),
        created_at: Set(now),
        rate_tenant_work: Set(None),
        rate_per_user: Set(None),
        fixture: Set(t.fixture),
        standing: Set(Standing::Active.as_str().to_owned()),
        standing_since: Set(None),
        plan: Set(None),
        features: Set(String::new()),
        purge_after: Set(None),
    };
    tenant::Entity::insert(row)
        .exec_without_returning(db)
        .await
        .map_err(|e| unique_as_conflict(e, slug_field, "this slug is taken"))?;
    membership::Entity::insert(membership::ActiveModel {
        tenant_id: Set(id),
        user_id: Set(owner.as_uuid()),
        role: Set(RoleName::OWNER.to_owned()),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await
    .or_unexpected()?;
    provision::make_in(db, tenant_id, t.isolation).await?;
    tenant::Entity::find_by_id(id)
        .one(db)
        .await
        .or_unexpected()?
        .map_or(Err(corrupt("tenant")), tenant_to_domain)
}

#[async_trait]
impl Accounts for SqlIdentityStore {
    async fn create_account(&self, a: &NewAccount) -> Result<(User, Tenant)> {
        self.storage
            .with_storage(&a.tenant, async |tenant_id, placement| {
                let tx = write_tx(&self.db).await?;
                let id = UserId::generate();
                user::Entity::insert(user::ActiveModel {
                    id: Set(id.as_uuid()),
                    email: Set(a.email.as_str().to_owned()),
                    password_hash: Set(a.password_hash.clone()),
                    display_name: Set(a.display_name.as_str().to_owned()),
                    created_at: Set(crate::now()),
                })
                .exec_without_returning(&tx)
                .await
                .map_err(|e| {
                    unique_as_conflict(
                        e,
                        "email",
                        "an account with this email exists; sign in instead",
                    )
                })?;
                let tenant =
                    insert_tenant(&tx, (tenant_id, placement), id, &a.tenant, "tenantSlug").await?;
                let user = user::Entity::find_by_id(id.as_uuid())
                    .one(&tx)
                    .await
                    .or_unexpected()?;
                self.finish_join(tx, tenant.id, id, RoleName::OWNER, Some(id))
                    .await?;
                Ok((user.map_or(Err(corrupt("user")), user_to_domain)?, tenant))
            })
            .await
    }
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &str,
        display_name: &DisplayName,
    ) -> Result<User> {
        let id = UserId::generate();
        user::Entity::insert(user::ActiveModel {
            id: Set(id.as_uuid()),
            email: Set(email.as_str().to_owned()),
            password_hash: Set(password_hash.to_owned()),
            display_name: Set(display_name.as_str().to_owned()),
            created_at: Set(crate::now()),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(|e| unique_as_conflict(e, "email", "an account with this email exists"))?;
        self.user(id).await
    }
    async fn delete_users_without_tenants(&self, users: &[UserId]) -> Result<u64> {
        let ids: Vec<_> = users.iter().map(UserId::as_uuid).collect();
        let still_members: Vec<uuid::Uuid> = membership::Entity::find()
            .filter(membership::Column::UserId.is_in(ids.clone()))
            .all(&self.db)
            .await
            .or_unexpected()?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        let orphans: Vec<_> = ids
            .into_iter()
            .filter(|id| !still_members.contains(id))
            .collect();
        if orphans.is_empty() {
            return Ok(0);
        }
        let res = user::Entity::delete_many()
            .filter(user::Column::Id.is_in(orphans))
            .exec(&self.db)
            .await
            .or_unexpected()?;
        Ok(res.rows_affected)
    }
    async fn credentials(&self, email: &Email) -> Result<Option<(User, String)>> {
        let row = user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await
            .or_unexpected()?;
        row.map(|r| {
            let hash = r.password_hash.clone();
            user_to_domain(r).map(|u| (u, hash))
        })
        .transpose()
    }
    async fn user(&self, id: UserId) -> Result<User> {
        user::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .or_unexpected()?
            .map_or(Err(Error::NotFound(Kind::User)), user_to_domain)
    }
    async fn set_password_hash(&self, user: UserId, password_hash: &str) -> Result<()> {
        let res = user::Entity::update_many()
            .col_expr(
                user::Column::PasswordHash,
                sea_orm::sea_query::Expr::value(password_hash),
            )
            .filter(user::Column::Id.eq(user.as_uuid()))
            .exec(&self.db)
            .await
            .or_unexpected()?;
        if res.rows_affected == 0 {
            Err(Error::NotFound(Kind::User))
        } else {
            Ok(())
        }
    }
    async fn password_hash(&self, user: UserId) -> Result<String> {
        user::Entity::find_by_id(user.as_uuid())
            .one(&self.db)
            .await
            .or_unexpected()?
            .map(|u| u.password_hash)
            .ok_or(Error::NotFound(Kind::User))
    }
}

#[async_trait]
impl Directory for SqlIdentityStore {
    async fn delete_tenant(&self, tenant: TenantId) -> Result<bool> {
        // A database tenant's database goes first: it cannot be dropped inside
        // the transaction below, and while the tenant row remains a failed
        // drop can be run again.
        self.storage.remove_database(&self.db, tenant).await?;
        let tx = write_tx(&self.db).await?;
        // Foreign keys would cascade; saying it keeps the order explicit.
        session::Entity::delete_many()
            .filter(session::Column::TenantId.eq(tenant.as_uuid()))
            .exec(&tx)
            .await
            .or_unexpected()?;
        membership::Entity::delete_many()
            .filter(membership::Column::TenantId.eq(tenant.as_uuid()))
            .exec(&tx)
            .await
            .or_unexpected()?;
        crate::entities::tenant_domain::Entity::delete_many()
            .filter(crate::entities::tenant_domain::Column::TenantId.eq(tenant.as_uuid()))
            .exec(&tx)
            .await
            .or_unexpected()?;
        let row = tenant::Entity::find_by_id(tenant.as_uuid())
            .one(&tx)
            .await
            .or_unexpected()?;
        if let Some(r) = &row {
            provision::remove_in(&tx, tenant, &r.isolation).await?;
        }
        // Its custom roles; the shared default lines stay.
        casbin_rule::Entity::delete_many()
            .filter(casbin_rule::Column::V2.eq(tenant.to_string()))
            .filter(casbin_rule::Column::Ptype.eq("g"))
            .exec(&tx)
            .await
            .or_unexpected()?;
        let res = tenant::Entity::delete_by_id(tenant.as_uuid())
            .exec(&tx)
            .await
            .or_unexpected()?;
        if let Some(t) = &row {
            // Kept after the tenant (no foreign key): who went, and what it was.
            let record = AuditRecord {
                action: AuditAction::TenantDeleted,
                target: format!("tenant:{tenant}"),
                before: Some(
                    [
                        ("slug".to_owned(), AuditValue::Text(t.slug.clone())),
                        (
                            "isolation".to_owned(),
                            AuditValue::Text(t.isolation.clone()),
                        ),
                    ]
                    .into(),
                ),
                after: None,
            };
            audit::write(&tx, tenant, None, &record)
                .await
                .or_unexpected()?;
        }
        finish_change(tx, tenant.as_uuid(), self.engine.as_deref()).await?;
        Ok(res.rows_affected > 0)
    }
    async fn create_tenant(&self, owner: UserId, t: &NewTenant) -> Result<Tenant> {
        self.create_owned(owner, t, None).await
    }
    async fn create_tenant_within(
        &self,
        owner: UserId,
        t: &NewTenant,
        max_owned: u32,
    ) -> Result<Tenant> {
        self.create_owned(owner, t, Some(max_owned)).await
    }
    async fn update_tenant(&self, ctx: &TenantContext, change: &TenantChange) -> Result<Tenant> {
        let tenant = ctx.tenant_id();
        let tx = write_tx(&self.db).await?;
        // The row lock every member and role change of the tenant takes too.
        let row = tenant::Entity::find_by_id(tenant.as_uuid())
            .lock_exclusive()
            .one(&tx)
            .await
            .or_unexpected()?
            .ok_or(Error::NotFound(Kind::Tenant))?;
        let state = |r: &tenant::Model| {
            Some(
                [
                    ("name".to_owned(), AuditValue::Text(r.name.clone())),
                    ("slug".to_owned(), AuditValue::Text(r.slug.clone())),
                ]
                .into(),
            )
        };
        let before = state(&row);
        let mut active: tenant::ActiveModel = row.into();
        if let Some(name) = &change.name {
            active.name = Set(name.as_str().to_owned());
        }
        if let Some(slug) = &change.slug {
            active.slug = Set(slug.as_str().to_owned());
        }
        let updated = active
            .update(&tx)
            .await
            .map_err(|e| unique_as_conflict(e, "slug", "this slug is taken"))?;
        let record = AuditRecord {
            action: AuditAction::TenantUpdated,
            target: format!("tenant:{tenant}"),
            before,
            after: state(&updated),
        };
        audit::write(&tx, tenant, ctx.user_id(), &record)
            .await
            .or_unexpected()?;
        finish_change(tx, tenant.as_uuid(), self.engine.as_deref()).await?;
        tenant_to_domain(updated)
    }
    async fn tenant(&self, id: TenantId) -> Result<Tenant> {
        tenant::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .or_unexpected()?
            .map_or(Err(Error::NotFound(Kind::Tenant)), tenant_to_domain)
    }
    async fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Option<Tenant>> {
        tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug.as_str()))
            .one(&self.db)
            .await
            .or_unexpected()?
            .map(tenant_to_domain)
            .transpose()
    }
}

#[async_trait]
impl Memberships for SqlIdentityStore {
    async fn add_membership(&self, tenant: TenantId, user: UserId, role: &RoleName) -> Result<()> {
        let tx = write_tx(&self.db).await?;
        // An invitation may name a custom role deleted since it was sent.
        if !crate::authz::store::role_exists(&tx, tenant, role).await? {
            return Err(Error::invalid("role", "this role no longer exists"));
        }
        insert_membership(&tx, tenant, user, role).await?;
        self.finish_join(tx, tenant, user, role.as_str(), None)
            .await
    }
    async fn add_invited_membership(
        &self,
        tenant: TenantId,
        user: UserId,
        role: &RoleName,
        invited_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        let tx = write_tx(&self.db).await?;
        // The lock every member change holds: a removal either committed
        // before this check or waits until this join is done.
        crate::authz::store::lock_tenant_row(&tx, tenant).await?;
        if audit::removed_since(&tx, tenant, user, invited_at)
            .await
            .or_unexpected()?
        {
            return Ok(false);
        }
        if !crate::authz::store::role_exists(&tx, tenant, role).await? {
            return Err(Error::invalid("role", "this role no longer exists"));
        }
        insert_membership(&tx, tenant, user, role).await?;
        self.finish_join(tx, tenant, user, role.as_str(), None)
            .await?;
        Ok(true)
    }
    async fn member_ids(&self, tenant: TenantId) -> Result<Vec<UserId>> {
        Ok(membership::Entity::find()
            .filter(membership::Column::TenantId.eq(tenant.as_uuid()))
            .all(&self.db)
            .await
            .or_unexpected()?
            .into_iter()
            .map(|m| UserId::from_uuid(m.user_id))
            .collect())
    }
    async fn set_membership_role(
        &self,
        tenant: TenantId,
        user: UserId,
        role: &RoleName,
    ) -> Result<()> {
        let tx = write_tx(&self.db).await?;
        let before = membership::Entity::find_by_id((tenant.as_uuid(), user.as_uuid()))
            .one(&tx)
            .await
            .or_unexpected()?
            .ok_or(Error::NotFound(Kind::Membership))?;
        membership::Entity::update_many()
            .col_expr(
                membership::Column::Role,
                sea_orm::sea_query::Expr::value(role.as_str()),
            )
            .filter(membership::Column::TenantId.eq(tenant.as_uuid()))
            .filter(membership::Column::UserId.eq(user.as_uuid()))
            .exec(&tx)
            .await
            .or_unexpected()?;
        let record = AuditRecord {
            action: AuditAction::MemberRoleChanged,
            target: format!("user:{user}"),
            before: Some(state("role", before.role)),
            after: Some(state("role", role.as_str())),
        };
        audit::write(&tx, tenant, None, &record)
            .await
            .or_unexpected()?;
        finish_change(tx, tenant.as_uuid(), self.engine.as_deref()).await
    }
    async fn membership(&self, user: UserId, tenant: TenantId) -> Result<Option<Membership>> {
        match &self.cache {
            Some(cache) => {
                cache
                    .membership(user, tenant, async || {
                        self.read_membership(user, tenant).await
                    })
                    .await
            }
            None => self.read_membership(user, tenant).await,
        }
    }
    async fn memberships_of(&self, user: UserId) -> Result<Vec<(Membership, Tenant)>> {
        let rows = membership::Entity::find()
            .filter(membership::Column::UserId.eq(user.as_uuid()))
            .find_also_related(tenant::Entity)
            .order_by_asc(membership::Column::CreatedAt)
            .all(&self.db)
            .await
            .or_unexpected()?;
        rows.into_iter()
            .filter_map(|(m, t)| t.map(|t| (m, t)))
            .map(|(m, t)| {
                let t = tenant_to_domain(t)?;
                Ok((membership_to_domain(m, &t), t))
            })
            .collect()
    }
    async fn members_by_ids(&self, ctx: &TenantContext, ids: &[UserId]) -> Result<Vec<User>> {
        let ids: Vec<_> = ids.iter().map(UserId::as_uuid).collect();
        user::Entity::find()
            .join(JoinType::InnerJoin, membership::Relation::User.def().rev())
            .filter(membership::Column::TenantId.eq(ctx.tenant_id().as_uuid()))
            .filter(user::Column::Id.is_in(ids))
            .all(&self.db)
            .await
            .or_unexpected()?
            .into_iter()
            .map(user_to_domain)
            .collect()
    }
}
