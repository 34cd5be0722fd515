//! Idempotency keys: a retried create returns what the first attempt created.

use super::bound::Bound;
use crate::entities::idempotency_key as key_row;
use crate::errors::DbResultExt;
use domain::values::IdempotencyKey;
use domain::{Error, Result};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter};
use uuid::Uuid;

pub(crate) enum Prior {
    /// The key is now this transaction's: go ahead and create.
    None,
    /// The same input was already handled; this is what it created.
    Created(Uuid),
}

impl Bound {
    /// Claims the key for this tenant and operation, for the resource `id`
    /// about to be created in this transaction: one insert where the key is
    /// new (the common case). A concurrent request with the same key waits
    /// for this transaction, then finds what it created.
    ///
    /// # Errors
    /// `Conflict` on `idempotencyKey` when the key was used with other input.
    pub(crate) async fn claim(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        fingerprint: &str,
        id: Uuid,
    ) -> Result<Prior> {
        let claimed = self
            .insert_new::<key_row::Entity, _>(|tenant_id| key_row::ActiveModel {
                tenant_id: Set(tenant_id),
                scope: Set(scope.to_owned()),
                key: Set(key.as_str().to_owned()),
                fingerprint: Set(fingerprint.to_owned()),
                resource_id: Set(id),
                created_at: Set(crate::now()),
            })
            .await
            .or_unexpected()?;
        if claimed {
            return Ok(Prior::None);
        }
        let found = self
            .one(self.select::<key_row::Entity>().and(|q| {
                q.filter(key_row::Column::Scope.eq(scope))
                    .filter(key_row::Column::Key.eq(key.as_str()))
            }))
            .await?;
        match found {
            Some(row) if row.fingerprint == fingerprint => Ok(Prior::Created(row.resource_id)),
            Some(_) => Err(Error::conflict(
                "idempotencyKey",
                "this key was already used with different input",
            )),
            // Pruned between the two statements: as good as in use.
            None => Err(Error::conflict(
                "idempotencyKey",
                "a request with this key is in progress; retry it",
            )),
        }
    }
}
