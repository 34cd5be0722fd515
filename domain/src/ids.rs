//! Identifier newtypes, so a tenant id cannot be passed where a project id is expected.
//!
//! Ids are UUIDv7: time-ordered, so inserts stay local in B-tree indexes and an id
//! is a stable tie-breaker for keyset pagination.

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A tenant: the unit of isolation.
    TenantId
);
id_type!(
    /// A global user; belongs to tenants through memberships.
    UserId
);
id_type!(
    /// A sign-in session (the `sid` claim); refresh tokens belong to one.
    SessionId
);
id_type!(ProjectId);
id_type!(TaskId);
id_type!(
    /// An outbox event; receivers use it to drop duplicates (delivery is at least once).
    EventId
);
id_type!(WebhookId);
id_type!(
    /// One event on its way to one webhook.
    DeliveryId
);
id_type!(
    /// A move of a tenant between strategies, run as a job.
    MoveId
);
// generate: ids
