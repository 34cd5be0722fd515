//! Projects: a tenant's containers of tasks. Deleting one is soft and reversible.

use crate::ids::{ProjectId, TenantId};
use crate::page::{Cursor, Keyed, SortValue};
use crate::validate::{AllValid, AtField};
use crate::values::{Description, ProjectName, SearchTerm};
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
