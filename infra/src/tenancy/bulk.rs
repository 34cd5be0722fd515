//! Batched inserts for seeding large data sets: many rows per statement, one
//! transaction per batch, still bound to the tenant like every other write.

use super::bound::Bound;
use crate::entities::{project, task};
use crate::errors::DbResultExt;
use domain::Result;
use domain::project::Project;
use domain::task::Task;
use domain::values::DueDate;
use sea_orm::ActiveValue::Set;

impl Bound {
    /// Inserts projects of this tenant; rows naming another tenant are refused.
    pub(crate) async fn insert_projects(&self, rows: &[Project]) -> Result<()> {
        let models = rows.iter().map(|p| project::ActiveModel {
            tenant_id: Set(p.tenant_id.as_uuid()),
            id: Set(p.id.as_uuid()),
            name: Set(p.name.as_str().to_owned()),
            description: Set(p.description.as_str().to_owned()),
            created_at: Set(p.created_at),
            updated_at: Set(p.updated_at),
            deleted_at: Set(p.deleted_at),
            version: Set(p.version),
        });
        self.insert_many::<project::Entity, _>(models.collect())
            .await
            .or_unexpected()
    }

    /// Inserts tasks of this tenant; rows naming another tenant are refused.
    pub(crate) async fn insert_tasks(&self, rows: &[Task]) -> Result<()> {
        let models = rows.iter().map(|t| task::ActiveModel {
            tenant_id: Set(t.tenant_id.as_uuid()),
            id: Set(t.id.as_uuid()),
            project_id: Set(t.project_id.as_uuid()),
            title: Set(t.title.as_str().to_owned()),
            description: Set(t.description.as_str().to_owned()),
            status: Set(t.status.as_str().to_owned()),
            priority: Set(t.priority.value()),
            assignee_id: Set(t.assignee_id.map(|u| u.as_uuid())),
            due_date: Set(t.due_date.map(DueDate::date)),
            created_at: Set(t.created_at),
            updated_at: Set(t.updated_at),
            deleted_at: Set(None),
            version: Set(t.version),
        });
        self.insert_many::<task::Entity, _>(models.collect())
            .await
            .or_unexpected()
    }
}
