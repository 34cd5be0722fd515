//! The one composition step. [`Platform::compose`] takes the connected (and
//! migrated) database and the Redis settings, loads the authorization policy
//! and hands out every port wired to it: stores that apply their changes to
//! this node's enforcer, identity lookups through the membership cache, a
//! tenancy that forgets a moved tenant's cached facts, and one Redis
//! connection manager shared by everything. No store can be had before the
//! policy is loaded, so there is no call order to get wrong. The background
//! tasks are built here too; the caller chooses which to run (a server all of
//! them, the CLI and seeding none).

use crate::authz::{PolicyEngine, Publisher};
use crate::db::Storage;
use crate::housekeeping::{Job, Runner};
use crate::realtime::Hub;
use crate::revocations::{DurableRevocations, InProcessRevocations, RedisRevocations};
use anyhow::Context as _;
use domain::ports::RevocationList;
use redis::aio::ConnectionManager;
use std::sync::Arc;
use std::time::Duration;

/// Redis, when the deployment has one: every key and channel starts with
/// `key_prefix`.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: String,
    pub key_prefix: String,
}

/// What the composition needs besides the database.
#[derive(Debug, Clone)]
pub struct Settings {
    pub redis: Option<RedisSettings>,
    /// Membership lookups kept in this process (0: none).
    pub cache_local_entries: usize,
    /// Membership lookups shared in Redis for this long (`None`: not shared).
    pub cache_shared_ttl: Option<Duration>,
    /// How often the policy change feed is read when Redis does not wake it.
    pub authz_poll: Duration,
    /// Task events buffered per subscriber.
    pub subscription_buffer: usize,
}

impl Settings {
    /// No Redis and no cache: the CLI, seeding and tests, which serve nobody.
    pub fn local() -> Self {
        Self {
            redis: None,
            cache_local_entries: 0,
            cache_shared_ttl: None,
            authz_poll: Duration::from_secs(1),
            subscription_buffer: 256,
        }
    }
}

/// Every adapter of the domain's ports, wired once.
#[derive(Clone)]
pub struct Platform {
    storage: Storage,
    settings: Settings,
    redis: Option<ConnectionManager>,
    engine: Arc<PolicyEngine>,
    hub: Arc<Hub>,
    revocations: Arc<dyn RevocationList>,
    replays: Option<Arc<DurableRevocations>>,
}

impl Platform {
    /// Loads the authorization policy (writing the default roles first) and
    /// wires the adapters to it. Redis is connected lazily: its absence is
    /// noticed, and survived, when it is first used.
    ///
    /// # Errors
    /// A Redis URL that is not one, or the policy failing to load.
    pub async fn compose(mut storage: Storage, settings: Settings) -> anyhow::Result<Self> {
        let redis = match &settings.redis {
            Some(r) => Some(
                crate::redis_conn::connect(&r.url)
                    .map_err(|e| anyhow::anyhow!("configuration: REDIS_URL: {e}"))?,
            ),
            None => None,
        };
        let key = |suffix: &str| {
            settings
                .redis
                .as_ref()
                .map(|r| format!("{}:{suffix}", r.key_prefix))
        };
        let publisher = redis
            .clone()
            .zip(key("authz"))
            .map(|(conn, channel)| Publisher { conn, channel });
        let engine = storage
            .load_authorization(publisher)
            .await
            .context("loading the authorization policy")?;
        storage.cache_memberships(
            settings.cache_local_entries,
            redis
                .clone()
                .zip(settings.redis.as_ref())
                .zip(settings.cache_shared_ttl)
                .map(|((conn, r), ttl)| crate::membership_cache::Shared {
                    conn,
                    prefix: r.key_prefix.clone(),
                    ttl,
                }),
        );
        // With Redis, a revocation it cannot take goes to the database and is
        // replayed by housekeeping when Redis answers again.
        let replays = redis.clone().zip(key("revoked")).map(|(conn, prefix)| {
            Arc::new(storage.durable_revocations(RedisRevocations::new(conn, prefix)))
        });
        let revocations: Arc<dyn RevocationList> = match &replays {
            Some(list) => list.clone(),
            None => Arc::new(InProcessRevocations::default()),
        };
        Ok(Self {
            hub: Hub::new(settings.subscription_buffer),
            storage,
            settings,
            redis,
            engine,
            revocations,
            replays,
        })
    }

    /// The database, for what is not a port: migrations, moves, health.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Closes the database pool, waiting for connections in use to come back.
    pub async fn close(self) {
        self.storage.close().await;
    }

    pub fn tenancy(&self) -> crate::tenancy::SqlTenancy {
        self.storage.tenancy()
    }

    pub fn identity(&self) -> crate::identity::SqlIdentityStore {
        self.storage.identity()
    }

    pub fn access(&self) -> crate::authz::SqlAccessStore {
        self.storage.access()
    }

    pub fn sessions(&self) -> crate::sessions::SqlSessionStore {
        self.storage.sessions()
    }

    pub fn external_identities(&self) -> crate::external_identities::SqlExternalIdentities {
        self.storage.external_identities()
    }

    /// Tenants' own request rates; a change reaches every node through the feed.
    pub fn tenant_rates(&self) -> crate::terms::SqlTenantRates {
        crate::terms::SqlTenantRates {
            db: self.storage.control().clone(),
            engine: Some(self.engine.clone()),
        }
    }

    /// Tenants' custom domains.
    pub fn tenant_domains(&self) -> crate::hosts::SqlTenantDomains {
        crate::hosts::SqlTenantDomains {
            db: self.storage.control().clone(),
            engine: Some(self.engine.clone()),
        }
    }

    /// Finds the tenant a request's host names, following the change feed.
    pub fn host_resolver(
        &self,
        base: Option<domain::hosts::Hostname>,
    ) -> crate::hosts::HostResolver {
        crate::hosts::HostResolver::new(self.storage.control().clone(), self.engine.clone(), base)
    }

    /// The operator list and the tenant directory as operators see it.
    pub fn operators(&self) -> crate::operators::SqlOperators {
        crate::operators::SqlOperators {
            db: self.storage.control().clone(),
            engine: Some(self.engine.clone()),
        }
    }

    /// The queue of tenant moves run as jobs.
    pub fn move_queue(&self) -> crate::moves::SqlMoveQueue {
        crate::moves::SqlMoveQueue {
            db: self.storage.control().clone(),
            engine: Some(self.engine.clone()),
        }
    }

    /// Moving, exporting, deleting tenants, and collecting orphaned storage.
    pub fn lifecycle(&self) -> crate::lifecycle::SqlTenantLifecycle {
        crate::lifecycle::SqlTenantLifecycle {
            storage: self.storage.clone(),
            tenancy: self.tenancy(),
            identity: self.identity(),
            access: self.access(),
        }
    }

    /// This node's enforcer.
    pub fn authorizer(&self) -> Arc<PolicyEngine> {
        self.engine.clone()
    }

    /// The revocation list: Redis backed by the database, or this process's.
    pub fn revocations(&self) -> Arc<dyn RevocationList> {
        self.revocations.clone()
    }

    /// The revocation list's database side (with Redis): replayed by housekeeping.
    pub fn replays(&self) -> Option<Arc<DurableRevocations>> {
        self.replays.clone()
    }

    /// Task events for this node's subscribers.
    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// The one Redis connection manager, with the deployment's key prefix,
    /// for adapters made outside `infra` (rate limiters) and readiness.
    pub fn redis(&self) -> Option<(&ConnectionManager, &str)> {
        self.redis
            .as_ref()
            .zip(self.settings.redis.as_ref())
            .map(|(conn, r)| (conn, r.key_prefix.as_str()))
    }

    fn channel(&self, suffix: &str) -> Option<(redis::Client, String)> {
        let r = self.settings.redis.as_ref()?;
        // The URL parsed in `compose`; subscriptions need a client of their own.
        let client = redis::Client::open(r.url.as_str()).ok()?;
        Some((client, format!("{}:{suffix}", r.key_prefix)))
    }

    /// Follows the other nodes: the policy change feed (read every
    /// `authz_poll`, and at once when Redis says it changed) and, with Redis,
    /// the task events they relay. A serving node starts this once; the
    /// tasks stop with the process.
    pub fn follow_other_nodes(&self) {
        if let Some((client, channel)) = self.channel("events") {
            tokio::spawn(crate::realtime::listen(client, channel, self.hub.clone()));
        }
        self.engine.watch(
            self.settings.authz_poll.max(Duration::from_millis(10)),
            self.channel("authz"),
        );
    }

    /// This node's outbox worker, handing relayed events to this node's
    /// subscribers and, through Redis, to the other nodes'.
    ///
    /// # Errors
    /// When its HTTP client cannot be built.
    pub fn outbox_worker(
        &self,
        settings: crate::outbox::WorkerSettings,
    ) -> reqwest::Result<crate::outbox::Worker> {
        let redis = self
            .redis()
            .map(|(conn, prefix)| (conn.clone(), format!("{prefix}:events")));
        self.storage.outbox_worker(
            settings,
            Some(crate::realtime::sink(self.hub.clone(), redis)),
        )
    }

    /// The periodic jobs, with `more` of the caller's.
    pub fn housekeeping(
        &self,
        settings: &crate::housekeeping::Settings,
        more: Vec<Arc<dyn Job>>,
    ) -> Runner {
        Runner::of(&self.storage, settings, self.replays.clone(), more)
    }

    /// Wakes the running nodes' change-feed readers over Redis, so they drop
    /// cached lookups of a moved or deleted tenant now rather than at their
    /// next poll. Best effort: the poll still comes.
    ///
    /// # Errors
    /// When Redis is configured and does not take the message within 2 s.
    pub async fn tell_nodes(&self) -> anyhow::Result<()> {
        let Some((conn, prefix)) = self.redis() else {
            return Ok(());
        };
        let mut conn = conn.clone();
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(format!("{prefix}:authz")).arg(0);
        let sent = publish.query_async::<i64>(&mut conn);
        tokio::time::timeout(Duration::from_secs(2), sent)
            .await
            .context("Redis did not answer")??;
        Ok(())
    }
}
