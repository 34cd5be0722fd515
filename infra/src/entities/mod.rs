//! SeaORM entities. They stay in `infra`: the GraphQL types are built from domain types.

pub mod audit_log;
pub mod casbin_rule;
pub mod external_identity;
pub mod idempotency_key;
pub mod invitation;
pub mod job;
pub mod membership;
pub mod operator;
pub mod outbox_event;
pub mod policy_change;
pub mod project;
pub mod refresh_token;
pub mod revocation_replay;
pub mod session;
pub mod task;
pub mod tenant;
pub mod tenant_domain;
pub mod tenant_move;
pub mod tenant_request_count;
pub mod user;
pub mod webhook;
pub mod webhook_delivery;
// generate: entities
