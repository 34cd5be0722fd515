//! The GraphQL schema: types, resolvers, loaders and limits.

pub mod admin;
mod auth;
pub mod context;
pub mod cost;
pub mod documents;
mod domains;
pub mod error;
pub mod guard;
mod invitations;
pub mod limits;
pub mod loaders;
mod moves;
pub mod pagination;
mod plain_fields;
mod projects;
mod roles;
pub mod scalars;
mod subscriptions;
mod tasks;
mod tenant_usage;
mod types;
mod webhooks;
// generate: graphql-modules

use crate::config::GraphqlSettings;
use crate::services::Services;
use async_graphql::{MergedObject, Schema};
use context::PageLimits;
use std::sync::Arc;
use subscriptions::Subscription;

#[derive(MergedObject, Default)]
pub struct Query(
    auth::AuthQuery,
    invitations::InvitationQuery,
    roles::RoleQuery,
    projects::ProjectQuery,
    tasks::TaskQuery,
    webhooks::WebhookQuery,
    // generate: queries
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    invitations::InvitationMutation,
    roles::RoleMutation,
    projects::ProjectMutation,
    tasks::TaskMutation,
    webhooks::WebhookMutation,
    domains::DomainMutation,
    // generate: mutations
);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema with its limits. Per-request data (the caller, loaders,
/// request id) is attached by the HTTP handler, never here: loaders registered
/// on the schema would batch across tenants.
pub fn build(
    services: Arc<Services>,
    settings: &GraphqlSettings,
    introspection: bool,
) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(services)
        .data(PageLimits {
            max: settings.max_page_size,
            default: settings.default_page_size,
        })
        // Depth and complexity are `cost::Gate`'s, measured before the
        // engine's own walks (which expand every fragment spread) can run.
        .limit_recursive_depth(32)
        .limit_directives(10);
    if !introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .finish()
        .sdl()
}
