//! Project queries and mutations.

use super::context::list_context;
use super::context::{services, tenant};
use super::error::{ApiError, ApiResult};
use super::guard::Guarded;
use super::pagination::{KeysetCursor, PageArgs, connection, page_query};
use super::scalars::{OrderDirection, ProjectOrderField, parse_id};
use super::types::ProjectNode;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object};
use domain::ProjectId;
use domain::error::Entity;
use domain::project::{ProjectFilter, ProjectInput, ProjectPatchInput};
use domain::validate::AtField;
use domain::values::SearchTerm;

#[derive(InputObject, Default)]
#[graphql(name = "ProjectFilter")]
pub struct ProjectFilterInput {
    /// Case-insensitive substring of the name or description.
    pub search: Option<String>,
    /// List soft-deleted projects (for restoring them) instead of live ones.
    #[graphql(default)]
    pub deleted: bool,
}

#[derive(InputObject, Default, Clone, Copy)]
pub struct ProjectOrder {
    #[graphql(default)]
    pub field: ProjectOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

pub struct ProjectCount {
    filter: ProjectFilter,
}

#[Object]
impl ProjectCount {
    /// How many projects match the filter, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(services(ctx)
            .projects(tenant(ctx)?)
            .count_projects(&self.filter)
            .await?)
    }
}

pub type ProjectConnection = Connection<KeysetCursor, ProjectNode, ProjectCount>;

fn not_found() -> ApiError {
    ApiError::from(domain::Error::NotFound(Entity::Project))
}

fn project_id(id: &ID) -> ApiResult<ProjectId> {
    parse_id(id).ok_or_else(not_found)
}

#[derive(Default)]
pub struct ProjectQuery;

#[Object]
impl ProjectQuery {
    /// Projects of the current tenant, newest first unless `orderBy` says otherwise.
    #[graphql(guard = "Guarded(\"projects\")")]
    #[allow(clippy::too_many_arguments)]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ProjectFilterInput>,
        order_by: Option<ProjectOrder>,
    ) -> ApiResult<ProjectConnection> {
        let (services, tenant, limits) = list_context(ctx)?;
        let f = filter.unwrap_or_default();
        let search = f
            .search
            .as_deref()
            .map(SearchTerm::parse)
            .transpose()
            .at("filter.search")
            .map_err(domain::Error::from)?;
        let filter = ProjectFilter {
            search: search.flatten(),
            deleted: f.deleted,
        };
        let order = order_by.unwrap_or_default();
        let field: domain::project::ProjectOrderField = order.field.into();
        let query = page_query(
            PageArgs {
                first,
                after,
                last,
                before,
            },
            field,
            order.direction.into(),
            limits,
        )?;
        let page = services
            .projects(tenant)
            .list_projects(&filter, &query)
            .await?;
        Ok(connection(
            &query,
            page,
            ProjectCount { filter },
            ProjectNode,
        ))
    }

    /// One live project; `NOT_FOUND` unless it belongs to the current tenant.
    #[graphql(guard = "Guarded(\"project\")")]
    async fn project(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<ProjectNode>> {
        let tenant = tenant(ctx)?;
        Ok(Some(ProjectNode(
            services(ctx)
                .projects(tenant)
                .project(project_id(&id)?)
                .await?,
        )))
    }
}

#[derive(InputObject)]
pub struct CreateProjectInput {
    pub name: String,
    pub description: Option<String>,
}

/// Absent fields stay as they are.
#[derive(InputObject)]
pub struct UpdateProjectInput {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Default)]
pub struct ProjectMutation;

#[Object]
impl ProjectMutation {
    /// Creates a project. Retrying with the same `idempotencyKey` returns the first result.
    #[graphql(guard = "Guarded(\"createProject\")")]
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        input: CreateProjectInput,
        idempotency_key: Option<String>,
    ) -> ApiResult<ProjectNode> {
        let tenant = tenant(ctx)?;
        let input = ProjectInput {
            name: input.name,
            description: input.description,
        };
        Ok(ProjectNode(
            services(ctx)
                .projects(tenant)
                .create_project(&input, idempotency_key.as_deref())
                .await?,
        ))
    }

    /// Changes a project if `expectedVersion` is still its version; `CONFLICT` otherwise.
    #[graphql(guard = "Guarded(\"updateProject\")")]
    async fn update_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateProjectInput,
        expected_version: i32,
    ) -> ApiResult<ProjectNode> {
        let tenant = tenant(ctx)?;
        let input = ProjectPatchInput {
            name: input.name,
            description: input.description,
        };
        Ok(ProjectNode(
            services(ctx)
                .projects(tenant)
                .update_project(project_id(&id)?, &input, expected_version)
                .await?,
        ))
    }

    /// Soft-deletes a project: it and its tasks disappear until `restoreProject`. Returns true.
    #[graphql(guard = "Guarded(\"deleteProject\")")]
    async fn delete_project(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let tenant = tenant(ctx)?;
        services(ctx)
            .projects(tenant)
            .delete_project(project_id(&id)?)
            .await?;
        Ok(true)
    }

    /// Brings back a soft-deleted project with its tasks.
    #[graphql(guard = "Guarded(\"restoreProject\")")]
    async fn restore_project(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ProjectNode> {
        let tenant = tenant(ctx)?;
        Ok(ProjectNode(
            services(ctx)
                .projects(tenant)
                .restore_project(project_id(&id)?)
                .await?,
        ))
    }
}
