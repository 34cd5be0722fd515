//! Every tenant-plane table, declared once, parents before children.
//!
//! Scoping ([`TenantScoped`]), moves (copy in this order), purges (delete in
//! the reverse order) and exports read this list and nothing else, so a
//! table cannot be moved but not purged, or exported but not moved.
//! `migration::TENANT_TABLES` names the same tables for the migrations'
//! row-level security; a unit test holds the two lists together, and an
//! integration test holds them to the live PostgreSQL catalog (every table
//! with a `tenant_id` column listed, under forced row-level security, with
//! `tenant_id` in each key) and moves, exports and deletes a tenant holding a
//! row in every table. A table a fork adds must be declared here.

use super::bound::{Bound, TenantScoped};
use crate::errors::DbResultExt;
use async_trait::async_trait;
use domain::{Error, Result};
use sea_orm::{ActiveModelTrait, IntoActiveModel};
use std::marker::PhantomData;

/// What an export writes of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Export {
    Rows,
    /// Every row, with these columns blanked (secrets travel no further
    /// than the database).
    Redacting(&'static [&'static str]),
    /// Nothing: rows that only mean something where they are (events in flight).
    Skip,
}

/// One table's share of the lifecycle operations, for this tenant's rows.
#[async_trait]
pub(crate) trait TenantTable: Sync {
    fn name(&self) -> &'static str;
    fn export(&self) -> Export;
    /// Copies `src`'s rows to `dst`; how many, checked against `dst`'s count.
    /// `written` hears of each batch inserted (its row count).
    async fn copy(&self, src: &Bound, dst: &Bound, written: &(dyn Fn(u64) + Sync)) -> Result<u64>;
    /// Deletes the tenant's rows; how many.
    async fn purge(&self, tx: &Bound) -> Result<u64>;
    async fn count(&self, tx: &Bound) -> Result<u64>;
    async fn rows_as_json(&self, tx: &Bound) -> Result<Vec<serde_json::Value>>;
}

struct Table<E, A> {
    export: Export,
    _rows: PhantomData<fn() -> (E, A)>,
}

impl<E, A> Table<E, A> {
    const fn new(export: Export) -> Self {
        Self {
            export,
            _rows: PhantomData,
        }
    }
}

/// Rows per insert when copying: fourteen columns at most, so 1000 rows stay
/// under PostgreSQL's 65535 parameters.
const COPY_BATCH: usize = 1000;

#[async_trait]
impl<E, A> TenantTable for Table<E, A>
where
    E: TenantScoped,
    E::Model: IntoActiveModel<A> + Sync,
    A: ActiveModelTrait<Entity = E> + Send + Sync,
{
    fn name(&self) -> &'static str {
        E::default().table_name()
    }

    fn export(&self) -> Export {
        self.export
    }

    async fn copy(&self, src: &Bound, dst: &Bound, written: &(dyn Fn(u64) + Sync)) -> Result<u64> {
        let rows = src.all(src.select::<E>()).await?;
        let n = rows.len() as u64;
        let mut models: Vec<A> = rows
            .into_iter()
            .map(IntoActiveModel::into_active_model)
            .collect();
        while !models.is_empty() {
            let rest = models.split_off(models.len().min(COPY_BATCH));
            let batch = models.len() as u64;
            dst.insert_many::<E, A>(models).await.or_unexpected()?;
            written(batch);
            models = rest;
        }
        let there = self.count(dst).await?;
        if there != n {
            return Err(Error::unexpected(format!(
                "copied {n} rows of {} but the target holds {there}",
                self.name()
            )));
        }
        Ok(n)
    }

    async fn purge(&self, tx: &Bound) -> Result<u64> {
        tx.exec_delete(tx.delete::<E>()).await
    }

    async fn count(&self, tx: &Bound) -> Result<u64> {
        tx.count(tx.select::<E>()).await
    }

    async fn rows_as_json(&self, tx: &Bound) -> Result<Vec<serde_json::Value>> {
        tx.rows_as_json::<E>().await
    }
}

/// Declares the tenant-plane tables: each entity module names its
/// `tenant_id` column `TenantId`; the order is parents before children.
macro_rules! tenant_data {
    ($($module:ident => $export:expr),+ $(,)?) => {
        $(
            impl TenantScoped for crate::entities::$module::Entity {
                fn tenant_column() -> Self::Column {
                    crate::entities::$module::Column::TenantId
                }
            }
        )+

        /// The tenant-plane tables, parents before children.
        pub(crate) static TABLES: &[&dyn TenantTable] = &[$(
            &Table::<crate::entities::$module::Entity, crate::entities::$module::ActiveModel>::new($export),
        )+];
    };
}

tenant_data! {
    project => Export::Rows,
    task => Export::Rows,
    idempotency_key => Export::Rows,
    invitation => Export::Rows,
    outbox_event => Export::Skip,
    webhook => Export::Redacting(&["secret"]),
    webhook_delivery => Export::Rows,
    // generate: tenant-data
}

#[cfg(test)]
mod tests {
    use super::TABLES;

    #[test]
    fn the_registry_and_the_migrations_name_the_same_tables_in_the_same_order() {
        let here: Vec<_> = TABLES.iter().map(|t| t.name()).collect();
        assert_eq!(here, migration::TENANT_TABLES);
    }
}
