//! Projects, always through [`Bound`]'s tenant-scoped builders.

use super::bound::Bound;
use super::idempotency::Prior;
use super::keyset::{self, SortColumn};
use crate::entities::project::{self as row, Column as C};
use crate::errors::unexpected;
use async_trait::async_trait;
use domain::error::Entity as Kind;
use domain::page::{Page, PageQuery};
use domain::ports::{Created, ProjectRepository};
use domain::project::{NewProject, Project, ProjectFilter, ProjectOrderField, ProjectPatch};
use domain::values::{Description, IdempotencyKey, ProjectName};
use domain::{Error, ProjectId, Result, TenantId};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, QueryFilter, Select};

const SCOPE: &str = "project";

/// Rows were validated on the way in; a row that no longer parses is corruption.
fn to_domain(r: row::Model) -> Result<Project> {
    let corrupt =
        |what: &str| Error::unexpected(format!("stored project {} has an invalid {what}", r.id));
    Ok(Project {
        id: ProjectId::from_uuid(r.id),
        tenant_id: TenantId::from_uuid(r.tenant_id),
        name: ProjectName::parse(&r.name).map_err(|_| corrupt("name"))?,
        description: Description::parse(&r.description).map_err(|_| corrupt("description"))?,
        created_at: r.created_at,
        updated_at: r.updated_at,
        deleted_at: r.deleted_at,
        version: r.version,
    })
}

/// `%term%` for LIKE, with the term's own wildcards escaped.
pub(crate) fn contains_pattern(term: &str) -> LikeExpr {
    let escaped = term
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

fn filtered(q: Select<row::Entity>, f: &ProjectFilter) -> Select<row::Entity> {
    let q = if f.deleted {
        q.filter(C::DeletedAt.is_not_null())
    } else {
        q.filter(C::DeletedAt.is_null())
    };
    match &f.search {
        Some(term) => q.filter(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(C::Name)))
                        .like(contains_pattern(term.as_str())),
                )
                .add(
                    Expr::expr(Func::lower(Expr::col(C::Description)))
                        .like(contains_pattern(term.as_str())),
                ),
        ),
        None => q,
    }
}

impl Bound {
    async fn project_row(&self, id: ProjectId, deleted: bool) -> Result<row::Model> {
        let cond = if deleted {
            C::DeletedAt.is_not_null()
        } else {
            C::DeletedAt.is_null()
        };
        self.one(
            self.select::<row::Entity>()
                .and(|q| q.filter(C::Id.eq(id.as_uuid())).filter(cond)),
        )
        .await?
        .ok_or(Error::NotFound(Kind::Project))
    }

    /// After an update that matched no row: was the id unknown, or the version stale?
    async fn explain_miss(&self, id: ProjectId) -> Error {
        match self.project_row(id, false).await {
            Ok(current) => Error::conflict(
                "expectedVersion",
                format!(
                    "the project was changed meanwhile; its current version is {}",
                    current.version
                ),
            ),
            Err(e) => e,
        }
    }
}

#[async_trait]
impl ProjectRepository for Bound {
    async fn create_project(
        &self,
        new: &NewProject,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<Project>> {
        let id = ProjectId::generate();
        if let Some(key) = key
            && let Prior::Created(prior) = self
                .claim(SCOPE, key, &new.fingerprint(), id.as_uuid())
                .await?
        {
            return self
                .one(
                    self.select::<row::Entity>()
                        .and(|q| q.filter(C::Id.eq(prior))),
                )
                .await?
                .map_or(Err(Error::NotFound(Kind::Project)), to_domain)
                .map(Created::Replayed);
        }
        let now = crate::now();
        let stored = self
            .insert_returning::<row::Entity, _>(|tenant_id| row::ActiveModel {
                tenant_id: Set(tenant_id),
                id: Set(id.as_uuid()),
                name: Set(new.name.as_str().to_owned()),
                description: Set(new.description.as_str().to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                version: Set(1),
            })
            .await
            .map_err(unexpected)?;
        to_domain(stored).map(Created::New)
    }

    async fn project(&self, id: ProjectId) -> Result<Project> {
        to_domain(self.project_row(id, false).await?)
    }

    async fn projects_by_ids(&self, ids: &[ProjectId]) -> Result<Vec<Project>> {
        let ids: Vec<_> = ids.iter().map(ProjectId::as_uuid).collect();
        self.all(
            self.select::<row::Entity>()
                .and(|q| q.filter(C::Id.is_in(ids)).filter(C::DeletedAt.is_null())),
        )
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
    }

    async fn list_projects(
        &self,
        filter: &ProjectFilter,
        page: &PageQuery<ProjectOrderField>,
    ) -> Result<Page<Project>> {
        let sort = SortColumn {
            column: match page.field {
                ProjectOrderField::CreatedAt => C::CreatedAt,
                ProjectOrderField::UpdatedAt => C::UpdatedAt,
                ProjectOrderField::Name => C::Name,
            },
            nullable: false,
        };
        let rows = self
            .all(
                self.select::<row::Entity>()
                    .and(|q| keyset::apply(filtered(q, filter), sort, C::Id, page)),
            )
            .await?;
        keyset::page(rows, page, to_domain)
    }

    async fn count_projects(&self, filter: &ProjectFilter) -> Result<u64> {
        self.count(self.select::<row::Entity>().and(|q| filtered(q, filter)))
            .await
    }

    async fn update_project(
        &self,
        id: ProjectId,
        patch: &ProjectPatch,
        expected_version: i32,
    ) -> Result<Project> {
        let changed = self
            .exec_update(self.update::<row::Entity>().and(|mut q| {
                if let Some(name) = &patch.name {
                    q = q.col_expr(C::Name, Expr::value(name.as_str()));
                }
                if let Some(d) = &patch.description {
                    q = q.col_expr(C::Description, Expr::value(d.as_str()));
                }
                q.col_expr(C::UpdatedAt, Expr::value(crate::now()))
                    .col_expr(C::Version, Expr::col(C::Version).add(1))
                    .filter(C::Id.eq(id.as_uuid()))
                    .filter(C::Version.eq(expected_version))
                    .filter(C::DeletedAt.is_null())
            }))
            .await?;
        if changed == 0 {
            return Err(self.explain_miss(id).await);
        }
        to_domain(self.project_row(id, false).await?)
    }

    async fn delete_project(&self, id: ProjectId) -> Result<()> {
        let changed = self
            .exec_update(self.update::<row::Entity>().and(|q| {
                let now = crate::now();
                q.col_expr(C::DeletedAt, Expr::value(now))
                    .col_expr(C::UpdatedAt, Expr::value(now))
                    .col_expr(C::Version, Expr::col(C::Version).add(1))
                    .filter(C::Id.eq(id.as_uuid()))
                    .filter(C::DeletedAt.is_null())
            }))
            .await?;
        if changed == 0 {
            Err(Error::NotFound(Kind::Project))
        } else {
            Ok(())
        }
    }

    async fn restore_project(&self, id: ProjectId) -> Result<Project> {
        let changed = self
            .exec_update(self.update::<row::Entity>().and(|q| {
                q.col_expr(
                    C::DeletedAt,
                    Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
                )
                .col_expr(C::UpdatedAt, Expr::value(crate::now()))
                .col_expr(C::Version, Expr::col(C::Version).add(1))
                .filter(C::Id.eq(id.as_uuid()))
                .filter(C::DeletedAt.is_not_null())
            }))
            .await?;
        if changed == 0 {
            return Err(Error::NotFound(Kind::Project));
        }
        to_domain(self.project_row(id, false).await?)
    }
}
