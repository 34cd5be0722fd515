//! Tasks, always through [`Bound`]'s tenant-scoped builders. Tasks of a
//! soft-deleted project are hidden with it.

use super::bound::{Bound, Scoped};
use super::idempotency::Prior;
use super::keyset::{self, SortColumn};
use super::projects::contains_pattern;
use crate::entities::project;
use crate::entities::task::{self as row, Column as C};
use async_trait::async_trait;
use domain::error::Entity as Kind;
use domain::identity::User;
use domain::page::{Page, PageQuery};
use domain::ports::{Created, TaskRepository};
use domain::task::{NewTask, Task, TaskFilter, TaskOrderField, TaskPatch};
use domain::values::{Description, DueDate, IdempotencyKey, Priority, TaskTitle};
use domain::{Error, ProjectId, Result, TaskId, TenantId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, QueryFilter, QueryResult, QuerySelect, Select,
};

const SCOPE: &str = "task";

fn to_domain(r: row::Model) -> Result<Task> {
    let corrupt =
        |what: &str| Error::unexpected(format!("stored task {} has an invalid {what}", r.id));
    Ok(Task {
        id: TaskId::from_uuid(r.id),
        tenant_id: TenantId::from_uuid(r.tenant_id),
        project_id: ProjectId::from_uuid(r.project_id),
        title: TaskTitle::parse(&r.title).map_err(|_| corrupt("title"))?,
        description: Description::parse(&r.description).map_err(|_| corrupt("description"))?,
        status: r.status.parse().map_err(|_| corrupt("status"))?,
        priority: Priority::parse(i32::from(r.priority)).map_err(|_| corrupt("priority"))?,
        assignee_id: r.assignee_id.map(UserId::from_uuid),
        due_date: r
            .due_date
            .map(DueDate::new)
            .transpose()
            .map_err(|_| corrupt("due date"))?,
        created_at: r.created_at,
        updated_at: r.updated_at,
        version: r.version,
    })
}

/// The columns a page of tasks reads, in the order [`page_row`] reads them
/// back (a page's rows are read by position, not by name).
const PAGE_COLUMNS: [C; 11] = [
    C::Id,
    C::ProjectId,
    C::Title,
    C::Description,
    C::Status,
    C::Priority,
    C::AssigneeId,
    C::DueDate,
    C::CreatedAt,
    C::UpdatedAt,
    C::Version,
];

/// A row of a page ([`PAGE_COLUMNS`]): a live task of `tenant`.
fn page_row(tenant: uuid::Uuid, r: &QueryResult) -> Result<row::Model> {
    let model = || -> std::result::Result<row::Model, sea_orm::DbErr> {
        Ok(row::Model {
            tenant_id: tenant,
            id: r.try_get_by_index(0)?,
            project_id: r.try_get_by_index(1)?,
            title: r.try_get_by_index(2)?,
            description: r.try_get_by_index(3)?,
            status: r.try_get_by_index(4)?,
            priority: r.try_get_by_index(5)?,
            assignee_id: r.try_get_by_index(6)?,
            due_date: r.try_get_by_index(7)?,
            created_at: r.try_get_by_index(8)?,
            updated_at: r.try_get_by_index(9)?,
            deleted_at: None,
            version: r.try_get_by_index(10)?,
        })
    };
    model().map_err(crate::errors::unexpected)
}

fn sort_of(page: &PageQuery<TaskOrderField>) -> SortColumn<C> {
    let (column, nullable) = match page.field {
        TaskOrderField::CreatedAt => (C::CreatedAt, false),
        TaskOrderField::UpdatedAt => (C::UpdatedAt, false),
        TaskOrderField::Priority => (C::Priority, false),
        TaskOrderField::DueDate => (C::DueDate, true),
        TaskOrderField::Title => (C::Title, false),
    };
    SortColumn { column, nullable }
}

impl Bound {
    /// Live tasks of live projects.
    fn visible(&self, q: Select<row::Entity>) -> Select<row::Entity> {
        q.filter(C::DeletedAt.is_null())
            .filter(Expr::col(C::ProjectId).in_subquery(self.live_project_ids()))
    }

    /// [`Self::visible`], and in `filter`'s project if it names one: then
    /// whether that project is live is asked once (`EXISTS`, evaluated once
    /// by PostgreSQL) rather than of each row (a semi-join over every live
    /// project of the tenant, probed per task).
    fn visible_filtered(&self, q: Select<row::Entity>, f: &TaskFilter) -> Select<row::Entity> {
        let q = match f.project_id {
            Some(p) => q
                .filter(C::DeletedAt.is_null())
                .filter(C::ProjectId.eq(p.as_uuid()))
                .filter(Expr::exists(self.live_project(p))),
            None => self.visible(q),
        };
        filtered(q, f)
    }

    async fn task_row(&self, id: TaskId) -> Result<row::Model> {
        self.one(
            self.select::<row::Entity>()
                .and(|q| self.visible(q).filter(C::Id.eq(id.as_uuid()))),
        )
        .await?
        .ok_or(Error::NotFound(Kind::Task))
    }

    /// One page of the visible tasks `filter` picks, in `page`'s order.
    fn page_of(
        &self,
        filter: &TaskFilter,
        page: &PageQuery<TaskOrderField>,
    ) -> Scoped<Select<row::Entity>> {
        self.select::<row::Entity>().and(|q| {
            keyset::apply(
                self.visible_filtered(q.select_only().columns(PAGE_COLUMNS), filter),
                sort_of(page),
                C::Id,
                page,
            )
        })
    }

    /// The page [`Self::page_of`]'s rows make, read by position.
    fn page_of_rows(
        &self,
        rows: Vec<sea_orm::QueryResult>,
        page: &PageQuery<TaskOrderField>,
    ) -> Result<Page<Task>> {
        let tenant = self.tenant();
        keyset::page(rows, page, |r| page_row(tenant, &r).and_then(to_domain))
    }
}

/// `f`'s conditions but its project (see [`Bound::visible_filtered`]).
fn filtered(q: Select<row::Entity>, f: &TaskFilter) -> Select<row::Entity> {
    let mut q = q;
    if let Some(s) = f.status {
        q = q.filter(C::Status.eq(s.as_str()));
    }
    if let Some(a) = f.assignee_id {
        q = q.filter(C::AssigneeId.eq(a.as_uuid()));
    }
    if let Some(term) = &f.search {
        q = q.filter(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(C::Title)))
                        .like(contains_pattern(term.as_str())),
                )
                .add(
                    Expr::expr(Func::lower(Expr::col(C::Description)))
                        .like(contains_pattern(term.as_str())),
                ),
        );
    }
    q
}

#[async_trait]
impl TaskRepository for Bound {
    async fn create_task(
        &self,
        new: &NewTask,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<Task>> {
        let id = TaskId::generate();
        if let Some(key) = key
            && let Prior::Created(prior) = self
                .claim(SCOPE, key, &new.fingerprint(), id.as_uuid())
                .await?
        {
            return self
                .task_row(TaskId::from_uuid(prior))
                .await
                .and_then(to_domain)
                .map(Created::Replayed);
        }
        let now = crate::now();
        let live_project = self.select::<project::Entity>().and(|q| {
            q.filter(project::Column::Id.eq(new.project_id.as_uuid()))
                .filter(project::Column::DeletedAt.is_null())
        });
        let stored = self
            .insert_if(
                |tenant_id| row::ActiveModel {
                    tenant_id: Set(tenant_id),
                    id: Set(id.as_uuid()),
                    project_id: Set(new.project_id.as_uuid()),
                    title: Set(new.title.as_str().to_owned()),
                    description: Set(new.description.as_str().to_owned()),
                    status: Set(new.status.as_str().to_owned()),
                    priority: Set(new.priority.value()),
                    assignee_id: Set(new.assignee_id.map(|u| u.as_uuid())),
                    due_date: Set(new.due_date.map(DueDate::date)),
                    created_at: Set(now),
                    updated_at: Set(now),
                    deleted_at: Set(None),
                    version: Set(1),
                },
                live_project,
            )
            .await?
            // Another tenant's project is as unknown as a missing one.
            .ok_or(Error::NotFound(Kind::Project))?;
        to_domain(stored).map(Created::New)
    }

    async fn task(&self, id: TaskId) -> Result<Task> {
        to_domain(self.task_row(id).await?)
    }

    async fn tasks_by_ids(&self, ids: &[TaskId]) -> Result<Vec<Task>> {
        let ids: Vec<_> = ids.iter().map(TaskId::as_uuid).collect();
        self.all(
            self.select::<row::Entity>()
                .and(|q| self.visible(q).filter(C::Id.is_in(ids))),
        )
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
    }

    async fn list_tasks(
        &self,
        filter: &TaskFilter,
        page: &PageQuery<TaskOrderField>,
    ) -> Result<Page<Task>> {
        let rows = self.rows(self.page_of(filter, page)).await?;
        self.page_of_rows(rows, page)
    }

    async fn list_tasks_with_assignees(
        &self,
        filter: &TaskFilter,
        page: &PageQuery<TaskOrderField>,
    ) -> Result<(Page<Task>, Option<Vec<User>>)> {
        let q = self.page_of(filter, page);
        let Some((rows, users)) = self
            .rows_with_members(q, C::AssigneeId, PAGE_COLUMNS.len())
            .await?
        else {
            return Ok((self.list_tasks(filter, page).await?, None));
        };
        Ok((self.page_of_rows(rows, page)?, Some(users)))
    }

    async fn count_tasks(&self, filter: &TaskFilter) -> Result<u64> {
        self.count(
            self.select::<row::Entity>()
                .and(|q| self.visible_filtered(q, filter)),
        )
        .await
    }

    async fn update_task(
        &self,
        id: TaskId,
        patch: &TaskPatch,
        expected_version: i32,
    ) -> Result<Task> {
        let live = self.live_project_ids();
        let changed = self
            .exec_update(self.update::<row::Entity>().and(|mut q| {
                if let Some(v) = &patch.title {
                    q = q.col_expr(C::Title, Expr::value(v.as_str()));
                }
                if let Some(v) = &patch.description {
                    q = q.col_expr(C::Description, Expr::value(v.as_str()));
                }
                if let Some(v) = patch.status {
                    q = q.col_expr(C::Status, Expr::value(v.as_str()));
                }
                if let Some(v) = patch.priority {
                    q = q.col_expr(C::Priority, Expr::value(v.value()));
                }
                if let Some(v) = patch.assignee_id {
                    q = q.col_expr(C::AssigneeId, Expr::value(v.map(|u| u.as_uuid())));
                }
                if let Some(v) = patch.due_date {
                    q = q.col_expr(C::DueDate, Expr::value(v.map(DueDate::date)));
                }
                q.col_expr(C::UpdatedAt, Expr::value(crate::now()))
                    .col_expr(C::Version, Expr::col(C::Version).add(1))
                    .filter(C::Id.eq(id.as_uuid()))
                    .filter(C::Version.eq(expected_version))
                    .filter(C::DeletedAt.is_null())
                    .filter(Expr::col(C::ProjectId).in_subquery(live))
            }))
            .await?;
        if changed == 0 {
            let current = self.task_row(id).await?;
            return Err(Error::conflict(
                "expectedVersion",
                format!(
                    "the task was changed meanwhile; its current version is {}",
                    current.version
                ),
            ));
        }
        to_domain(self.task_row(id).await?)
    }

    async fn delete_task(&self, id: TaskId) -> Result<()> {
        let live = self.live_project_ids();
        let changed = self
            .exec_update(self.update::<row::Entity>().and(|q| {
                let now = crate::now();
                q.col_expr(C::DeletedAt, Expr::value(now))
                    .col_expr(C::UpdatedAt, Expr::value(now))
                    .col_expr(C::Version, Expr::col(C::Version).add(1))
                    .filter(C::Id.eq(id.as_uuid()))
                    .filter(C::DeletedAt.is_null())
                    .filter(Expr::col(C::ProjectId).in_subquery(live))
            }))
            .await?;
        if changed == 0 {
            Err(Error::NotFound(Kind::Task))
        } else {
            Ok(())
        }
    }
}
