//! Use cases on projects and tasks. Each opens its own tenant transaction from
//! the caller's [`TenantContext`] and commits only when everything succeeded.
//! Every change records its event in the same transaction (the outbox).

use crate::error::{Entity, Error, Result};
use crate::events::{Event, EventType};
use crate::identity::User;
use crate::ids::{ProjectId, TaskId, UserId};
use crate::page::{Page, PageQuery};
use crate::ports::{Created, IdentityStore, Tenancy, TxMode};
use crate::project::{
    NewProject, Project, ProjectFilter, ProjectInput, ProjectOrderField, ProjectPatch,
    ProjectPatchInput,
};
use crate::task::{
    NewTask, Task, TaskFilter, TaskInput, TaskOrderField, TaskPatch, TaskPatchInput,
};
use crate::tenancy::TenantContext;
use crate::validate::AtField;
use crate::values::IdempotencyKey;

pub struct Work<'a> {
    pub tenancy: &'a dyn Tenancy,
    pub identity: &'a dyn IdentityStore,
    pub ctx: &'a TenantContext,
}

fn parse_key(key: Option<&str>) -> Result<Option<IdempotencyKey>> {
    Ok(key
        .map(IdempotencyKey::parse)
        .transpose()
        .at("idempotencyKey")?)
}

impl Work<'_> {
    pub async fn create_project(&self, input: &ProjectInput, key: Option<&str>) -> Result<Project> {
        let new = NewProject::parse(input)?;
        let key = parse_key(key)?;
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let project = match tx.create_project(&new, key.as_ref()).await? {
            Created::New(p) => {
                tx.record_event(&Event::project(EventType::ProjectCreated, &p))
                    .await?;
                p
            }
            Created::Replayed(p) => p,
        };
        tx.commit().await?;
        Ok(project)
    }

    pub async fn update_project(
        &self,
        id: ProjectId,
        input: &ProjectPatchInput,
        expected_version: i32,
    ) -> Result<Project> {
        let patch = ProjectPatch::parse(input)?;
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let project = tx.update_project(id, &patch, expected_version).await?;
        tx.record_event(&Event::project(EventType::ProjectUpdated, &project))
            .await?;
        tx.commit().await?;
        Ok(project)
    }

    pub async fn delete_project(&self, id: ProjectId) -> Result<()> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let project = tx.project(id).await?;
        tx.delete_project(id).await?;
        tx.record_event(&Event::project(EventType::ProjectDeleted, &project))
            .await?;
        tx.commit().await
    }

    pub async fn restore_project(&self, id: ProjectId) -> Result<Project> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let project = tx.restore_project(id).await?;
        // Restoring brings the project back as it was: for receivers, a change.
        tx.record_event(&Event::project(EventType::ProjectUpdated, &project))
            .await?;
        tx.commit().await?;
        Ok(project)
    }

    pub async fn project(&self, id: ProjectId) -> Result<Project> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.project(id).await
    }

    pub async fn projects_by_ids(&self, ids: &[ProjectId]) -> Result<Vec<Project>> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.projects_by_ids(ids).await
    }

    pub async fn list_projects(
        &self,
        filter: &ProjectFilter,
        page: &PageQuery<ProjectOrderField>,
    ) -> Result<Page<Project>> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.list_projects(filter, page).await
    }

    pub async fn count_projects(&self, filter: &ProjectFilter) -> Result<u64> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.count_projects(filter).await
    }

    /// # Errors
    /// As [`crate::ports::TaskRepository::create_task`], and [`Error::NotFound`]
    /// when the assignee is not a member of this tenant.
    pub async fn create_task(&self, input: &TaskInput, key: Option<&str>) -> Result<Task> {
        let new = NewTask::parse(input)?;
        let key = parse_key(key)?;
        // Membership lives in the control plane; check it before taking a tenant connection.
        if let Some(assignee) = new.assignee_id {
            self.require_member(assignee).await?;
        }
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let task = match tx.create_task(&new, key.as_ref()).await? {
            Created::New(t) => {
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
