//! Projects: a tenant's containers of tasks. Deleting one is soft and
//! reversible until housekeeping purges it (30 days by default).
//! The use cases ([`Projects`]) each open their own tenant transaction from the
//! caller's [`TenantContext`] and commit only when everything succeeded; every
//! change records its event in the same transaction (the outbox).

use crate::error::Result;
use crate::events::{Event, EventType};
use crate::ids::{ProjectId, TenantId};
use crate::page::{Cursor, Keyed, SortValue};
use crate::page::{Page, PageQuery};
use crate::plan::{Stored, still_within};
use crate::ports::{Created, Tenancy, TxMode};
use crate::tenancy::TenantContext;
use crate::validate::{AllValid, AtField};
use crate::values::{Description, IdempotencyKey, ProjectName, SearchTerm};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub tenant_id: TenantId,
    pub name: ProjectName,
    pub description: Description,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Starts at 1 and grows by one with every change (optimistic concurrency).
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    pub name: ProjectName,
    pub description: Description,
}

impl NewProject {
    /// A stable rendering of the input, so a reused idempotency key with
    /// different input is told apart from a retry.
    pub fn fingerprint(&self) -> String {
        format!("project|{}|{}", self.name, self.description)
    }
}

/// Only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectPatch {
    pub name: Option<ProjectName>,
    pub description: Option<Description>,
}

impl ProjectPatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFilter {
    /// Case-insensitive substring of the name or description.
    pub search: Option<SearchTerm>,
    /// List soft-deleted projects instead of live ones.
    pub deleted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProjectOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Name,
}

impl Keyed<ProjectOrderField> for Project {
    fn cursor(&self, field: ProjectOrderField) -> Cursor {
        let value = match field {
            ProjectOrderField::CreatedAt => SortValue::Time(self.created_at),
            ProjectOrderField::UpdatedAt => SortValue::Time(self.updated_at),
            ProjectOrderField::Name => SortValue::Text(self.name.as_str().to_owned()),
        };
        Cursor {
            value,
            id: self.id.as_uuid(),
        }
    }
}

/// Raw input of `createProject`.
#[derive(Debug, Clone, Default)]
pub struct ProjectInput {
    pub name: String,
    pub description: Option<String>,
}

impl NewProject {
    /// # Errors
    /// [`crate::Error::Invalid`] naming each bad field.
    pub fn parse(input: &ProjectInput) -> crate::Result<Self> {
        let (name, description) = (
            ProjectName::parse(&input.name).at("name"),
            Description::parse(input.description.as_deref().unwrap_or("")).at("description"),
        )
            .all_valid()?;
        Ok(Self { name, description })
    }
}

/// Raw input of `updateProject`: absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatchInput {
    pub name: Option<String>,
    pub description: Option<String>,
}

impl ProjectPatch {
    /// # Errors
    /// [`crate::Error::Invalid`] naming each bad field, or `input` when nothing would change.
    pub fn parse(input: &ProjectPatchInput) -> crate::Result<Self> {
        let (name, description) = (
            input
                .name
                .as_deref()
                .map(ProjectName::parse)
                .transpose()
                .at("name"),
            input
                .description
                .as_deref()
                .map(Description::parse)
                .transpose()
                .at("description"),
        )
            .all_valid()?;
        let patch = Self { name, description };
        if patch.is_empty() {
            return Err(crate::Error::invalid(
                "input",
                "give at least one field to change",
            ));
        }
        Ok(patch)
    }
}

/// Project use cases, bound to the caller's tenant.
pub struct Projects<'a> {
    pub tenancy: &'a dyn Tenancy,
    pub ctx: &'a TenantContext,
}

impl Projects<'_> {
    pub async fn create_project(&self, input: &ProjectInput, key: Option<&str>) -> Result<Project> {
        let new = NewProject::parse(input)?;
        let key = IdempotencyKey::parse_optional(key)?;
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        // Projects are made rarely: creates take turns, so the limit is exact.
        tx.lock_stored(Stored::Projects).await?;
        let project = match tx.create_project(&new, key.as_ref()).await? {
            Created::New(p) => {
                still_within(&*tx, Stored::Projects).await?;
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
}
