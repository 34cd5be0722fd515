//! Connecting to the database and migrating it.

use crate::tenancy::database::TenantDatabases;
use migration::{ControlPlane, MigratorTrait, TenantPlane};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, TransactionTrait};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DbSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// Log each SQL statement at debug level.
    pub log_statements: bool,
    /// The longest a statement of a tenant transaction may run (PostgreSQL),
    /// so one tenant's slow query cannot hold connections the others need.
    pub tenant_statement_timeout: Option<Duration>,
    /// Database-strategy tenants: servers, naming, pool limits.
    pub tenant_databases: crate::tenancy::database::DatabaseTenancySettings,
    /// Fair shares of the shared pool per tenant; `None` admits all at once.
    pub admission: Option<crate::tenancy::admission::AdmissionLimits>,
}

/// Opens the connection pool. For a `sqlite:` file URL the parent directory is
/// created, and the file is opened in WAL mode with a busy timeout and foreign
/// keys on, which the embedded default needs to serve concurrent requests.
pub async fn connect(settings: &DbSettings) -> Result<DatabaseConnection, DbErr> {
    let mut opts = crate::pool::pool_options(&settings.url)?;
    opts.max_connections(settings.max_connections)
        .min_connections(1)
        .acquire_timeout(settings.acquire_timeout)
        .sqlx_logging(settings.log_statements);
    Database::connect(opts).await
}

/// Applies pending control-plane and shared (row-strategy) tenant-plane
/// migrations. Schema tenants follow with [`Storage::migrate_tenants`].
///
/// On PostgreSQL everything runs in one transaction holding an advisory lock, so
/// API nodes booting together take turns instead of racing on the ledger, and a
/// failed migration leaves the schema as it was.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    const LOCK_KEY: i64 = 0x7465_6e61_6e74; // "tenant"
    if db.get_database_backend() == DbBackend::Postgres {
        let tx = db.begin().await?;
        tx.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"))
            .await?;
        ControlPlane::up(&tx, None).await?;
        TenantPlane::up(&tx, None).await?;
        tx.commit().await
    } else {
        ControlPlane::up(db, None).await?;
        TenantPlane::up(db, None).await
    }
}

/// `SELECT 1`, for readiness checks.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}

/// The database behind every adapter, so the `api` crate never handles ORM types.
#[derive(Clone)]
pub struct Storage {
    db: DatabaseConnection,
    tenant_statement_timeout: Option<Duration>,
    /// This process's enforcer, once loaded; stores tell it of their changes.
    engine: Option<std::sync::Arc<crate::authz::PolicyEngine>>,
    /// Database-strategy tenants' databases and pools (none when no server
    /// can hold them, e.g. an in-memory SQLite deployment).
    databases: Option<std::sync::Arc<TenantDatabases>>,
    /// Commits that wrote outbox events wake this node's worker through it.
    nudges: std::sync::Arc<crate::tenancy::Nudges>,
    stored_hints: std::sync::Arc<crate::tenancy::StoredHints>,
    /// Identity stores answer membership lookups from it, once it is on.
    membership_cache: Option<std::sync::Arc<crate::membership_cache::MembershipCache>>,
    /// Tenants' fair shares of the shared pool.
    admission: Option<std::sync::Arc<crate::tenancy::admission::Admission>>,
}

impl Storage {
    /// # Errors
    /// When the database cannot be reached or opened.
    pub async fn connect(settings: &DbSettings) -> Result<Self, DbErr> {
        let db = connect(settings).await?;
        let databases =
            match TenantDatabases::new(db.clone(), &settings.url, &settings.tenant_databases) {
                Ok(d) => Some(std::sync::Arc::new(d)),
                // Named servers must all work; a derived one may simply not exist.
                Err(e) if !settings.tenant_databases.servers.is_empty() => {
                    return Err(DbErr::Custom(format!("tenancy.database.servers: {e}")));
                }
                Err(_) => None,
            };
        Ok(Self {
            db,
            tenant_statement_timeout: settings.tenant_statement_timeout,
            engine: None,
            databases,
            nudges: std::sync::Arc::default(),
            stored_hints: std::sync::Arc::default(),
            membership_cache: None,
            admission: settings
                .admission
                .map(crate::tenancy::admission::Admission::new),
        })
    }

    /// # Errors
    /// When a migration fails; on PostgreSQL nothing of the run is kept.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        migrate(&self.db).await
    }

    /// Migrates every schema tenant in its own transaction, `concurrency` at
    /// a time; see [`crate::tenancy::lifecycle::migrate_all`].
    ///
    /// # Errors
    /// When the tenants cannot be listed.
    pub async fn migrate_tenants(
        &self,
        concurrency: usize,
        done: impl Fn(&crate::tenancy::lifecycle::TenantMigration, usize),
    ) -> Result<Vec<crate::tenancy::lifecycle::TenantMigration>, DbErr> {
        crate::tenancy::lifecycle::migrate_all(
            &self.db,
            self.databases.as_deref(),
            concurrency,
            done,
        )
        .await
    }

    /// Every tenant, with where it lives and its migration version.
    ///
    /// # Errors
    /// When a query fails.
    pub async fn tenants(&self) -> Result<Vec<crate::tenancy::lifecycle::TenantInfo>, DbErr> {
        crate::tenancy::lifecycle::list(&self.db, self.databases.as_deref()).await
    }

    /// # Errors
    /// When the database does not answer.
    pub async fn ping(&self) -> Result<(), DbErr> {
        ping(&self.db).await
    }

    /// Moves a tenant to another strategy (and, into `database`, onto the
    /// plan's server); see [`crate::tenancy::moving`].
    ///
    /// # Errors
    /// As the move fails; the tenant then stays where it was.
    pub(crate) async fn move_tenant(
        &self,
        tenant: domain::TenantId,
        plan: &domain::moves::MovePlan,
        progress: &dyn domain::moves::MoveProgress,
    ) -> domain::Result<domain::lifecycle::Moved> {
        self.tenancy().move_tenant(tenant, plan, progress).await
    }

    /// Schemas and databases no tenant owns, at least `min_age` old; see
    /// [`crate::tenancy::gc`].
    ///
    /// # Errors
    /// When the catalog or a server cannot be read.
    pub(crate) async fn orphans(
        &self,
        min_age: Duration,
    ) -> domain::Result<Vec<crate::tenancy::gc::Orphan>> {
        crate::tenancy::gc::find(&self.db, self.databases.as_deref(), min_age).await
    }

    /// Removes an orphan; `false` when it was left alone (its tenant owns it
    /// after all, or is being moved).
    ///
    /// # Errors
    /// When the drop fails.
    pub(crate) async fn remove_orphan(
        &self,
        orphan: &crate::tenancy::gc::Orphan,
    ) -> domain::Result<bool> {
        crate::tenancy::gc::remove(&self.db, self.databases.as_deref(), orphan).await
    }

    /// The database-strategy pools' state (none without database servers).
    pub fn tenant_pools(&self) -> Option<crate::tenancy::database::PoolStats> {
        self.databases.as_ref().map(|d| d.stats())
    }

    /// "postgres" or "sqlite".
    pub fn backend(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Postgres => "postgres",
            DbBackend::Sqlite => "sqlite",
            _ => "other",
        }
    }

    /// Whether no tenant exists yet (a first start).
    ///
    /// # Errors
    /// When the query fails.
    pub async fn has_no_tenants(&self) -> Result<bool, DbErr> {
        use sea_orm::{EntityTrait, PaginatorTrait};
        Ok(crate::entities::tenant::Entity::find()
            .count(&self.db)
            .await?
            == 0)
    }

    pub(crate) fn tenancy(&self) -> crate::tenancy::SqlTenancy {
        crate::tenancy::SqlTenancy::new(self.db.clone())
            .with_statement_timeout(self.tenant_statement_timeout)
            .with_databases(self.databases.clone())
            .with_nudges(self.nudges.clone())
            .with_stored_hints(self.stored_hints.clone())
            .with_admission(self.admission.clone())
            .with_moved_hook(self.engine.clone().map(|engine| {
                std::sync::Arc::new(move |t: domain::TenantId| engine.distrust(t.as_uuid()))
                    as crate::tenancy::MovedHook
            }))
    }

    /// This node's outbox worker; see [`crate::outbox`].
    ///
    /// # Errors
    /// When its HTTP client cannot be built.
    pub(crate) fn outbox_worker(
        &self,
        settings: crate::outbox::WorkerSettings,
        sink: Option<crate::outbox::EventSink>,
    ) -> reqwest::Result<crate::outbox::Worker> {
        crate::outbox::Worker::new(
            self.tenancy(),
            self.db.clone(),
            self.nudges.clone(),
            settings,
            sink,
        )
    }

    pub(crate) fn sessions(&self) -> crate::sessions::SqlSessionStore {
        crate::sessions::SqlSessionStore::new(self.db.clone())
    }

    pub(crate) fn external_identities(&self) -> crate::external_identities::SqlExternalIdentities {
        crate::external_identities::SqlExternalIdentities::new(self.db.clone())
    }

    pub(crate) fn identity(&self) -> crate::identity::SqlIdentityStore {
        crate::identity::SqlIdentityStore::new(self.db.clone(), self.engine.clone())
            .with_databases(self.databases.clone())
            .with_cache(self.membership_cache.clone())
    }

    /// Caches membership lookups for identity stores made from now on (see
    /// [`crate::membership_cache`]): `local_entries` in this process (0 for
    /// none), and in Redis when `shared` is given. Needs the authorization
    /// engine, whose change feed tells what is still fresh; without it,
    /// nothing is cached.
    pub(crate) fn cache_memberships(
        &mut self,
        local_entries: usize,
        shared: Option<crate::membership_cache::Shared>,
    ) {
        self.membership_cache = self.engine.as_ref().and_then(|engine| {
            (local_entries > 0 || shared.is_some()).then(|| {
                std::sync::Arc::new(crate::membership_cache::MembershipCache::new(
                    engine.clone(),
                    local_entries,
                    shared,
                ))
            })
        });
    }

    /// The control-plane pool, for the adapters made here.
    pub(crate) fn control(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Redis's revocation list with this database behind it.
    pub(crate) fn durable_revocations(
        &self,
        redis: crate::revocations::RedisRevocations,
    ) -> crate::revocations::DurableRevocations {
        crate::revocations::DurableRevocations::new(redis, self.db.clone())
    }

    /// For tests only: the pool itself, to check what a pooled connection
    /// carries between transactions. Never compiled into the server.
    #[cfg(feature = "rls-probe")]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub(crate) fn access(&self) -> crate::authz::SqlAccessStore {
        crate::authz::SqlAccessStore::new(self.db.clone(), self.engine.clone())
    }

    /// Loads the Casbin enforcer (writing the default roles' lines first).
    /// Stores made afterwards apply their changes to it at commit.
    ///
    /// # Errors
    /// When the database fails or a stored line does not fit the model.
    pub(crate) async fn load_authorization(
        &mut self,
        publisher: Option<crate::authz::Publisher>,
    ) -> anyhow::Result<std::sync::Arc<crate::authz::PolicyEngine>> {
        let engine = std::sync::Arc::new(
            crate::authz::PolicyEngine::load(self.db.clone(), publisher).await?,
        );
        self.engine = Some(engine.clone());
        Ok(engine)
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(self) {
        let _ = self.db.close().await;
    }
}
