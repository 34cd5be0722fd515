//! Mapping database errors into domain errors, once.

use domain::Error;
use sea_orm::error::ConnAcquireErr;
use sea_orm::{DbErr, SqlErr};

/// Anything the database reports that the domain has no word for; except
/// a pool with no connection free in time, which is the service being busy:
/// refused `RATE_LIMITED` like any other flood, not an internal error.
pub(crate) fn unexpected(err: DbErr) -> Error {
    match err {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => {
            metrics::counter!("tenantry_limit_refusals_total", "reason" => "db_pool").increment(1);
            Error::RateLimited {
                retry_after_secs: 1,
            }
        }
        err => Error::unexpected(err),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_out_of_connections_is_a_refusal_to_retry() {
        let busy = unexpected(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        assert!(
            matches!(
                busy,
                Error::RateLimited {
                    retry_after_secs: 1
                }
            ),
            "{busy:?}"
        );
        let other = unexpected(DbErr::Custom("boom".into()));
        assert!(matches!(other, Error::Unexpected(_)), "{other:?}");
    }
}
