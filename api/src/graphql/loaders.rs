//! Per-request DataLoaders: `Task.project` and `Task.assignee` in one query per
//! batch, not one per row. They are built from the request's [`TenantContext`],
//! so a batch never mixes tenants.

use super::error::ApiError;
use crate::services::Services;
use async_graphql::dataloader::{DataLoader, Loader};
use domain::identity::User;
use domain::project::Project;
use domain::{ProjectId, TenantContext, UserId};
use std::collections::HashMap;
use std::sync::Arc;

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
            .work(&self.ctx)
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
    pub projects: DataLoader<ProjectLoader>,
    pub members: DataLoader<MemberLoader>,
}

impl Loaders {
    pub fn new(services: &Arc<Services>, ctx: &TenantContext) -> Self {
        Self {
            projects: DataLoader::new(
                ProjectLoader {
                    services: services.clone(),
                    ctx: ctx.clone(),
                },
                tokio::spawn,
            ),
            members: DataLoader::new(
                MemberLoader {
                    services: services.clone(),
                    ctx: ctx.clone(),
                },
                tokio::spawn,
            ),
        }
    }
}
