//! Tenantry's business rules.
//!
//! Pure by design: no database, web, cache or runtime crate. Adapters in `infra`
//! implement the [`ports`]; the `api` crate composes them.

pub mod access;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod budgets;
pub mod deletion;
pub mod error;
pub mod events;
pub mod external;
pub mod hosts;
pub mod identity;
pub mod ids;
pub mod impersonation;
pub mod invitation;
pub mod lifecycle;
pub mod metering;
pub mod moves;
pub mod operator;
pub mod page;
pub mod plan;
pub mod ports;
pub mod project;
pub mod rates;
mod sessions;
pub mod task;
pub mod tenancy;
pub mod usage;
pub mod validate;
pub mod values;
pub mod webhook;
// generate: domain-modules

pub use error::{Error, FieldError, Result};
pub use ids::{
    DeliveryId, EventId, MoveId, ProjectId, SessionId, TaskId, TenantId, UserId, WebhookId,
};
pub use tenancy::{Isolation, Principal, TenantContext};
