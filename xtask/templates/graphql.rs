//! [[ r.Names ]]: the GraphQL type, its list (a Relay connection with filters
//! and ordering) and its mutations. Each resolver names its entry in `ACCESS`
//! (guard.rs); the use cases are `domain::[[ r.name ]]::[[ r.Names ]]`.

use super::context::{list_context, services, tenant};
use super::error::{ApiError, ApiResult};
use super::guard::Guarded;
use super::pagination::{CursorField, KeysetCursor, PageArgs, connection, page_query};
use super::scalars::{OrderDirection, parse_id, to_id};
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use domain::error::Entity;
use domain::ids::[[ r.Name ]]Id;
use domain::validate::AtField;
use domain::values::SearchTerm;
use domain::[[ r.name ]]::{[[ r.Name ]], [[ r.Name ]]Filter, [[ r.Name ]]Input, [[ r.Name ]]PatchInput};

pub struct [[ r.Name ]]Node(pub [[ r.Name ]]);

#[Object(name = "[[ r.Name ]]")]
impl [[ r.Name ]]Node {
    async fn id(&self) -> ID {
        to_id(self.0.id.as_uuid())
    }
[% for f in r.fields %]
[% if f.kind == "string" or f.kind == "text" %]
    async fn [[ f.name ]](&self) -> &str {
        self.0.[[ f.name ]].as_str()
    }
[% else %]
    async fn [[ f.name ]](&self) -> [[ f.rust ]] {
        self.0.[[ f.name ]]
    }
[% endif %]
[% endfor %]
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Pass it back as `expectedVersion` when updating.
    async fn version(&self) -> i32 {
        self.0.version
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum [[ r.Name ]]OrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
[% for f in r.sortables %]
    [[ f.Pascal ]],
[% endfor %]
}

impl From<[[ r.Name ]]OrderField> for domain::[[ r.name ]]::[[ r.Name ]]OrderField {
    fn from(f: [[ r.Name ]]OrderField) -> Self {
        match f {
            [[ r.Name ]]OrderField::CreatedAt => Self::CreatedAt,
            [[ r.Name ]]OrderField::UpdatedAt => Self::UpdatedAt,
[% for f in r.sortables %]
            [[ r.Name ]]OrderField::[[ f.Pascal ]] => Self::[[ f.Pascal ]],
[% endfor %]
        }
    }
}

/// A cursor made under one ordering is refused under another.
impl CursorField for domain::[[ r.name ]]::[[ r.Name ]]OrderField {
    fn key(self) -> &'static str {
        match self {
            Self::CreatedAt => "created",
            Self::UpdatedAt => "updated",
[% for f in r.sortables %]
            Self::[[ f.Pascal ]] => "[[ f.name ]]",
[% endfor %]
        }
    }
}

#[derive(InputObject, Default)]
#[graphql(name = "[[ r.Name ]]Filter")]
pub struct [[ r.Name ]]FilterInput {
    /// Case-insensitive substring of [% for f in r.texts %][% if not loop.first %][% if loop.last %] or [% else %], [% endif %][% endif %]`[[ f.camel ]]`[% endfor %].
    pub search: Option<String>,
[% for f in r.bools %]
    /// Only [[ r.humans ]] whose `[[ f.camel ]]` is this.
    pub [[ f.name ]]: Option<bool>,
[% endfor %]
}

#[derive(InputObject, Default, Clone, Copy)]
pub struct [[ r.Name ]]Order {
    #[graphql(default)]
    pub field: [[ r.Name ]]OrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

pub struct [[ r.Name ]]Count {
    filter: [[ r.Name ]]Filter,
}

#[Object]
impl [[ r.Name ]]Count {
    /// How many [[ r.humans ]] match the filter, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(services(ctx)
            .[[ r.names ]](tenant(ctx)?)
            .count_[[ r.names ]](&self.filter)
            .await?)
    }
}

pub type [[ r.Name ]]Connection = Connection<KeysetCursor, [[ r.Name ]]Node, [[ r.Name ]]Count>;

/// An id that does not parse names no [[ r.human ]]: the same answer as another tenant's.
fn [[ r.name ]]_id(id: &ID) -> ApiResult<[[ r.Name ]]Id> {
    parse_id(id).ok_or_else(|| ApiError::from(domain::Error::NotFound(Entity::[[ r.Name ]])))
}

#[derive(Default)]
pub struct [[ r.Name ]]Query;

#[Object]
impl [[ r.Name ]]Query {
    /// [[ r.Names ]] of the current tenant, newest first unless `orderBy` says otherwise.
    #[graphql(guard = "Guarded(\"[[ r.namesCamel ]]\")")]
    #[allow(clippy::too_many_arguments)]
    async fn [[ r.names ]](
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<[[ r.Name ]]FilterInput>,
        order_by: Option<[[ r.Name ]]Order>,
    ) -> ApiResult<[[ r.Name ]]Connection> {
        let (services, tenant, limits) = list_context(ctx)?;
        let f = filter.unwrap_or_default();
        let search = f
            .search
            .as_deref()
            .map(SearchTerm::parse)
            .transpose()
            .at("filter.search")
            .map_err(domain::Error::from)?;
        let filter = [[ r.Name ]]Filter {
            search: search.flatten(),
[% for f in r.bools %]
            [[ f.name ]]: f.[[ f.name ]],
[% endfor %]
        };
        let order = order_by.unwrap_or_default();
        let field: domain::[[ r.name ]]::[[ r.Name ]]OrderField = order.field.into();
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
            .[[ r.names ]](tenant)
            .list_[[ r.names ]](&filter, &query)
            .await?;
        Ok(connection(&query, page, [[ r.Name ]]Count { filter }, [[ r.Name ]]Node))
    }

    /// One [[ r.human ]]; `NOT_FOUND` unless it belongs to the current tenant.
    #[graphql(guard = "Guarded(\"[[ r.nameCamel ]]\")")]
    async fn [[ r.name ]](&self, ctx: &Context<'_>, id: ID) -> ApiResult<[[ r.Name ]]Node> {
        let tenant = tenant(ctx)?;
        Ok([[ r.Name ]]Node(
            services(ctx)
                .[[ r.names ]](tenant)
                .[[ r.name ]]([[ r.name ]]_id(&id)?)
                .await?,
        ))
    }
}

#[derive(InputObject)]
pub struct Create[[ r.Name ]]Input {
[% for f in r.fields %]
    pub [[ f.name ]]: [[ f.input_type ]],
[% endfor %]
}

/// Absent fields stay as they are.
#[derive(InputObject)]
pub struct Update[[ r.Name ]]Input {
[% for f in r.fields %]
    pub [[ f.name ]]: Option<[[ f.rust ]]>,
[% endfor %]
}

#[derive(Default)]
pub struct [[ r.Name ]]Mutation;

#[Object]
impl [[ r.Name ]]Mutation {
    /// Creates a [[ r.human ]]. Retrying with the same `idempotencyKey` returns the first result.
    #[graphql(guard = "Guarded(\"create[[ r.Name ]]\")")]
    async fn create_[[ r.name ]](
        &self,
        ctx: &Context<'_>,
        input: Create[[ r.Name ]]Input,
        idempotency_key: Option<String>,
    ) -> ApiResult<[[ r.Name ]]Node> {
        let tenant = tenant(ctx)?;
        let input = [[ r.Name ]]Input {
[% for f in r.fields %]
            [[ f.name ]]: input.[[ f.name ]],
[% endfor %]
        };
        Ok([[ r.Name ]]Node(
            services(ctx)
                .[[ r.names ]](tenant)
                .create_[[ r.name ]](&input, idempotency_key.as_deref())
                .await?,
        ))
    }

    /// Changes a [[ r.human ]] if `expectedVersion` is still its version; `CONFLICT` otherwise.
    #[graphql(guard = "Guarded(\"update[[ r.Name ]]\")")]
    async fn update_[[ r.name ]](
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: Update[[ r.Name ]]Input,
        expected_version: i32,
    ) -> ApiResult<[[ r.Name ]]Node> {
        let tenant = tenant(ctx)?;
        let input = [[ r.Name ]]PatchInput {
[% for f in r.fields %]
            [[ f.name ]]: input.[[ f.name ]],
[% endfor %]
        };
        Ok([[ r.Name ]]Node(
            services(ctx)
                .[[ r.names ]](tenant)
                .update_[[ r.name ]]([[ r.name ]]_id(&id)?, &input, expected_version)
                .await?,
        ))
    }

    /// Deletes a [[ r.human ]] for good. Returns true.
    #[graphql(guard = "Guarded(\"delete[[ r.Name ]]\")")]
    async fn delete_[[ r.name ]](&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let tenant = tenant(ctx)?;
        services(ctx)
            .[[ r.names ]](tenant)
            .delete_[[ r.name ]]([[ r.name ]]_id(&id)?)
            .await?;
        Ok(true)
    }
}
