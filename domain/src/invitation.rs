//! Invitations to join a tenant: a single-use token sent by email.

use crate::identity::RoleName;
use crate::ids::{TenantId, UserId};
use crate::values::Email;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What became of an invitation's email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailStatus {
    Pending,
    Sent,
    /// Every attempt failed; the invitation stands and can be sent again.
    Failed,
}

impl EmailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailStatus::Pending => "pending",
            EmailStatus::Sent => "sent",
            EmailStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(EmailStatus::Pending),
            "sent" => Some(EmailStatus::Sent),
            "failed" => Some(EmailStatus::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub email: Email,
    pub role: RoleName,
    pub invited_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub email_status: EmailStatus,
    pub email_attempts: i32,
}

/// An email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// What sending an email came to, after the adapter's retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent { attempts: u32 },
    Failed { attempts: u32, reason: String },
}
