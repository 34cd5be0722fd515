//! Layered configuration: compiled-in defaults (`config/default.toml`), then
//! `config/<APP_ENV>.toml` from the working directory, then the environment.
//! Loading fails at start-up with a message naming the bad setting.

use domain::Isolation;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::SocketAddr;

const DEFAULTS: &str = include_str!("../../config/default.toml");
/// Used outside production when JWT_SECRET is unset, so tokens survive restarts in development.
const DEV_JWT_SECRET: &str = "tenantry-development-secret-do-not-use-in-production";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AppEnv {
    #[default]
    Development,
    Test,
    Production,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub app_env: AppEnv,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub authz: AuthzSettings,
    pub cache: CacheSettings,
    pub rate_limit: RateLimitSettings,
    pub email: EmailSettings,
    pub webhooks: WebhookSettings,
    pub subscriptions: SubscriptionSettings,
    pub invitations: InvitationSettings,
    pub oidc: OidcConfig,
    pub auth: AuthSettings,
    pub tenancy: TenancySettings,
    pub graphql: GraphqlSettings,
    pub demo: DemoSettings,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
    pub housekeeping: HousekeepingSettings,
    pub metering: MeteringSettings,
    pub plans: crate::plans::PlanSettings,
    #[serde(default)]
    pub fixtures: FixturesSettings,
}

/// Periodic jobs (see `infra::housekeeping`).
#[derive(Debug, Clone, Deserialize)]
pub struct HousekeepingSettings {
    pub enabled: bool,
    pub prune_interval_secs: u64,
    pub idempotency_key_ttl_secs: u64,
    pub expired_invitation_retention_secs: u64,
    /// Soft-deleted projects can be restored this long, then go with their tasks.
    pub deleted_project_retention_secs: u64,
    pub replay_interval_secs: u64,
    pub email_retry_interval_secs: u64,
    pub invitation_email_max_attempts: i32,
    pub invitation_email_backoff_secs: i64,
}

/// Each tenant's requests, counted by every server for operators (see
/// `crate::metering`).
#[derive(Debug, Clone, Deserialize)]
pub struct MeteringSettings {
    /// How often a server adds what it counted to the hour's totals.
    pub flush_every_ms: u64,
    /// Hourly totals are kept this long, then pruned by housekeeping.
    pub retention_days: u64,
}

/// Where Prometheus reads `/metrics`: never in the open on the API's listener.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    /// A listener of their own ("host:port"); empty for none.
    pub listen: String,
    /// Also served on the API's listener, to this bearer token only.
    pub token: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub cors_origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    pub migrate_on_start: bool,
    pub log_statements: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    /// Unset: in-process adapters.
    pub url: Option<String>,
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthzSettings {
    /// How often a node looks for other nodes' role and membership changes.
    /// With Redis, changes also arrive at once by pub/sub.
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EmailSettings {
    pub provider_url: Option<String>,
    pub api_key: Option<SecretString>,
    pub from: String,
    pub timeout_ms: u64,
    pub max_attempts: u32,
    pub backoff_ms: u64,
}

/// The membership cache: whether a user belongs to a tenant, with what role
/// and how the tenant is isolated, looked up on every request.
#[derive(Debug, Clone, Deserialize)]
pub struct CacheSettings {
    /// Entries kept in each process; 0 turns the in-process tier off.
    pub local_entries: usize,
    /// Also keep entries in Redis (when `redis.url` is set), shared by the nodes.
    pub shared: bool,
    /// How long an entry lives in Redis.
    pub shared_ttl_secs: u64,
}

/// GraphQL subscriptions over WebSocket.
#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionSettings {
    /// How often an open connection checks that its session still stands.
    pub session_check_ms: u64,
    /// Events one subscriber may fall behind by before its stream ends with an error.
    pub buffer: usize,
    /// How long a new connection has to send `connection_init` (then 4408).
    pub init_timeout_ms: u64,
    /// Subscriptions one node holds at once: per socket, per user, per tenant.
    pub max_per_socket: usize,
    pub max_per_user: usize,
    pub max_per_tenant: usize,
    /// Signed-in sockets one node holds at once, per user and per tenant.
    pub max_sockets_per_user: usize,
    pub max_sockets_per_tenant: usize,
}

/// Outgoing webhooks and the outbox worker.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookSettings {
    /// Run this node's outbox worker. Every node may: they share the work safely.
    pub worker: bool,
    /// Deadline of one delivery attempt.
    pub timeout_ms: u64,
    /// Attempts in all; after the last failure the delivery is dead-lettered.
    pub max_attempts: u32,
    /// The wait after the first failure; doubles with each further one (with jitter).
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// How often every tenant's outbox is looked at (events written on other
    /// nodes, retries after a restart). This node's own writes are sent at once.
    pub sweep_interval_ms: u64,
    /// Events, and deliveries, taken per transaction.
    pub batch_size: u64,
    /// Tenants worked at once.
    pub concurrency: usize,
    /// Webhooks of one tenant sent to at once, and of all tenants.
    pub sends_per_tenant: usize,
    pub send_slots: usize,
    /// How long one webhook's run of deliveries may take; the rest go back
    /// to wait for the next pass.
    pub send_budget_ms: u64,
    /// Allow loopback and private target addresses. Unset: allowed except in production.
    pub allow_private_targets: Option<bool>,
    /// Delivered and dead deliveries are pruned this long after they were
    /// made; 0 keeps them.
    pub retention_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OidcConfig {
    pub jwks_url: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub algorithms: Vec<String>,
    pub tenant_claim: String,
    pub email_claim: String,
    pub email_verified_claim: String,
    pub cache_ttl_secs: u64,
    pub min_refetch_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvitationSettings {
    pub ttl_hours: i64,
    pub accept_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    Open,
    Closed,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RateLimitSettings {
    pub sign_in_per_account: u32,
    pub sign_in_per_client: u32,
    pub period_secs: u64,
    pub on_redis_failure: FailMode,
    pub closed_retry_after_secs: u64,
    pub requests: RequestRateSettings,
    pub hourly: HourlyBudgets,
}

/// Budgets of expensive or unauthenticated mutations, each per hour with a
/// burst of the whole hour's worth (see `domain::budgets`).
#[derive(Debug, Clone, Deserialize)]
pub struct HourlyBudgets {
    pub sign_ups_per_client: u32,
    pub tenants_per_user: u32,
    pub password_changes_per_user: u32,
    pub invitations_per_tenant: u32,
    pub refreshes_per_session: u32,
}

/// Every GraphQL request's rates, per second (see `http::request_rates`).
#[derive(Debug, Clone, Deserialize)]
pub struct RequestRateSettings {
    /// Database round trips one tenant's requests make together.
    pub tenant_work_per_second: u32,
    /// Requests one member makes in one tenant.
    pub user_per_second: u32,
    /// Requests without a token, per client address.
    pub anonymous_per_second: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub jwt_secret: Option<SecretString>,
    /// `HS256` (with `JWT_SECRET`), `RS256` or `EdDSA` (with the key files).
    pub algorithm: JwtAlgorithm,
    pub private_key_file: Option<std::path::PathBuf>,
    pub public_key_file: Option<std::path::PathBuf>,
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl_secs: i64,
    /// How long an operator's impersonation token lives (no refresh).
    pub impersonation_ttl_secs: i64,
    pub refresh_absolute_secs: i64,
    pub refresh_idle_secs: i64,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_lanes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    #[serde(rename = "HS256")]
    Hs256,
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "EdDSA")]
    EdDsa,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TenancySettings {
    #[serde(deserialize_with = "isolation")]
    pub default_isolation: Isolation,
    /// The longest one statement of a tenant's transaction may run
    /// (PostgreSQL; 0 for no limit).
    pub statement_timeout_ms: u64,
    /// Connections this node may open in all (shared pool, admin
    /// connections, tenant pools).
    pub connection_budget: u32,
    /// How long a deleted tenant can be restored before it is purged.
    pub deletion_grace_secs: u64,
    /// `<slug>.<base_domain>` is each tenant's host, e.g. `app.example.com`.
    pub base_domain: Option<String>,
    pub database: DatabaseTenancy,
    pub admission: AdmissionSettings,
    pub self_service: SelfServiceSettings,
    pub moves: MoveSettings,
}

/// Moves operators queue (`moveTenant`), run by a worker on each node.
#[derive(Debug, Clone, Deserialize)]
pub struct MoveSettings {
    /// Off: this node runs none (others still can).
    pub worker: bool,
    /// How often an idle worker looks at the queue for moves queued on
    /// other nodes or left by a node that stopped.
    pub poll_interval_ms: u64,
}

/// What users may create for themselves (see `domain::auth::TenantPolicy`).
#[derive(Debug, Clone, Deserialize)]
pub struct SelfServiceSettings {
    /// Strategies `createTenant` may name besides `default_isolation`.
    #[serde(deserialize_with = "isolations")]
    pub isolations: Vec<Isolation>,
    /// Tenants one user may own at once.
    pub max_owned_tenants: u32,
}

/// Tenants' fair shares of the shared pool (see `infra::tenancy::admission`).
#[derive(Debug, Clone, Deserialize)]
pub struct AdmissionSettings {
    /// Off: transactions take pool connections first come, first served.
    pub enabled: bool,
    /// Connections of `database.max_connections` kept for the control plane.
    pub reserved: u32,
    /// Connections one tenant's transactions hold at most.
    pub per_tenant: u32,
    /// How long a transaction waits its turn before `RATE_LIMITED`.
    pub wait_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseTenancy {
    pub servers: Vec<infra::tenancy::database::ServerSpec>,
    pub name_prefix: String,
    pub pool_size: u32,
    pub max_pools: u32,
    pub idle_timeout_secs: u64,
    pub admission_timeout_ms: u64,
    pub template: Option<String>,
}

impl TenancySettings {
    /// The admission bounds over a shared pool of `shared` connections.
    pub fn admission_limits(&self, shared: u32) -> infra::tenancy::admission::AdmissionLimits {
        let connections = shared.saturating_sub(self.admission.reserved).max(1) as usize;
        infra::tenancy::admission::AdmissionLimits {
            connections,
            per_tenant: (self.admission.per_tenant as usize).clamp(1, connections),
            wait: std::time::Duration::from_millis(self.admission.wait_ms),
        }
    }

    /// Tenant pools that fit in the budget beside the shared pool and one
    /// admin connection per server (at most `max_pools`).
    pub fn tenant_pool_slots(&self, shared: u32) -> u32 {
        let servers = self.database.servers.len().max(1) as u32;
        let left = self.connection_budget.saturating_sub(shared + servers);
        (left / self.database.pool_size.max(1)).min(self.database.max_pools)
    }
}

fn isolation<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Isolation, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn isolations<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Isolation>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
pub struct GraphqlSettings {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_round_trips: u64,
    pub max_fields: u64,
    pub max_document_bytes: usize,
    /// Parsed documents kept, by weight (see `graphql::documents`).
    pub document_cache_mib: u64,
    pub max_aliases: usize,
    pub max_batch: usize,
    pub max_page_size: u64,
    pub default_page_size: u64,
    pub execution_timeout_secs: u64,
    pub introspection: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DemoSettings {
    pub seed_on_first_start: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

/// The shortest fixtures secret accepted, in bytes.
pub const MIN_FIXTURES_SECRET: usize = 32;

#[derive(Debug, Clone, Deserialize, Default)]
pub struct FixturesSettings {
    pub secret: Option<SecretString>,
}

impl Settings {
    /// Reads the layers for the current `APP_ENV`.
    ///
    /// # Errors
    /// A setting that is missing, mistyped, or unsafe for production.
    pub fn load() -> anyhow::Result<Self> {
        Self::from_figment(Self::figment())
    }

    /// The layers, for callers (tests, the CLI) that add their own on top.
    pub fn figment() -> Figment {
        let env = std::env::var("APP_ENV").unwrap_or_else(|_| "development".into());
        Figment::new()
            .merge(Toml::string(DEFAULTS))
            .merge(Toml::file(format!("config/{env}.toml")))
            .merge(Env::prefixed("APP_").split("__").ignore(&["env"]))
            .merge(Env::raw().only(&["app_env"]))
            .merge(Env::raw().only(&["port"]).map(|_| "server.port".into()))
            .merge(
                Env::raw()
                    .only(&["database_url"])
                    .map(|_| "database.url".into()),
            )
            .merge(Env::raw().only(&["redis_url"]).map(|_| "redis.url".into()))
            .merge(
                Env::raw()
                    .only(&["jwt_secret"])
                    .map(|_| "auth.jwt_secret".into()),
            )
            .merge(
                Env::raw()
                    .only(&["tenancy_isolation"])
                    .map(|_| "tenancy.default_isolation".into()),
            )
            .merge(
                Env::raw()
                    .only(&["fixtures_secret"])
                    .map(|_| "fixtures.secret".into()),
            )
    }

    /// # Errors
    /// As [`Settings::load`].
    pub fn from_figment(figment: Figment) -> anyhow::Result<Self> {
        let mut s: Settings = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        s.check()?;
        Ok(s)
    }

    /// `tenancy.base_domain`, checked.
    ///
    /// # Errors
    /// When it is not a host name.
    pub fn base_domain(&self) -> anyhow::Result<Option<domain::hosts::Hostname>> {
        self.tenancy
            .base_domain
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(|d| {
                domain::hosts::Hostname::parse(d).map_err(|_| {
                    anyhow::anyhow!(
                        "configuration: tenancy.base_domain must be a host name such as app.example.com, not {d:?}"
                    )
                })
            })
            .transpose()
    }

    fn check(&mut self) -> anyhow::Result<()> {
        if self.auth.algorithm != JwtAlgorithm::Hs256 {
            // Asymmetric keys: both files must be named; the secret is not used.
            if self.auth.private_key_file.is_none() || self.auth.public_key_file.is_none() {
                anyhow::bail!(
                    "configuration: auth.algorithm = {:?} needs auth.private_key_file and auth.public_key_file",
                    self.auth.algorithm
                );
            }
            return self.check_rest();
        }
        match (&self.auth.jwt_secret, self.app_env) {
            (None, AppEnv::Production) => {
                anyhow::bail!("configuration: JWT_SECRET is required in production")
            }
            (Some(s), AppEnv::Production)
                if s.expose_secret().len() < 32 || s.expose_secret() == DEV_JWT_SECRET =>
            {
                anyhow::bail!(
                    "configuration: JWT_SECRET is too weak for production (use at least 32 random bytes)"
                )
            }
            // The development secret is public: anyone who can reach the
            // server could sign tokens with it.
            (None, _) if !self.binds_loopback() => {
                anyhow::bail!(
                    "configuration: serving on {} (not loopback) needs JWT_SECRET (32+ random bytes); \
                     the development secret is public",
                    self.server.host
                )
            }
            (None, _) => {
                tracing::warn!("JWT_SECRET is not set; using the development secret");
                self.auth.jwt_secret = Some(SecretString::from(DEV_JWT_SECRET.to_owned()));
            }
            _ => {}
        }
        self.check_rest()
    }

    fn check_rest(&self) -> anyhow::Result<()> {
        // The secret is all that stands between the network and making or
        // deleting tenants, so it must not be guessable.
        if self
            .fixtures
            .secret
            .as_ref()
            .is_some_and(|s| s.expose_secret().len() < MIN_FIXTURES_SECRET)
        {
            anyhow::bail!(
                "configuration: FIXTURES_SECRET (fixtures.secret) must be at least {MIN_FIXTURES_SECRET} bytes \
                 (e.g. `openssl rand -hex 32`)"
            );
        }
        match self.tenancy.default_isolation {
            Isolation::Row => {}
            Isolation::Schema if self.database.url.starts_with("postgres") => {}
            Isolation::Schema => anyhow::bail!(
                "configuration: TENANCY_ISOLATION=schema needs PostgreSQL (DATABASE_URL=postgres://…)"
            ),
            Isolation::Database => {}
        }
        // Redis Cluster hashes a key by its first {…}: that must be the
        // tenant's tag, not something in the prefix.
        if self.redis.key_prefix.contains(['{', '}']) {
            anyhow::bail!("configuration: redis.key_prefix may not hold {{ or }}");
        }
        let t = &self.tenancy;
        if !t
            .database
            .name_prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            || t.database.name_prefix.len() > 30
        {
            anyhow::bail!(
                "configuration: tenancy.database.name_prefix may hold only a-z, 0-9 and _ (at most 30)"
            );
        }
        if t.database.template.as_ref().is_some_and(|n| {
            n.is_empty()
                || n.len() > 50
                || !n
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }) {
            anyhow::bail!(
                "configuration: tenancy.database.template may hold only a-z, 0-9 and _ (1 to 50)"
            );
        }
        if t.database.pool_size == 0 || t.tenant_pool_slots(self.database.max_connections) == 0 {
            anyhow::bail!(
                "configuration: tenancy.connection_budget ({}) leaves no room for a tenant pool: it must be at least \
                 database.max_connections ({}) + one per database server + tenancy.database.pool_size ({})",
                t.connection_budget,
                self.database.max_connections,
                t.database.pool_size
            );
        }
        let rq = &self.rate_limit.requests;
        if self.rate_limit.sign_in_per_account == 0
            || self.rate_limit.sign_in_per_client == 0
            || self.rate_limit.period_secs == 0
            || rq.tenant_work_per_second == 0
            || rq.user_per_second == 0
            || rq.anonymous_per_second == 0
            || [
                self.rate_limit.hourly.sign_ups_per_client,
                self.rate_limit.hourly.tenants_per_user,
                self.rate_limit.hourly.password_changes_per_user,
                self.rate_limit.hourly.invitations_per_tenant,
                self.rate_limit.hourly.refreshes_per_session,
            ]
            .contains(&0)
        {
            anyhow::bail!("configuration: rate_limit values must be at least 1");
        }
        if self
            .metrics
            .token
            .as_ref()
            .is_some_and(|t| t.expose_secret().len() < 32)
        {
            anyhow::bail!(
                "configuration: metrics.token must be at least 32 bytes (e.g. `openssl rand -hex 32`)"
            );
        }
        self.metrics_addr()?;
        let h = &self.housekeeping;
        if h.prune_interval_secs == 0
            || h.replay_interval_secs == 0
            || h.email_retry_interval_secs == 0
            || h.invitation_email_backoff_secs < 0
        {
            anyhow::bail!("configuration: housekeeping intervals must be at least 1 s");
        }
        // The last day's requests need 25 hourly totals.
        if self.metering.flush_every_ms == 0 || self.metering.retention_days < 2 {
            anyhow::bail!(
                "configuration: metering.flush_every_ms must be at least 1 and metering.retention_days at least 2"
            );
        }
        crate::plans::catalog(self)?;
        self.base_domain()?;
        let sub = &self.subscriptions;
        if sub.max_per_socket == 0
            || sub.max_per_user == 0
            || sub.max_per_tenant == 0
            || sub.max_sockets_per_user == 0
            || sub.max_sockets_per_tenant == 0
        {
            anyhow::bail!(
                "configuration: subscriptions.max_per_* and max_sockets_per_* values must be at least 1"
            );
        }
        let g = &self.graphql;
        if g.max_fields == 0 || g.max_round_trips == 0 || g.max_document_bytes == 0 {
            anyhow::bail!(
                "configuration: graphql.max_fields, max_round_trips and max_document_bytes must be at least 1"
            );
        }
        let w = &self.webhooks;
        if w.timeout_ms == 0
            || w.max_attempts == 0
            || w.batch_size == 0
            || w.concurrency == 0
            || w.sends_per_tenant == 0
            || w.send_slots == 0
            || w.send_budget_ms == 0
            || w.sweep_interval_ms == 0
            || w.backoff_base_ms > w.backoff_max_ms
        {
            anyhow::bail!(
                "configuration: webhooks values must be at least 1, and backoff_base_ms at most backoff_max_ms"
            );
        }
        if self.graphql.default_page_size > self.graphql.max_page_size {
            anyhow::bail!("configuration: graphql.default_page_size exceeds graphql.max_page_size");
        }
        Ok(())
    }

    /// Whether the server listens on a loopback address only.
    pub fn binds_loopback(&self) -> bool {
        let host = self.server.host.trim_matches(|c| c == '[' || c == ']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether a first start seeds the demo tenant: only in development,
    /// whatever configuration files are found.
    pub fn seeds_demo(&self) -> bool {
        self.demo.seed_on_first_start && self.app_env == AppEnv::Development
    }

    /// The storage's housekeeping jobs' settings.
    pub fn housekeeping(&self) -> infra::housekeeping::Settings {
        let h = &self.housekeeping;
        let secs = |s: u64| std::time::Duration::from_secs(s);
        infra::housekeeping::Settings {
            prune_every: secs(h.prune_interval_secs),
            replay_every: secs(h.replay_interval_secs),
            idempotency_ttl: secs(h.idempotency_key_ttl_secs),
            invitation_retention: secs(h.expired_invitation_retention_secs),
            deleted_project_retention: secs(h.deleted_project_retention_secs),
            session_idle: secs(self.auth.refresh_idle_secs.unsigned_abs()),
            // As the revocation list keeps them: the token's life and a minute's leeway.
            session_grace: secs(self.auth.access_token_ttl_secs.unsigned_abs() + 60),
        }
    }

    /// When failed invitation emails are tried again.
    pub fn email_retry(&self) -> domain::invitation::EmailRetry {
        domain::invitation::EmailRetry {
            max_attempts: self.housekeeping.invitation_email_max_attempts,
            backoff: chrono::Duration::seconds(self.housekeeping.invitation_email_backoff_secs),
        }
    }

    /// The metrics listener's address, when there is one.
    ///
    /// # Errors
    /// An address that does not parse.
    pub fn metrics_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        match self.metrics.listen.trim() {
            "" => Ok(None),
            addr => addr.parse().map(Some).map_err(|e| {
                anyhow::anyhow!("configuration: metrics.listen ({addr}) is not host:port: {e}")
            }),
        }
    }

    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        format!("{}:{}", self.server.host, self.server.port)
            .parse()
            .map_err(|e| anyhow::anyhow!("configuration: server.host/port: {e}"))
    }

    pub fn introspection(&self) -> bool {
        self.graphql
            .introspection
            .unwrap_or(self.app_env != AppEnv::Production)
    }

    /// Whether webhooks may target loopback and private addresses.
    pub fn webhook_targets(&self) -> domain::webhook::TargetPolicy {
        if self
            .webhooks
            .allow_private_targets
            .unwrap_or(self.app_env != AppEnv::Production)
        {
            domain::webhook::TargetPolicy::AnyAddress
        } else {
            domain::webhook::TargetPolicy::PublicOnly
        }
    }

    /// The fixture endpoint is on only with a secret and never in production.
    pub fn fixtures_enabled(&self) -> bool {
        self.fixtures.secret.is_some() && self.app_env != AppEnv::Production
    }
}

#[cfg(test)]
// figment's Jail returns its own large error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn fixed_env_names_override_defaults() {
        Jail::expect_with(|jail| {
            jail.set_env("PORT", "9999");
            jail.set_env("DATABASE_URL", "postgres://x/y");
            jail.set_env("APP_GRAPHQL__MAX_DEPTH", "7");
            let s = Settings::load().map_err(|e| e.to_string())?;
            assert_eq!(s.server.port, 9999);
            assert_eq!(s.database.url, "postgres://x/y");
            assert_eq!(s.graphql.max_depth, 7);
            Ok(())
        });
    }

    #[test]
    fn a_metrics_token_needs_32_bytes_and_the_listener_an_address() {
        Jail::expect_with(|jail| {
            jail.set_env("APP_METRICS__TOKEN", "short");
            let err = Settings::load().unwrap_err().to_string();
            assert!(err.contains("metrics.token"), "{err}");
            jail.set_env("APP_METRICS__TOKEN", "m".repeat(32));
            jail.set_env("APP_METRICS__LISTEN", "nowhere");
            let err = Settings::load().unwrap_err().to_string();
            assert!(err.contains("metrics.listen"), "{err}");
            jail.set_env("APP_METRICS__LISTEN", "");
            assert_eq!(
                Settings::load()
                    .map_err(|e| e.to_string())?
                    .metrics_addr()
                    .ok(),
                Some(None)
            );
            Ok(())
        });
    }

    #[test]
    fn a_short_fixtures_secret_refuses_to_start() {
        Jail::expect_with(|jail| {
            jail.set_env("FIXTURES_SECRET", "x".repeat(MIN_FIXTURES_SECRET - 1));
            let err = Settings::load().unwrap_err().to_string();
            assert!(
                err.contains("FIXTURES_SECRET") && err.contains("at least 32 bytes"),
                "{err}"
            );
            jail.set_env("FIXTURES_SECRET", "");
            assert!(Settings::load().is_err(), "an empty secret is refused too");
            jail.set_env("FIXTURES_SECRET", "x".repeat(MIN_FIXTURES_SECRET));
            let s = Settings::load().map_err(|e| e.to_string())?;
            assert!(s.fixtures_enabled());
            Ok(())
        });
    }

    #[test]
    fn production_refuses_a_missing_or_weak_secret() {
        Jail::expect_with(|jail| {
            jail.set_env("APP_ENV", "production");
            let err = Settings::load().unwrap_err().to_string();
            assert!(err.contains("JWT_SECRET is required"), "{err}");
            jail.set_env("JWT_SECRET", "short");
            let err = Settings::load().unwrap_err().to_string();
            assert!(err.contains("too weak"), "{err}");
            jail.set_env("JWT_SECRET", "x".repeat(40));
            assert!(Settings::load().is_ok());
            Ok(())
        });
    }

    #[test]
    fn a_public_bind_needs_a_secret_in_every_environment() {
        Jail::expect_with(|jail| {
            for env in ["development", "test"] {
                jail.set_env("APP_ENV", env);
                jail.set_env("APP_SERVER__HOST", "0.0.0.0");
                let err = Settings::load().unwrap_err().to_string();
                assert!(
                    err.contains("not loopback") && err.contains("JWT_SECRET"),
                    "{err}"
                );
                jail.set_env("APP_SERVER__HOST", "::1");
                assert!(Settings::load().is_ok(), "loopback is fine");
            }
            jail.set_env("APP_SERVER__HOST", "0.0.0.0");
            jail.set_env("JWT_SECRET", "y".repeat(40));
            assert!(Settings::load().is_ok());
            Ok(())
        });
    }

    #[test]
    fn only_development_seeds_the_demo_tenant() {
        Jail::expect_with(|jail| {
            assert!(Settings::load().map_err(|e| e.to_string())?.seeds_demo());
            jail.set_env("JWT_SECRET", "z".repeat(40));
            for env in ["test", "production"] {
                jail.set_env("APP_ENV", env);
                // Even with the setting on, and no config/<env>.toml found.
                jail.set_env("APP_DEMO__SEED_ON_FIRST_START", "true");
                assert!(
                    !Settings::load().map_err(|e| e.to_string())?.seeds_demo(),
                    "{env}"
                );
            }
            Ok(())
        });
    }

    #[test]
    fn asymmetric_signing_needs_both_key_files() {
        Jail::expect_with(|jail| {
            jail.set_env("APP_ENV", "production");
            jail.set_env("APP_AUTH__ALGORITHM", "RS256");
            let err = Settings::load().unwrap_err().to_string();
            assert!(err.contains("private_key_file"), "{err}");
            jail.set_env("APP_AUTH__PRIVATE_KEY_FILE", "/keys/private.pem");
            jail.set_env("APP_AUTH__PUBLIC_KEY_FILE", "/keys/public.pem");
            // No JWT_SECRET is needed with key files, even in production.
            assert!(Settings::load().is_ok());
            Ok(())
        });
    }

    #[test]
    fn a_key_prefix_may_not_take_the_tenants_hash_tag() {
        Jail::expect_with(|jail| {
            jail.set_env("APP_REDIS__KEY_PREFIX", "app{1}");
            let err = Settings::load().unwrap_err().to_string();
            assert!(err.contains("redis.key_prefix"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_isolation_is_a_clear_error() {
        Jail::expect_with(|jail| {
            jail.set_env("TENANCY_ISOLATION", "galaxy");
            let err = Settings::load().unwrap_err().to_string();
            assert!(err.contains("unknown isolation"), "{err}");
            Ok(())
        });
    }
}
