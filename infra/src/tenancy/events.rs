//! The outbox: events stored in the transaction of their change, and their
//! JSON form (the `data` of webhook deliveries and of subscription messages).

use super::bound::Bound;
use crate::entities::outbox_event as row;
use crate::errors::unexpected;
use async_trait::async_trait;
use domain::Result;
use domain::events::{Event, Subject};
use domain::ports::OutboxRepository;
use domain::project::Project;
use domain::task::{Task, TaskStatus};
use sea_orm::ActiveValue::Set;
use serde_json::{Value, json};

/// GraphQL's spelling, so a receiver sees the values its queries return.
fn status(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Todo => "TODO",
        TaskStatus::InProgress => "IN_PROGRESS",
        TaskStatus::Done => "DONE",
    }
}

pub fn task_json(t: &Task) -> Value {
    json!({
        "id": t.id.to_string(),
        "projectId": t.project_id.to_string(),
        "title": t.title.as_str(),
        "description": t.description.as_str(),
        "status": status(t.status),
        "priority": t.priority.value(),
        "assigneeId": t.assignee_id.map(|u| u.to_string()),
        "dueDate": t.due_date.map(|d| d.date().to_string()),
        "createdAt": t.created_at.to_rfc3339(),
        "updatedAt": t.updated_at.to_rfc3339(),
        "version": t.version,
    })
}

pub fn project_json(p: &Project) -> Value {
    json!({
        "id": p.id.to_string(),
        "name": p.name.as_str(),
        "description": p.description.as_str(),
        "createdAt": p.created_at.to_rfc3339(),
        "updatedAt": p.updated_at.to_rfc3339(),
        "deletedAt": p.deleted_at.map(|d| d.to_rfc3339()),
        "version": p.version,
    })
}

/// The event's `data`: `{"task": …}` or `{"project": …}`.
pub fn data(event: &Event) -> Value {
    match &event.subject {
        Subject::Task(t) => json!({ "task": task_json(t) }),
        Subject::Project(p) => json!({ "project": project_json(p) }),
        // generate: event-data
    }
}

#[async_trait]
impl OutboxRepository for Bound {
    async fn record_event(&self, event: &Event) -> Result<()> {
        self.insert::<row::Entity, _>(|tenant_id| row::ActiveModel {
            tenant_id: Set(tenant_id),
            id: Set(event.id.as_uuid()),
            event_type: Set(event.event_type.as_str().to_owned()),
            occurred_at: Set(event.occurred_at),
            payload: Set(data(event).to_string()),
        })
        .await
        .map_err(unexpected)?;
        self.mark_announced();
        Ok(())
    }
}
