//! [[ r.Names ]], always through [`Bound`]'s tenant-scoped builders.

use super::bound::Bound;
use super::idempotency::Prior;
use super::keyset::{self, SortColumn};
use super::projects::contains_pattern;
use crate::entities::[[ r.name ]]::{self as row, Column as C};
use crate::errors::unexpected;
use async_trait::async_trait;
use domain::error::Entity as Kind;
use domain::ids::[[ r.Name ]]Id;
use domain::page::{Page, PageQuery};
use domain::ports::Created;
use domain::[[ r.name ]]::{
    New[[ r.Name ]], [[ r.Name ]], [[ r.Name ]]Filter, [[ r.Name ]]OrderField, [[ r.Name ]]Patch, [[ r.Name ]]Repository,
};
use domain::values::{IdempotencyKey, [% for f in r.texts %][[ f.value ]], [% endfor %]};
use domain::{Error, Result, TenantId};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, QueryFilter, Select};
use serde_json::{Value, json};

/// Claims of idempotency keys are per resource: a key used for a project may
/// be used again here.
const SCOPE: &str = "[[ r.name ]]";

/// Rows were validated on the way in; a row that no longer parses is corruption.
fn to_domain(r: row::Model) -> Result<[[ r.Name ]]> {
    let corrupt = |what: &str| {
        Error::unexpected(format!("stored [[ r.human ]] {} has an invalid {what}", r.id))
    };
    Ok([[ r.Name ]] {
        id: [[ r.Name ]]Id::from_uuid(r.id),
        tenant_id: TenantId::from_uuid(r.tenant_id),
[% for f in r.fields %]
[% if f.kind == "string" or f.kind == "text" %]
        [[ f.name ]]: [[ f.value ]]::parse(&r.[[ f.name ]]).map_err(|_| corrupt("[[ f.name ]]"))?,
[% else %]
        [[ f.name ]]: r.[[ f.name ]],
[% endif %]
[% endfor %]
        created_at: r.created_at,
        updated_at: r.updated_at,
        version: r.version,
    })
}

/// The `data` of its events (webhook deliveries, subscriptions), spelt as
/// the GraphQL API spells the type.
pub(super) fn [[ r.name ]]_json(x: &[[ r.Name ]]) -> Value {
    json!({
        "id": x.id.to_string(),
[% for f in r.fields %]
[% if f.kind == "string" or f.kind == "text" %]
        "[[ f.camel ]]": x.[[ f.name ]].as_str(),
[% else %]
        "[[ f.camel ]]": x.[[ f.name ]],
[% endif %]
[% endfor %]
        "createdAt": x.created_at.to_rfc3339(),
        "updatedAt": x.updated_at.to_rfc3339(),
        "version": x.version,
    })
}

fn filtered(q: Select<row::Entity>, f: &[[ r.Name ]]Filter) -> Select<row::Entity> {
[% for f in r.bools %]
    let q = match f.[[ f.name ]] {
        Some(v) => q.filter(C::[[ f.Pascal ]].eq(v)),
        None => q,
    };
[% endfor %]
    match &f.search {
        Some(term) => q.filter(
            Condition::any()
[% for f in r.texts %]
                .add(
                    Expr::expr(Func::lower(Expr::col(C::[[ f.Pascal ]])))
                        .like(contains_pattern(term.as_str())),
                )
[% endfor %]
        ),
        None => q,
    }
}

impl Bound {
    async fn [[ r.name ]]_row(&self, id: [[ r.Name ]]Id) -> Result<row::Model> {
        self.one(
            self.select::<row::Entity>()
                .and(|q| q.filter(C::Id.eq(id.as_uuid()))),
        )
        .await?
        .ok_or(Error::NotFound(Kind::[[ r.Name ]]))
    }
}

#[async_trait]
impl [[ r.Name ]]Repository for Bound {
    async fn create_[[ r.name ]](
        &self,
        new: &New[[ r.Name ]],
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<[[ r.Name ]]>> {
        let id = [[ r.Name ]]Id::generate();
        if let Some(key) = key
            && let Prior::Created(prior) = self
                .claim(SCOPE, key, &new.fingerprint(), id.as_uuid())
                .await?
        {
            return to_domain(self.[[ r.name ]]_row([[ r.Name ]]Id::from_uuid(prior)).await?)
                .map(Created::Replayed);
        }
        let now = crate::now();
        let stored = self
            .insert_returning::<row::Entity, _>(|tenant_id| row::ActiveModel {
                tenant_id: Set(tenant_id),
                id: Set(id.as_uuid()),
[% for f in r.fields %]
[% if f.kind == "string" or f.kind == "text" %]
                [[ f.name ]]: Set(new.[[ f.name ]].as_str().to_owned()),
[% else %]
                [[ f.name ]]: Set(new.[[ f.name ]]),
[% endif %]
[% endfor %]
                created_at: Set(now),
                updated_at: Set(now),
                version: Set(1),
            })
            .await
            .map_err(unexpected)?;
        to_domain(stored).map(Created::New)
    }

    async fn [[ r.name ]](&self, id: [[ r.Name ]]Id) -> Result<[[ r.Name ]]> {
        to_domain(self.[[ r.name ]]_row(id).await?)
    }

    async fn list_[[ r.names ]](
        &self,
        filter: &[[ r.Name ]]Filter,
        page: &PageQuery<[[ r.Name ]]OrderField>,
    ) -> Result<Page<[[ r.Name ]]>> {
        let sort = SortColumn {
            column: match page.field {
                [[ r.Name ]]OrderField::CreatedAt => C::CreatedAt,
                [[ r.Name ]]OrderField::UpdatedAt => C::UpdatedAt,
[% for f in r.sortables %]
                [[ r.Name ]]OrderField::[[ f.Pascal ]] => C::[[ f.Pascal ]],
[% endfor %]
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

    async fn count_[[ r.names ]](&self, filter: &[[ r.Name ]]Filter) -> Result<u64> {
        self.count(self.select::<row::Entity>().and(|q| filtered(q, filter)))
            .await
    }

    async fn update_[[ r.name ]](
        &self,
        id: [[ r.Name ]]Id,
        patch: &[[ r.Name ]]Patch,
        expected_version: i32,
    ) -> Result<[[ r.Name ]]> {
        let changed = self
            .exec_update(self.update::<row::Entity>().and(|mut q| {
[% for f in r.fields %]
                if let Some(v) = &patch.[[ f.name ]] {
[% if f.kind == "string" or f.kind == "text" %]
                    q = q.col_expr(C::[[ f.Pascal ]], Expr::value(v.as_str()));
[% else %]
                    q = q.col_expr(C::[[ f.Pascal ]], Expr::value(*v));
[% endif %]
                }
[% endfor %]
                q.col_expr(C::UpdatedAt, Expr::value(crate::now()))
                    .col_expr(C::Version, Expr::col(C::Version).add(1))
                    .filter(C::Id.eq(id.as_uuid()))
                    .filter(C::Version.eq(expected_version))
            }))
            .await?;
        let current = self.[[ r.name ]]_row(id).await?;
        if changed == 0 {
            // The row exists (or `[[ r.name ]]_row` said NOT_FOUND): the version was stale.
            return Err(Error::conflict(
                "expectedVersion",
                format!(
                    "the [[ r.human ]] was changed meanwhile; its current version is {}",
                    current.version
                ),
            ));
        }
        to_domain(current)
    }

    async fn delete_[[ r.name ]](&self, id: [[ r.Name ]]Id) -> Result<()> {
        let gone = self
            .exec_delete(
                self.delete::<row::Entity>()
                    .and(|q| q.filter(C::Id.eq(id.as_uuid()))),
            )
            .await?;
        if gone == 0 {
            Err(Error::NotFound(Kind::[[ r.Name ]]))
        } else {
            Ok(())
        }
    }
}
