//! Users, tenants and memberships: the control plane.

use crate::ids::{SessionId, TenantId, UserId};
use crate::tenancy::Isolation;
use crate::values::{DisplayName, Email, TenantName, TenantSlug};
use chrono::{DateTime, Utc};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: DisplayName,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: TenantName,
    pub isolation: Isolation,
    pub created_at: DateTime<Utc>,
    /// Made by the fixture endpoint (see [`crate::ports::NewTenant::fixture`]).
    pub fixture: bool,
    pub standing: Standing,
    /// When an operator last changed `standing`.
    pub standing_since: Option<DateTime<Utc>>,
    /// When a deleted tenant goes for good.
    pub purge_after: Option<DateTime<Utc>>,
    /// Its plan, own rates and own features.
    pub terms: crate::plan::Terms,
}

/// Whether a tenant may be used. Only operators change it; nothing is
/// deleted by a suspension, and resuming brings everything back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Standing {
    #[default]
    Active,
    /// Members read; every write is refused `TENANT_SUSPENDED`.
    ReadOnly,
    /// Every operation of its members is refused `TENANT_SUSPENDED`, sign-in
    /// included; its sockets close and its webhooks wait.
    Suspended,
    /// Deleted by an owner or an operator, and purged once its grace period
    /// is over; until then an operator can restore it. Its members are
    /// refused `TENANT_DELETED` as a suspended tenant's are.
    Deleted,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::ReadOnly => "read_only",
            Self::Suspended => "suspended",
            Self::Deleted => "deleted",
        }
    }

    /// Whether its members and its background work are served at all
    /// (writes aside).
    pub fn in_service(self) -> bool {
        matches!(self, Self::Active | Self::ReadOnly)
    }

    /// What its members are refused with, when they are refused everything.
    pub fn refusal(self) -> Option<crate::Error> {
        match self {
            Self::Active | Self::ReadOnly => None,
            Self::Suspended => Some(crate::Error::TenantSuspended),
            Self::Deleted => Some(crate::Error::TenantDeleted),
        }
    }
}

impl std::str::FromStr for Standing {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "active" => Ok(Self::Active),
            "read_only" => Ok(Self::ReadOnly),
            "suspended" => Ok(Self::Suspended),
            "deleted" => Ok(Self::Deleted),
            _ => Err(()),
        }
    }
}

/// A role's name within a tenant. The four defaults exist in every tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleName(String);

impl RoleName {
    pub const OWNER: &'static str = "owner";
    pub const ADMIN: &'static str = "admin";
    pub const MEMBER: &'static str = "member";
    pub const VIEWER: &'static str = "viewer";

    pub fn owner() -> Self {
        Self(Self::OWNER.into())
    }
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_builtin(&self) -> bool {
        matches!(
            self.0.as_str(),
            Self::OWNER | Self::ADMIN | Self::MEMBER | Self::VIEWER
        )
    }

    /// A name for a new custom role: 2 to 32 characters of `a-z`, `0-9`, `_`
    /// and `-`, starting with a letter, and not one of the defaults. The
    /// length keeps it from ever reading as a user id (36 characters), with
    /// which it shares Casbin's role graph.
    pub fn parse_custom(raw: &str) -> Result<Self, crate::validate::Invalid> {
        use crate::validate::Invalid;
        let ok_chars = raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !(2..=32).contains(&raw.len())
            || !ok_chars
            || !raw.starts_with(|c: char| c.is_ascii_lowercase())
        {
            return Err(Invalid::new(
                "2 to 32 characters of a-z, 0-9, _ and -, starting with a letter",
            ));
        }
        let name = Self(raw.to_owned());
        if name.is_builtin() {
            return Err(Invalid::new("a default role has this name"));
        }
        Ok(name)
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user's place in a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub isolation: Isolation,
    pub role: RoleName,
    /// The tenant's, read with the membership (and cached with it).
    pub standing: Standing,
    /// The tenant's too, read and cached likewise.
    pub terms: crate::plan::Terms,
}

/// Claims of an access token whose signature, expiry, issuer and audience were
/// verified. Made only by a [`crate::ports::TokenService`] implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub session_id: SessionId,
    pub expires_at: DateTime<Utc>,
    /// Set for a token of an external provider (see [`ExternalSession`]).
    pub external: Option<ExternalSession>,
    /// Set for an operator's impersonation token (RFC 8693 `act`).
    pub actor: Option<Actor>,
}

/// Who really acts with an impersonation token: an operator, acting as the
/// token's user for support (see [`crate::impersonation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub operator: UserId,
    /// Whether mutations are allowed; reads only otherwise.
    pub writes: bool,
}

/// Who an external provider's token names there, and its life: signing out
/// of such a session is recorded against the subject, not a session of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSession {
    pub issuer: String,
    pub subject: String,
    pub issued_at: DateTime<Utc>,
}

/// A freshly issued refresh token: opaque, shown once, stored only as a hash.
#[derive(Clone)]
pub struct RefreshToken(pub String);

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

/// A freshly issued access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in_seconds: i64,
}
