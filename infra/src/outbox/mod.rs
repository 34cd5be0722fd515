//! The outbox worker: one per node, safe to run on many. It takes events out
//! of each tenant's outbox, turns them into webhook deliveries, and sends
//! those with retries.
//!
//! Which tenants to look at: those whose commits on this node wrote events
//! (woken at once, through [`Nudges`](crate::tenancy::Nudges)), those with a retry coming due, and,
//! every `sweep_interval`, every tenant (events written on other nodes, or
//! left by a node that stopped). Nothing is lost across a restart: events and
//! deliveries are rows, and the sweep at start-up finds them.
//!
//! A tenant's pass relays its events (to subscribers, and into delivery
//! rows) and leases what is due, then hands the sends on and is done: the
//! next pass never waits for a slow target. Sends run beside the passes,
//! `sends_per_tenant` webhooks of a tenant at once and `send_slots` in all;
//! one webhook's deliveries go one after another, and none of its later ones
//! is leased while this node still sends its earlier ones. A webhook's run
//! stops after `send_budget`; what it did not send goes back unsent.

mod sender;
pub mod signing;

use crate::entities::tenant;
use crate::tenancy::relay::{Attempt, InFlight, Leased, Pending, Relayed, Take};
use crate::tenancy::{Nudges, SqlTenancy};
use chrono::Utc;
use domain::webhook::{RetryPolicy, TargetPolicy};
use domain::{Isolation, TenantContext, TenantId};
use sea_orm::{DatabaseConnection, EntityTrait};
use sender::{Answer, Sender};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Full batches one tenant may take before it lets others have its slot.
const FULL_ROUNDS: usize = 4;

#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// How often every tenant is looked at.
    pub sweep_interval: Duration,
    /// Events, and deliveries, taken per transaction.
    pub batch: u64,
    /// Tenants relayed at once.
    pub concurrency: usize,
    /// Webhooks of one tenant sent to at once, and of all tenants.
    pub sends_per_tenant: usize,
    pub send_slots: usize,
    /// The longest one webhook's run of deliveries takes in a pass.
    pub send_budget: Duration,
    pub retry: RetryPolicy,
    /// The deadline of one HTTP attempt.
    pub timeout: Duration,
    pub targets: TargetPolicy,
    /// Delivered and dead deliveries older than this are pruned by the
    /// sweep; none: kept for ever.
    pub retention: Option<Duration>,
}

/// Receives events as they leave the outbox (subscriptions), before the
/// tenant is let go: a tenant's batches reach it in order.
pub type EventSink =
    Arc<dyn Fn(TenantId, Vec<Relayed>) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A pass's leased deliveries by webhook, for the loop to send.
type HandedOn = (TenantContext, HashMap<uuid::Uuid, Vec<Leased>>);

/// A tenant's share of the sends, and its webhooks being sent to (with how
/// many runs of each).
type Sending = (Arc<tokio::sync::Semaphore>, HashMap<uuid::Uuid, usize>);

/// One webhook's run of sends; unmarks it when dropped.
struct Run {
    worker: Arc<Worker>,
    ctx: TenantContext,
    hook: uuid::Uuid,
}

impl Drop for Run {
    fn drop(&mut self) {
        self.worker.sent(&self.ctx, self.hook);
    }
}

pub struct Worker {
    tenancy: SqlTenancy,
    control: DatabaseConnection,
    nudges: Arc<Nudges>,
    sender: Arc<Sender>,
    settings: WorkerSettings,
    sink: Option<EventSink>,
    /// Sends handed on by passes, for the loop to run (and to stop with it).
    sends: tokio::sync::mpsc::UnboundedSender<HandedOn>,
    sends_rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<HandedOn>>>,
    send_slots: Arc<tokio::sync::Semaphore>,
    /// Per tenant with sends under way: its share of them, and its webhooks
    /// being sent to (with how many runs of each).
    sending: Mutex<HashMap<TenantId, Sending>>,
}

/// What to do with a tenant after a pass.
enum Next {
    At(Instant, Isolation),
    /// Nothing pending; the sweep or a nudge brings it back.
    Idle,
}

impl Worker {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        tenancy: SqlTenancy,
        control: DatabaseConnection,
        nudges: Arc<Nudges>,
        settings: WorkerSettings,
        sink: Option<EventSink>,
    ) -> reqwest::Result<Self> {
        let (sends, sends_rx) = tokio::sync::mpsc::unbounded_channel();
        Ok(Self {
            sender: Arc::new(Sender::new(settings.timeout, settings.targets)?),
            tenancy,
            control,
            nudges,
            sink,
            sends,
            sends_rx: Mutex::new(Some(sends_rx)),
            send_slots: Arc::new(tokio::sync::Semaphore::new(settings.send_slots.max(1))),
            sending: Mutex::default(),
            settings,
        })
    }

    /// Runs until the task is aborted. An attempt cut off by that is retried
    /// when its lease ends, by this node after a restart or by another.
    pub async fn run(self) {
        let mut handed_on = self
            .sends_rx
            .lock()
            .expect("sends lock")
            .take()
            .expect("a worker runs once");
        let this = Arc::new(self);
        let mut due: HashMap<TenantId, (Instant, Isolation)> = HashMap::new();
        let mut running: JoinSet<Next> = JoinSet::new();
        // Dropped with the loop: an aborted worker stops its sends too.
        let mut sends: JoinSet<()> = JoinSet::new();
        let mut busy: HashMap<tokio::task::Id, TenantId> = HashMap::new();
        // The sweep runs beside the loop, which keeps serving nudges meanwhile.
        let (swept_tx, mut swept) = tokio::sync::mpsc::channel(1);
        let sweeper = {
            let w = this.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(w.settings.sweep_interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if swept_tx.send(w.sweep().await).await.is_err() {
                        return;
                    }
                }
            })
        };
        let _sweeper = AbortOnDrop(sweeper);
        let mut sweeping = true;
        loop {
            for (t, i) in this.nudges.drain() {
                due.insert(t, (Instant::now(), i));
            }
            let free = this.settings.concurrency.saturating_sub(running.len());
            let now = Instant::now();
            // Longest waiting first, so no tenant starves while slots are short.
            let mut ready: Vec<_> = due
                .iter()
                .filter(|(t, (at, _))| *at <= now && !busy.values().any(|b| b == *t))
                .map(|(t, (at, i))| (*at, *t, *i))
                .collect();
            ready.sort_by_key(|(at, _, _)| *at);
            let ready: Vec<_> = ready
                .into_iter()
                .take(free)
                .map(|(_, t, i)| (t, i))
                .collect();
            for (t, i) in ready {
                due.remove(&t);
                let w = this.clone();
                let id = running.spawn(async move { w.work(t, i).await }).id();
                busy.insert(id, t);
            }
            // With every slot taken, only a finished tenant frees one: do not
            // wake for due tenants meanwhile (that would spin).
            let wake = (running.len() < this.settings.concurrency)
                .then(|| {
                    due.iter()
                        .filter(|(t, _)| !busy.values().any(|b| b == *t))
                        .map(|(_, (at, _))| *at)
                        .min()
                })
                .flatten();
            tokio::select! {
                () = this.nudges.notified() => {}
                Some((ctx, per_hook)) = handed_on.recv() => this.start_sends(&mut sends, ctx, per_hook),
                Some(done) = sends.join_next(), if !sends.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "a webhook send task failed");
                    }
                }
                () = tokio::time::sleep_until(wake.unwrap_or(now)), if wake.is_some() => {}
                found = swept.recv(), if sweeping => match found {
                    Some(found) => {
                        for (t, at, i) in found {
                            let e = due.entry(t).or_insert((at, i));
                            if at < e.0 {
                                *e = (at, i);
                            }
                        }
                    }
                    None => {
                        sweeping = false;
                        tracing::error!("outbox sweep stopped; this node now serves only its own writes until restarted");
                    }
                },
                Some(done) = running.join_next_with_id() => match done {
                    Ok((id, next)) => {
                        let t = busy.remove(&id);
                        if let (Some(t), Next::At(at, i)) = (t, next) {
                            let e = due.entry(t).or_insert((at, i));
                            if at < e.0 {
                                *e = (at, i);
                            }
                        }
                    }
                    Err(e) => {
                        // Its tenant comes back with the next sweep or nudge.
                        busy.remove(&e.id());
                        tracing::error!(error = %e, "outbox worker task failed");
                    }
                },
            }
        }
    }

    /// Every tenant with events waiting or deliveries pending, and when.
    async fn sweep(&self) -> Vec<(TenantId, Instant, Isolation)> {
        let tenants = match crate::tenancy::lifecycle::tenants_in_service(&self.control).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "outbox sweep: listing tenants");
                return Vec::new();
            }
        };
        let expire_before = self
            .settings
            .retention
            .and_then(|r| chrono::Duration::from_std(r).ok())
            .map(|r| crate::now() - r);
        let mut found = Vec::new();
        for ctx in tenants {
            let (t, i) = (ctx.tenant_id(), ctx.isolation());
            let pending = match self.tenancy.pending_work(&ctx, expire_before).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::debug!(tenant = %t, error = %e, "outbox sweep: tenant skipped");
                    continue;
                }
            };
            if let (true, Some(before)) = (pending.expired, expire_before) {
                match self.tenancy.prune_deliveries(&ctx, before).await {
                    Ok(n) => {
                        metrics::counter!("tenantry_webhook_deliveries_pruned_total").increment(n)
                    }
                    Err(e) => {
                        tracing::warn!(tenant = %t, error = %e, "outbox sweep: pruning deliveries")
                    }
                }
            }
            match pending {
                Pending { events: true, .. } => found.push((t, Instant::now(), i)),
                Pending {
                    next_due: Some(at), ..
                } => found.push((t, instant_of(at), i)),
                Pending { .. } => {}
            }
        }
        found
    }

    /// Whether the tenant is out of service: suspended or deleted (a retry
    /// scheduled before that comes here without the sweep, which leaves such
    /// tenants out).
    async fn suspended(&self, tenant: TenantId) -> bool {
        use sea_orm::QuerySelect;
        let standing: Option<String> = tenant::Entity::find_by_id(tenant.as_uuid())
            .select_only()
            .column(tenant::Column::Standing)
            .into_tuple()
            .one(&self.control)
            .await
            .unwrap_or_default();
        standing
            .and_then(|s| s.parse::<domain::identity::Standing>().ok())
            .is_some_and(|s| !s.in_service())
    }

    /// Works one tenant until its outbox is empty and nothing is due; says
    /// when to come back.
    async fn work(&self, tenant: TenantId, isolation: Isolation) -> Next {
        if self.suspended(tenant).await {
            // Its events and deliveries wait; the sweep brings it back once resumed.
            return Next::Idle;
        }
        let ctx = TenantContext::system(tenant, isolation);
        let s = &self.settings;
        // Whether the last round found nothing it could take, and what it left.
        let mut idle = false;
        let mut left = Pending::default();
        // A tenant with a steady stream gives its slot up now and then.
        for _ in 0..FULL_ROUNDS {
            let now = crate::now();
            let lease = chrono::Duration::from_std(s.timeout + Duration::from_secs(2))
                .unwrap_or(chrono::Duration::seconds(60));
            let take = Take {
                events: s.batch,
                deliveries: s.batch,
                now,
                lease_until: now + lease,
            };
            let publish = async |events: &[Relayed]| {
                if let Some(sink) = &self.sink {
                    sink(tenant, events.to_vec()).await;
                }
            };
            let in_flight = self.in_flight(tenant);
            let batch = match self
                .tenancy
                .take_work(&ctx, take, &in_flight, publish)
                .await
            {
                Ok(Some(b)) => b,
                // Another node is on it; look again shortly in case it stops.
                Ok(None) => return Next::At(Instant::now() + Duration::from_secs(1), isolation),
                Err(e) => return self.after_error(tenant, e).await,
            };
            metrics::counter!("tenantry_outbox_events_relayed_total")
                .increment(batch.events.len() as u64);
            let full =
                batch.events.len() as u64 >= s.batch || batch.deliveries.len() as u64 >= s.batch;
            // Sent beside the passes: the next one does not wait for them.
            idle = batch.events.is_empty() && batch.deliveries.is_empty();
            left = batch.left;
            if !batch.deliveries.is_empty() {
                self.hand_on(&ctx, batch.deliveries);
            }
            if !full {
                break;
            }
        }
        // What the last round's transaction saw left: no second one to ask.
        match left {
            Pending { events: true, .. } => Next::At(Instant::now(), isolation),
            // Due, yet nothing could be taken: those are webhooks this node
            // is still sending to. Their run's end brings the tenant back.
            Pending {
                next_due: Some(at), ..
            } if idle && at <= Utc::now() && !self.in_flight(tenant).is_empty() => Next::Idle,
            Pending {
                next_due: Some(at), ..
            } => Next::At(instant_of(at), isolation),
            Pending { .. } => Next::Idle,
        }
    }

    /// The tenant may have moved (its context is stale) or gone: read the
    /// directory again and come back in a second, or forget it.
    async fn after_error(&self, tenant: TenantId, e: domain::Error) -> Next {
        if !matches!(e, domain::Error::RateLimited { .. }) {
            tracing::warn!(tenant = %tenant, error = %e, "outbox worker");
        }
        let found = tenant::Entity::find_by_id(tenant.as_uuid())
            .one(&self.control)
            .await;
        match found {
            Ok(Some(row)) => match row.isolation.parse() {
                Ok(i) => Next::At(Instant::now() + Duration::from_secs(1), i),
                Err(_) => Next::Idle,
            },
            Ok(None) => Next::Idle,
            Err(_) => Next::Idle,
        }
    }

    /// Webhooks of `tenant` this node is sending to now.
    fn in_flight(&self, tenant: TenantId) -> InFlight {
        let sending = self.sending.lock().expect("sending lock");
        sending
            .get(&tenant)
            .map(|(_, hooks)| hooks.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Marks a pass's webhooks in flight (before the next pass can lease
    /// more of theirs), then hands the sends to the loop.
    fn hand_on(&self, ctx: &TenantContext, deliveries: Vec<Leased>) {
        // One webhook's deliveries go one after another, in event order.
        let mut per_hook: HashMap<uuid::Uuid, Vec<Leased>> = HashMap::new();
        for d in deliveries {
            per_hook.entry(d.webhook_id).or_default().push(d);
        }
        {
            let mut sending = self.sending.lock().expect("sending lock");
            let (_, hooks) = sending.entry(ctx.tenant_id()).or_insert_with(|| {
                let share = tokio::sync::Semaphore::new(self.settings.sends_per_tenant.max(1));
                (Arc::new(share), HashMap::new())
            });
            for hook in per_hook.keys() {
                *hooks.entry(*hook).or_default() += 1;
            }
        }
        let _ = self.sends.send((ctx.clone(), per_hook));
    }

    /// Starts a pass's sends: one task per webhook, each within its
    /// tenant's share and the node's slots.
    fn start_sends(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        ctx: TenantContext,
        per_hook: HashMap<uuid::Uuid, Vec<Leased>>,
    ) {
        let share = {
            let sending = self.sending.lock().expect("sending lock");
            sending
                .get(&ctx.tenant_id())
                .map(|(share, _)| share.clone())
        };
        // Marked by `hand_on`, and unmarked only by these tasks.
        let Some(share) = share else { return };
        for (hook, ds) in per_hook {
            let (w, ctx, share) = (self.clone(), ctx.clone(), share.clone());
            tasks.spawn(async move {
                // Unmarks the webhook however the run ends, a panic included.
                let _run = Run {
                    worker: w.clone(),
                    ctx: ctx.clone(),
                    hook,
                };
                let _share = share.acquire().await;
                let _slot = w.send_slots.acquire().await;
                let deadline = Instant::now() + w.settings.send_budget;
                for d in ds {
                    // An attempt must end inside its lease, or another node
                    // may start the same one: give back what cannot.
                    let fits = chrono::Duration::from_std(w.settings.timeout)
                        .is_ok_and(|t| Utc::now() + t < d.lease_until);
                    if Instant::now() < deadline && fits {
                        w.attempt(&ctx, d).await;
                    } else if let Err(e) = w.tenancy.release(&ctx, &d).await {
                        tracing::debug!(delivery = %d.id, error = %e, "giving back an unsent delivery; its lease runs out instead");
                    }
                }
            });
        }
    }

    /// A webhook's run is over: its next deliveries may be leased, now.
    fn sent(&self, ctx: &TenantContext, hook: uuid::Uuid) {
        let mut sending = self.sending.lock().expect("sending lock");
        if let Some((_, hooks)) = sending.get_mut(&ctx.tenant_id()) {
            if let Some(n) = hooks.get_mut(&hook) {
                *n -= 1;
                if *n == 0 {
                    hooks.remove(&hook);
                }
            }
            if hooks.is_empty() {
                sending.remove(&ctx.tenant_id());
            }
        }
        drop(sending);
        self.nudges.nudge(ctx);
    }

    async fn attempt(&self, ctx: &TenantContext, d: Leased) {
        let started = std::time::Instant::now();
        let answer = self.sender.send(&d).await;
        metrics::histogram!("tenantry_webhook_attempt_seconds")
            .record(started.elapsed().as_secs_f64());
        let failed = |status: Option<u16>, error: String| {
            let attempts = u32::try_from(d.attempt).unwrap_or(u32::MAX);
            let delay = self
                .settings
                .retry
                .next_delay(attempts, rand::random::<f64>());
            Attempt::Failed {
                status,
                error,
                retry_at: delay.map(|d| {
                    Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
                }),
            }
        };
        let outcome = match answer {
            Answer::Accepted(status) => Attempt::Delivered { status },
            Answer::Refused(status) => failed(Some(status), format!("HTTP {status}")),
            Answer::Unreachable(error) => failed(None, error),
            Answer::Forbidden(error) => Attempt::Failed {
                status: None,
                error,
                retry_at: None,
            },
        };
        let label = match &outcome {
            Attempt::Delivered { .. } => "delivered",
            Attempt::Failed {
                retry_at: Some(_), ..
            } => "retry",
            Attempt::Failed { retry_at: None, .. } => "dead",
        };
        metrics::counter!("tenantry_webhook_attempts_total", "outcome" => label).increment(1);
        if let Attempt::Failed {
            retry_at: None,
            error,
            ..
        } = &outcome
        {
            tracing::warn!(tenant = %ctx.tenant_id(), delivery = %d.id, event = %d.event_id, %error, "webhook delivery dead-lettered");
        }
        if let Err(e) = self.tenancy.settle(ctx, &d, &outcome).await {
            tracing::warn!(delivery = %d.id, error = %e, "recording a webhook attempt; it is retried when its lease ends");
        }
    }
}

fn instant_of(at: chrono::DateTime<Utc>) -> Instant {
    Instant::now() + (at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
}
