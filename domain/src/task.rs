//! Tasks: work items inside a project, optionally assigned to a member.

use crate::error::FieldError;
use crate::ids::{ProjectId, TaskId, TenantId, UserId};
use crate::page::{Cursor, Keyed, SortValue};
use crate::validate::{AllValid, AtField, Invalid};
use crate::values::{Description, DueDate, Priority, SearchTerm, TaskTitle};
use chrono::{DateTime, Utc};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TaskStatus {
    #[default]
    Todo,
    InProgress,
    Done,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Todo => "todo",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Done => "done",
        }
    }
}

impl FromStr for TaskStatus {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "todo" => Ok(TaskStatus::Todo),
            "in_progress" => Ok(TaskStatus::InProgress),
            "done" => Ok(TaskStatus::Done),
            _ => Err(Invalid::new("must be one of todo, in_progress, done")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub tenant_id: TenantId,
    pub project_id: ProjectId,
    pub title: TaskTitle,
    pub description: Description,
    pub status: TaskStatus,
    pub priority: Priority,
    pub assignee_id: Option<UserId>,
    pub due_date: Option<DueDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub project_id: ProjectId,
    pub title: TaskTitle,
    pub description: Description,
    pub status: TaskStatus,
    pub priority: Priority,
    pub assignee_id: Option<UserId>,
    pub due_date: Option<DueDate>,
}

impl NewTask {
    /// See [`crate::project::NewProject::fingerprint`].
    pub fn fingerprint(&self) -> String {
        format!(
            "task|{}|{}|{}|{}|{}|{:?}|{:?}",
            self.project_id,
            self.title,
            self.description,
            self.status.as_str(),
            self.priority.value(),
            self.assignee_id.map(|u| u.to_string()),
            self.due_date.map(|d| d.date().to_string()),
        )
    }
}

/// Only the fields present change; `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<TaskTitle>,
    pub description: Option<Description>,
    pub status: Option<TaskStatus>,
    pub priority: Option<Priority>,
    pub assignee_id: Option<Option<UserId>>,
    pub due_date: Option<Option<DueDate>>,
}

impl TaskPatch {
    pub fn is_empty(&self) -> bool {
        *self == TaskPatch::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub project_id: Option<ProjectId>,
    pub status: Option<TaskStatus>,
    pub assignee_id: Option<UserId>,
    /// Case-insensitive substring of the title or description.
    pub search: Option<SearchTerm>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Priority,
    DueDate,
    Title,
}

impl Keyed<TaskOrderField> for Task {
    fn cursor(&self, field: TaskOrderField) -> Cursor {
        let value = match field {
            TaskOrderField::CreatedAt => SortValue::Time(self.created_at),
            TaskOrderField::UpdatedAt => SortValue::Time(self.updated_at),
            TaskOrderField::Priority => SortValue::Int(i64::from(self.priority.value())),
            TaskOrderField::DueDate => SortValue::Date(self.due_date.map(DueDate::date)),
            TaskOrderField::Title => SortValue::Text(self.title.as_str().to_owned()),
        };
        Cursor {
            value,
            id: self.id.as_uuid(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_its_storage_name() {
        for s in [TaskStatus::Todo, TaskStatus::InProgress, TaskStatus::Done] {
            assert_eq!(s.as_str().parse::<TaskStatus>().unwrap(), s);
        }
        assert!("doing".parse::<TaskStatus>().is_err());
    }
}

/// Raw input of `createTask`; ids are already parsed at the edge.
#[derive(Debug, Clone, Default)]
pub struct TaskInput {
    pub project_id: Option<ProjectId>,
    pub title: String,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub priority: Option<i32>,
    pub assignee_id: Option<UserId>,
    pub due_date: Option<String>,
}

impl NewTask {
    /// # Errors
    /// [`crate::Error::Invalid`] naming each bad field (a `projectId` that is not
    /// an id at all is reported here; an unknown one by the repository).
    pub fn parse(input: &TaskInput) -> crate::Result<Self> {
        let (project_id, title, description, priority, due_date) = (
            input
                .project_id
                .ok_or_else(|| FieldError::new("projectId", "not a valid id")),
            TaskTitle::parse(&input.title).at("title"),
            Description::parse(input.description.as_deref().unwrap_or("")).at("description"),
            input
                .priority
                .map(Priority::parse)
                .transpose()
                .at("priority"),
            input
                .due_date
                .as_deref()
                .map(DueDate::parse)
                .transpose()
                .at("dueDate"),
        )
            .all_valid()?;
        Ok(Self {
            project_id,
            title,
            description,
            status: input.status.unwrap_or_default(),
            priority: priority.unwrap_or_default(),
            assignee_id: input.assignee_id,
            due_date,
        })
    }
}

/// Raw input of `updateTask`: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct TaskPatchInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub priority: Option<i32>,
    pub assignee_id: Option<Option<UserId>>,
    pub due_date: Option<Option<String>>,
}

impl TaskPatch {
    /// # Errors
    /// [`crate::Error::Invalid`] naming each bad field, or `input` when nothing would change.
    pub fn parse(input: &TaskPatchInput) -> crate::Result<Self> {
        let (title, description, priority, due_date) = (
            input
                .title
                .as_deref()
                .map(TaskTitle::parse)
                .transpose()
                .at("title"),
            input
                .description
                .as_deref()
                .map(Description::parse)
                .transpose()
                .at("description"),
            input
                .priority
                .map(Priority::parse)
                .transpose()
                .at("priority"),
            input
                .due_date
                .as_ref()
                .map(|d| d.as_deref().map(DueDate::parse).transpose())
                .transpose()
                .at("dueDate"),
        )
            .all_valid()?;
        let patch = Self {
            title,
            description,
            status: input.status,
            priority,
            assignee_id: input.assignee_id,
            due_date,
        };
        if patch.is_empty() {
            return Err(crate::Error::invalid(
                "input",
                "give at least one field to change",
            ));
        }
        Ok(patch)
    }
}
