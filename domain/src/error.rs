//! The domain's error type. The `api` crate maps each variant to a GraphQL
//! error code in one place; adapters map their own failures into it.

use std::fmt;

/// One invalid input value: which field, and why, in words fit for an end user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The kinds of entity an error can name (`NOT_FOUND` says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Tenant,
    User,
    Project,
    Task,
    Membership,
    Role,
    Webhook,
    Delivery,
    Invitation,
    // generate: entities
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Tenant => "tenant",
            Entity::User => "user",
            Entity::Project => "project",
            Entity::Task => "task",
            Entity::Membership => "membership",
            Entity::Role => "role",
            Entity::Webhook => "webhook",
            Entity::Delivery => "delivery",
            Entity::Invitation => "invitation",
            // generate: entity-names
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input failed validation; nothing was written.
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The object does not exist in the caller's tenant (or at all: callers
    /// cannot tell the two apart, by design).
    #[error("{0} not found")]
    NotFound(Entity),
    /// A uniqueness rule or an optimistic-concurrency check failed.
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    /// No valid credentials: missing, expired or unknown token, or bad password.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Too many attempts; try again after this many seconds.
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Authenticated, but not allowed to do this in this tenant.
    #[error("forbidden")]
    Forbidden,
    /// An operator suspended the tenant (for writes only, or for everything).
    #[error("this tenant is suspended; its owners can ask the operators why")]
    TenantSuspended,
    /// The tenant was deleted; it is purged when its grace period ends.
    #[error("this tenant was deleted; until it is purged, the operators can restore it")]
    TenantDeleted,
    /// The tenant's plan allows no more of this (see [`crate::plan`]).
    #[error(
        "your tenant's plan allows at most {max} {limit}; delete some or ask for a larger plan"
    )]
    LimitReached { limit: &'static str, max: u32 },
    /// The tenant does not have this feature flag (its plan's or its own).
    #[error("your tenant's plan does not include {0}")]
    FeatureOff(&'static str),
    /// Anything else: a bug or an infrastructure failure. Never shown to clients.
    #[error("unexpected error: {0}")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Conflict {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn unexpected(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Unexpected(err.into())
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::Invalid(vec![e])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
