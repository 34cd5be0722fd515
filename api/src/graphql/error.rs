//! The one place domain errors become GraphQL errors with `extensions.code`.
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql converts
//! any `Display` error into a response verbatim, which would leak SQL text. The
//! explicit `From<ApiError>` below is the only conversion.

use async_graphql::{ErrorExtensions, Value};
use domain::Error;
use std::sync::Arc;

pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// An operator suspended the tenant: everything, or writes only.
    pub const TENANT_SUSPENDED: &str = "TENANT_SUSPENDED";
    /// The tenant was deleted and waits out its grace period before it is
    /// purged; an operator can restore it until then.
    pub const TENANT_DELETED: &str = "TENANT_DELETED";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const CONFLICT: &str = "CONFLICT";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// The tenant's plan allows no more of something; `extensions.limit`
    /// says what and `extensions.max` how many.
    pub const LIMIT_REACHED: &str = "LIMIT_REACHED";
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    pub const TIMEOUT: &str = "TIMEOUT";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
    /// Apollo's: a persisted query's hash the server does not know; send the document with it.
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
}

/// A resolver's error. Build it from a [`domain::Error`] with `?`. (An `Arc`
/// because async-graphql clones resolver errors.)
#[derive(Debug, Clone)]
pub struct ApiError(Arc<Error>);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(Arc::new(e))
    }
}

impl ApiError {
    pub fn unauthenticated() -> Self {
        Error::Unauthenticated("sign in first: send `Authorization: Bearer <accessToken>`").into()
    }
    pub fn invalid(field: &str, message: &str) -> Self {
        Error::invalid(field, message).into()
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(ApiError(e): ApiError) -> Self {
        match &*e {
            Error::Invalid(fields) => {
                let message = format!(
                    "invalid input: {}",
                    fields
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                let list: Vec<Value> = fields
                    .iter()
                    .map(|f| {
                        let mut m = async_graphql::indexmap::IndexMap::new();
                        m.insert(
                            async_graphql::Name::new("field"),
                            Value::from(f.field.as_str()),
                        );
                        m.insert(
                            async_graphql::Name::new("message"),
                            Value::from(f.message.as_str()),
                        );
                        Value::Object(m)
                    })
                    .collect();
                async_graphql::Error::new(message).extend_with(|_, ext| {
                    ext.set("code", code::BAD_USER_INPUT);
                    ext.set("fields", Value::List(list));
                })
            }
            Error::NotFound(kind) => async_graphql::Error::new(format!("{kind} not found"))
                .extend_with(|_, ext| ext.set("code", code::NOT_FOUND)),
            Error::Conflict { field, message } => async_graphql::Error::new(message.as_str())
                .extend_with(|_, ext| {
                    ext.set("code", code::CONFLICT);
                    if let Some(f) = &field {
                        ext.set("field", f.as_str());
                    }
                }),
            Error::Unauthenticated(why) => async_graphql::Error::new(*why)
                .extend_with(|_, ext| ext.set("code", code::UNAUTHENTICATED)),
            Error::RateLimited { retry_after_secs } => {
                let secs = *retry_after_secs;
                async_graphql::Error::new(format!("too many attempts; retry in {secs} s"))
                    .extend_with(move |_, ext| {
                        ext.set("code", code::RATE_LIMITED);
                        ext.set("retryAfter", secs);
                    })
            }
            Error::Forbidden => async_graphql::Error::new("you are not allowed to do this")
                .extend_with(|_, ext| ext.set("code", code::FORBIDDEN)),
            Error::TenantSuspended => async_graphql::Error::new(e.to_string())
                .extend_with(|_, ext| ext.set("code", code::TENANT_SUSPENDED)),
            Error::TenantDeleted => async_graphql::Error::new(e.to_string())
                .extend_with(|_, ext| ext.set("code", code::TENANT_DELETED)),
            // Refused like a permission, naming the flag for the client.
            Error::FeatureOff(feature) => {
                let feature = *feature;
                async_graphql::Error::new(e.to_string()).extend_with(move |_, ext| {
                    ext.set("code", code::FORBIDDEN);
                    ext.set("feature", feature);
                })
            }
            Error::LimitReached { limit, max } => {
                let (limit, max) = (*limit, *max);
                metrics::counter!("tenantry_limit_refusals_total", "reason" => format!("plan_{limit}"))
                    .increment(1);
                async_graphql::Error::new(e.to_string()).extend_with(move |_, ext| {
                    ext.set("code", code::LIMIT_REACHED);
                    ext.set("limit", limit);
                    ext.set("max", max);
                })
            }
            Error::Unexpected(cause) => {
                // The cause goes to the log (the request span carries the request id);
                // the client gets a generic message, completed with the id by the handler.
                tracing::error!(error = %cause, source = ?cause, "internal error");
                internal()
            }
        }
    }
}

pub fn internal() -> async_graphql::Error {
    async_graphql::Error::new("internal server error")
        .extend_with(|_, ext| ext.set("code", code::INTERNAL_SERVER_ERROR))
}
