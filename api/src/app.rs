//! Wiring the adapters together and running the server.

use crate::config::FailMode;
use crate::config::Settings;
use crate::config::{AuthSettings, JwtAlgorithm};
use crate::graphql;
use crate::http::request_rates::RequestRates;
use crate::http::{self, AppState};
use crate::services::{Limiters, Services};
use anyhow::Context as _;
use domain::auth::{SessionPolicy, TenantPolicy};
use domain::invitation::InvitePolicy;
use domain::ports::RateLimiter;
use domain::ports::{ExternalTokenVerifier, Mailer};
use infra::db::{DbSettings, Storage};
use infra::jwt::{JwtSettings, JwtTokens, SigningKeys};
use infra::mailer::{ConsoleMailer, HttpMailer, HttpMailerSettings, UnconfiguredMailer};
use infra::oidc::{OidcSettings, OidcVerifier};
use infra::password::{Argon2Hasher, Argon2Params};
use infra::platform::Platform;
use infra::rate_limit::{InProcessLimiter, OnFailure, RedisLimiter, Rule};
use infra::tenancy::database::{DatabaseTenancySettings, PoolLimits};
use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub fn db_settings(s: &Settings) -> DbSettings {
    let d = &s.tenancy.database;
    DbSettings {
        url: s.database.url.clone(),
        max_connections: s.database.max_connections,
        acquire_timeout: Duration::from_secs(s.database.acquire_timeout_secs),
        log_statements: s.database.log_statements,
        tenant_statement_timeout: (s.tenancy.statement_timeout_ms > 0)
            .then(|| Duration::from_millis(s.tenancy.statement_timeout_ms)),
        tenant_databases: DatabaseTenancySettings {
            servers: d.servers.clone(),
            name_prefix: d.name_prefix.clone(),
            template: d.template.clone(),
            limits: PoolLimits {
                pool_size: d.pool_size,
                slots: s.tenancy.tenant_pool_slots(s.database.max_connections) as usize,
                idle_timeout: Duration::from_secs(d.idle_timeout_secs.max(1)),
                admission_timeout: Duration::from_millis(d.admission_timeout_ms),
                acquire_timeout: Duration::from_secs(s.database.acquire_timeout_secs),
            },
        },
        admission: s
            .tenancy
            .admission
            .enabled
            .then(|| s.tenancy.admission_limits(s.database.max_connections)),
    }
}

pub fn worker_settings(s: &Settings) -> infra::outbox::WorkerSettings {
    let w = &s.webhooks;
    infra::outbox::WorkerSettings {
        sweep_interval: Duration::from_millis(w.sweep_interval_ms),
        batch: w.batch_size,
        concurrency: w.concurrency,
        sends_per_tenant: w.sends_per_tenant,
        send_slots: w.send_slots,
        send_budget: Duration::from_millis(w.send_budget_ms),
        retry: domain::webhook::RetryPolicy {
            max_attempts: w.max_attempts,
            base: Duration::from_millis(w.backoff_base_ms),
            max: Duration::from_millis(w.backoff_max_ms),
        },
        timeout: Duration::from_millis(w.timeout_ms),
        targets: s.webhook_targets(),
        retention: (w.retention_secs > 0).then(|| Duration::from_secs(w.retention_secs)),
    }
}

/// The token signing keys, read from their files for RS256 and EdDSA.
fn signing_keys(auth: &AuthSettings) -> anyhow::Result<SigningKeys> {
    let read = |path: &Option<std::path::PathBuf>, what: &str| -> anyhow::Result<String> {
        let path = path
            .as_ref()
            .with_context(|| format!("configuration: auth.{what} is required"))?;
        std::fs::read_to_string(path)
            .with_context(|| format!("configuration: reading auth.{what} {}", path.display()))
    };
    Ok(match auth.algorithm {
        JwtAlgorithm::Hs256 => SigningKeys::Hs256(
            auth.jwt_secret
                .clone()
                .context("JWT secret is resolved at load time")?,
        ),
        JwtAlgorithm::Rs256 => SigningKeys::Rs256 {
            private_pem: read(&auth.private_key_file, "private_key_file")?.into(),
            public_pem: read(&auth.public_key_file, "public_key_file")?,
        },
        JwtAlgorithm::EdDsa => SigningKeys::EdDsa {
            private_pem: read(&auth.private_key_file, "private_key_file")?.into(),
            public_pem: read(&auth.public_key_file, "public_key_file")?,
        },
    })
}

/// The external token verifier, when a provider is configured.
fn oidc(s: &Settings) -> anyhow::Result<Option<Arc<dyn ExternalTokenVerifier>>> {
    let o = &s.oidc;
    let Some(jwks_url) = &o.jwks_url else {
        return Ok(None);
    };
    let (Some(issuer), Some(audience)) = (&o.issuer, &o.audience) else {
        anyhow::bail!("configuration: oidc.jwks_url needs oidc.issuer and oidc.audience");
    };
    let algorithms = o
        .algorithms
        .iter()
        .map(|a| {
            a.parse::<jsonwebtoken::Algorithm>()
                .map_err(|_| anyhow::anyhow!("configuration: oidc.algorithms: {a:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let verifier = OidcVerifier::new(OidcSettings {
        jwks_url: jwks_url.clone(),
        issuer: issuer.clone(),
        audience: audience.clone(),
        algorithms,
        tenant_claim: o.tenant_claim.clone(),
        email_claim: o.email_claim.clone(),
        email_verified_claim: o.email_verified_claim.clone(),
        cache_ttl: Duration::from_secs(o.cache_ttl_secs),
        min_refetch: Duration::from_secs(o.min_refetch_secs),
    })
    .context("building the OIDC client")?;
    Ok(Some(Arc::new(verifier)))
}

/// The HTTP provider when configured; otherwise the console in development and
/// nothing in production.
fn mailer(s: &Settings) -> anyhow::Result<Arc<dyn Mailer>> {
    let e = &s.email;
    Ok(match (&e.provider_url, &e.api_key) {
        (Some(url), Some(key)) => Arc::new(
            HttpMailer::new(HttpMailerSettings {
                url: url.clone(),
                api_key: key.clone(),
                from: e.from.clone(),
                timeout: Duration::from_millis(e.timeout_ms),
                max_attempts: e.max_attempts,
                backoff: Duration::from_millis(e.backoff_ms),
            })
            .context("building the email client")?,
        ),
        (Some(_), None) => anyhow::bail!("configuration: email.provider_url needs email.api_key"),
        (None, _) if s.app_env == crate::config::AppEnv::Production => Arc::new(UnconfiguredMailer),
        (None, _) => Arc::new(ConsoleMailer),
    })
}

/// Makes GCRA limiters (`name`, `limit` per `period`): in Redis when it is
/// configured, else in-process. While Redis is away they fail as
/// `rate_limit.on_redis_failure` says, or with `local_fallback` the node
/// limits by itself.
fn limiters(
    redis: Option<redis::aio::ConnectionManager>,
    s: &Settings,
    local_fallback: bool,
) -> impl Fn(&str, u32, Duration) -> Arc<dyn RateLimiter> + Send + Sync + 'static {
    let rl = &s.rate_limit;
    let on_failure = match rl.on_redis_failure {
        FailMode::Open => OnFailure::Open,
        FailMode::Closed => OnFailure::Closed(Duration::from_secs(rl.closed_retry_after_secs)),
    };
    let prefix = s.redis.key_prefix.clone();
    move |name: &str, limit: u32, period: Duration| -> Arc<dyn RateLimiter> {
        let rule = Rule {
            limit: NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN),
            period,
        };
        match &redis {
            Some(conn) => {
                let l = RedisLimiter::new(
                    conn.clone(),
                    format!("{prefix}:rl:{name}"),
                    rule,
                    on_failure,
                );
                Arc::new(if local_fallback {
                    l.with_local_fallback()
                } else {
                    l
                })
            }
            None => Arc::new(InProcessLimiter::new(rule)),
        }
    }
}

/// The budgets of sign-in and of the expensive or unauthenticated mutations.
fn budgets(redis: Option<redis::aio::ConnectionManager>, s: &Settings) -> Limiters {
    // Sign-in follows `rate_limit.on_redis_failure`; the other budgets fall
    // back to each node's in-process twin, so an outage neither lifts them
    // nor refuses every sign-up.
    let sign_in = limiters(redis.clone(), s, false);
    let make = limiters(redis, s, true);
    let rl = &s.rate_limit;
    let per_period =
        |name: &str, limit: u32| sign_in(name, limit, Duration::from_secs(rl.period_secs));
    let hour = Duration::from_secs(3600);
    let h = &rl.hourly;
    Limiters {
        sign_in_per_account: per_period("signin-account", rl.sign_in_per_account),
        sign_in_per_client: per_period("signin-client", rl.sign_in_per_client),
        sign_up_per_client: make("signup-client", h.sign_ups_per_client, hour),
        password_change_per_user: make("password-user", h.password_changes_per_user, hour),
        refresh_per_session: make("refresh-session", h.refreshes_per_session, hour),
        tenant_creation_per_user: make("tenant-user", h.tenants_per_user, hour),
        invitations_per_tenant: make("invite-tenant", h.invitations_per_tenant, hour),
    }
}

/// Every request's rates (see [`http::request_rates`]).
fn request_rates(services: &Services, s: &Settings) -> Arc<RequestRates> {
    // Fairness, not security: a Redis outage must neither stop every request
    // nor lift the rates, so each node then limits by itself.
    let make = limiters(services.redis.clone(), s, true);
    let rates = &s.rate_limit.requests;
    Arc::new(RequestRates::new(
        rates.clone(),
        Arc::new(move |name: &str, per_second: u32| make(name, per_second, Duration::from_secs(1))),
    ))
}

/// What the composition in `infra` needs, from configuration.
pub fn platform_settings(s: &Settings) -> infra::platform::Settings {
    infra::platform::Settings {
        redis: s
            .redis
            .url
            .clone()
            .map(|url| infra::platform::RedisSettings {
                url,
                key_prefix: s.redis.key_prefix.clone(),
            }),
        cache_local_entries: s.cache.local_entries,
        cache_shared_ttl: s
            .cache
            .shared
            .then(|| Duration::from_secs(s.cache.shared_ttl_secs)),
        authz_poll: Duration::from_millis(s.authz.poll_interval_ms),
        subscription_buffer: s.subscriptions.buffer,
    }
}

/// Connects to the database and composes every adapter (see
/// [`infra::platform`]) for a process that serves nobody — the CLI, tests:
/// no migrations, no following other nodes and so no membership cache
/// (which trusts what the followed change feed says is fresh).
///
/// # Errors
/// The database unreachable, or the policy failing to load.
pub async fn platform(s: &Settings) -> anyhow::Result<Platform> {
    let storage = Storage::connect(&db_settings(s))
        .await
        .with_context(|| format!("connecting to the database ({})", redact(&s.database.url)))?;
    let settings = infra::platform::Settings {
        cache_local_entries: 0,
        cache_shared_ttl: None,
        ..platform_settings(s)
    };
    Platform::compose(storage, settings).await
}

/// The domain's ports from the composed platform, and what only the server
/// adds: password hashing, tokens, mail, the budgets, the policies.
///
/// # Errors
/// Bad configuration.
pub fn services(platform: &Platform, s: &Settings) -> anyhow::Result<Services> {
    let keys = signing_keys(&s.auth)?;
    let hasher = Argon2Hasher::new(Argon2Params {
        memory_kib: s.auth.argon2_memory_kib,
        iterations: s.auth.argon2_iterations,
        lanes: s.auth.argon2_lanes,
    })
    .map_err(|e| anyhow::anyhow!("configuration: argon2 parameters: {e}"))?;
    let redis = platform.redis().map(|(conn, _)| conn.clone());
    let base_domain = s.base_domain()?;
    Ok(Services {
        tenancy: Arc::new(platform.tenancy()),
        identity: Arc::new(platform.identity()),
        access: Arc::new(platform.access()),
        sessions: Arc::new(platform.sessions()),
        revocations: platform.revocations(),
        replays: platform.replays(),
        budgets: budgets(redis.clone(), s),
        tenant_policy: TenantPolicy {
            default: s.tenancy.default_isolation,
            choosable: s.tenancy.self_service.isolations.clone(),
            max_owned: s.tenancy.self_service.max_owned_tenants,
            plans: Arc::new(crate::plans::catalog(s)?),
            deletion_grace: chrono::Duration::seconds(
                i64::try_from(s.tenancy.deletion_grace_secs).unwrap_or(i64::MAX),
            ),
        },
        session_policy: SessionPolicy {
            absolute: chrono::Duration::seconds(s.auth.refresh_absolute_secs),
            idle: chrono::Duration::seconds(s.auth.refresh_idle_secs),
            access_ttl: chrono::Duration::seconds(s.auth.access_token_ttl_secs),
        },
        redis,
        mailer: mailer(s)?,
        authorizer: platform.authorizer(),
        external: oidc(s)?,
        external_identities: Arc::new(platform.external_identities()),
        operators: Arc::new(platform.operators()),
        domains: Arc::new(platform.tenant_domains()),
        request_counts: Arc::new(infra::metering::SqlRequestCounts::new(platform.storage())),
        hosts: Arc::new(platform.host_resolver(base_domain.clone())),
        base_domain,
        impersonation_ttl: chrono::Duration::seconds(s.auth.impersonation_ttl_secs.max(1)),
        webhook_targets: s.webhook_targets(),
        hub: platform.hub(),
        moves: Arc::new(platform.move_queue()),
        lifecycle: Arc::new(platform.lifecycle()),
        move_queued: Arc::new(tokio::sync::Notify::new()),
        invite_policy: InvitePolicy {
            ttl: chrono::Duration::hours(s.invitations.ttl_hours),
            accept_url: s.invitations.accept_url.clone(),
        },
        hasher: Arc::new(hasher),
        tokens: Arc::new(
            JwtTokens::new(JwtSettings {
                keys,
                issuer: s.auth.issuer.clone(),
                audience: s.auth.audience.clone(),
                ttl_seconds: s.auth.access_token_ttl_secs,
            })
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?,
        ),
    })
}

/// A server bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    /// `/metrics` alone, when configured (`metrics.listen`).
    metrics_listener: Option<TcpListener>,
    state: AppState,
    router: axum::Router,
}

impl Application {
    /// Connects, migrates (unless configured not to), seeds the demo tenant on a
    /// first start (when configured), and binds the listener.
    ///
    /// # Errors
    /// Any of those steps failing, with what failed.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        http::metrics::handle();
        let storage = Storage::connect(&db_settings(&settings))
            .await
            .with_context(|| {
                format!(
                    "connecting to the database ({})",
                    redact(&settings.database.url)
                )
            })?;
        if settings.database.migrate_on_start {
            storage.migrate().await.context("running migrations")?;
            // A schema tenant that fails keeps its old version and is logged;
            // the others must not wait on it. `tenantry tenants migrate` retries.
            storage
                .migrate_tenants(4, |m, _| {
                    if let infra::tenancy::lifecycle::Outcome::Failed(e) = &m.outcome {
                        tracing::error!(tenant = %m.tenant, slug = %m.slug, error = %e, "tenant migration failed");
                    }
                })
                .await
                .context("listing tenants to migrate")?;
        }
        let platform = Platform::compose(storage, platform_settings(&settings)).await?;
        platform.follow_other_nodes();
        let services = Arc::new(services(&platform, &settings)?);
        if settings.seeds_demo()
            && platform
                .storage()
                .has_no_tenants()
                .await
                .context("checking for tenants")?
        {
            seed::demo::seed(&seed::demo::Ports::from_auth(
                services.auth(),
                &*services.tenancy,
            ))
            .await
            .map_err(|e| anyhow::anyhow!("seeding the demo tenant: {e}"))?;
            tracing::info!("seeded the demo tenant");
        }
        let schema = graphql::build(
            services.clone(),
            &settings.graphql,
            settings.introspection(),
        );
        let addr = settings.listen_addr()?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let metrics_listener = match settings.metrics_addr()? {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
                format!("binding the metrics listener {addr} (metrics.listen; \"\" for none)")
            })?),
            None => None,
        };
        let gate = Arc::new(graphql::cost::Gate::new(&schema.sdl(), &settings.graphql));
        let request_rates = request_rates(&services, &settings);
        let state = AppState {
            schema,
            admin_schema: graphql::admin::build(services.clone(), settings.introspection()),
            gate,
            documents: Arc::new(graphql::documents::Documents::new(
                settings.graphql.document_cache_mib << 20,
            )),
            request_rates,
            meter: Arc::default(),
            subscription_caps: http::subscription_caps::SubscriptionCaps::new(
                &settings.subscriptions,
            ),
            services,
            platform,
            settings: Arc::new(settings),
        };
        let router = http::router(state.clone())?;
        Ok(Self {
            listener,
            metrics_listener,
            state,
            router,
        })
    }

    /// The routes, to serve requests in process (benchmarks) without the socket.
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The metrics listener's address, when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Whether the demo tenant is there to log in to.
    pub async fn demo_available(&self) -> bool {
        seed::demo::exists(&*self.state.services.identity)
            .await
            .unwrap_or(false)
    }

    pub fn backend(&self) -> &'static str {
        self.state.platform.storage().backend()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// for up to the configured grace period.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.settings.server.shutdown_grace_secs);
        let platform = self.state.platform.clone();
        // Stops with this future, however it ends (even aborted); an attempt
        // cut off is retried when its lease ends.
        let _worker = match &self.state.settings.webhooks {
            w if w.worker => Some(AbortOnDrop(tokio::spawn(
                platform
                    .outbox_worker(worker_settings(&self.state.settings))
                    .context("building the webhook client")?
                    .run(),
            ))),
            _ => None,
        };
        let _metrics = self.metrics_listener.map(|listener| {
            AbortOnDrop(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, http::metrics::router()).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            }))
        });
        let _housekeeping = self.state.settings.housekeeping.enabled.then(|| {
            AbortOnDrop(tokio::spawn(
                platform
                    .housekeeping(
                        &self.state.settings.housekeeping(),
                        vec![
                            Arc::new(crate::jobs::RetryInvitationEmails {
                                services: self.state.services.clone(),
                                storage: platform.storage().clone(),
                                retry: self.state.settings.email_retry(),
                                every: Duration::from_secs(
                                    self.state.settings.housekeeping.email_retry_interval_secs,
                                ),
                            }),
                            Arc::new(crate::jobs::PurgeDeletedTenants {
                                services: self.state.services.clone(),
                                lifecycle: Arc::new(platform.lifecycle()),
                                every: Duration::from_secs(
                                    self.state.settings.housekeeping.prune_interval_secs,
                                ),
                            }),
                            Arc::new(infra::metering::PruneRequestCounts {
                                counts: self.state.services.request_counts.clone(),
                                retention: Duration::from_secs(
                                    self.state
                                        .settings
                                        .metering
                                        .retention_days
                                        .saturating_mul(86_400),
                                ),
                                every: Duration::from_secs(
                                    self.state.settings.housekeeping.prune_interval_secs,
                                ),
                            }),
                        ],
                    )
                    .run(),
            ))
        });
        // Counted requests reach the database every period, and once more
        // below when the last request is done.
        let flusher = crate::metering::Flusher::spawn(
            self.state.meter.clone(),
            self.state.services.request_counts.clone(),
            Duration::from_millis(self.state.settings.metering.flush_every_ms),
        );
        let (stop_moves, stopping) = tokio::sync::watch::channel(false);
        let moves = self.state.settings.tenancy.moves.worker.then(|| {
            AbortOnDrop(tokio::spawn(
                crate::moves::MoveWorker {
                    services: self.state.services.clone(),
                    poll: Duration::from_millis(
                        self.state.settings.tenancy.moves.poll_interval_ms.max(10),
                    ),
                    stopping,
                }
                .run(),
            ))
        });
        let started = Arc::new(Notify::new());
        let notify = started.clone();
        let router = self.router;
        let server = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            // No new move starts here; a running one goes back to the queue.
            let _ = stop_moves.send(true);
            notify.notify_one();
        });
        let deadline = async move {
            started.notified().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = server => result.context("serving")?,
            () = deadline => tracing::warn!("grace period over; dropping requests still in flight"),
        }
        if let Some(mut worker) = moves
            && tokio::time::timeout(Duration::from_secs(5), &mut worker.0)
                .await
                .is_err()
        {
            tracing::warn!(
                "the tenant move worker did not stop in time; its move's lease runs out"
            );
        }
        flusher.finish(Duration::from_secs(5)).await;
        platform.close().await;
        Ok(())
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(super::redact("sqlite://data/t.db"), "sqlite://data/t.db");
    }
}
