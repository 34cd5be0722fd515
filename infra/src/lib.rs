//! Adapters for the domain's ports: SeaORM repositories behind the tenancy
//! binding, the control-plane store, argon2id passwords and JWT access tokens.

pub mod authz;
pub mod db;
mod entities;
mod errors;
pub mod external_identities;
pub mod hosts;
pub mod housekeeping;
pub mod identity;
pub mod jwt;
pub mod lifecycle;
pub mod mailer;
pub mod membership_cache;
pub mod metering;
pub mod moves;
pub mod oidc;
pub mod operators;
pub mod outbox;
pub mod password;
pub mod platform;
mod pool;
pub mod rate_limit;
pub mod realtime;
pub mod redis_conn;
pub mod revocations;
pub mod sessions;
pub mod tenancy;
pub mod terms;
mod users;

/// Now, truncated to microseconds: what PostgreSQL stores, so a timestamp read
/// back equals the one written (keyset cursors depend on it).
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}
