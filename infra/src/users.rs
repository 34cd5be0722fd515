//! Users as stored, back into domain values: the identity store, the access
//! store and the tenant binding's joined pages all read them.

use crate::entities::user;
use domain::identity::User;
use domain::values::{DisplayName, Email};
use domain::{Error, Result, UserId};

/// A stored value that no longer parses: the database was changed behind our back.
pub(crate) fn corrupt(what: &str) -> Error {
    Error::unexpected(format!("stored {what} is invalid"))
}

pub(crate) fn user_to_domain(r: user::Model) -> Result<User> {
    stored_user(r.id, &r.email, &r.display_name, r.created_at)
}

/// A user from its stored columns, wherever they were read (a join brings
/// them without the row's other columns).
pub(crate) fn stored_user(
    id: uuid::Uuid,
    email: &str,
    display_name: &str,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<User> {
    Ok(User {
        id: UserId::from_uuid(id),
        email: Email::parse(email).map_err(|_| corrupt("email"))?,
        display_name: DisplayName::parse(display_name).map_err(|_| corrupt("display name"))?,
        created_at,
    })
}
