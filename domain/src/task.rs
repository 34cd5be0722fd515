//! Tasks: work items inside a project, optionally assigned to a member. The
//! use cases ([`Tasks`]) work as [`crate::project::Projects`]' do.

use crate::error::{Entity, Error, FieldError, Result};
use crate::events::{Event, EventType};
use crate::identity::User;
use crate::ids::{ProjectId, TaskId, TenantId, UserId};
use crate::page::{Cursor, Keyed, SortValue};
use crate::page::{Page, PageQuery};
use crate::plan::{Stored, still_within};
use crate::ports::{Created, Memberships, Tenancy, TxMode};
use crate::tenancy::TenantContext;
use crate::validate::{AllValid, AtField, Invalid};
use crate::values::{Description, DueDate, IdempotencyKey, Priority, SearchTerm, TaskTitle};
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

/// Task use cases, bound to the caller's tenant; assignees are checked
/// against its members.
pub struct Tasks<'a> {
    pub tenancy: &'a dyn Tenancy,
    pub identity: &'a dyn Memberships,
    pub ctx: &'a TenantContext,
}

impl Tasks<'_> {
    /// # Errors
    /// As [`crate::ports::TaskRepository::create_task`], and [`Error::NotFound`]
    /// when the assignee is not a member of this tenant.
    pub async fn create_task(&self, input: &TaskInput, key: Option<&str>) -> Result<Task> {
        let new = NewTask::parse(input)?;
        let key = IdempotencyKey::parse_optional(key)?;
        // Membership lives in the control plane; check it before taking a tenant connection.
        if let Some(assignee) = new.assignee_id {
            self.require_member(assignee).await?;
        }
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let task = match tx.create_task(&new, key.as_ref()).await? {
            Created::New(t) => {
                // Not taking turns (tasks are the hot path): creates in flight
                // at once may each pass the limit by one.
                still_within(&*tx, Stored::Tasks).await?;
                tx.record_event(&Event::task(EventType::TaskCreated, &t))
                    .await?;
                t
            }
            Created::Replayed(t) => t,
        };
        tx.commit().await?;
        Ok(task)
    }

    pub async fn update_task(
        &self,
        id: TaskId,
        input: &TaskPatchInput,
        expected_version: i32,
    ) -> Result<Task> {
        let patch = TaskPatch::parse(input)?;
        if let Some(Some(assignee)) = patch.assignee_id {
            self.require_member(assignee).await?;
        }
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let task = tx.update_task(id, &patch, expected_version).await?;
        tx.record_event(&Event::task(EventType::TaskUpdated, &task))
            .await?;
        tx.commit().await?;
        Ok(task)
    }

    pub async fn delete_task(&self, id: TaskId) -> Result<()> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let task = tx.task(id).await?;
        tx.delete_task(id).await?;
        tx.record_event(&Event::task(EventType::TaskDeleted, &task))
            .await?;
        tx.commit().await
    }

    pub async fn task(&self, id: TaskId) -> Result<Task> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.task(id).await
    }

    pub async fn list_tasks(
        &self,
        filter: &TaskFilter,
        page: &PageQuery<TaskOrderField>,
    ) -> Result<Page<Task>> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.list_tasks(filter, page).await
    }

    /// A page of tasks and their assignees: joined to the page where the
    /// storage can, else looked up after it.
    pub async fn list_tasks_with_assignees(
        &self,
        filter: &TaskFilter,
        page: &PageQuery<TaskOrderField>,
    ) -> Result<(Page<Task>, Vec<User>)> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        let (page, joined) = tx.list_tasks_with_assignees(filter, page).await?;
        drop(tx);
        let users = match joined {
            Some(users) => users,
            None => {
                let mut ids: Vec<UserId> =
                    page.items.iter().filter_map(|t| t.assignee_id).collect();
                ids.sort_unstable();
                ids.dedup();
                if ids.is_empty() {
                    vec![]
                } else {
                    self.identity.members_by_ids(self.ctx, &ids).await?
                }
            }
        };
        Ok((page, users))
    }

    pub async fn count_tasks(&self, filter: &TaskFilter) -> Result<u64> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.count_tasks(filter).await
    }

    async fn require_member(&self, user: UserId) -> Result<()> {
        let found = self.identity.members_by_ids(self.ctx, &[user]).await?;
        if found.is_empty() {
            // A user of another tenant is not disclosed: as unknown as a missing one.
            return Err(Error::NotFound(Entity::User));
        }
        Ok(())
    }
}
