//! The worker's side of the outbox: hand a tenant's events on to its webhooks
//! (as delivery rows) and lease the deliveries that are due.
//!
//! One node at a time works a tenant: its transaction takes a per-tenant
//! advisory lock (PostgreSQL; SQLite's write transactions are serial anyway),
//! and a node that does not get it leaves the tenant to the one that did. So
//! events leave the outbox in order. HTTP calls happen outside any
//! transaction; a delivery being sent is leased (its `next_attempt_at` pushed
//! past the call's timeout), so a node that dies mid-call leaves it to be
//! retried when the lease ends, by any node.

use super::SqlTenancy;
use super::bound::Bound;
use crate::entities::{outbox_event, webhook, webhook_delivery as delivery};
use crate::errors::unexpected;
use chrono::{DateTime, Utc};
use domain::ports::{TenantTx, TxMode};
use domain::webhook::DeliveryStatus;
use domain::{Result, TenantContext};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// Deliveries of one webhook leased in one pass.
const PER_WEBHOOK: usize = 10;

/// The advisory lock's first key: "outb".
const RELAY_LOCK_SPACE: i32 = 0x6f75_7462;

/// How much one pass over a tenant takes on.
#[derive(Debug, Clone, Copy)]
pub struct Take {
    pub events: u64,
    pub deliveries: u64,
    pub now: DateTime<Utc>,
    /// How long one call is leased for: from `now`, the first delivery of a
    /// webhook is not due again before this (the n-th, n times as long).
    pub lease_until: DateTime<Utc>,
}

/// Webhooks whose earlier deliveries this node is still sending: none of
/// theirs is leased, so one webhook's deliveries stay in order.
pub type InFlight = std::collections::HashSet<Uuid>;

/// An event taken from the outbox, in the form receivers get it.
#[derive(Debug, Clone)]
pub struct Relayed {
    pub id: Uuid,
    pub event_type: String,
    /// `{"id", "type", "tenantId", "occurredAt", "data"}`, as JSON text.
    pub body: String,
}

/// A delivery leased for one attempt. (No `Debug`: it holds the secret.)
#[derive(Clone)]
pub struct Leased {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub url: String,
    pub secret: String,
    pub body: String,
    /// Attempts so far, this one included.
    pub attempt: i32,
    /// The end of this attempt's lease: a later lease or a redelivery moves
    /// it, and this attempt's outcome then no longer counts.
    pub lease_until: DateTime<Utc>,
}

#[derive(Default)]
pub struct Batch {
    pub events: Vec<Relayed>,
    pub deliveries: Vec<Leased>,
    /// What is left after this batch, read in its transaction.
    pub left: Pending,
}

/// What an attempt led to.
#[derive(Debug, Clone)]
pub enum Attempt {
    Delivered {
        status: u16,
    },
    Failed {
        status: Option<u16>,
        error: String,
        /// When to try again; `None` dead-letters the delivery.
        retry_at: Option<DateTime<Utc>>,
    },
}

/// The JSON body of an event, as webhooks and subscribers receive it.
pub fn event_body(e: &outbox_event::Model) -> String {
    let data: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
    json!({
        "id": e.id.to_string(),
        "type": e.event_type,
        "tenantId": e.tenant_id.to_string(),
        "occurredAt": e.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": data,
    })
    .to_string()
}

impl SqlTenancy {
    /// Takes up to `take.events` events out of the tenant's outbox (making a
    /// delivery for each webhook that wants one) and leases up to
    /// `take.deliveries` due deliveries, in one transaction. `None` when
    /// another node is working this tenant.
    ///
    /// # Errors
    /// Storage failures, or `RateLimited` while the tenant moves.
    ///
    /// `publish` gets the events before the commit, while this node still
    /// holds the tenant: so the next batch, which another node may take,
    /// cannot overtake this one. (Should the commit then fail, the events are
    /// published again with the retry: subscribers get them at least once.)
    pub async fn take_work(
        &self,
        ctx: &TenantContext,
        take: Take,
        in_flight: &InFlight,
        publish: impl AsyncFnOnce(&[Relayed]),
    ) -> Result<Option<Batch>> {
        // One relaying node per tenant at a time: the lock is tried in the
        // statement that binds the tenant.
        let tx = self
            .open_with(
                ctx,
                TxMode::Write,
                None,
                super::Check::LockAndDirectory,
                Some(RELAY_LOCK_SPACE),
            )
            .await?;
        if !tx.holds_extra_lock() {
            return Ok(None);
        }
        let hooks = tx.all(tx.select::<webhook::Entity>()).await?;
        let events = tx.relay_events(take, &hooks).await?;
        // A webhook's deliveries go with it: a tenant with none has none due.
        let deliveries = if hooks.is_empty() {
            Vec::new()
        } else {
            tx.lease_deliveries(take, in_flight, &hooks).await?
        };
        // Events left beyond a full batch; later ones come with their nudge
        // (or, from other nodes, the sweep).
        let next_due = if hooks.is_empty() {
            None
        } else {
            tx.deliveries_pending(None).await?.0
        };
        let left = Pending {
            events: events.len() as u64 >= take.events,
            next_due,
            expired: false,
        };
        if !events.is_empty() {
            publish(&events).await;
        }
        Box::new(tx).commit().await?;
        Ok(Some(Batch {
            events,
            deliveries,
            left,
        }))
    }

    /// Records an attempt's outcome.
    ///
    /// # Errors
    /// Storage failures; the lease then runs out and the delivery is tried again.
    ///
    /// Only the attempt that holds the lease counts: if the lease ran out and
    /// another attempt (or a redelivery) began, this outcome is dropped.
    pub async fn settle(
        &self,
        ctx: &TenantContext,
        leased: &Leased,
        attempt: &Attempt,
    ) -> Result<()> {
        let tx = self
            .open(ctx, TxMode::Write, None, super::Check::LockAndDirectory)
            .await?;
        let now = crate::now();
        let q = tx.update::<delivery::Entity>().and(|q| {
            let q = q
                .filter(delivery::Column::Id.eq(leased.id))
                .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                .filter(delivery::Column::Attempts.eq(leased.attempt))
                .filter(delivery::Column::NextAttemptAt.eq(leased.lease_until));
            match attempt {
                Attempt::Delivered { status } => q
                    .col_expr(
                        delivery::Column::Status,
                        Expr::value(DeliveryStatus::Delivered.as_str()),
                    )
                    .col_expr(
                        delivery::Column::NextAttemptAt,
                        Expr::value(None::<DateTime<Utc>>),
                    )
                    .col_expr(
                        delivery::Column::LastStatusCode,
                        Expr::value(i32::from(*status)),
                    )
                    .col_expr(delivery::Column::LastError, Expr::value(None::<String>))
                    .col_expr(delivery::Column::DeliveredAt, Expr::value(now)),
                Attempt::Failed {
                    status,
                    error,
                    retry_at,
                } => q
                    .col_expr(
                        delivery::Column::Status,
                        Expr::value(match retry_at {
                            Some(_) => DeliveryStatus::Pending.as_str(),
                            None => DeliveryStatus::Dead.as_str(),
                        }),
                    )
                    .col_expr(delivery::Column::NextAttemptAt, Expr::value(*retry_at))
                    .col_expr(
                        delivery::Column::LastStatusCode,
                        Expr::value(status.map(i32::from)),
                    )
                    .col_expr(
                        delivery::Column::LastError,
                        Expr::value(Some(error.clone())),
                    ),
            }
        });
        tx.exec_update(q).await?;
        Box::new(tx).commit().await
    }

    /// Gives a leased delivery back unsent (its webhook's run ran out of
    /// time): due now, and its attempt not counted. Only while its lease holds.
    ///
    /// # Errors
    /// Storage failures; the lease then runs out and it is tried again.
    pub async fn release(&self, ctx: &TenantContext, leased: &Leased) -> Result<()> {
        let tx = self
            .open(ctx, TxMode::Write, None, super::Check::LockAndDirectory)
            .await?;
        let q = tx.update::<delivery::Entity>().and(|q| {
            q.filter(delivery::Column::Id.eq(leased.id))
                .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                .filter(delivery::Column::Attempts.eq(leased.attempt))
                .filter(delivery::Column::NextAttemptAt.eq(leased.lease_until))
                .col_expr(
                    delivery::Column::NextAttemptAt,
                    Expr::value(Some(crate::now())),
                )
                .col_expr(
                    delivery::Column::Attempts,
                    Expr::col(delivery::Column::Attempts).sub(1),
                )
        });
        tx.exec_update(q).await?;
        Box::new(tx).commit().await
    }

    /// Whether the tenant's outbox holds events, when its next pending
    /// delivery is due, and (given a retention cutoff) whether finished
    /// deliveries older than it wait to be pruned: what the worker's periodic
    /// sweep asks of each tenant.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn pending_work(
        &self,
        ctx: &TenantContext,
        expire_before: Option<DateTime<Utc>>,
    ) -> Result<Pending> {
        let tx = self
            .open(ctx, TxMode::Read, None, super::Check::None)
            .await?;
        let events = tx
            .one(tx.select::<outbox_event::Entity>().and(|q| q.limit(1)))
            .await?
            .is_some();
        let (next_due, expired) = tx.deliveries_pending(expire_before).await?;
        Ok(Pending {
            events,
            next_due,
            expired,
        })
    }

    /// Removes the tenant's delivered and dead deliveries made before
    /// `before`; says how many.
    ///
    /// # Errors
    /// Storage failures; nothing is removed then.
    pub async fn prune_deliveries(
        &self,
        ctx: &TenantContext,
        before: DateTime<Utc>,
    ) -> Result<u64> {
        let tx = self
            .open(ctx, TxMode::Write, None, super::Check::LockAndDirectory)
            .await?;
        let removed = tx
            .exec_delete(
                tx.delete::<delivery::Entity>()
                    .and(|q| finished_before(q, before)),
            )
            .await?;
        Box::new(tx).commit().await?;
        Ok(removed)
    }
}

/// What the worker's sweep learns of one tenant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pending {
    /// Events wait in the outbox.
    pub events: bool,
    /// When the next pending delivery is due.
    pub next_due: Option<DateTime<Utc>>,
    /// Finished deliveries older than the retention wait to be pruned.
    pub expired: bool,
}

/// Delivered or dead, and made before `before`. Delivery ids are UUIDv7, so
/// the primary key (`tenant_id`, `id`) finds them by age without an index of
/// their own: the smallest id of `before`'s millisecond bounds the range.
fn finished_before<Q: QueryFilter>(q: Q, before: DateTime<Utc>) -> Q {
    let ms = u64::try_from(before.timestamp_millis()).unwrap_or(0);
    let bound = uuid::Builder::from_unix_timestamp_millis(ms, &[0; 10]).into_uuid();
    q.filter(delivery::Column::Id.lt(bound))
        .filter(delivery::Column::Status.ne(DeliveryStatus::Pending.as_str()))
}

impl Bound {
    /// When the next pending delivery is due, and (given a retention
    /// cutoff) whether finished ones older than it wait to be pruned.
    async fn deliveries_pending(
        &self,
        expire_before: Option<DateTime<Utc>>,
    ) -> Result<(Option<DateTime<Utc>>, bool)> {
        let next_due = self
            .one(self.select::<delivery::Entity>().and(|q| {
                q.filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                    .filter(delivery::Column::NextAttemptAt.is_not_null())
                    .order_by_asc(delivery::Column::NextAttemptAt)
                    .limit(1)
            }))
            .await?
            .and_then(|d| d.next_attempt_at);
        let expired = match expire_before {
            Some(before) => self
                .one(
                    self.select::<delivery::Entity>()
                        .and(|q| finished_before(q, before).limit(1)),
                )
                .await?
                .is_some(),
            None => false,
        };
        Ok((next_due, expired))
    }

    /// Takes the oldest events out of the outbox (one statement: `DELETE …
    /// RETURNING`), making a delivery for each of `hooks` that wants one.
    async fn relay_events(&self, take: Take, hooks: &[webhook::Model]) -> Result<Vec<Relayed>> {
        let oldest = self
            .select::<outbox_event::Entity>()
            .and(|q| {
                q.select_only()
                    .column(outbox_event::Column::Id)
                    .order_by_asc(outbox_event::Column::Id)
                    .limit(take.events)
            })
            .into_subquery();
        let mut rows = self
            .delete_returning(
                self.delete::<outbox_event::Entity>()
                    .and(|q| q.filter(outbox_event::Column::Id.in_subquery(oldest))),
            )
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // RETURNING keeps no order; events leave in the order they came.
        rows.sort_by_key(|e| e.id);
        let hooks: Vec<_> = hooks
            .iter()
            .map(|h| (h, h.events.split(',').collect::<Vec<_>>()))
            .collect();
        let mut deliveries = Vec::new();
        let mut relayed = Vec::with_capacity(rows.len());
        for e in &rows {
            let body = event_body(e);
            for (hook, events) in &hooks {
                if events.contains(&e.event_type.as_str()) {
                    deliveries.push(delivery::ActiveModel {
                        tenant_id: Set(e.tenant_id),
                        id: Set(Uuid::now_v7()),
                        webhook_id: Set(hook.id),
                        event_id: Set(e.id),
                        event_type: Set(e.event_type.clone()),
                        body: Set(body.clone()),
                        status: Set(DeliveryStatus::Pending.as_str().to_owned()),
                        attempts: Set(0),
                        next_attempt_at: Set(Some(take.now)),
                        last_status_code: Set(None),
                        last_error: Set(None),
                        created_at: Set(take.now),
                        delivered_at: Set(None),
                    });
                }
            }
            relayed.push(Relayed {
                id: e.id,
                event_type: e.event_type.clone(),
                body,
            });
        }
        // Thirteen parameters a row: 1000 rows stay under PostgreSQL's 65535.
        for chunk in deliveries.chunks(1000) {
            self.insert_many::<delivery::Entity, _>(chunk.to_vec())
                .await
                .map_err(unexpected)?;
        }
        Ok(relayed)
    }

    async fn lease_deliveries(
        &self,
        take: Take,
        in_flight: &InFlight,
        hooks: &[webhook::Model],
    ) -> Result<Vec<Leased>> {
        let due = self
            .all(self.select::<delivery::Entity>().and(|q| {
                let q = q
                    .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                    .filter(delivery::Column::NextAttemptAt.lte(take.now));
                let q = if in_flight.is_empty() {
                    q
                } else {
                    q.filter(delivery::Column::WebhookId.is_not_in(in_flight.iter().copied()))
                };
                q.order_by_asc(delivery::Column::NextAttemptAt)
                    // Deliveries made together are due together: event order breaks the tie.
                    .order_by_asc(delivery::Column::Id)
                    .limit(take.deliveries)
            }))
            .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let hooks: HashMap<Uuid, &webhook::Model> = hooks.iter().map(|h| (h.id, h)).collect();
        // One webhook's deliveries are sent one after another, so the n-th
        // of them is leased for n calls; at most PER_WEBHOOK each pass, so a
        // node that dies leaves them waiting no longer than that.
        let mut position: HashMap<Uuid, usize> = HashMap::new();
        let mut by_position: Vec<Vec<Uuid>> = Vec::new();
        let due: Vec<_> = due
            .into_iter()
            .filter(|d| {
                let p = position.entry(d.webhook_id).or_default();
                *p += 1;
                if *p > PER_WEBHOOK {
                    return false;
                }
                if by_position.len() < *p {
                    by_position.push(Vec::new());
                }
                by_position[*p - 1].push(d.id);
                true
            })
            .collect();
        let unit = take.lease_until - take.now;
        let until_of = |p: usize| take.now + unit * (p as i32 + 1);
        let mut lease_of: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
        for (p, ids) in by_position.into_iter().enumerate() {
            let until = until_of(p);
            lease_of.extend(ids.iter().map(|id| (*id, until)));
            self.exec_update(self.update::<delivery::Entity>().and(|q| {
                q.filter(delivery::Column::Id.is_in(ids))
                    .col_expr(delivery::Column::NextAttemptAt, Expr::value(Some(until)))
                    .col_expr(
                        delivery::Column::Attempts,
                        Expr::col(delivery::Column::Attempts).add(1),
                    )
            }))
            .await?;
        }
        Ok(due
            .into_iter()
            .filter_map(|d| {
                // A webhook deleted meanwhile took its deliveries with it.
                let hook = hooks.get(&d.webhook_id)?;
                Some(Leased {
                    id: d.id,
                    webhook_id: d.webhook_id,
                    event_id: d.event_id,
                    event_type: d.event_type,
                    url: hook.url.clone(),
                    secret: hook.secret.clone(),
                    body: d.body,
                    attempt: d.attempts + 1,
                    lease_until: *lease_of.get(&d.id)?,
                })
            })
            .collect())
    }
}
