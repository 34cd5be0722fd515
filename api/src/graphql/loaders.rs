//! Per-request DataLoaders: `Task.project` and `Task.assignee` in one query per
//! batch, not one per row. They are built from the request's [`TenantContext`],
//! so a batch never mixes tenants.

use super::error::ApiError;
use crate::services::Services;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use domain::identity::User;
use domain::project::Project;
use domain::task::Task;
use domain::{ProjectId, TenantContext, UserId};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

pub struct ProjectLoader {
    services: Arc<Services>,
    ctx: TenantContext,
}

impl Loader<ProjectId> for ProjectLoader {
    type Value = Project;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ProjectId]) -> Result<HashMap<ProjectId, Project>, Self::Error> {
        let projects = self
            .services
            .projects(&self.ctx)
            .projects_by_ids(keys)
            .await
            .map_err(ApiError::from)?;
        Ok(projects.into_iter().map(|p| (p.id, p)).collect())
    }
}

/// Users, as members of the context's tenant: a user id of another tenant loads nothing.
pub struct MemberLoader {
    services: Arc<Services>,
    ctx: TenantContext,
}

impl Loader<UserId> for MemberLoader {
    type Value = User;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, User>, Self::Error> {
        let users = self
            .services
            .identity
            .members_by_ids(&self.ctx, keys)
            .await
            .map_err(ApiError::from)?;
        Ok(users.into_iter().map(|u| (u.id, u)).collect())
    }
}

pub struct Loaders {
    pub projects: DataLoader<ProjectLoader, HashMapCache>,
    pub members: DataLoader<MemberLoader, HashMapCache>,
}

/// How long a loader waits to gather keys before it queries (async-graphql's
/// default is 1 ms). The keys of one list are registered within microseconds.
const BATCH_DELAY: Duration = Duration::from_micros(200);

impl Loaders {
    /// Loaders for one request. Each caches for the request's lifetime, so a
    /// list can hand them what it already fetched ([`Loaders::prime`]).
    pub fn new(services: &Arc<Services>, ctx: &TenantContext) -> Self {
        let projects = ProjectLoader {
            services: services.clone(),
            ctx: ctx.clone(),
        };
        let members = MemberLoader {
            services: services.clone(),
            ctx: ctx.clone(),
        };
        Self {
            projects: DataLoader::with_cache(projects, tokio::spawn, HashMapCache::default())
                .delay(BATCH_DELAY),
            members: DataLoader::with_cache(members, tokio::spawn, HashMapCache::default())
                .delay(BATCH_DELAY),
        }
    }

    /// Fetches a page's projects at once into the cache (the page's
    /// assignees come with it: see `Tasks::list_tasks_with_assignees`), so
    /// `Task.project` resolves without waiting for a batch window.
    pub async fn prime_projects(&self, tasks: &[Task]) -> async_graphql::Result<()> {
        let ids: Vec<ProjectId> = tasks
            .iter()
            .map(|t| t.project_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        self.projects.load_many(ids).await?;
        Ok(())
    }
}
