//! Authorization with Casbin: RBAC with domains, the domain being the tenant.
//! See `model.conf` for how default and custom roles are expressed.

pub mod adapter;
pub(crate) mod audit;
pub(crate) mod changes;
pub mod defaults;
pub mod engine;
pub mod store;
mod watch;

pub use engine::{PolicyEngine, Publisher};
pub use store::SqlAccessStore;
