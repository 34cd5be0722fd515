//! Subscriptions, over WebSocket (`graphql-transport-ws`, see `http::ws`).

use super::context::{services, tenant};
use super::guard::Guarded;
use super::scalars::{Date, TaskStatus};
use async_graphql::{Context, Enum, ID, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use infra::realtime::HubEvent;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TaskEventKind {
    Created,
    Updated,
    Deleted,
}

/// A task as it was right after the change (right before it, for a deletion).
#[derive(SimpleObject, Clone, Debug)]
pub struct TaskSnapshot {
    pub id: ID,
    pub project_id: ID,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub priority: i32,
    pub assignee_id: Option<ID>,
    pub due_date: Option<Date>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct TaskEvent {
    /// The outbox event's id, as webhooks carry it.
    pub id: ID,
    pub kind: TaskEventKind,
    pub task: TaskSnapshot,
}

impl TaskEvent {
    /// A task event from the hub, if it is one and parses.
    fn from_hub(e: &HubEvent) -> Option<Self> {
        let kind = match e.event_type.as_str() {
            "task.created" => TaskEventKind::Created,
            "task.updated" => TaskEventKind::Updated,
            "task.deleted" => TaskEventKind::Deleted,
            _ => return None,
        };
        let t = e.data.get("task")?;
        let text = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_owned);
        let time = |k: &str| {
            text(k)
                .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                .map(|d| d.with_timezone(&Utc))
        };
        Some(Self {
            id: ID(e.id.clone()),
            kind,
            task: TaskSnapshot {
                id: ID(text("id")?),
                project_id: ID(text("projectId")?),
                title: text("title")?,
                description: text("description").unwrap_or_default(),
                status: match t.get("status")?.as_str()? {
                    "TODO" => TaskStatus::Todo,
                    "IN_PROGRESS" => TaskStatus::InProgress,
                    "DONE" => TaskStatus::Done,
                    _ => return None,
                },
                priority: t.get("priority").and_then(Value::as_i64).unwrap_or(0) as i32,
                assignee_id: text("assigneeId").map(ID),
                due_date: text("dueDate").map(Date),
                created_at: time("createdAt")?,
                updated_at: time("updatedAt")?,
                version: t.get("version").and_then(Value::as_i64).unwrap_or(0) as i32,
            },
        })
    }
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// The current tenant's task changes as they commit, in order; only
    /// those of `projectId` when given. A subscriber that falls too far
    /// behind gets an error and the stream ends: refetch, then subscribe again.
    #[graphql(guard = "Guarded(\"taskEvents\")")]
    async fn task_events(
        &self,
        ctx: &Context<'_>,
        project_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<TaskEvent>> + use<>> {
        let t = tenant(ctx)?;
        let rx = services(ctx).hub.subscribe(t.tenant_id());
        let stream = futures::stream::unfold(Some(rx), |rx| async move {
            let mut rx = rx?;
            match rx.recv().await {
                Ok(e) => Some((Ok(e), Some(rx))),
                Err(RecvError::Lagged(n)) => {
                    let e = async_graphql::Error::new(format!(
                        "{n} events were missed; refetch and subscribe again"
                    ));
                    Some((Err(e), None))
                }
                Err(RecvError::Closed) => None,
            }
        });
        Ok(stream.filter_map(move |item: Result<Arc<HubEvent>>| {
            let wanted = project_id.clone();
            async move {
                match item {
                    Err(e) => Some(Err(e)),
                    Ok(e) => TaskEvent::from_hub(&e)
                        .filter(|ev| wanted.as_ref().is_none_or(|p| *p == ev.task.project_id))
                        .map(Ok),
                }
            }
        }))
    }
}
