//! What happened to a tenant's projects and tasks. Each change writes its event
//! to the outbox in the transaction that made it; a worker then hands it to
//! webhooks and subscribers, so an event exists exactly when its change does.

use crate::ids::{EventId, TenantId};
use crate::project::Project;
use crate::task::Task;
use crate::validate::Invalid;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    TaskCreated,
    TaskUpdated,
    TaskDeleted,
    ProjectCreated,
    ProjectUpdated,
    ProjectDeleted,
    // generate: event-types
}

impl EventType {
    pub const ALL: &[EventType] = &[
        EventType::TaskCreated,
        EventType::TaskUpdated,
        EventType::TaskDeleted,
        EventType::ProjectCreated,
        EventType::ProjectUpdated,
        EventType::ProjectDeleted,
        // generate: event-list
    ];

    /// The name webhooks subscribe to and deliveries carry as `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::TaskCreated => "task.created",
            EventType::TaskUpdated => "task.updated",
            EventType::TaskDeleted => "task.deleted",
            EventType::ProjectCreated => "project.created",
            EventType::ProjectUpdated => "project.updated",
            EventType::ProjectDeleted => "project.deleted",
            // generate: event-names
        }
    }

    /// # Errors
    /// A name that is not one of [`EventType::ALL`].
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| {
                Invalid::new(format!(
                    "unknown event {raw:?}; expected one of {}",
                    Self::ALL
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }
}

/// The subject of an event as it was right after the change (right before it,
/// for a deletion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Task(Task),
    Project(Project),
    // generate: subjects
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub tenant_id: TenantId,
    pub event_type: EventType,
    pub occurred_at: DateTime<Utc>,
    pub subject: Subject,
}

impl Event {
    pub(crate) fn new(event_type: EventType, tenant_id: TenantId, subject: Subject) -> Self {
        Self {
            id: EventId::generate(),
            tenant_id,
            event_type,
            occurred_at: Utc::now(),
            subject,
        }
    }

    pub fn task(event_type: EventType, task: &Task) -> Self {
        Self::new(event_type, task.tenant_id, Subject::Task(task.clone()))
    }

    pub fn project(event_type: EventType, project: &Project) -> Self {
        Self::new(
            event_type,
            project.tenant_id,
            Subject::Project(project.clone()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_round_trip_and_unknown_ones_are_refused() {
        for &t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Ok(t));
        }
        assert!(EventType::parse("task.exploded").is_err());
        assert!(EventType::parse("Task.Created").is_err());
    }
}
