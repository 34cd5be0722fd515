//! The Casbin enforcer, loaded once and kept in memory, and how it follows
//! changes made by this node and by others.
//!
//! Every change to roles or memberships appends a row to `policy_changes` in
//! its own transaction, numbered in commit order. A node applies the rows past
//! the last one it applied, reloading just the tenants they name: at once for
//! its own changes, on a Redis message for other nodes' changes, and on a poll
//! (which alone suffices without Redis, within the poll interval).

use super::adapter::{self, SeaOrmAdapter};
use super::defaults;
use crate::entities::policy_change;
use async_trait::async_trait;
use casbin::{CoreApi, DefaultModel, Enforcer, MgmtApi};
use domain::TenantContext;
use domain::authz::{Authorizer, Permission};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

const MODEL: &str = include_str!("model.conf");

/// Rows of `policy_changes` read per sync step.
const SYNC_BATCH: u64 = 1000;

pub struct PolicyEngine {
    enforcer: RwLock<Enforcer>,
    db: DatabaseConnection,
    /// The last change applied to the enforcer.
    applied: AtomicI64,
    /// One sync at a time, so changes apply in order.
    syncing: Mutex<()>,
    /// Tells other nodes a change was committed.
    publisher: Option<Publisher>,
    /// What cached lookups are checked against (see [`Self::still_fresh`]).
    freshness: Freshness,
    /// Wakes the watcher's sync (see [`Self::watch`]).
    wake: std::sync::OnceLock<tokio::sync::mpsc::Sender<()>>,
    /// Decisions made, with the change applied when each was made: one
    /// stands while its tenant is fresh since then (a Casbin check
    /// evaluates its matcher with rhai; a hit is a hash lookup).
    decisions: quick_cache::sync::Cache<(Uuid, Uuid, Permission), (i64, bool)>,
    /// The change applied last, for whoever reacts to changes as they come
    /// (open sockets check their member again).
    changes: tokio::sync::watch::Sender<i64>,
}

/// Decisions kept at most (about 50 bytes each).
const DECISIONS: usize = 100_000;

/// Per tenant, the last change known; the version below which changes are
/// not known tenant by tenant (the feed's pruned past); and whether this node
/// is following the feed at all.
struct Freshness {
    floor: AtomicI64,
    changed: std::sync::RwLock<HashMap<Uuid, i64>>,
    /// When a sync last succeeded. A node that cannot read the feed cannot
    /// know what changed, so past `max_lag` nothing counts as fresh.
    synced_at: std::sync::Mutex<std::time::Instant>,
    max_lag: std::sync::Mutex<Duration>,
}

impl Default for Freshness {
    fn default() -> Self {
        Self {
            floor: AtomicI64::new(0),
            changed: std::sync::RwLock::default(),
            synced_at: std::sync::Mutex::new(std::time::Instant::now()),
            max_lag: std::sync::Mutex::new(Duration::from_secs(30)),
        }
    }
}

impl Freshness {
    /// Learns from the feed's retained rows (its last hour, at least its
    /// last row): entries read before a restart stay good unless changed since.
    async fn learn(&self, db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        let per_tenant: Vec<(Uuid, Option<i64>)> = policy_change::Entity::find()
            .select_only()
            .column(policy_change::Column::TenantId)
            .column_as(policy_change::Column::Version.max(), "v")
            .group_by(policy_change::Column::TenantId)
            .into_tuple()
            .all(db)
            .await?;
        let oldest: Option<i64> = policy_change::Entity::find()
            .select_only()
            .column_as(policy_change::Column::Version.min(), "v")
            .into_tuple()
            .one(db)
            .await?
            .flatten();
        let mut changed = self.changed.write().expect("freshness lock");
        for (tenant, v) in per_tenant {
            if let Some(v) = v {
                let known = changed.entry(tenant).or_insert(v);
                *known = (*known).max(v);
            }
        }
        // Rows are pruned oldest first, so everything after `oldest` is known.
        self.floor
            .fetch_max(oldest.map_or(0, |o| o - 1), Ordering::AcqRel);
        Ok(())
    }
}

/// Where change notices go: a Redis channel.
#[derive(Clone)]
pub struct Publisher {
    pub conn: redis::aio::ConnectionManager,
    pub channel: String,
}

impl PolicyEngine {
    /// Writes the default roles' lines, then loads every line into memory.
    ///
    /// # Errors
    /// When the database fails or a stored line does not fit the model.
    pub async fn load(
        db: DatabaseConnection,
        publisher: Option<Publisher>,
    ) -> anyhow::Result<Self> {
        defaults::sync(&db).await?;
        // Read the version first: a change committed while loading is then
        // applied again by the next sync, which is harmless.
        let applied = latest_version(&db).await?;
        let model = DefaultModel::from_str(MODEL).await?;
        let mut enforcer = Enforcer::new(model, SeaOrmAdapter::new(db.clone())).await?;
        // Changes are written by our own transactions (with their audit
        // entries); the enforcer only mirrors them.
        enforcer.enable_auto_save(false);
        let freshness = Freshness::default();
        freshness.learn(&db).await?;
        Ok(Self {
            enforcer: RwLock::new(enforcer),
            db,
            applied: AtomicI64::new(applied),
            syncing: Mutex::new(()),
            publisher,
            freshness,
            wake: std::sync::OnceLock::new(),
            decisions: quick_cache::sync::Cache::new(DECISIONS),
            changes: tokio::sync::watch::channel(applied).0,
        })
    }

    /// Marks each change applied on this node, as it is applied.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<i64> {
        self.changes.subscribe()
    }

    /// Whether `user` holds `permission` in `tenant`.
    /// Decided once and remembered until the tenant's rules or members
    /// change (or this node stops following the feed).
    pub async fn enforce(&self, user: Uuid, tenant: Uuid, permission: Permission) -> bool {
        let key = (user, tenant, permission);
        if let Some((at, allowed)) = self.decisions.get(&key)
            && self.still_fresh(tenant, at)
        {
            return allowed;
        }
        // Read before deciding: the enforcer changes before `applied` moves,
        // so a decision is never stamped later than the rules it saw.
        let at = self.version();
        let allowed = self.decide(user, tenant, permission).await;
        self.decisions.insert(key, (at, allowed));
        allowed
    }

    /// The enforcer's answer, worked out now (what [`Self::enforce`] remembers).
    pub async fn decide(&self, user: Uuid, tenant: Uuid, permission: Permission) -> bool {
        let e = self.enforcer.read().await;
        e.enforce((user.to_string(), tenant.to_string(), permission.as_str()))
            .unwrap_or_else(|err| {
                tracing::error!(error = %err, "authorization check failed; denying");
                false
            })
    }

    /// Policy lines in memory (p and g), for metrics and benchmarks.
    pub async fn line_count(&self) -> usize {
        let e = self.enforcer.read().await;
        e.get_policy().len() + e.get_grouping_policy().len()
    }

    /// The last change applied.
    pub fn version(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Whether what was read about `tenant`'s members (memberships, roles,
    /// where the tenant lives) once this node had applied change `read_at` still
    /// stands: no change of that tenant has been applied since. Every such
    /// change goes through the feed, so a cached lookup is as fresh as the
    /// rules the enforcer checks.
    pub fn still_fresh(&self, tenant: Uuid, read_at: i64) -> bool {
        let f = &self.freshness;
        let following = f.synced_at.lock().expect("freshness lock").elapsed()
            <= *f.max_lag.lock().expect("freshness lock");
        following
            && read_at >= f.floor.load(Ordering::Acquire)
            && f.changed
                .read()
                .expect("freshness lock")
                .get(&tenant)
                .is_none_or(|&changed| read_at >= changed)
    }

    /// Stops believing what was read about `tenant` so far, and asks for a
    /// sync: the storage found it is not where a cached lookup said (it
    /// moved, and this node has not applied that change yet).
    pub fn distrust(&self, tenant: Uuid) {
        let next = self.version() + 1;
        let mut changed = self.freshness.changed.write().expect("freshness lock");
        let mark = changed.entry(tenant).or_insert(next);
        *mark = (*mark).max(next);
        drop(changed);
        if let Some(wake) = self.wake.get() {
            let _ = wake.try_send(());
        }
    }

    /// Applies this node's committed change now and tells the other nodes.
    pub async fn committed(&self) {
        if let Err(e) = self.sync().await {
            tracing::error!(error = %e, "applying an authorization change failed");
        }
        if let Some(p) = &self.publisher {
            let mut conn = p.conn.clone();
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&p.channel)
                .arg(self.version())
                .query_async(&mut conn)
                .await;
            if let Err(e) = sent {
                // Other nodes still catch up by polling.
                tracing::warn!(error = %e, "could not publish an authorization change");
            }
        }
    }

    /// Applies every change committed since the last one applied.
    ///
    /// # Errors
    /// When the database fails; nothing is marked applied then.
    pub async fn sync(&self) -> anyhow::Result<usize> {
        let _one = self.syncing.lock().await;
        let mut applied = 0;
        loop {
            let since = self.version();
            let rows = policy_change::Entity::find()
                .filter(policy_change::Column::Version.gt(since))
                .order_by_asc(policy_change::Column::Version)
                .limit(SYNC_BATCH)
                .all(&self.db)
                .await?;
            let Some(last) = rows.last().map(|r| r.version) else {
                *self.freshness.synced_at.lock().expect("freshness lock") =
                    std::time::Instant::now();
                return Ok(applied);
            };
            let contiguous = rows
                .iter()
                .zip(since + 1..)
                .all(|(r, expected)| r.version == expected);
            if !contiguous {
                // Rows this node never saw were pruned: start over.
                self.reload_all().await?;
            } else {
                let tenants: BTreeSet<Uuid> = rows.iter().map(|r| r.tenant_id).collect();
                for t in tenants {
                    self.reload_tenant(t).await?;
                }
                // Before `applied` moves: a lookup stamped with the new
                // version must find these marks.
                let mut changed = self.freshness.changed.write().expect("freshness lock");
                for r in &rows {
                    changed.insert(r.tenant_id, r.version);
                }
            }
            self.applied.store(last, Ordering::Release);
            self.changes.send_replace(last);
            applied += rows.len();
        }
    }

    async fn reload_all(&self) -> anyhow::Result<()> {
        let latest = latest_version(&self.db).await?;
        let mut e = self.enforcer.write().await;
        e.load_policy().await?;
        self.freshness.learn(&self.db).await?;
        self.applied.store(latest, Ordering::Release);
        self.changes.send_replace(latest);
        Ok(())
    }

    /// Replaces one tenant's lines with what the database holds. The write
    /// lock covers removal and re-adding, so no check sees the tenant empty.
    async fn reload_tenant(&self, tenant: Uuid) -> anyhow::Result<()> {
        let lines = adapter::lines(&self.db, Some(tenant)).await?;
        let (mut p, mut g) = (Vec::new(), Vec::new());
        for (sec, _, rule) in lines {
            if sec == "g" {
                g.push(rule)
            } else {
                p.push(rule)
            }
        }
        let t = tenant.to_string();
        let mut e = self.enforcer.write().await;
        e.remove_filtered_named_grouping_policy("g", 2, vec![t.clone()])
            .await?;
        e.remove_filtered_named_policy("p", 1, vec![t]).await?;
        if !g.is_empty() {
            e.add_named_grouping_policies("g", g).await?;
        }
        if !p.is_empty() {
            e.add_named_policies("p", p).await?;
        }
        Ok(())
    }

    /// Follows other nodes' changes: on every Redis message (when
    /// subscribed) and every `poll`. Stops once the engine is dropped.
    pub fn watch(self: &Arc<Self>, poll: Duration, subscription: Option<(redis::Client, String)>) {
        let engine: Weak<Self> = Arc::downgrade(self);
        let (wake_tx, mut wake_rx) = tokio::sync::mpsc::channel::<()>(1);
        let _ = self.wake.set(wake_tx.clone());
        // Ten polls missed (at least 5 s): cached lookups stop counting.
        *self.freshness.max_lag.lock().expect("freshness lock") =
            (poll * 10).max(Duration::from_secs(5));
        if let Some((client, channel)) = subscription {
            tokio::spawn(super::watch::subscribe(client, channel, wake_tx));
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    Some(()) = wake_rx.recv() => {}
                }
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                if let Err(e) = engine.sync().await {
                    tracing::warn!(error = %e, "authorization sync failed; retrying");
                }
            }
        });
    }
}

async fn latest_version(db: &DatabaseConnection) -> Result<i64, sea_orm::DbErr> {
    Ok(policy_change::Entity::find()
        .order_by_desc(policy_change::Column::Version)
        .one(db)
        .await?
        .map_or(0, |r| r.version))
}

#[async_trait]
impl Authorizer for PolicyEngine {
    async fn allowed(&self, ctx: &TenantContext, permission: Permission) -> bool {
        match ctx.user_id() {
            Some(user) => {
                self.enforce(user.as_uuid(), ctx.tenant_id().as_uuid(), permission)
                    .await
            }
            // Invitees and the system act through use cases, not the API's guards.
            None => false,
        }
    }
}
