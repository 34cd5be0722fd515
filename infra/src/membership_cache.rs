//! Membership lookups, cached: whether a user belongs to a tenant, with what
//! role, and how that tenant is isolated (its directory entry). Every
//! authenticated request makes this lookup, so it is the one worth caching;
//! sign-in's tenant-by-slug read sits beside an argon2 verification and is not.
//!
//! Entries are never deleted on change. Each carries the version of the
//! authorization feed its reader had applied, and counts only while no change
//! of its tenant has been applied since (see [`Freshness`]). Member, role,
//! move and delete all write to that feed, so nothing has to reach Redis when
//! something changes: an invalidation cannot be lost to a Redis outage, and a
//! node's cache turns over exactly when its enforcer does.
//!
//! Two tiers: a bounded map in this process, then Redis, shared by the nodes
//! so that a new node starts warm. A key is `<prefix>:{t:<tenant>}:member:<user>`:
//! the tenant is in every key, and is the Redis Cluster hash tag, so one
//! tenant's keys live in one slot.

use crate::authz::PolicyEngine;
use crate::redis_conn::LogEvery;
use domain::identity::{Membership, RoleName};
use domain::plan::{Feature, PlanName, Terms};
use domain::rates::RequestRates;
use domain::{Isolation, Result, TenantId, UserId};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long Redis is left alone after it failed: a request must not wait on
/// an unreachable Redis on every lookup.
const REST: Duration = Duration::from_secs(5);

/// What cached lookups are checked against.
pub trait Freshness: Send + Sync {
    /// The last feed change this node has applied; a lookup is stamped with
    /// it before it reads.
    fn version(&self) -> i64;
    /// Whether a lookup of `tenant` stamped `read_at` still stands.
    fn still_fresh(&self, tenant: Uuid, read_at: i64) -> bool;
}

impl Freshness for PolicyEngine {
    fn version(&self) -> i64 {
        PolicyEngine::version(self)
    }

    fn still_fresh(&self, tenant: Uuid, read_at: i64) -> bool {
        PolicyEngine::still_fresh(self, tenant, read_at)
    }
}

/// One lookup's answer. Not being a member is cached too (in this process
/// only): a removed member's token keeps being presented until it expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    read_at: i64,
    /// None for "not a member".
    member: Option<Member>,
}

/// A membership with what is read of its tenant beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Member {
    role: String,
    isolation: String,
    standing: String,
    plan: Option<String>,
    rates: (Option<u32>, Option<u32>),
    features: Vec<String>,
}

impl Entry {
    fn new(read_at: i64, found: Option<&Membership>) -> Self {
        Self {
            read_at,
            member: found.map(|m| Member {
                role: m.role.as_str().to_owned(),
                isolation: m.isolation.as_str().to_owned(),
                standing: m.standing.as_str().to_owned(),
                plan: m.terms.plan.as_ref().map(|p| p.as_str().to_owned()),
                rates: (m.terms.rates.tenant_work, m.terms.rates.per_user),
                features: m
                    .terms
                    .features
                    .iter()
                    .map(|f| f.as_str().to_owned())
                    .collect(),
            }),
        }
    }

    /// The lookup's answer; `None` when the entry cannot be read back (an
    /// older format, say), which counts as a miss.
    fn answer(&self, user: UserId, tenant: TenantId) -> Option<Option<Membership>> {
        let Some(m) = &self.member else {
            return Some(None);
        };
        let terms = Terms {
            plan: m.plan.as_deref().map(PlanName::parse).transpose().ok()?,
            rates: RequestRates {
                tenant_work: m.rates.0,
                per_user: m.rates.1,
            },
            features: m
                .features
                .iter()
                .map(|f| Feature::parse(f))
                .collect::<Result<_>>()
                .ok()?,
        };
        Some(Some(Membership {
            user_id: user,
            tenant_id: tenant,
            isolation: m.isolation.parse::<Isolation>().ok()?,
            role: RoleName::new(m.role.clone()),
            standing: m.standing.parse().ok()?,
            terms,
        }))
    }
}

/// The Redis tier.
pub struct Shared {
    pub conn: ConnectionManager,
    /// The deployment's key prefix.
    pub prefix: String,
    pub ttl: Duration,
}

struct SharedTier {
    conn: ConnectionManager,
    prefix: String,
    ttl_secs: u64,
    resting_until: Mutex<Option<Instant>>,
    log: LogEvery,
}

/// See the module documentation.
pub struct MembershipCache {
    freshness: Arc<dyn Freshness>,
    local: Option<quick_cache::sync::Cache<(Uuid, Uuid), Entry>>,
    shared: Option<SharedTier>,
}

impl MembershipCache {
    /// `local_entries` of 0 turns the in-process tier off; `shared` of none
    /// the Redis tier.
    pub fn new(
        freshness: Arc<dyn Freshness>,
        local_entries: usize,
        shared: Option<Shared>,
    ) -> Self {
        Self {
            freshness,
            local: (local_entries > 0).then(|| quick_cache::sync::Cache::new(local_entries)),
            shared: shared.map(|s| SharedTier {
                conn: s.conn,
                prefix: s.prefix,
                ttl_secs: s.ttl.as_secs().max(1),
                resting_until: Mutex::new(None),
                log: LogEvery::new(Duration::from_secs(30)),
            }),
        }
    }

    /// The Redis key of one membership lookup.
    pub fn key(prefix: &str, tenant: TenantId, user: UserId) -> String {
        format!("{prefix}:{{t:{tenant}}}:member:{user}")
    }

    /// The membership from the cache when a fresh entry is there, else from
    /// `load`, whose answer is then cached.
    ///
    /// # Errors
    /// What `load` returns; the cache itself never fails a lookup.
    pub async fn membership(
        &self,
        user: UserId,
        tenant: TenantId,
        load: impl AsyncFnOnce() -> Result<Option<Membership>>,
    ) -> Result<Option<Membership>> {
        let key = (tenant.as_uuid(), user.as_uuid());
        let fresh = |e: &Entry| self.freshness.still_fresh(tenant.as_uuid(), e.read_at);
        if let Some(local) = &self.local
            && let Some(entry) = local.get(&key).filter(|e| fresh(e))
            && let Some(answer) = entry.answer(user, tenant)
        {
            counted("local");
            return Ok(answer);
        }
        if let Some(shared) = &self.shared
            && let Some(entry) = shared.get(tenant, user).await.filter(|e| fresh(e))
            && let Some(answer) = entry.answer(user, tenant)
        {
            if let Some(local) = &self.local {
                local.insert(key, entry);
            }
            counted("shared");
            return Ok(answer);
        }
        // Stamped before the read: a change committed meanwhile makes the
        // entry stale at once, whichever state the read saw.
        let entry_read_at = self.freshness.version();
        let found = load().await?;
        let entry = Entry::new(entry_read_at, found.as_ref());
        // "Not a member" stays in this process: anyone signed in can ask
        // about any tenant id (switchTenant), and Redis must not fill with those.
        if let Some(shared) = &self.shared
            && entry.member.is_some()
        {
            shared.set(tenant, user, &entry).await;
        }
        if let Some(local) = &self.local {
            local.insert(key, entry);
        }
        counted("miss");
        Ok(found)
    }
}

fn counted(outcome: &'static str) {
    metrics::counter!("tenantry_membership_cache_lookups_total", "outcome" => outcome).increment(1);
}

impl SharedTier {
    async fn get(&self, tenant: TenantId, user: UserId) -> Option<Entry> {
        if self.resting() {
            return None;
        }
        let mut conn = self.conn.clone();
        let found: redis::RedisResult<Option<String>> = redis::cmd("GET")
            .arg(MembershipCache::key(&self.prefix, tenant, user))
            .query_async(&mut conn)
            .await;
        match found {
            Ok(value) => {
                self.answered();
                value.and_then(|v| serde_json::from_str(&v).ok())
            }
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    async fn set(&self, tenant: TenantId, user: UserId, entry: &Entry) {
        if self.resting() {
            return;
        }
        let Ok(value) = serde_json::to_string(entry) else {
            return;
        };
        let mut conn = self.conn.clone();
        let written: redis::RedisResult<()> = redis::cmd("SET")
            .arg(MembershipCache::key(&self.prefix, tenant, user))
            .arg(value)
            .arg("EX")
            .arg(self.ttl_secs)
            .query_async(&mut conn)
            .await;
        match written {
            Ok(()) => self.answered(),
            Err(e) => self.failed(&e),
        }
    }

    /// Whether to leave Redis alone now. When a rest ends, one caller
    /// probes while the others rest on, so an outage costs one slow call
    /// per rest rather than one per request.
    fn resting(&self) -> bool {
        let mut until = self.resting_until.lock().expect("cache rest lock");
        match *until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *until = Some(Instant::now() + REST);
                false
            }
            None => false,
        }
    }

    fn answered(&self) {
        *self.resting_until.lock().expect("cache rest lock") = None;
    }

    fn failed(&self, e: &redis::RedisError) {
        *self.resting_until.lock().expect("cache rest lock") = Some(Instant::now() + REST);
        if self.log.ready() {
            tracing::warn!(error = %e, "membership cache: Redis unreachable; reading the database");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

    /// A feed whose version and per-tenant changes a test sets by hand.
    #[derive(Default)]
    struct Feed {
        version: AtomicI64,
        changed: Mutex<HashMap<Uuid, i64>>,
    }

    impl Feed {
        fn change(&self, tenant: TenantId) {
            let v = self.version.fetch_add(1, Ordering::SeqCst) + 1;
            self.changed.lock().unwrap().insert(tenant.as_uuid(), v);
        }
    }

    impl Freshness for Feed {
        fn version(&self) -> i64 {
            self.version.load(Ordering::SeqCst)
        }
        fn still_fresh(&self, tenant: Uuid, read_at: i64) -> bool {
            self.changed
                .lock()
                .unwrap()
                .get(&tenant)
                .is_none_or(|&c| read_at >= c)
        }
    }

    fn member(user: UserId, tenant: TenantId, role: &str) -> Membership {
        Membership {
            user_id: user,
            tenant_id: tenant,
            isolation: Isolation::Row,
            role: RoleName::new(role.to_owned()),
            standing: domain::identity::Standing::Active,
            terms: Terms::default(),
        }
    }

    /// Looks up through the cache; `loads` counts trips to the "database".
    async fn lookup(
        cache: &MembershipCache,
        (user, tenant): (UserId, TenantId),
        db: &Mutex<HashMap<(UserId, TenantId), String>>,
        loads: &AtomicUsize,
    ) -> Option<String> {
        cache
            .membership(user, tenant, async || {
                loads.fetch_add(1, Ordering::SeqCst);
                let role = db.lock().unwrap().get(&(user, tenant)).cloned();
                Ok(role.map(|r| member(user, tenant, &r)))
            })
            .await
            .unwrap()
            .map(|m| m.role.as_str().to_owned())
    }

    #[tokio::test]
    async fn a_change_of_the_tenant_turns_its_entries_over_and_only_its_own() {
        let feed = Arc::new(Feed::default());
        let cache = MembershipCache::new(feed.clone(), 100, None);
        let (user, a, b) = (
            UserId::generate(),
            TenantId::generate(),
            TenantId::generate(),
        );
        let db = Mutex::new(HashMap::from([
            ((user, a), "admin".to_owned()),
            ((user, b), "viewer".to_owned()),
        ]));
        let loads = AtomicUsize::new(0);

        assert_eq!(
            lookup(&cache, (user, a), &db, &loads).await.as_deref(),
            Some("admin")
        );
        assert_eq!(
            lookup(&cache, (user, b), &db, &loads).await.as_deref(),
            Some("viewer")
        );
        assert_eq!(
            lookup(&cache, (user, a), &db, &loads).await.as_deref(),
            Some("admin")
        );
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "the third lookup is served from the cache"
        );

        db.lock().unwrap().insert((user, a), "member".to_owned());
        feed.change(a);
        assert_eq!(
            lookup(&cache, (user, a), &db, &loads).await.as_deref(),
            Some("member")
        );
        assert_eq!(
            lookup(&cache, (user, b), &db, &loads).await.as_deref(),
            Some("viewer")
        );
        assert_eq!(
            loads.load(Ordering::SeqCst),
            3,
            "only tenant a's entry was read again"
        );
    }

    #[tokio::test]
    async fn not_being_a_member_is_cached_until_the_tenant_changes() {
        let feed = Arc::new(Feed::default());
        let cache = MembershipCache::new(feed.clone(), 100, None);
        let (user, t) = (UserId::generate(), TenantId::generate());
        let db = Mutex::new(HashMap::new());
        let loads = AtomicUsize::new(0);

        assert_eq!(lookup(&cache, (user, t), &db, &loads).await, None);
        assert_eq!(lookup(&cache, (user, t), &db, &loads).await, None);
        assert_eq!(loads.load(Ordering::SeqCst), 1);

        db.lock().unwrap().insert((user, t), "member".to_owned());
        feed.change(t);
        assert_eq!(
            lookup(&cache, (user, t), &db, &loads).await.as_deref(),
            Some("member")
        );
    }

    #[tokio::test]
    async fn a_read_that_a_change_overtook_is_not_trusted() {
        let feed = Arc::new(Feed::default());
        let cache = MembershipCache::new(feed.clone(), 100, None);
        let (user, t) = (UserId::generate(), TenantId::generate());
        let loads = AtomicUsize::new(0);
        // The read sees the old role, and the change lands before it returns.
        let stale = cache
            .membership(user, t, async || {
                loads.fetch_add(1, Ordering::SeqCst);
                feed.change(t);
                Ok(Some(member(user, t, "owner")))
            })
            .await
            .unwrap();
        assert_eq!(stale.unwrap().role.as_str(), "owner");
        let db = Mutex::new(HashMap::from([((user, t), "viewer".to_owned())]));
        assert_eq!(
            lookup(&cache, (user, t), &db, &loads).await.as_deref(),
            Some("viewer")
        );
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn entries_keep_the_tenants_terms_through_redis_json() {
        let (user, tenant) = (UserId::generate(), TenantId::generate());
        let mut m = member(user, tenant, "owner");
        m.terms = Terms {
            plan: Some(PlanName::parse("pro").unwrap()),
            rates: RequestRates {
                tenant_work: Some(9),
                per_user: None,
            },
            features: [Feature::parse("sso").unwrap()].into(),
        };
        let json = serde_json::to_string(&Entry::new(3, Some(&m))).unwrap();
        let back: Entry = serde_json::from_str(&json).unwrap();
        assert_eq!(back.answer(user, tenant), Some(Some(m)));
        // An entry of the older format is a miss, not an error.
        let old = r#"{"read_at":1,"member":["owner","row","active"]}"#;
        assert!(serde_json::from_str::<Entry>(old).is_err());
    }

    #[test]
    fn keys_carry_the_tenant_as_their_cluster_hash_tag() {
        let (t, u) = (TenantId::generate(), UserId::generate());
        let key = MembershipCache::key("tenantry", t, u);
        assert_eq!(key, format!("tenantry:{{t:{t}}}:member:{u}"));
        // Redis Cluster hashes only what is between the first { and the next }.
        let tag = &key[key.find('{').unwrap() + 1..key.find('}').unwrap()];
        assert_eq!(tag, format!("t:{t}"));
    }
}
