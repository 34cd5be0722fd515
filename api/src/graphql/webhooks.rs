//! Webhooks: where the tenant's events are POSTed, and what became of each delivery.

use super::context::{list_context, services, tenant};
use super::error::{ApiError, ApiResult};
use super::guard::Guarded;
use super::pagination::{KeysetCursor, PageArgs, connection, page_query};
use super::scalars::parse_id;
use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use domain::error::Entity;
use domain::page::Direction;
use domain::webhook::{self, DeliveryFilter, DeliveryOrder, WebhookInput};

pub struct WebhookNode(pub webhook::Webhook);

/// An endpoint that receives the tenant's events, signed with its secret.
#[Object(name = "Webhook")]
impl WebhookNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn url(&self) -> &str {
        self.0.url.as_str()
    }
    /// Event names it receives, such as `task.created`.
    async fn events(&self) -> Vec<&'static str> {
        self.0.events.iter().map(|e| e.as_str()).collect()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    Delivered,
    /// Every attempt failed; `redeliverWebhookDelivery` sends it again.
    Dead,
}

impl From<webhook::DeliveryStatus> for DeliveryStatus {
    fn from(s: webhook::DeliveryStatus) -> Self {
        match s {
            webhook::DeliveryStatus::Pending => Self::Pending,
            webhook::DeliveryStatus::Delivered => Self::Delivered,
            webhook::DeliveryStatus::Dead => Self::Dead,
        }
    }
}

impl From<DeliveryStatus> for webhook::DeliveryStatus {
    fn from(s: DeliveryStatus) -> Self {
        match s {
            DeliveryStatus::Pending => Self::Pending,
            DeliveryStatus::Delivered => Self::Delivered,
            DeliveryStatus::Dead => Self::Dead,
        }
    }
}

pub struct DeliveryNode(pub webhook::WebhookDelivery);

/// One event on its way to one webhook.
#[Object(name = "WebhookDelivery")]
impl DeliveryNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn webhook_id(&self) -> ID {
        ID(self.0.webhook_id.to_string())
    }
    /// The `id` in the delivered body; the same across retries and redeliveries.
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.to_string())
    }
    async fn event_type(&self) -> &'static str {
        self.0.event_type.as_str()
    }
    async fn status(&self) -> DeliveryStatus {
        self.0.status.into()
    }
    /// Attempts made so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// When the next attempt is due (pending deliveries only).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at
    }
    /// The receiver's HTTP status on the last attempt, if it answered.
    async fn last_status_code(&self) -> Option<i32> {
        self.0.last_status_code
    }
    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
}

fn webhook_id(id: &ID) -> ApiResult<domain::WebhookId> {
    parse_id(id).ok_or_else(|| ApiError::from(domain::Error::NotFound(Entity::Webhook)))
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The tenant's webhooks, oldest first (at most 20, so not paginated).
    #[graphql(guard = "Guarded(\"webhooks\")")]
    async fn webhooks(&self, ctx: &Context<'_>) -> ApiResult<Vec<WebhookNode>> {
        let t = tenant(ctx)?;
        let hooks = services(ctx).webhooks(t).list().await?;
        Ok(hooks.into_iter().map(WebhookNode).collect())
    }

    /// Deliveries, newest first; narrowed to one webhook or one status if asked.
    #[graphql(guard = "Guarded(\"webhookDeliveries\")")]
    #[allow(clippy::too_many_arguments)]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        webhook_id: Option<ID>,
        status: Option<DeliveryStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<Connection<KeysetCursor, DeliveryNode, EmptyFields>> {
        let (services, t, limits) = list_context(ctx)?;
        let filter = DeliveryFilter {
            webhook_id: webhook_id.as_ref().map(self::webhook_id).transpose()?,
            status: status.map(Into::into),
        };
        let query = page_query(
            PageArgs {
                first,
                after,
                last,
                before,
            },
            DeliveryOrder,
            Direction::Desc,
            limits,
        )?;
        let page = services.webhooks(t).deliveries(&filter, &query).await?;
        Ok(connection(&query, page, EmptyFields, DeliveryNode))
    }
}

#[derive(InputObject)]
pub struct CreateWebhookInput {
    /// `http(s)`; in production not a loopback or private address.
    pub url: String,
    /// Event names: `task.created`, `task.updated`, `task.deleted`,
    /// `project.created`, `project.updated`, `project.deleted`.
    pub events: Vec<String>,
    /// 16 to 256 characters; signs every delivery (`X-Tenantry-Signature`). Never shown again.
    pub secret: String,
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Starts POSTing the chosen events to `url`, signed with `secret`.
    #[graphql(guard = "Guarded(\"createWebhook\")")]
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookInput,
    ) -> ApiResult<WebhookNode> {
        let t = tenant(ctx)?;
        let input = WebhookInput {
            url: input.url,
            events: input.events,
            secret: input.secret,
        };
        Ok(WebhookNode(services(ctx).webhooks(t).create(&input).await?))
    }

    /// Deletes a webhook and its deliveries. Returns true.
    #[graphql(guard = "Guarded(\"deleteWebhook\")")]
    async fn delete_webhook(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let t = tenant(ctx)?;
        services(ctx).webhooks(t).delete(webhook_id(&id)?).await?;
        Ok(true)
    }

    /// Sends a delivery again from its first attempt (a dead one, or one the
    /// receiver lost). The body, and its event id, stay the same.
    #[graphql(guard = "Guarded(\"redeliverWebhookDelivery\")")]
    async fn redeliver_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<DeliveryNode> {
        let t = tenant(ctx)?;
        let id = parse_id(&id)
            .ok_or_else(|| ApiError::from(domain::Error::NotFound(Entity::Delivery)))?;
        Ok(DeliveryNode(services(ctx).webhooks(t).redeliver(id).await?))
    }
}
