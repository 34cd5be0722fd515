//! Task queries and mutations.

use super::context::list_context;
use super::context::{services, tenant};
use super::error::{ApiError, ApiResult};
use super::guard::Guarded;
use super::loaders::Loaders;
use super::pagination::{KeysetCursor, PageArgs, connection, page_query};
use super::plain_fields::Plain;
use super::scalars::{Date, OrderDirection, TaskOrderField, TaskStatus, parse_id};
use super::types::TaskNode;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use domain::error::Entity;
use domain::task::{TaskFilter, TaskInput, TaskPatchInput};
use domain::validate::AtField;
use domain::values::SearchTerm;
use domain::{ProjectId, TaskId, UserId};

/// Filters for `tasks`. All given conditions must hold.
#[derive(InputObject, Default, Clone)]
#[graphql(name = "TaskFilter")]
pub struct TaskFilterInput {
    pub project_id: Option<ID>,
    pub status: Option<TaskStatus>,
    pub assignee_id: Option<ID>,
    /// Case-insensitive substring of the title or description.
    pub search: Option<String>,
}

/// Filters for `Project.tasks`.
#[derive(InputObject, Default, Clone)]
pub struct ProjectTaskFilter {
    pub status: Option<TaskStatus>,
    pub assignee_id: Option<ID>,
    pub search: Option<String>,
}

#[derive(InputObject, Default, Clone, Copy)]
pub struct TaskOrder {
    #[graphql(default)]
    pub field: TaskOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

pub enum TaskScope {
    All(TaskFilterInput),
    Project(ProjectId, ProjectTaskFilter),
}

/// An id in a filter that is not an id at all is a client bug: say so.
fn filter_id<T: std::str::FromStr>(id: &ID, field: &str) -> ApiResult<T> {
    parse_id(id).ok_or_else(|| ApiError::invalid(field, "not a valid id"))
}

fn search(raw: Option<&str>) -> ApiResult<Option<SearchTerm>> {
    Ok(raw
        .map(SearchTerm::parse)
        .transpose()
        .at("filter.search")
        .map_err(domain::Error::from)?
        .flatten())
}

impl TaskScope {
    fn to_filter(&self) -> ApiResult<TaskFilter> {
        Ok(match self {
            TaskScope::All(f) => TaskFilter {
                project_id: f
                    .project_id
                    .as_ref()
                    .map(|i| filter_id(i, "filter.projectId"))
                    .transpose()?,
                status: f.status.map(Into::into),
                assignee_id: f
                    .assignee_id
                    .as_ref()
                    .map(|i| filter_id(i, "filter.assigneeId"))
                    .transpose()?,
                search: search(f.search.as_deref())?,
            },
            TaskScope::Project(p, f) => TaskFilter {
                project_id: Some(*p),
                status: f.status.map(Into::into),
                assignee_id: f
                    .assignee_id
                    .as_ref()
                    .map(|i| filter_id(i, "filter.assigneeId"))
                    .transpose()?,
                search: search(f.search.as_deref())?,
            },
        })
    }
}

/// `totalCount`, counted only when asked for.
pub struct TaskCount {
    filter: TaskFilter,
}

#[Object]
impl TaskCount {
    /// How many tasks match the filter, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(services(ctx)
            .tasks(tenant(ctx)?)
            .count_tasks(&self.filter)
            .await?)
    }
}

/// Pages of tasks are the hot path: their nodes answer plain fields in place.
pub type TaskConnection = Connection<KeysetCursor, Plain<TaskNode>, TaskCount>;

pub async fn task_connection(
    ctx: &Context<'_>,
    scope: TaskScope,
    args: PageArgs,
    order: TaskOrder,
) -> ApiResult<TaskConnection> {
    let (services, tenant, limits) = list_context(ctx)?;
    let filter = scope.to_filter()?;
    let field: domain::task::TaskOrderField = order.field.into();
    let query = page_query(args, field, order.direction.into(), limits)?;
    let node = ctx.look_ahead().field("edges").field("node");
    let (want_projects, want_assignees) = (
        node.field("project").exists(),
        node.field("assignee").exists(),
    );
    let tasks = services.tasks(tenant);
    let loaders = ctx.data_unchecked::<Loaders>();
    // Assignees come with the page (joined, where the storage can).
    let page = if want_assignees {
        let (page, assignees) = tasks.list_tasks_with_assignees(&filter, &query).await?;
        loaders
            .members
            .feed_many(assignees.into_iter().map(|u| (u.id, u)))
            .await;
        page
    } else {
        tasks.list_tasks(&filter, &query).await?
    };
    if want_projects {
        loaders.prime_projects(&page.items).await.map_err(|e| {
            // The cause goes to the log; the client sees a generic error.
            ApiError::from(domain::Error::unexpected(format!(
                "loading the projects of a page: {}",
                e.message
            )))
        })?;
    }
    Ok(connection(&query, page, TaskCount { filter }, |t| {
        Plain(TaskNode(t))
    }))
}

#[derive(Default)]
pub struct TaskQuery;

#[Object]
impl TaskQuery {
    /// Tasks of the current tenant, newest first unless `orderBy` says otherwise.
    #[graphql(guard = "Guarded(\"tasks\")")]
    #[allow(clippy::too_many_arguments)]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<TaskFilterInput>,
        order_by: Option<TaskOrder>,
    ) -> ApiResult<TaskConnection> {
        let scope = TaskScope::All(filter.unwrap_or_default());
        task_connection(
            ctx,
            scope,
            PageArgs {
                first,
                after,
                last,
                before,
            },
            order_by.unwrap_or_default(),
        )
        .await
    }

    /// One task; `NOT_FOUND` unless it is a live task of the current tenant.
    #[graphql(guard = "Guarded(\"task\")")]
    async fn task(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<TaskNode>> {
        let tenant = tenant(ctx)?;
        let id: TaskId =
            parse_id(&id).ok_or(ApiError::from(domain::Error::NotFound(Entity::Task)))?;
        Ok(Some(TaskNode(services(ctx).tasks(tenant).task(id).await?)))
    }
}

#[derive(InputObject)]
pub struct CreateTaskInput {
    pub project_id: ID,
    pub title: String,
    pub description: Option<String>,
    /// Defaults to TODO.
    pub status: Option<TaskStatus>,
    /// 0 (none, the default) to 4 (urgent).
    pub priority: Option<i32>,
    /// A member of the current tenant.
    pub assignee_id: Option<ID>,
    pub due_date: Option<Date>,
}

/// Absent fields stay as they are; `null` clears `assigneeId` and `dueDate`.
#[derive(InputObject)]
pub struct UpdateTaskInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub priority: Option<i32>,
    pub assignee_id: MaybeUndefined<ID>,
    pub due_date: MaybeUndefined<Date>,
}

fn assignee(id: &ID) -> ApiResult<UserId> {
    parse_id(id).ok_or_else(|| ApiError::invalid("assigneeId", "not a valid id"))
}

#[derive(Default)]
pub struct TaskMutation;

#[Object]
impl TaskMutation {
    /// Creates a task. Retrying with the same `idempotencyKey` returns the first result.
    #[graphql(guard = "Guarded(\"createTask\")")]
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        input: CreateTaskInput,
        idempotency_key: Option<String>,
    ) -> ApiResult<TaskNode> {
        let tenant = tenant(ctx)?;
        let input = TaskInput {
            project_id: parse_id(&input.project_id),
            title: input.title,
            description: input.description,
            status: input.status.map(Into::into),
            priority: input.priority,
            assignee_id: input.assignee_id.as_ref().map(assignee).transpose()?,
            due_date: input.due_date.map(|d| d.0),
        };
        Ok(TaskNode(
            services(ctx)
                .tasks(tenant)
                .create_task(&input, idempotency_key.as_deref())
                .await?,
        ))
    }

    /// Changes a task if `expectedVersion` is still its version; `CONFLICT` otherwise.
    #[graphql(guard = "Guarded(\"updateTask\")")]
    async fn update_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateTaskInput,
        expected_version: i32,
    ) -> ApiResult<TaskNode> {
        let tenant = tenant(ctx)?;
        let id: TaskId =
            parse_id(&id).ok_or(ApiError::from(domain::Error::NotFound(Entity::Task)))?;
        let input = TaskPatchInput {
            title: input.title,
            description: input.description,
            status: input.status.map(Into::into),
            priority: input.priority,
            assignee_id: match input.assignee_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(id) => Some(Some(assignee(&id)?)),
            },
            due_date: match input.due_date {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(d) => Some(Some(d.0)),
            },
        };
        Ok(TaskNode(
            services(ctx)
                .tasks(tenant)
                .update_task(id, &input, expected_version)
                .await?,
        ))
    }

    /// Deletes a task. Returns true.
    #[graphql(guard = "Guarded(\"deleteTask\")")]
    async fn delete_task(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let tenant = tenant(ctx)?;
        let id: TaskId =
            parse_id(&id).ok_or(ApiError::from(domain::Error::NotFound(Entity::Task)))?;
        services(ctx).tasks(tenant).delete_task(id).await?;
        Ok(true)
    }
}
