//! A transaction bound to one tenant, and the only query builders repositories get.

use crate::entities::project;
use crate::errors::DbResultExt;
use async_trait::async_trait;
use domain::plan::Stored;
use domain::ports::TenantTx;
use domain::{Result, TenantContext};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DeleteMany, EntityTrait, IntoActiveModel,
    QueryFilter, Select, UpdateMany,
};
use uuid::Uuid;

/// Tenant-plane entities: each names its `tenant_id` column. Implemented
/// only by the declarations in [`super::registry`].
pub(crate) trait TenantScoped: EntityTrait {
    fn tenant_column() -> Self::Column;
}

/// A query that already carries the tenant filter. Repositories can narrow it
/// ([`Scoped::and`] only adds conditions) but cannot make one without a tenant.
pub(crate) struct Scoped<Q>(Q);

impl<Q> Scoped<Q> {
    /// Refines the query: filters, ordering, limits. Filters are ANDed with the tenant's.
    pub(crate) fn and(self, f: impl FnOnce(Q) -> Q) -> Self {
        Scoped(f(self.0))
    }
}

impl<E: EntityTrait> Scoped<Select<E>> {
    /// The query as a sub-select, tenant filter and all.
    pub(crate) fn into_subquery(self) -> SelectStatement {
        sea_orm::QueryTrait::into_query(self.0)
    }
}

/// Where a tenant transaction finds `tenant_members`, the bound tenant's
/// members (see the control-plane migration that makes it).
#[derive(Clone, Debug)]
pub(crate) enum Members {
    /// On the search path: the row strategy, and SQLite.
    Here,
    /// In the shared schema, named: a schema tenant's path holds only its own.
    InSchema(std::sync::Arc<str>),
}

pub(crate) struct Bound {
    tx: DatabaseTransaction,
    ctx: TenantContext,
    /// `None` where the members live in another database (a database tenant's).
    members: Option<Members>,
    /// A database tenant's pool stays open while its transaction runs.
    _lease: Option<super::database::Lease>,
    /// A database tenant's write holds its move lock from a control-database
    /// transaction; released (rolled back, it wrote nothing) after the commit.
    companion: Option<DatabaseTransaction>,
    /// Whether the advisory lock asked of [`super::SqlTenancy::open_with`] was granted.
    extra_lock: bool,
    /// Set when the transaction wrote outbox events, so the commit wakes the worker.
    announced: std::sync::atomic::AtomicBool,
    nudges: Option<std::sync::Arc<super::Nudges>>,
    /// This node's recent counts of stored rows, for limits.
    hints: Option<std::sync::Arc<super::StoredHints>>,
    /// The tenant's place in the shared pool; last, so it is given back
    /// after the connection is.
    grant: Option<super::admission::Grant>,
}

impl Bound {
    #[cfg(feature = "rls-probe")]
    pub(crate) fn into_inner(self) -> DatabaseTransaction {
        self.tx
    }

    pub(crate) fn new(
        tx: DatabaseTransaction,
        ctx: TenantContext,
        lease: Option<super::database::Lease>,
    ) -> Self {
        Self {
            tx,
            ctx,
            _lease: lease,
            members: None,
            extra_lock: false,
            companion: None,
            announced: std::sync::atomic::AtomicBool::new(false),
            nudges: None,
            hints: None,
            grant: None,
        }
    }

    pub(crate) fn holding_extra_lock(mut self, held: bool) -> Self {
        self.extra_lock = held;
        self
    }

    /// Whether this transaction holds the lock its opening tried for.
    pub(crate) fn holds_extra_lock(&self) -> bool {
        self.extra_lock
    }

    pub(crate) fn seeing_members(mut self, members: Option<Members>) -> Self {
        self.members = members;
        self
    }

    pub(crate) fn admitted(mut self, grant: Option<super::admission::Grant>) -> Self {
        self.grant = grant;
        self
    }

    pub(crate) fn announcing(mut self, nudges: Option<std::sync::Arc<super::Nudges>>) -> Self {
        self.nudges = nudges;
        self
    }

    pub(crate) fn hinted(mut self, hints: Option<std::sync::Arc<super::StoredHints>>) -> Self {
        self.hints = hints;
        self
    }

    pub(crate) fn holding(mut self, companion: Option<DatabaseTransaction>) -> Self {
        self.companion = companion;
        self
    }

    /// Every row of `E` of this tenant, as JSON objects (exports).
    pub(crate) async fn rows_as_json<E: TenantScoped>(&self) -> Result<Vec<serde_json::Value>> {
        self.select::<E>()
            .0
            .into_json()
            .all(&self.tx)
            .await
            .or_unexpected()
    }

    pub(crate) fn backend(&self) -> sea_orm::DbBackend {
        use sea_orm::ConnectionTrait;
        self.tx.get_database_backend()
    }

    /// `pg_advisory_xact_lock(space, hashtext(tenant))`: waits for the lock;
    /// on SQLite, whose writers already take turns, nothing.
    pub(crate) async fn advisory_lock(&self, space: i32) -> Result<()> {
        if self.backend() == sea_orm::DbBackend::Postgres {
            super::moving::advisory(&self.tx, "pg_advisory_xact_lock", space, self.tenant())
                .await?;
        }
        Ok(())
    }

    /// Makes the commit tell this node's outbox worker about the new events.
    pub(crate) fn mark_announced(&self) {
        self.announced
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn tenant(&self) -> Uuid {
        self.ctx.tenant_id().as_uuid()
    }

    pub(crate) fn select<E: TenantScoped>(&self) -> Scoped<Select<E>> {
        Scoped(E::find().filter(E::tenant_column().eq(self.tenant())))
    }

    pub(crate) fn update<E: TenantScoped>(&self) -> Scoped<UpdateMany<E>> {
        Scoped(E::update_many().filter(E::tenant_column().eq(self.tenant())))
    }

    pub(crate) fn delete<E: TenantScoped>(&self) -> Scoped<DeleteMany<E>> {
        Scoped(E::delete_many().filter(E::tenant_column().eq(self.tenant())))
    }

    pub(crate) async fn exec_delete<E: EntityTrait>(
        &self,
        q: Scoped<DeleteMany<E>>,
    ) -> Result<u64> {
        Ok(q.0.exec(&self.tx).await.or_unexpected()?.rows_affected)
    }

    /// Runs a delete; returns the rows it removed (`DELETE … RETURNING`).
    pub(crate) async fn delete_returning<E: EntityTrait>(
        &self,
        q: Scoped<DeleteMany<E>>,
    ) -> Result<Vec<E::Model>> {
        q.0.exec_with_returning(&self.tx).await.or_unexpected()
    }

    /// `SELECT id FROM projects WHERE tenant_id = $t AND deleted_at IS NULL`, for
    /// hiding the tasks of deleted projects.
    pub(crate) fn live_project_ids(&self) -> SelectStatement {
        Query::select()
            .column(project::Column::Id)
            .from(project::Entity)
            .and_where(Expr::col(project::Column::TenantId).eq(self.tenant()))
            .and_where(Expr::col(project::Column::DeletedAt).is_null())
            .to_owned()
    }

    /// `SELECT 1 FROM projects WHERE tenant_id = $t AND id = $p AND deleted_at IS NULL`.
    pub(crate) fn live_project(&self, id: domain::ProjectId) -> SelectStatement {
        Query::select()
            .expr(Expr::val(1))
            .from(project::Entity)
            .and_where(Expr::col(project::Column::TenantId).eq(self.tenant()))
            .and_where(Expr::col(project::Column::Id).eq(id.as_uuid()))
            .and_where(Expr::col(project::Column::DeletedAt).is_null())
            .to_owned()
    }

    /// The rows of `q` and the members its `user` column names (those of
    /// them who are members of this tenant, each once), in one query: a left
    /// join on `tenant_members`, whose columns follow `q`'s `leading` ones.
    /// The rows stay raw, for the caller to read by position. `None` where
    /// the members are out of reach.
    pub(crate) async fn rows_with_members<E: TenantScoped>(
        &self,
        q: Scoped<Select<E>>,
        user: E::Column,
        leading: usize,
    ) -> Result<Option<(Vec<sea_orm::QueryResult>, Vec<domain::identity::User>)>> {
        use sea_orm::QueryTrait;
        use sea_orm::sea_query::{Alias, IntoTableRef, JoinType};
        let Some(members) = &self.members else {
            return Ok(None);
        };
        let view = match members {
            Members::Here => Alias::new("tenant_members").into_table_ref(),
            Members::InSchema(schema) => {
                (Alias::new(schema.as_ref()), Alias::new("tenant_members")).into_table_ref()
            }
        };
        let m = Alias::new("tm");
        let mut select = q.0;
        QueryTrait::query(&mut select)
            .join_as(
                JoinType::LeftJoin,
                view,
                m.clone(),
                Expr::col((m.clone(), Alias::new("member_tenant_id")))
                    .equals((E::default(), E::tenant_column()))
                    .and(
                        Expr::col((m.clone(), Alias::new("member_id")))
                            .equals((E::default(), user)),
                    ),
            )
            .columns(
                ["member_id", "member_email", "member_name", "member_since"]
                    .map(|c| (m.clone(), Alias::new(c))),
            );
        let rows = self.rows(Scoped(select)).await?;
        let mut users: Vec<domain::identity::User> = Vec::new();
        for r in &rows {
            let Some(id) = r
                .try_get_by_index::<Option<Uuid>>(leading)
                .or_unexpected()?
            else {
                continue;
            };
            // A page names few assignees, many times each: each is read once.
            if users.iter().any(|u| u.id.as_uuid() == id) {
                continue;
            }
            users.push(crate::users::stored_user(
                id,
                &r.try_get_by_index::<String>(leading + 1).or_unexpected()?,
                &r.try_get_by_index::<String>(leading + 2).or_unexpected()?,
                r.try_get_by_index(leading + 3).or_unexpected()?,
            )?);
        }
        Ok(Some((rows, users)))
    }

    /// The rows of `q`, raw, for the caller to read by position: reading a
    /// column by name is a hash lookup, per column of each row.
    pub(crate) async fn rows<E: EntityTrait>(
        &self,
        q: Scoped<Select<E>>,
    ) -> Result<Vec<sea_orm::QueryResult>> {
        use sea_orm::{ConnectionTrait, QueryTrait};
        self.tx
            .query_all_raw(q.0.build(self.backend()))
            .await
            .or_unexpected()
    }

    pub(crate) async fn all<E: EntityTrait>(&self, q: Scoped<Select<E>>) -> Result<Vec<E::Model>> {
        q.0.all(&self.tx).await.or_unexpected()
    }

    pub(crate) async fn one<E: EntityTrait>(
        &self,
        q: Scoped<Select<E>>,
    ) -> Result<Option<E::Model>> {
        q.0.one(&self.tx).await.or_unexpected()
    }

    pub(crate) async fn count<E: EntityTrait>(&self, q: Scoped<Select<E>>) -> Result<u64>
    where
        E::Model: Sync,
    {
        use sea_orm::PaginatorTrait;
        q.0.count(&self.tx).await.or_unexpected()
    }

    /// Counts what `q` selects, up to its own limit: `COUNT(*)` over it as a
    /// sub-select (a `Select`'s own count drops the limit).
    pub(crate) async fn count_limited<E: EntityTrait>(&self, q: Scoped<Select<E>>) -> Result<u64> {
        use sea_orm::ConnectionTrait;
        let count = Query::select()
            .expr_as(Expr::cust("COUNT(*)"), sea_orm::sea_query::Alias::new("n"))
            .from_subquery(q.into_subquery(), sea_orm::sea_query::Alias::new("limited"))
            .to_owned();
        let row = self
            .tx
            .query_one_raw(self.backend().build(&count))
            .await
            .or_unexpected()?;
        let n: i64 = row
            .map(|r| r.try_get("", "n"))
            .transpose()
            .or_unexpected()?
            .unwrap_or(0);
        Ok(n.unsigned_abs())
    }

    /// Runs an update; returns the number of rows it changed.
    pub(crate) async fn exec_update<E: EntityTrait>(
        &self,
        q: Scoped<UpdateMany<E>>,
    ) -> Result<u64> {
        Ok(q.0.exec(&self.tx).await.or_unexpected()?.rows_affected)
    }

    /// Builds a row of this tenant: `build` receives the tenant id to put in
    /// the row, and the row is refused if it names any other.
    fn own_row<E, A>(&self, build: impl FnOnce(Uuid) -> A) -> Result<A, sea_orm::DbErr>
    where
        E: TenantScoped,
        A: ActiveModelTrait<Entity = E>,
    {
        let model = build(self.tenant());
        match model.get(E::tenant_column()).into_value() {
            Some(v) if v == self.tenant().into() => Ok(model),
            _ => Err(sea_orm::DbErr::Custom(
                "insert without this tenant's id".into(),
            )),
        }
    }

    /// Inserts a row of this tenant (see [`Self::own_row`]).
    pub(crate) async fn insert<E, A>(
        &self,
        build: impl FnOnce(Uuid) -> A,
    ) -> Result<(), sea_orm::DbErr>
    where
        E: TenantScoped,
        A: ActiveModelTrait<Entity = E> + Send,
        E::Model: IntoActiveModel<A>,
    {
        E::insert(self.own_row(build)?)
            .exec_without_returning(&self.tx)
            .await
            .map(|_| ())
    }

    /// Inserts a row of this tenant and returns it as stored, in one statement.
    pub(crate) async fn insert_returning<E, A>(
        &self,
        build: impl FnOnce(Uuid) -> A,
    ) -> Result<E::Model, sea_orm::DbErr>
    where
        E: TenantScoped,
        A: ActiveModelTrait<Entity = E> + Send,
        E::Model: IntoActiveModel<A>,
    {
        E::insert(self.own_row(build)?)
            .exec_with_returning(&self.tx)
            .await
    }

    /// Inserts a row of this tenant unless one with its primary key exists;
    /// tells which. Where another transaction is inserting the same key,
    /// PostgreSQL waits for it to end, so `false` means committed.
    pub(crate) async fn insert_new<E, A>(
        &self,
        build: impl FnOnce(Uuid) -> A,
    ) -> Result<bool, sea_orm::DbErr>
    where
        E: TenantScoped,
        A: ActiveModelTrait<Entity = E> + Send,
        E::Model: IntoActiveModel<A>,
    {
        use sea_orm::{Iterable, PrimaryKeyToColumn, sea_query::OnConflict};
        let inserted = E::insert(self.own_row(build)?)
            .on_conflict(
                OnConflict::columns(E::PrimaryKey::iter().map(|k| k.into_column()))
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.tx)
            .await?;
        Ok(inserted == 1)
    }

    /// Inserts a row of this tenant only if `guard` finds a row, and returns
    /// it as stored: `INSERT … SELECT … WHERE EXISTS (guard) RETURNING *`,
    /// one statement where a check, an insert and a read-back were three.
    pub(crate) async fn insert_if<E, A, G>(
        &self,
        build: impl FnOnce(Uuid) -> A,
        guard: Scoped<Select<G>>,
    ) -> Result<Option<E::Model>>
    where
        E: TenantScoped,
        A: ActiveModelTrait<Entity = E> + Send,
        G: EntityTrait,
    {
        use sea_orm::sea_query::{InsertStatement, IntoIden};
        use sea_orm::{ConnectionTrait, FromQueryResult, Iterable};
        let model = self.own_row(build).or_unexpected()?;
        let (columns, values): (Vec<_>, Vec<_>) = E::Column::iter()
            .filter_map(|c| {
                let v = model.get(c).into_value()?;
                Some((c.into_iden(), Expr::val(v)))
            })
            .unzip();
        let mut values_if = Query::select();
        values_if
            .exprs(values)
            .and_where(Expr::exists(guard.into_subquery()));
        let mut insert = InsertStatement::new();
        insert
            .into_table(E::default())
            .columns(columns)
            .select_from(values_if)
            .map_err(domain::Error::unexpected)?
            .returning_all();
        let row = self
            .tx
            .query_one_raw(self.backend().build(&insert))
            .await
            .or_unexpected()?;
        row.map(|r| E::Model::from_query_result(&r, ""))
            .transpose()
            .or_unexpected()
    }

    /// Inserts many rows in one statement; refused whole if any row names another tenant.
    pub(crate) async fn insert_many<E, A>(&self, models: Vec<A>) -> Result<(), sea_orm::DbErr>
    where
        E: TenantScoped,
        A: ActiveModelTrait<Entity = E> + Send,
        E::Model: IntoActiveModel<A>,
    {
        let ours: sea_orm::Value = self.tenant().into();
        if models
            .iter()
            .any(|m| m.get(E::tenant_column()).into_value().as_ref() != Some(&ours))
        {
            return Err(sea_orm::DbErr::Custom(
                "bulk insert with another tenant's id".into(),
            ));
        }
        if models.is_empty() {
            return Ok(());
        }
        E::insert_many(models)
            .exec_without_returning(&self.tx)
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl TenantTx for Bound {
    fn context(&self) -> &TenantContext {
        &self.ctx
    }

    async fn stored(&self, what: domain::plan::Stored, up_to: u32) -> Result<u64> {
        self.stored_rows(what, up_to).await
    }

    async fn within(&self, what: Stored, max: u32) -> Result<bool> {
        self.within_limit(self.hints.as_deref(), what, max).await
    }

    async fn lock_stored(&self, what: domain::plan::Stored) -> Result<()> {
        self.lock_stored_kind(what).await
    }

    async fn lock_invitations(&self) -> Result<()> {
        self.lock_invitation_turn().await
    }

    async fn purge(&self) -> Result<u64> {
        let mut n = 0;
        // Children before parents.
        for table in super::registry::TABLES.iter().rev() {
            n += table.purge(self).await?;
        }
        Ok(n)
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let Bound {
            tx,
            companion,
            ctx,
            announced,
            nudges,
            grant,
            ..
        } = *self;
        let committed = tx.commit().await.or_unexpected();
        // The connection is back in the pool: the next tenant may have it.
        drop(grant);
        committed?;
        if announced.into_inner()
            && let Some(n) = nudges
        {
            n.nudge(&ctx);
        }
        // The write has committed: a failure to release the lock (which the
        // connection's end releases anyway) must not report it as failed.
        if let Some(c) = companion
            && let Err(e) = c.rollback().await
        {
            tracing::warn!(error = %e, "releasing a tenant's move lock");
        }
        Ok(())
    }
}
