//! The tenant-binding point: the one place a tenant-plane transaction is opened.
//!
//! [`SqlTenancy::begin`] takes a [`TenantContext`] and returns a transaction that
//! is bound to that tenant twice over: on PostgreSQL the transaction-local
//! setting `app.tenant_id` is set (for row-level security), and every query the
//! repositories build goes through [`bound::Bound`], which adds the
//! `tenant_id` filter and writes `tenant_id` into every insert.

pub mod admission;
mod bound;
mod bulk;
pub mod database;
mod events;
mod export;
pub mod gc;
mod idempotency;
mod invitations;
mod keyset;
pub mod lifecycle;
pub mod moving;
mod nudges;
mod projects;
mod stored;
pub(crate) use projects::contains_pattern;
pub(crate) mod provision;
pub(crate) mod prune;
mod registry;
pub mod relay;
pub mod schema;
mod tasks;
mod webhooks;
// generate: repositories

use crate::errors::{self, DbResultExt};
use async_trait::async_trait;
use bound::Bound;
use domain::ports::{Tenancy, TenantTx, TxMode};
use domain::{Isolation, Result, TenantContext};
pub use nudges::Nudges;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};
use std::sync::Arc;
pub use stored::StoredHints;

/// Tenancy over one shared SQL database (the row strategy).
#[derive(Clone)]
pub struct SqlTenancy {
    db: DatabaseConnection,
    /// Database-strategy tenants' own databases, when this deployment has any servers for them.
    databases: Option<Arc<database::TenantDatabases>>,
    /// Milliseconds as PostgreSQL's `statement_timeout` takes them; empty
    /// leaves the role's or database's own setting alone.
    statement_timeout: String,
    /// Woken when a commit wrote outbox events.
    nudges: Option<Arc<Nudges>>,
    stored_hints: Option<Arc<StoredHints>>,
    /// Told when a tenant is not where its context says: a cached lookup
    /// named its old place (the membership cache, for one).
    on_moved: Option<MovedHook>,
    /// Tenants' fair shares of the shared pool.
    admission: Option<Arc<admission::Admission>>,
    /// The shared schema's name, read once: schema tenants find
    /// `tenant_members` there.
    shared_schema: Arc<tokio::sync::OnceCell<Arc<str>>>,
}

/// See [`SqlTenancy::with_moved_hook`].
pub type MovedHook = Arc<dyn Fn(domain::TenantId) + Send + Sync>;

impl SqlTenancy {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            databases: None,
            statement_timeout: String::new(),
            nudges: None,
            stored_hints: None,
            on_moved: None,
            admission: None,
            shared_schema: Arc::default(),
        }
    }

    /// Transactions on the shared pool wait their tenant's turn there.
    #[must_use]
    pub fn with_admission(mut self, admission: Option<Arc<admission::Admission>>) -> Self {
        self.admission = admission;
        self
    }

    /// This node's recent counts of stored rows, for plan limits.
    #[must_use]
    pub fn with_stored_hints(mut self, hints: Arc<StoredHints>) -> Self {
        self.stored_hints = Some(hints);
        self
    }

    #[must_use]
    pub fn with_nudges(mut self, nudges: Arc<Nudges>) -> Self {
        self.nudges = Some(nudges);
        self
    }

    /// Calls `hook` with a tenant whose context named a place it has left.
    #[must_use]
    pub fn with_moved_hook(mut self, hook: Option<MovedHook>) -> Self {
        self.on_moved = hook;
        self
    }

    #[must_use]
    pub fn with_databases(mut self, databases: Option<Arc<database::TenantDatabases>>) -> Self {
        self.databases = databases;
        self
    }

    /// Caps each statement of a tenant transaction (PostgreSQL).
    #[must_use]
    pub fn with_statement_timeout(mut self, limit: Option<std::time::Duration>) -> Self {
        self.statement_timeout = limit.map_or_else(String::new, |d| d.as_millis().to_string());
        self
    }
}

/// What opening a tenant transaction checks first (PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Nothing: a move's own transactions, which bind the tenant where it
    /// is not listed yet, and the outbox worker's reads.
    None,
    /// That the directory still puts the tenant where the context (perhaps
    /// from the membership cache) says; else a retry is asked for, rather
    /// than reading a copy a move has left.
    Directory,
    /// And first the tenant's move lock, held shared (see [`moving`]): writes.
    LockAndDirectory,
}

impl SqlTenancy {
    async fn bind(&self, ctx: &TenantContext, mode: TxMode) -> Result<Bound> {
        self.bind_with(ctx, mode, None).await
    }

    /// [`Self::bind`] at a chosen isolation level (exports read one snapshot).
    async fn bind_with(
        &self,
        ctx: &TenantContext,
        mode: TxMode,
        level: Option<sea_orm::IsolationLevel>,
    ) -> Result<Bound> {
        let check = match mode {
            TxMode::Write => Check::LockAndDirectory,
            TxMode::Read => Check::Directory,
        };
        self.open(ctx, mode, level, check).await
    }

    /// Where a transaction of `ctx`'s tenant reads its members from.
    async fn members(
        &self,
        ctx: &TenantContext,
        own_database: bool,
    ) -> Result<Option<bound::Members>> {
        if own_database {
            return Ok(None);
        }
        if ctx.isolation() != Isolation::Schema
            || self.db.get_database_backend() != DbBackend::Postgres
        {
            return Ok(Some(bound::Members::Here));
        }
        let schema = self
            .shared_schema
            .get_or_try_init(|| async {
                let row = self
                    .db
                    .query_one_raw(Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT current_schema() AS s",
                    ))
                    .await
                    .or_unexpected()?;
                let name: String = row
                    .map(|r| r.try_get("", "s"))
                    .transpose()
                    .or_unexpected()?
                    .ok_or_else(|| domain::Error::unexpected("no current schema"))?;
                Ok::<_, domain::Error>(Arc::from(name))
            })
            .await?;
        Ok(Some(bound::Members::InSchema(schema.clone())))
    }

    fn moved(&self, ctx: &TenantContext) {
        if let Some(hook) = &self.on_moved {
            hook(ctx.tenant_id());
        }
    }

    /// Opens the tenant's transaction, checked as `check` says.
    async fn open(
        &self,
        ctx: &TenantContext,
        mode: TxMode,
        level: Option<sea_orm::IsolationLevel>,
        check: Check,
    ) -> Result<Bound> {
        self.open_with(ctx, mode, level, check, None).await
    }

    /// [`Self::open`], and on PostgreSQL tries the tenant's advisory lock in
    /// `lock_space` in the binding statement (see [`Bound::holds_extra_lock`]).
    async fn open_with(
        &self,
        ctx: &TenantContext,
        mode: TxMode,
        level: Option<sea_orm::IsolationLevel>,
        check: Check,
        lock_space: Option<i32>,
    ) -> Result<Bound> {
        let postgres = self.db.get_database_backend() == DbBackend::Postgres;
        let lease = match (ctx.isolation(), &self.databases) {
            (Isolation::Row, _) => None,
            (Isolation::Schema, _) if postgres => None,
            (Isolation::Database, Some(databases)) => Some(databases.lease(ctx.tenant_id()).await?),
            (other, _) => {
                return Err(domain::Error::unexpected(format!(
                    "isolation {other} is not served by this deployment"
                )));
            }
        };
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(match mode {
                TxMode::Read => SqliteTransactionMode::Deferred,
                // Take the write lock up front: a deferred transaction that reads and
                // then writes can fail with SQLITE_BUSY instead of waiting its turn.
                TxMode::Write => SqliteTransactionMode::Immediate,
            }),
            isolation_level: level,
            ..Default::default()
        };
        // A database tenant's transaction runs on its own pool; the rest share
        // one, and requests take their tenant's turn for it first. The
        // system's own work (the outbox worker, moves) does not: it must not
        // lose to the tenant it serves (a send's outcome not recorded is a
        // duplicate), and it is bounded by its own concurrency.
        let grant = match (&lease, &self.admission) {
            (None, Some(a)) if !matches!(ctx.principal(), domain::Principal::System) => {
                Some(a.admit(ctx.tenant_id()).await?)
            }
            _ => None,
        };
        let db = lease.as_ref().map_or(&self.db, |l| l.connection());
        let tx = match db.begin_with_options(options).await {
            Ok(tx) => tx,
            // Its database may be gone because the tenant moved: then a retry finds it.
            // The tenant's own pool is busy: its requests wait their turn by retrying.
            Err(sea_orm::DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout))
                if lease.is_some() =>
            {
                return Err(domain::Error::RateLimited {
                    retry_after_secs: 1,
                });
            }
            Err(e) => match (&lease, &self.databases) {
                (Some(_), Some(d)) => {
                    return Err(d.recheck(ctx.tenant_id(), errors::unexpected(e)).await);
                }
                _ => return Err(errors::unexpected(e)),
            },
        };
        let mut companion = None;
        if check == Check::LockAndDirectory && postgres {
            // A shared tenant's lock is taken with the binding, below.
            if let Some(l) = &lease {
                // The lock lives in the control database, beside the directory;
                // a database tenant's writes hold it from a transaction there.
                let control = self.db.begin().await.or_unexpected()?;
                if let Err(e) = moving::still_here(&control, ctx, l.placement()).await {
                    if let Some(d) = &self.databases {
                        d.forget_placement(ctx.tenant_id());
                    }
                    self.moved(ctx);
                    return Err(e);
                }
                companion = Some(control);
            }
        }
        // The directory lives only in the shared database, not in a tenant's own.
        let read_directory = check != Check::None && lease.is_none();
        // SQLite's writers take turns: any lock asked for is as good as held.
        let mut extra_lock = true;
        if tx.get_database_backend() == DbBackend::Postgres {
            // Both transaction-local: they end with the transaction, so the
            // pooled connection goes back bound to no tenant, as its login role.
            // As `tenantry_app` the transaction cannot bypass row-level security,
            // which shows it only this tenant's rows (see the tenant-plane migration).
            // A schema tenant's tables are found through its schema alone.
            let search_path = match ctx.isolation() {
                Isolation::Schema => format!("\"{}\"", schema::schema_name(ctx.tenant_id())),
                _ => String::new(),
            };
            // The directory is read with the binding (as the login role:
            // `FROM` is evaluated, and permissions checked, before `role` changes);
            // a write first takes the move lock (see the write-guard migration).
            const BIND: &str = "SELECT set_config('app.tenant_id', $1, true), set_config('role', $2, true), \
                 CASE WHEN $3 = '' THEN '' ELSE set_config('search_path', $3, true) END, \
                 CASE WHEN $4 = '' THEN '' ELSE set_config('statement_timeout', $4, true) END";
            let guarded = read_directory && check == Check::LockAndDirectory;
            let mut values: Vec<sea_orm::Value> = vec![
                ctx.tenant_id().to_string().into(),
                migration::APP_ROLE.into(),
                search_path.into(),
                self.statement_timeout.clone().into(),
            ];
            let mut sql = match (read_directory, guarded) {
                (_, true) => {
                    values.push(moving::LOCK_SPACE.into());
                    format!("{BIND}, g.granted, g.isolation")
                }
                (true, false) => format!(
                    "{BIND}, true AS granted, (SELECT isolation FROM tenants WHERE id = $1::uuid) AS isolation"
                ),
                (false, false) => BIND.to_owned(),
            };
            if let Some(space) = lock_space {
                values.push(space.into());
                sql.push_str(&format!(
                    ", pg_try_advisory_xact_lock(${}, hashtext($1)) AS also_locked",
                    values.len()
                ));
            }
            if guarded {
                sql.push_str(" FROM tenantry_write_guard($5, $1::uuid) g");
            }
            let bound = tx
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    sql,
                    values,
                ))
                .await
                .or_unexpected()?;
            if lock_space.is_some() {
                extra_lock = bound
                    .as_ref()
                    .map(|r| r.try_get::<bool>("", "also_locked"))
                    .transpose()
                    .or_unexpected()?
                    .unwrap_or(false);
            }
            if read_directory {
                let (granted, isolation) = bound
                    .map(|r| {
                        Ok::<_, sea_orm::DbErr>((
                            r.try_get::<bool>("", "granted")?,
                            r.try_get::<Option<String>>("", "isolation")?,
                        ))
                    })
                    .transpose()
                    .or_unexpected()?
                    .unwrap_or((true, None));
                if !granted {
                    return Err(moving::moved());
                }
                moving::check(ctx, isolation.map(|i| (i, None)), None)
                    .inspect_err(|_| self.moved(ctx))?;
            }
        }
        let members = self.members(ctx, lease.is_some()).await?;
        Ok(Bound::new(tx, ctx.clone(), lease)
            .holding_extra_lock(extra_lock)
            .seeing_members(members)
            .holding(companion)
            .admitted(grant)
            .announcing(self.nudges.clone())
            .hinted(self.stored_hints.clone()))
    }

    /// For tests only: a bound transaction's raw connection, to issue on
    /// purpose a query that forgets its tenant filter and show that row-level
    /// security still confines it. Never compiled into the server.
    ///
    /// # Errors
    /// As [`Tenancy::begin`].
    #[cfg(feature = "rls-probe")]
    pub async fn unscoped_probe(
        &self,
        ctx: &TenantContext,
    ) -> Result<sea_orm::DatabaseTransaction> {
        Ok(self.bind(ctx, TxMode::Write).await?.into_inner())
    }
}

#[async_trait]
impl Tenancy for SqlTenancy {
    async fn begin(&self, ctx: &TenantContext, mode: TxMode) -> Result<Box<dyn TenantTx>> {
        Ok(Box::new(self.bind(ctx, mode).await?))
    }
}

/// Loads many rows at once (seeding, benchmarks). Each call is one transaction
/// bound to the context's tenant, like any other write.
impl SqlTenancy {
    /// # Errors
    /// When the insert fails or a row belongs to another tenant; nothing is written then.
    pub async fn bulk_insert(
        &self,
        ctx: &TenantContext,
        projects: &[domain::project::Project],
        tasks: &[domain::task::Task],
    ) -> Result<()> {
        let tx = self.bind(ctx, TxMode::Write).await?;
        for chunk in projects.chunks(500) {
            tx.insert_projects(chunk).await?;
        }
        // Fourteen columns a row: 1000 rows stay under PostgreSQL's 65535 parameters.
        for chunk in tasks.chunks(1000) {
            tx.insert_tasks(chunk).await?;
        }
        Box::new(tx).commit().await
    }
}
