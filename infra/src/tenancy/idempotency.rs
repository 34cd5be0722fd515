//! Idempotency keys: a retried create returns what the first attempt created.

use super::bound::Bound;
use crate::entities::idempotency_key as key_row;
use crate::errors::unique_as_conflict;
use domain::values::IdempotencyKey;
use domain::{Error, Result};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter};
use uuid::Uuid;

pub(crate) enum Prior {
    /// The key is new: go ahead and create.
    None,
    /// The same input was already handled; this is what it created.
    Created(Uuid),
}

impl Bound {
    /// Looks the key up for this tenant and operation.
    ///
    /// # Errors
    /// `Conflict` on `idempotencyKey` when the key was used with other input.
    pub(crate) async fn prior(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Prior> {
        let found = self
            .one(self.select::<key_row::Entity>().and(|q| {
                q.filter(key_row::Column::Scope.eq(scope))
                    .filter(key_row::Column::Key.eq(key.as_str()))
            }))
            .await?;
        match found {
            None => Ok(Prior::None),
            Some(row) if row.fingerprint == fingerprint => Ok(Prior::Created(row.resource_id)),
            Some(_) => Err(Error::conflict(
                "idempotencyKey",
                "this key was already used with different input",
            )),
        }
    }

    /// Records the key in the same transaction as the row it created.
    pub(crate) async fn remember(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        fingerprint: &str,
        id: Uuid,
    ) -> Result<()> {
        self.insert::<key_row::Entity, _>(|tenant_id| key_row::ActiveModel {
            tenant_id: Set(tenant_id),
            scope: Set(scope.to_owned()),
            key: Set(key.as_str().to_owned()),
            fingerprint: Set(fingerprint.to_owned()),
            resource_id: Set(id),
            created_at: Set(crate::now()),
        })
        .await
        .map_err(|e| {
            unique_as_conflict(
                e,
                "idempotencyKey",
                "a request with this key is in progress; retry it",
            )
        })
    }
}
