//! Webhooks and their deliveries, always through [`Bound`]'s tenant-scoped builders.

use super::bound::Bound;
use super::keyset::{self, SortColumn};
use crate::entities::{webhook as hook, webhook_delivery as delivery};
use crate::errors::unexpected;
use async_trait::async_trait;
use domain::error::Entity as Kind;
use domain::events::EventType;
use domain::page::{Page, PageQuery};
use domain::ports::WebhookRepository;
use domain::webhook::{
    DeliveryFilter, DeliveryOrder, DeliveryStatus, NewWebhook, Webhook, WebhookDelivery, WebhookUrl,
};
use domain::{DeliveryId, Error, EventId, Result, TenantId, WebhookId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};

fn corrupt(what: &str, id: uuid::Uuid) -> Error {
    Error::unexpected(format!("stored {what} {id} does not parse"))
}

fn to_webhook(r: hook::Model) -> Result<Webhook> {
    let events = r
        .events
        .split(',')
        .map(EventType::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| corrupt("webhook", r.id))?;
    Ok(Webhook {
        id: WebhookId::from_uuid(r.id),
        tenant_id: TenantId::from_uuid(r.tenant_id),
        url: WebhookUrl::from_trusted(r.url),
        events,
        created_at: r.created_at,
    })
}

fn to_delivery(r: delivery::Model) -> Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: DeliveryId::from_uuid(r.id),
        webhook_id: WebhookId::from_uuid(r.webhook_id),
        event_id: EventId::from_uuid(r.event_id),
        event_type: EventType::parse(&r.event_type).map_err(|_| corrupt("delivery", r.id))?,
        status: DeliveryStatus::parse(&r.status).ok_or_else(|| corrupt("delivery", r.id))?,
        attempts: r.attempts,
        next_attempt_at: r.next_attempt_at,
        last_status_code: r.last_status_code,
        last_error: r.last_error,
        created_at: r.created_at,
        delivered_at: r.delivered_at,
    })
}

impl Bound {
    async fn delivery_row(&self, id: DeliveryId) -> Result<delivery::Model> {
        self.one(
            self.select::<delivery::Entity>()
                .and(|q| q.filter(delivery::Column::Id.eq(id.as_uuid()))),
        )
        .await?
        .ok_or(Error::NotFound(Kind::Delivery))
    }
}

/// The advisory lock's first key for webhook creation: "hook".
const HOOKS_LOCK_SPACE: i32 = 0x686f_6f6b;

#[async_trait]
impl WebhookRepository for Bound {
    async fn lock_webhooks(&self) -> Result<()> {
        self.advisory_lock(HOOKS_LOCK_SPACE).await
    }

    async fn create_webhook(&self, new: &NewWebhook) -> Result<Webhook> {
        let id = WebhookId::generate();
        let events = new
            .events
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(",");
        self.insert::<hook::Entity, _>(|tenant_id| hook::ActiveModel {
            tenant_id: Set(tenant_id),
            id: Set(id.as_uuid()),
            url: Set(new.url.as_str().to_owned()),
            events: Set(events),
            secret: Set(new.secret.expose().to_owned()),
            created_at: Set(crate::now()),
        })
        .await
        .map_err(unexpected)?;
        self.one(
            self.select::<hook::Entity>()
                .and(|q| q.filter(hook::Column::Id.eq(id.as_uuid()))),
        )
        .await?
        .ok_or(Error::NotFound(Kind::Webhook))
        .and_then(to_webhook)
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        self.all(
            self.select::<hook::Entity>()
                .and(|q| q.order_by_asc(hook::Column::Id)),
        )
        .await?
        .into_iter()
        .map(to_webhook)
        .collect()
    }

    async fn delete_webhook(&self, id: WebhookId) -> Result<bool> {
        let gone = self
            .exec_delete(
                self.delete::<hook::Entity>()
                    .and(|q| q.filter(hook::Column::Id.eq(id.as_uuid()))),
            )
            .await?;
        if gone > 0 {
            self.exec_delete(
                self.delete::<delivery::Entity>()
                    .and(|q| q.filter(delivery::Column::WebhookId.eq(id.as_uuid()))),
            )
            .await?;
        }
        Ok(gone > 0)
    }

    async fn deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageQuery<DeliveryOrder>,
    ) -> Result<Page<WebhookDelivery>> {
        let sort = SortColumn {
            column: delivery::Column::CreatedAt,
            nullable: false,
        };
        let q = self.select::<delivery::Entity>().and(|q| {
            let q = match filter.webhook_id {
                Some(w) => q.filter(delivery::Column::WebhookId.eq(w.as_uuid())),
                None => q,
            };
            let q = match filter.status {
                Some(s) => q.filter(delivery::Column::Status.eq(s.as_str())),
                None => q,
            };
            keyset::apply(q, sort, delivery::Column::Id, page)
        });
        let rows = self.all(q).await?;
        keyset::page(rows, page, to_delivery)
    }

    async fn redeliver(&self, id: DeliveryId) -> Result<WebhookDelivery> {
        self.delivery_row(id).await?;
        self.exec_update(self.update::<delivery::Entity>().and(|q| {
            q.filter(delivery::Column::Id.eq(id.as_uuid()))
                .col_expr(
                    delivery::Column::Status,
                    Expr::value(DeliveryStatus::Pending.as_str()),
                )
                .col_expr(delivery::Column::Attempts, Expr::value(0))
                .col_expr(
                    delivery::Column::NextAttemptAt,
                    Expr::value(Some(crate::now())),
                )
                .col_expr(
                    delivery::Column::DeliveredAt,
                    Expr::value(None::<chrono::DateTime<chrono::Utc>>),
                )
        }))
        .await?;
        // Wake the worker: the delivery is due now.
        self.mark_announced();
        to_delivery(self.delivery_row(id).await?)
    }
}
