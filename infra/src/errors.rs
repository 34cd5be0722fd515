//! Mapping database errors into domain errors, once.

use domain::Error;
use sea_orm::{DbErr, SqlErr};

/// Anything the database reports that the domain has no word for.
pub(crate) fn unexpected(err: DbErr) -> Error {
    Error::unexpected(err)
}

/// A unique violation becomes a `Conflict` on `field`; anything else is unexpected.
pub(crate) fn unique_as_conflict(err: DbErr, field: &str, message: &str) -> Error {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::conflict(field, message),
        _ => unexpected(err),
    }
}

pub(crate) trait DbResultExt<T> {
    /// `?`-friendly [`unexpected`].
    fn or_unexpected(self) -> Result<T, Error>;
}

impl<T> DbResultExt<T> for Result<T, DbErr> {
    fn or_unexpected(self) -> Result<T, Error> {
        self.map_err(unexpected)
    }
}
