//! Projects, tasks and idempotency keys. Every primary key, foreign key, unique
//! constraint and index leads with `tenant_id` (Citus-style colocation).

use crate::idens::{IdempotencyKeys, Projects, Tasks};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A keyset index: tenant, then the sort column(s), then the id tie-breaker.
fn keyset_index<T: IntoTableRef>(name: &str, table: T, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut ix = Index::create();
    ix.name(name).table(table).if_not_exists();
    for c in cols {
        ix.col(c);
    }
    ix.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Projects::Table)
                .if_not_exists()
                .col(uuid(Projects::TenantId))
                .col(uuid(Projects::Id))
                .col(string_len(Projects::Name, 200))
                .col(text(Projects::Description))
                .col(timestamp_with_time_zone(Projects::CreatedAt))
                .col(timestamp_with_time_zone(Projects::UpdatedAt))
                .col(timestamp_with_time_zone_null(Projects::DeletedAt))
                .col(integer(Projects::Version))
                .primary_key(Index::create().col(Projects::TenantId).col(Projects::Id))
                .to_owned(),
        )
        .await?;
        use Projects as P;
        for (name, col) in [
            ("ix_projects_created", P::CreatedAt),
            ("ix_projects_updated", P::UpdatedAt),
            ("ix_projects_name", P::Name),
        ] {
            m.create_index(keyset_index(
                name,
                P::Table,
                vec![P::TenantId.into_iden(), col.into_iden(), P::Id.into_iden()],
            ))
            .await?;
        }

        m.create_table(
            Table::create()
                .table(Tasks::Table)
                .if_not_exists()
                .col(uuid(Tasks::TenantId))
                .col(uuid(Tasks::Id))
                .col(uuid(Tasks::ProjectId))
                .col(string_len(Tasks::Title, 300))
                .col(text(Tasks::Description))
                .col(string_len(Tasks::Status, 16))
                .col(small_integer(Tasks::Priority))
                .col(uuid_null(Tasks::AssigneeId))
                .col(date_null(Tasks::DueDate))
                .col(timestamp_with_time_zone(Tasks::CreatedAt))
                .col(timestamp_with_time_zone(Tasks::UpdatedAt))
                .col(timestamp_with_time_zone_null(Tasks::DeletedAt))
                .col(integer(Tasks::Version))
                .primary_key(Index::create().col(Tasks::TenantId).col(Tasks::Id))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tasks_project")
                        .from(Tasks::Table, (Tasks::TenantId, Tasks::ProjectId))
                        .to(Projects::Table, (Projects::TenantId, Projects::Id))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        use Tasks as T;
        let ix = |name: &str, cols: Vec<DynIden>| keyset_index(name, T::Table, cols);
        let t = || T::TenantId.into_iden();
        let id = || T::Id.into_iden();
        for stmt in [
            // tasks(filter: {projectId}) ordered by creation: the hot path.
            ix(
                "ix_tasks_project_created",
                vec![
                    t(),
                    T::ProjectId.into_iden(),
                    T::CreatedAt.into_iden(),
                    id(),
                ],
            ),
            ix(
                "ix_tasks_created",
                vec![t(), T::CreatedAt.into_iden(), id()],
            ),
            ix(
                "ix_tasks_updated",
                vec![t(), T::UpdatedAt.into_iden(), id()],
            ),
            ix(
                "ix_tasks_priority",
                vec![t(), T::Priority.into_iden(), id()],
            ),
            ix("ix_tasks_due", vec![t(), T::DueDate.into_iden(), id()]),
            ix("ix_tasks_title", vec![t(), T::Title.into_iden(), id()]),
            ix(
                "ix_tasks_assignee",
                vec![t(), T::AssigneeId.into_iden(), T::CreatedAt.into_iden()],
            ),
        ] {
            m.create_index(stmt).await?;
        }

        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .if_not_exists()
                .col(uuid(IdempotencyKeys::TenantId))
                .col(string_len(IdempotencyKeys::Scope, 32))
                .col(string_len(IdempotencyKeys::Key, 128))
                .col(text(IdempotencyKeys::Fingerprint))
                .col(uuid(IdempotencyKeys::ResourceId))
                .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(IdempotencyKeys::TenantId)
                        .col(IdempotencyKeys::Scope)
                        .col(IdempotencyKeys::Key),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            IdempotencyKeys::Table.into_iden(),
            Tasks::Table.into_iden(),
            Projects::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
