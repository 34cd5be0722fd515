//! The harness: the real server on a random port, one per test, spoken to in
//! GraphQL over HTTP. Each test has a database of its own (a SQLite file, or a
//! PostgreSQL clone of a migrated template), so tests run in parallel and
//! leave nothing behind.

use crate::databases::{
    clone_database, drop_database, drop_databases_like, server_of, tenant_template_name,
};
use api::app::Application;
use api::config::Settings;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL with new tenants in schemas of their own (the schema strategy).
    PostgresSchema,
    /// PostgreSQL with a database per new tenant (the database strategy).
    PostgresDatabase,
    /// SQLite with a file per new tenant (the database strategy).
    SqliteDatabase,
}

impl Backend {
    /// The isolation new tenants get, as the fixture endpoint names it.
    pub fn isolation(self) -> &'static str {
        match self {
            Backend::PostgresSchema => "schema",
            Backend::PostgresDatabase | Backend::SqliteDatabase => "database",
            _ => "row",
        }
    }

    pub fn is_postgres(self) -> bool {
        matches!(
            self,
            Backend::Postgres | Backend::PostgresSchema | Backend::PostgresDatabase
        )
    }
}

/// The HS256 secret of every test server.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
pub const TEST_METRICS_TOKEN: &str = "test-metrics-token-test-metrics-token-0123";

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Fails with how to start Redis when it does not answer.
async fn ensure_redis(url: &str) {
    let reachable = match redis::Client::open(url) {
        Ok(client) => match client.get_multiplexed_async_connection().await {
            Ok(mut conn) => redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .is_ok(),
            Err(_) => false,
        },
        Err(_) => false,
    };
    assert!(
        reachable,
        "Redis is not reachable at {url}. Start it (e.g. `redis-server --daemonize yes`, or \
         `docker compose up -d redis`) or point TEST_REDIS_URL at one."
    );
}

/// A backend plus the adapters that differ with Redis.
#[derive(Clone, Copy, Debug)]
pub enum Setup {
    Sqlite,
    Postgres,
    PostgresRedis,
}

pub async fn spawn_setup(setup: Setup) -> TestApp {
    spawn_setup_with(setup, |_| {}).await
}

pub async fn spawn_setup_with(setup: Setup, configure: impl FnOnce(&mut Settings)) -> TestApp {
    match setup {
        Setup::Sqlite => spawn_with(Backend::Sqlite, configure).await,
        Setup::Postgres => spawn_with(Backend::Postgres, configure).await,
        Setup::PostgresRedis => {
            let url = redis_url();
            ensure_redis(&url).await;
            spawn_with(Backend::Postgres, |s| {
                s.redis.url = Some(url);
                configure(s);
            })
            .await
        }
    }
}

pub fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/tenantry_test".into())
}

pub struct TestApp {
    pub addr: String,
    /// The database the server uses (PostgreSQL: this test's own clone).
    pub database_url: String,
    postgres_database: Option<(String, String)>,
    client: reqwest::Client,
    sqlite_file: Option<PathBuf>,
    /// Database-strategy tenants this server made: their names' prefix (unique
    /// to this server) and where they are, to remove them when the test ends.
    tenant_databases: TenantDatabases,
    /// What the server was started with, for starting more nodes beside it.
    pub settings: Settings,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

#[derive(Default)]
struct TenantDatabases {
    prefix: String,
    postgres_servers: Vec<String>,
    sqlite_dirs: Vec<PathBuf>,
}

impl TenantDatabases {
    fn of(settings: &Settings) -> Self {
        let d = &settings.tenancy.database;
        let mut out = Self {
            prefix: d.name_prefix.clone(),
            ..Self::default()
        };
        let urls: Vec<String> = if d.servers.is_empty() {
            vec![settings.database.url.clone()]
        } else {
            d.servers.iter().map(|s| s.url.clone()).collect()
        };
        for url in urls {
            if url.starts_with("postgres") {
                out.postgres_servers.push(server_of(&url));
            } else if d.servers.is_empty() {
                // The default place: `tenants/` beside the SQLite file.
                let file = url.trim_start_matches("sqlite://");
                let file = file.split('?').next().unwrap_or(file);
                if let Some(dir) = std::path::Path::new(file).parent() {
                    out.sqlite_dirs.push(dir.join("tenants"));
                }
            } else {
                out.sqlite_dirs
                    .push(PathBuf::from(url.trim_start_matches("sqlite://")));
            }
        }
        out
    }

    fn remove(&self) {
        for dir in &self.sqlite_dirs {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&self.prefix)
                {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        for base in &self.postgres_servers {
            drop_databases_like(base.clone(), format!("{}%", self.prefix));
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
        self.tenant_databases.remove();
        if let Some((base, name)) = self.postgres_database.take() {
            drop_database(base, name);
        }
        if let Some(f) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
            }
        }
    }
}

/// A server, its settings, and the adapters of the same settings for the
/// work the CLI does beside a running server (moves, exports, migrations).
pub async fn spawn_with_platform(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, infra::platform::Platform, Settings) {
    let mut copy = None;
    let app = spawn_with(backend, |s| {
        configure(s);
        copy = Some(s.clone());
    })
    .await;
    let settings = copy.expect("settings");
    let platform = api::app::platform(&settings)
        .await
        .expect("the adapters of the server's settings");
    (app, platform, settings)
}

/// Starts a server for one test. `configure` may adjust settings (limits, etc.).
pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (url, sqlite_file) = match backend {
        Backend::Sqlite | Backend::SqliteDatabase => {
            let dir = std::env::temp_dir().join("tenantry-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            let file = dir.join(format!("{}.db", uuid::Uuid::new_v4()));
            (format!("sqlite://{}?mode=rwc", file.display()), Some(file))
        }
        Backend::Postgres | Backend::PostgresSchema | Backend::PostgresDatabase => {
            let base = server_of(&postgres_url());
            let name = clone_database(&base).await;
            (format!("{base}/{name}"), None)
        }
    };
    let postgres_database = backend
        .is_postgres()
        .then(|| (server_of(&url), url.rsplit_once('/').unwrap().1.to_owned()));
    let database_url = url.clone();
    let figment = Settings::figment()
        .merge(("app_env", "test"))
        .merge(("server.host", "127.0.0.1"))
        .merge(("server.port", 0))
        .merge(("database.url", url))
        .merge(("database.max_connections", 5))
        .merge(("demo.seed_on_first_start", false))
        .merge((
            "log.filter",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into()),
        ))
        // Servers of parallel tests may share one Redis: keep their keys apart.
        .merge(("redis.key_prefix", unique("test")))
        // Known to the token tests, which forge tokens with it.
        .merge(("auth.jwt_secret", TEST_JWT_SECRET))
        // Database tenants: named apart from other tests' (and removed by
        // that name when the test ends), copied from the tests' own template.
        .merge((
            "tenancy.database.name_prefix",
            format!("tt{}_", &uuid::Uuid::new_v4().simple().to_string()[..10]),
        ))
        .merge(("tenancy.database.template", tenant_template_name()))
        // Tests send requests faster than people do; the request rates are
        // tested on their own (request_rates.rs).
        .merge(("rate_limit.requests.tenant_work_per_second", 1_000_000))
        .merge(("rate_limit.requests.user_per_second", 1_000_000))
        .merge(("rate_limit.requests.anonymous_per_second", 1_000_000))
        // Every test signs up from one address and makes tenants and
        // invitations in a hurry; the budgets are tested on their own (budgets.rs).
        .merge(("rate_limit.hourly.sign_ups_per_client", 1_000_000))
        .merge(("rate_limit.hourly.tenants_per_user", 1_000_000))
        .merge(("rate_limit.hourly.invitations_per_tenant", 1_000_000))
        .merge(("rate_limit.hourly.refreshes_per_session", 1_000_000))
        .merge(("tenancy.self_service.max_owned_tenants", 1_000))
        // Parallel servers cannot share the metrics port: the tests read
        // /metrics on the API's listener, with the token.
        .merge(("metrics.listen", ""))
        .merge(("metrics.token", TEST_METRICS_TOKEN));
    let mut settings = Settings::from_figment(figment).expect("test settings");
    settings.tenancy.default_isolation = backend.isolation().parse().expect("an isolation");
    configure(&mut settings);
    let tenant_databases = TenantDatabases::of(&settings);
    if std::env::var("TEST_LOG").is_ok() {
        api::telemetry::init(&settings.log, settings.app_env);
    }
    let (addr, server) = start(settings.clone()).await;
    TestApp {
        addr,
        database_url,
        postgres_database,
        client: reqwest::Client::new(),
        sqlite_file,
        tenant_databases,
        settings,
        server: Some(server),
    }
}

async fn start(settings: Settings) -> (String, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let app = Application::build(settings)
        .await
        .expect("the server starts");
    let addr = format!("http://{}", app.local_addr());
    (addr, tokio::spawn(app.run(std::future::pending())))
}

impl TestApp {
    /// Another server on this one's database: a second node of the same
    /// deployment. It leaves cleaning up to this one.
    pub async fn another_node(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings.clone();
        configure(&mut settings);
        let (addr, server) = start(settings.clone()).await;
        TestApp {
            addr,
            database_url: self.database_url.clone(),
            postgres_database: None,
            client: reqwest::Client::new(),
            sqlite_file: None,
            tenant_databases: TenantDatabases::default(),
            settings,
            server: Some(server),
        }
    }

    /// Stops the server the way a killed process stops: requests and
    /// deliveries in flight are cut off. Its database stays.
    pub async fn kill(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }
}

pub async fn spawn(backend: Backend) -> TestApp {
    spawn_with(backend, |_| {}).await
}

/// A signed-up user with their own fresh tenant.
#[derive(Debug, Clone)]
pub struct Account {
    pub token: String,
    pub user_id: String,
    pub tenant_id: String,
    pub email: String,
    pub password: String,
    pub slug: String,
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.addr)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        let res = self
            .client
            .get(self.url("/metrics"))
            .bearer_auth(TEST_METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "/metrics with the token");
        res.text().await.unwrap()
    }

    /// Storage on the server's own database, as the CLI would open it.
    pub async fn storage(&self) -> infra::db::Storage {
        infra::db::Storage::connect(&infra::db::DbSettings {
            url: self.database_url.clone(),
            max_connections: 4,
            acquire_timeout: std::time::Duration::from_secs(10),
            log_statements: false,
            tenant_statement_timeout: None,
            tenant_databases: Default::default(),
            admission: None,
        })
        .await
        .expect("the server's database opens")
    }

    /// Every adapter on the server's own database, composed as the CLI does.
    pub async fn platform(&self) -> infra::platform::Platform {
        infra::platform::Platform::compose(self.storage().await, infra::platform::Settings::local())
            .await
            .expect("the authorization policy loads")
    }

    /// A tenant from the fixture endpoint, on a server started with `secret`.
    pub async fn fixture(&self, secret: &str, body: Value) -> Value {
        let res = self
            .client
            .post(self.url("/_fixtures/tenants"))
            .header("x-fixtures-secret", secret)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "the fixture was refused: {body}");
        body
    }

    /// Deletes a fixture's tenant; returns the status.
    pub async fn delete_fixture(&self, secret: &str, tenant: &str) -> reqwest::StatusCode {
        self.client
            .delete(self.url(&format!("/_fixtures/tenants/{tenant}")))
            .header("x-fixtures-secret", secret)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// POSTs a GraphQL request; returns the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request sent");
        res.json().await.expect("JSON response")
    }

    /// Like [`TestApp::gql`], but panics on errors and returns `data`.
    /// The latest 50 entries of the token's tenant's audit log whose actor
    /// is `actor` (an operator, say), newest first, as `owner_token` reads them.
    pub async fn audit_by(&self, owner_token: &str, actor: &str) -> Vec<Value> {
        let log = self
            .data(
                Some(owner_token),
                "{ auditLog(first: 50) { edges { node { actorId action target before after } } } }",
                json!({}),
            )
            .await;
        log["auditLog"]["edges"]
            .as_array()
            .expect("auditLog edges")
            .iter()
            .map(|e| e["node"].clone())
            .filter(|n| n["actorId"] == actor)
            .collect()
    }

    pub async fn data(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.gql(token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    pub async fn sign_up(&self) -> Account {
        let slug = unique("t");
        let email = format!("{}@example.test", unique("user"));
        let password = "correct horse battery".to_owned();
        let d = self
            .data(
                None,
                "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id email } tenant { id slug } } }",
                json!({ "i": { "email": email, "password": password, "displayName": "Test User",
                               "tenantName": "Test Co", "tenantSlug": slug } }),
            )
            .await;
        let s = &d["signUp"];
        Account {
            token: s["accessToken"].as_str().unwrap().to_owned(),
            user_id: s["user"]["id"].as_str().unwrap().to_owned(),
            tenant_id: s["tenant"]["id"].as_str().unwrap().to_owned(),
            email,
            password,
            slug,
        }
    }

    pub async fn create_project(&self, token: &str, name: &str) -> String {
        let d = self
            .data(
                Some(token),
                "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }",
                json!({ "i": { "name": name } }),
            )
            .await;
        d["createProject"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_task(&self, token: &str, input: Value) -> Value {
        let d = self
            .data(
                Some(token),
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id title status priority dueDate version } }",
                json!({ "i": input }),
            )
            .await;
        d["createTask"].clone()
    }
}

/// The `extensions.code` of each error of a response.
pub fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errs| {
            errs.iter()
                .filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The fields a `BAD_USER_INPUT` error names, in order.
pub fn bad_fields(body: &Value) -> Vec<String> {
    assert_code(body, "BAD_USER_INPUT");
    body["errors"][0]["extensions"]["fields"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter_map(|f| f["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts exactly one error with `code`.
pub fn assert_code(body: &Value, code: &str) {
    assert_eq!(
        codes(body),
        vec![code.to_owned()],
        "expected one {code} error in {body:#}"
    );
}

/// Generates one `#[tokio::test]` per backend for an `async fn(Backend)`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await }) +
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Postgres).await }) +
        }
        mod postgres_schema {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::PostgresSchema).await }) +
        }
        mod postgres_database {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::PostgresDatabase).await }) +
        }
        mod sqlite_database {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::SqliteDatabase).await }) +
        }
    };
}

/// Generates one test, on SQLite, for each `async fn(Backend)` that checks
/// what does not depend on storage (the HTTP contract, the permission
/// matrix): five backends would run the same code five times.
#[macro_export]
macro_rules! on_one_backend {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await }) +
        }
    };
}

/// Generates one test per [`Setup`] for an `async fn(TestApp)`.
#[macro_export]
macro_rules! on_every_setup {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::spawn_setup($crate::helpers::Setup::Sqlite).await).await }) +
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::spawn_setup($crate::helpers::Setup::Postgres).await).await }) +
        }
        mod postgres_redis {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::spawn_setup($crate::helpers::Setup::PostgresRedis).await).await }) +
        }
    };
}

/// Generates one test per [`Setup`] for an `async fn(Setup)`.
#[macro_export]
macro_rules! for_every_setup {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Setup::Sqlite).await }) +
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Setup::Postgres).await }) +
        }
        mod postgres_redis {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Setup::PostgresRedis).await }) +
        }
    };
}
