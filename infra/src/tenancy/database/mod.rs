//! The database strategy: a database per tenant, on one of the configured
//! servers, reached through a pool of its own.
//!
//! The tenant directory is the `tenants` table: `isolation = 'database'` and
//! `placement` naming the server. Placement never changes under a running
//! request, so each node keeps what it has read in memory and forgets a
//! tenant when it is deleted.

mod pools;
mod servers;

pub use pools::{Lease, PoolLimits, PoolStats, TenantPools};
pub use servers::{ServerSpec, default_template_name};

use crate::entities::tenant;
use crate::errors::DbResultExt;
use domain::{Error, Isolation, Result, TenantId};
use migration::{MigratorTrait, TenantPlane};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    TransactionTrait,
};
use servers::Server;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

#[derive(Debug, Clone)]
pub struct DatabaseTenancySettings {
    /// Empty: one server, the deployment's own (its PostgreSQL server, or a
    /// `tenants/` directory beside its SQLite file).
    pub servers: Vec<ServerSpec>,
    /// Tenant databases are `<prefix><tenant hex>`.
    pub name_prefix: String,
    /// The template database to copy (PostgreSQL); unset, one named after
    /// the tenant-plane migrations.
    pub template: Option<String>,
    pub limits: PoolLimits,
}

impl Default for DatabaseTenancySettings {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            name_prefix: "tenant_".into(),
            template: None,
            limits: PoolLimits {
                pool_size: 2,
                slots: 16,
                idle_timeout: std::time::Duration::from_secs(60),
                admission_timeout: std::time::Duration::from_secs(2),
                acquire_timeout: std::time::Duration::from_secs(5),
            },
        }
    }
}

pub struct TenantDatabases {
    control: DatabaseConnection,
    servers: Vec<Server>,
    pools: Arc<TenantPools>,
    /// Tenant → index in `servers`.
    directory: RwLock<HashMap<TenantId, usize>>,
}

impl TenantDatabases {
    /// # Errors
    /// A server entry that cannot be used, or none at all.
    pub fn new(
        control: DatabaseConnection,
        main_url: &str,
        settings: &DatabaseTenancySettings,
    ) -> std::result::Result<Self, String> {
        let specs = if settings.servers.is_empty() {
            vec![default_server(main_url)?]
        } else {
            settings.servers.clone()
        };
        let mut names = std::collections::HashSet::new();
        let template = settings
            .template
            .clone()
            .unwrap_or_else(default_template_name);
        let mut servers = Vec::with_capacity(specs.len());
        for spec in &specs {
            // The name is stored in each tenant's row (64 characters at most).
            if spec.name.is_empty() || spec.name.len() > 64 {
                return Err(format!(
                    "database server name {:?} must have 1 to 64 characters",
                    spec.name
                ));
            }
            if !names.insert(spec.name.as_str()) {
                return Err(format!(
                    "database server name {:?} appears twice",
                    spec.name
                ));
            }
            servers.push(Server::new(spec, &settings.name_prefix, &template)?);
        }
        Ok(Self {
            control,
            servers,
            pools: TenantPools::new(settings.limits),
            directory: RwLock::default(),
        })
    }

    pub fn stats(&self) -> PoolStats {
        self.pools.stats()
    }

    pub fn server_names(&self) -> Vec<&str> {
        self.servers.iter().map(|s| s.name.as_str()).collect()
    }

    fn remember(&self, tenant: TenantId, index: usize) {
        self.directory
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant, index);
    }

    /// The server with the fewest database tenants (the first listed on a tie).
    async fn place(&self) -> Result<usize> {
        #[derive(FromQueryResult)]
        struct Count {
            placement: Option<String>,
            n: i64,
        }
        let counts: HashMap<String, i64> = tenant::Entity::find()
            .select_only()
            .column(tenant::Column::Placement)
            .column_as(tenant::Column::Id.count(), "n")
            .filter(tenant::Column::Isolation.eq(Isolation::Database.as_str()))
            .group_by(tenant::Column::Placement)
            .into_model::<Count>()
            .all(&self.control)
            .await
            .or_unexpected()?
            .into_iter()
            .filter_map(|c| Some((c.placement?, c.n)))
            .collect();
        Ok((0..self.servers.len())
            .min_by_key(|&i| counts.get(&self.servers[i].name).copied().unwrap_or(0))
            .unwrap_or(0))
    }

    /// Creates the tenant's database on the server the placement rule picks
    /// and returns that server's name, for the tenant's row.
    ///
    /// # Errors
    /// When the database cannot be created.
    pub async fn provision(&self, tenant: TenantId) -> Result<String> {
        self.provision_on(tenant, None).await
    }

    /// [`Self::provision`] on the named server, or the placement rule's
    /// pick; a database left by a failed earlier attempt is dropped first.
    ///
    /// # Errors
    /// An unknown server (`BAD_USER_INPUT`), or the database failing.
    pub async fn provision_on(&self, tenant: TenantId, server: Option<&str>) -> Result<String> {
        let index = match server {
            Some(name) => self.index_of(name).map_err(|_| {
                Error::invalid("server", format!("no database server is named {name:?}"))
            })?,
            None => self.place().await?,
        };
        let server = &self.servers[index];
        server.drop(tenant).await.or_unexpected()?;
        server.create(tenant).await.or_unexpected()?;
        self.remember(tenant, index);
        Ok(server.name.clone())
    }

    /// Removes the tenant's database: its pool closed first, then the
    /// database (or file) dropped. Running it twice is harmless.
    ///
    /// # Errors
    /// When the database cannot be dropped.
    pub async fn remove(&self, tenant: TenantId, placement: &str) -> Result<()> {
        self.pools.forget(tenant).await;
        let server = self.server_named(placement)?;
        server.drop(tenant).await.or_unexpected()?;
        self.forget_placement(tenant);
        Ok(())
    }

    fn server_named(&self, name: &str) -> Result<&Server> {
        Ok(&self.servers[self.index_of(name)?])
    }

    /// Whether a server of that name is configured.
    pub(crate) fn has_server(&self, name: &str) -> bool {
        self.servers.iter().any(|s| s.name == name)
    }

    fn index_of(&self, name: &str) -> Result<usize> {
        self.servers
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| {
                Error::unexpected(format!(
                    "a tenant is placed on database server {name:?}, which is not configured"
                ))
            })
    }

    /// The tenant's server, from memory or the directory.
    async fn locate(&self, tenant: TenantId) -> Result<&Server> {
        let known = self
            .directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&tenant)
            .copied();
        if let Some(i) = known {
            return Ok(&self.servers[i]);
        }
        let row = tenant::Entity::find_by_id(tenant.as_uuid())
            .one(&self.control)
            .await
            .or_unexpected()?
            .ok_or(Error::NotFound(domain::error::Entity::Tenant))?;
        if row.isolation != Isolation::Database.as_str() {
            // Moved out of its database since the request looked it up: a retry finds it.
            return Err(Error::RateLimited {
                retry_after_secs: 1,
            });
        }
        let name = row.placement.ok_or_else(|| {
            Error::unexpected(format!("database tenant {tenant} has no placement"))
        })?;
        let index = self.index_of(&name)?;
        self.remember(tenant, index);
        Ok(&self.servers[index])
    }

    /// The tenant's pool, opened if needed, within the connection budget.
    ///
    /// # Errors
    /// `RateLimited` when the budget is spent; otherwise as the database fails.
    pub async fn lease(&self, tenant: TenantId) -> Result<Lease> {
        let server = self.locate(tenant).await?;
        match self
            .pools
            .lease(tenant, &server.tenant_url(tenant), &server.name)
            .await
        {
            Err(e @ Error::Unexpected(_)) => Err(self.recheck(tenant, e).await),
            other => other,
        }
    }

    /// Forgets where the tenant lives; the next request reads the directory.
    pub fn forget_placement(&self, tenant: TenantId) {
        self.directory
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&tenant);
    }

    /// After a failure to reach the tenant's database: if the tenant has
    /// moved since (its database gone), forgets its pool and placement and
    /// says `RateLimited` (a retry finds it); anything else is passed on.
    pub async fn recheck(&self, tenant: TenantId, failure: Error) -> Error {
        let known = self
            .directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&tenant)
            .copied();
        let moved = match tenant::Entity::find_by_id(tenant.as_uuid())
            .one(&self.control)
            .await
        {
            Ok(Some(row)) => {
                row.isolation != Isolation::Database.as_str()
                    || known
                        .is_some_and(|i| row.placement.as_deref() != Some(&self.servers[i].name))
            }
            _ => false,
        };
        if moved {
            self.forget_placement(tenant);
            self.pools.forget(tenant).await;
            return Error::RateLimited {
                retry_after_secs: 1,
            };
        }
        failure
    }

    /// Databases on the servers that no tenant is placed on, as (server,
    /// tenant) pairs, skipping those younger than `min_age` by the time in
    /// their tenant id (UUIDv7): a tenant being created has its database
    /// a moment before its row.
    ///
    /// # Errors
    /// When a server or the directory cannot be read.
    pub async fn orphans(&self, min_age: std::time::Duration) -> Result<Vec<(String, TenantId)>> {
        let placed: std::collections::HashSet<(String, uuid::Uuid)> = tenant::Entity::find()
            .filter(tenant::Column::Isolation.eq(Isolation::Database.as_str()))
            .all(&self.control)
            .await
            .or_unexpected()?
            .into_iter()
            .filter_map(|t| Some((t.placement?, t.id)))
            .collect();
        let mut out = Vec::new();
        for server in &self.servers {
            for id in server.present().await.or_unexpected()? {
                if !placed.contains(&(server.name.clone(), id.as_uuid())) && older_than(id, min_age)
                {
                    out.push((server.name.clone(), id));
                }
            }
        }
        Ok(out)
    }

    /// Drops a database [`Self::orphans`] found.
    ///
    /// # Errors
    /// An unknown server, or the drop failing.
    pub async fn drop_orphan(&self, server: &str, tenant: TenantId) -> Result<()> {
        self.server_named(server)?
            .drop(tenant)
            .await
            .or_unexpected()
    }

    /// `server/database` of a tenant placed on `placement`, for listings.
    pub fn describe(&self, tenant: TenantId, placement: Option<&str>) -> String {
        match placement.and_then(|p| self.servers.iter().find(|s| s.name == p)) {
            Some(s) => s.describe(tenant),
            None => format!("{}/?", placement.unwrap_or("?")),
        }
    }

    /// The tenant's last applied tenant-plane migration.
    ///
    /// # Errors
    /// When its database cannot be read.
    pub async fn version(&self, tenant: TenantId) -> Result<Option<String>> {
        let lease = self.lease(tenant).await?;
        Ok(TenantPlane::get_applied_migrations(lease.connection())
            .await
            .or_unexpected()?
            .last()
            .map(|m| m.name().to_owned()))
    }

    /// Applies what the tenant's database lacks (one transaction on
    /// PostgreSQL); returns how many migrations that was.
    ///
    /// # Errors
    /// When a migration fails; on PostgreSQL nothing of it is kept.
    pub async fn migrate(&self, tenant: TenantId) -> Result<usize> {
        let lease = self.lease(tenant).await?;
        let conn = lease.connection();
        let pending = TenantPlane::get_pending_migrations(conn)
            .await
            .or_unexpected()?
            .len();
        if pending == 0 {
            return Ok(0);
        }
        if self.locate(tenant).await?.is_postgres() {
            let tx = conn.begin().await.or_unexpected()?;
            TenantPlane::up(&tx, None).await.or_unexpected()?;
            tx.commit().await.or_unexpected()?;
        } else {
            TenantPlane::up(conn, None).await.or_unexpected()?;
        }
        Ok(pending)
    }
}

/// Whether the tenant id (a UUIDv7) was made at least `age` ago; ids with
/// no time in them never are.
pub(crate) fn older_than(tenant: TenantId, age: std::time::Duration) -> bool {
    let Some(ts) = tenant.as_uuid().get_timestamp() else {
        return false;
    };
    let (secs, nanos) = ts.to_unix();
    let made = std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos);
    std::time::SystemTime::now()
        .duration_since(made)
        .is_ok_and(|d| d >= age)
}

/// The deployment's own server: its PostgreSQL server, or a `tenants/`
/// directory beside its SQLite file.
fn default_server(main_url: &str) -> std::result::Result<ServerSpec, String> {
    let url = if main_url.starts_with("postgres") {
        main_url.to_owned()
    } else {
        let file = crate::pool::sqlite_file(main_url).ok_or(
            "database isolation on an in-memory SQLite database needs tenancy.database.servers",
        )?;
        let dir = std::path::Path::new(file)
            .parent()
            .map(|d| d.join("tenants"))
            .unwrap_or_else(|| "tenants".into());
        format!("sqlite://{}", dir.display())
    };
    Ok(ServerSpec {
        name: "main".into(),
        url,
    })
}
