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
use sea_orm::IntoActiveModel;
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
        let event = row::Model {
            tenant_id: self.tenant(),
            id: event.id.as_uuid(),
            event_type: event.event_type.as_str().to_owned(),
            occurred_at: event.occurred_at,
            payload: data(event).to_string(),
        };
        if self.direct_sink().is_some() {
            self.held_events.lock().expect("held events").push(event);
            return Ok(());
        }
        self.insert::<row::Entity, _>(|_| event.into_active_model())
            .await
            .map_err(unexpected)?;
        self.mark_announced();
        Ok(())
    }
}

impl Bound {
    /// Decides, just before the commit, where the events this transaction
    /// holds go. They are published by the committing node itself when no
    /// webhook could want them and no older event of the tenant waits in
    /// the outbox (one statement asks both); otherwise they are written to
    /// the outbox, in this transaction, for the worker.
    ///
    /// Why this keeps a tenant's order: an older event either was published
    /// by its own commit, before that request answered, or sits in the
    /// outbox, or is being relayed by a worker pass, which publishes before
    /// its deletion commits (so this statement still sees it): in the last
    /// two cases these events queue behind it. Events of transactions that
    /// commit concurrently have no order to keep.
    pub(super) async fn place_held_events(
        &self,
    ) -> Result<Option<(crate::outbox::EventSink, Vec<row::Model>)>> {
        let held = std::mem::take(&mut *self.held_events.lock().expect("held events"));
        let Some(sink) = self.direct_sink().filter(|_| !held.is_empty()) else {
            return Ok(None);
        };
        if self.outbox_bypassable().await? {
            return Ok(Some((sink.clone(), held)));
        }
        self.insert_many::<row::Entity, _>(
            held.into_iter()
                .map(IntoActiveModel::into_active_model)
                .collect(),
        )
        .await
        .map_err(unexpected)?;
        self.mark_announced();
        Ok(None)
    }

    /// Whether the tenant has no webhook and no event waiting in its outbox.
    async fn outbox_bypassable(&self) -> Result<bool> {
        use crate::entities::webhook;
        use sea_orm::QuerySelect;
        let waiting = self
            .select::<row::Entity>()
            .and(|q| q.select_only().column(row::Column::Id));
        let hooks = self
            .select::<webhook::Entity>()
            .and(|q| q.select_only().column(webhook::Column::Id));
        Ok(!self
            .any_row([waiting.into_subquery(), hooks.into_subquery()])
            .await?)
    }
}

/// Hands a committed transaction's events to this node's sink, as a worker
/// pass would have, and counts them as relayed.
pub(super) async fn publish(
    ctx: &domain::TenantContext,
    sink: crate::outbox::EventSink,
    events: Vec<row::Model>,
) {
    metrics::counter!("tenantry_outbox_events_relayed_total").increment(events.len() as u64);
    let relayed = events
        .iter()
        .map(|e| crate::tenancy::relay::Relayed {
            id: e.id,
            event_type: e.event_type.clone(),
            body: crate::tenancy::relay::event_body(e),
        })
        .collect();
    sink(ctx.tenant_id(), relayed).await;
}
