//! The database servers tenants are placed on, and making and dropping a
//! tenant's database on one of them.
//!
//! A PostgreSQL server is named by a URL to any database on it (its admin
//! connection); a tenant's database there is `<prefix><tenant hex>`, created
//! from a migrated template database, which copies files instead of running
//! every migration again. A SQLite "server" is a directory; a tenant's
//! database is the file `<prefix><tenant hex>.db` in it.

use domain::TenantId;
use migration::{MigratorTrait, TenantPlane};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbErr, TransactionTrait};
use serde::Deserialize;
use std::path::PathBuf;
use tokio::sync::OnceCell;

/// One entry of `tenancy.database.servers`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ServerSpec {
    /// Stored in the tenant directory; keep it stable once tenants live there.
    pub name: String,
    /// `postgres://…/<any database>` or `sqlite://<directory>`.
    pub url: String,
}

enum Kind {
    Postgres {
        /// The URL up to the database name, and what follows it (`?…`).
        base: String,
        query: String,
    },
    Sqlite {
        dir: PathBuf,
    },
}

pub(crate) struct Server {
    pub(crate) name: String,
    admin_url: String,
    kind: Kind,
    prefix: String,
    template: String,
    admin: OnceCell<DatabaseConnection>,
    template_ready: OnceCell<()>,
}

/// The template database's name: one per set of tenant-plane migrations, so
/// a deployment with new migrations makes a new one instead of using a stale one.
pub fn default_template_name() -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for m in TenantPlane::migrations() {
        m.name().hash(&mut h);
    }
    format!("tenantry_tenant_tpl_{:016x}", h.finish())
}

impl Server {
    pub(crate) fn new(spec: &ServerSpec, prefix: &str, template: &str) -> Result<Self, String> {
        let kind = if let Some(path) = spec
            .url
            .strip_prefix("sqlite://")
            .or_else(|| spec.url.strip_prefix("sqlite:"))
        {
            let dir = path.split('?').next().unwrap_or(path);
            if dir.is_empty() || dir == ":memory:" {
                return Err(format!(
                    "database server {:?}: a SQLite server is a directory (sqlite://<dir>)",
                    spec.name
                ));
            }
            Kind::Sqlite {
                dir: PathBuf::from(dir),
            }
        } else if spec.url.starts_with("postgres://") || spec.url.starts_with("postgresql://") {
            let (path, query) = match spec.url.split_once('?') {
                Some((p, q)) => (p, format!("?{q}")),
                None => (spec.url.as_str(), String::new()),
            };
            let base = path
                .rsplit_once('/')
                .filter(|(b, _)| b.contains("//") && !b.ends_with('/'))
                .map(|(b, _)| b.to_owned())
                .ok_or_else(|| {
                    format!(
                        "database server {:?}: the URL must name a database (postgres://host/postgres)",
                        spec.name
                    )
                })?;
            Kind::Postgres { base, query }
        } else {
            return Err(format!(
                "database server {:?}: the URL must start with postgres:// or sqlite://",
                spec.name
            ));
        };
        Ok(Self {
            name: spec.name.clone(),
            admin_url: spec.url.clone(),
            kind,
            prefix: prefix.to_owned(),
            template: template.to_owned(),
            admin: OnceCell::new(),
            template_ready: OnceCell::new(),
        })
    }

    /// The tenant's database name (PostgreSQL) or file stem (SQLite).
    fn database_name(&self, tenant: TenantId) -> String {
        format!("{}{}", self.prefix, tenant.as_uuid().simple())
    }

    /// Where the tenant's pool connects.
    pub(crate) fn tenant_url(&self, tenant: TenantId) -> String {
        match &self.kind {
            Kind::Postgres { base, query } => {
                format!("{base}/{}{query}", self.database_name(tenant))
            }
            Kind::Sqlite { dir } => format!(
                "sqlite://{}",
                dir.join(format!("{}.db", self.database_name(tenant)))
                    .display()
            ),
        }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.kind, Kind::Postgres { .. })
    }

    async fn admin(&self) -> Result<&DatabaseConnection, DbErr> {
        self.admin
            .get_or_try_init(|| async {
                // One connection: it only creates and drops databases.
                let mut opts = sea_orm::ConnectOptions::new(self.admin_url.clone());
                opts.max_connections(1)
                    .min_connections(0)
                    .idle_timeout(std::time::Duration::from_secs(60))
                    .sqlx_logging(false);
                Database::connect(opts).await
            })
            .await
    }

    /// Creates the tenant's database with every tenant-plane migration applied.
    pub(crate) async fn create(&self, tenant: TenantId) -> Result<(), DbErr> {
        match &self.kind {
            Kind::Postgres { .. } => {
                self.template_ready
                    .get_or_try_init(|| self.make_template())
                    .await?;
                self.admin()
                    .await?
                    .execute_unprepared(&format!(
                        "CREATE DATABASE \"{}\" TEMPLATE \"{}\"",
                        self.database_name(tenant),
                        self.template
                    ))
                    .await?;
                Ok(())
            }
            Kind::Sqlite { dir } => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbErr::Custom(format!("creating {}: {e}", dir.display())))?;
                let mut opts = crate::pool::pool_options(&self.tenant_url(tenant))?;
                opts.max_connections(1);
                let conn = Database::connect(opts).await?;
                let migrated = TenantPlane::up(&conn, None).await;
                let _ = conn.close().await;
                migrated
            }
        }
    }

    /// Makes the template unless it exists: migrated under a temporary name,
    /// then renamed, so a half-made template is never copied and two nodes
    /// making it at once both end up using one.
    async fn make_template(&self) -> Result<(), DbErr> {
        let Kind::Postgres { base, query } = &self.kind else {
            return Ok(());
        };
        let admin = self.admin().await?;
        if self.database_exists(&self.template).await? {
            return Ok(());
        }
        let random = uuid::Uuid::now_v7().simple().to_string();
        let scratch = format!("{}_{}", self.template, &random[24..]);
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{scratch}\""))
            .await?;
        let made = async {
            let mut opts = sea_orm::ConnectOptions::new(format!("{base}/{scratch}{query}"));
            opts.max_connections(1).sqlx_logging(false);
            let conn = Database::connect(opts).await?;
            let tx = conn.begin().await?;
            TenantPlane::up(&tx, None).await?;
            tx.commit().await?;
            conn.close().await
        }
        .await;
        let renamed = match made {
            Ok(()) => {
                admin
                    .execute_unprepared(&format!(
                        "ALTER DATABASE \"{scratch}\" RENAME TO \"{}\"",
                        self.template
                    ))
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = renamed {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{scratch}\""))
                .await;
            // Another node made it meanwhile: use theirs.
            if !self.database_exists(&self.template).await? {
                return Err(e);
            }
        }
        Ok(())
    }

    async fn database_exists(&self, name: &str) -> Result<bool, DbErr> {
        Ok(self
            .admin()
            .await?
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT 1 AS one FROM pg_database WHERE datname = $1",
                [name.into()],
            ))
            .await?
            .is_some())
    }

    /// Drops the tenant's database; nothing to drop is not an error, so a
    /// deletion that stopped half-way can be run again.
    pub(crate) async fn drop(&self, tenant: TenantId) -> Result<(), DbErr> {
        match &self.kind {
            Kind::Postgres { .. } => {
                self.admin()
                    .await?
                    .execute_unprepared(&format!(
                        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                        self.database_name(tenant)
                    ))
                    .await?;
                Ok(())
            }
            Kind::Sqlite { dir } => {
                let stem = dir.join(format!("{}.db", self.database_name(tenant)));
                for suffix in ["", "-wal", "-shm"] {
                    let file = format!("{}{suffix}", stem.display());
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(DbErr::Custom(format!("removing {file}: {e}"))),
                    }
                }
                Ok(())
            }
        }
    }

    /// The tenants that have a database (or file) on this server, by its name.
    pub(crate) async fn present(&self) -> Result<Vec<TenantId>, DbErr> {
        let names: Vec<String> = match &self.kind {
            Kind::Postgres { .. } => self
                .admin()
                .await?
                .query_all_raw(sea_orm::Statement::from_sql_and_values(
                    sea_orm::DbBackend::Postgres,
                    "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
                    [self.prefix.clone().into()],
                ))
                .await?
                .iter()
                .map(|r| r.try_get::<String>("", "datname"))
                .collect::<Result<_, _>>()?,
            Kind::Sqlite { dir } => std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".db").map(str::to_owned)
                })
                .collect(),
        };
        Ok(names
            .iter()
            .filter_map(|n| n.strip_prefix(&self.prefix))
            .filter(|hex| hex.len() == 32)
            .filter_map(|hex| uuid::Uuid::try_parse(hex).ok())
            .map(TenantId::from_uuid)
            .collect())
    }

    /// Where the tenant lives, for `tenants list`.
    pub(crate) fn describe(&self, tenant: TenantId) -> String {
        format!("{}/{}", self.name, self.database_name(tenant))
    }
}
