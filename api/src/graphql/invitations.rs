//! Invitations: invite by email, accept with the emailed token, revoke.

use super::context::{services, tenant};
use super::error::{ApiError, ApiResult};
use super::guard::Guarded;
use super::scalars::parse_id;
use super::types::AuthPayload;
use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use domain::error::Entity;
use domain::invitation::{EmailStatus as DomainStatus, Invitation};

/// Whether the invitation email went out. A failed one leaves the invitation in place.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum EmailStatus {
    Pending,
    Sent,
    Failed,
}

impl From<DomainStatus> for EmailStatus {
    fn from(s: DomainStatus) -> Self {
        match s {
            DomainStatus::Pending => Self::Pending,
            DomainStatus::Sent => Self::Sent,
            DomainStatus::Failed => Self::Failed,
        }
    }
}

pub struct InvitationNode(pub Invitation);

#[Object(name = "Invitation")]
impl InvitationNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn email(&self) -> &str {
        self.0.email.as_str()
    }
    async fn role(&self) -> &str {
        self.0.role.as_str()
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn email_status(&self) -> EmailStatus {
        self.0.email_status.into()
    }
    /// How many times sending the email was tried.
    async fn email_attempts(&self) -> i32 {
        self.0.email_attempts
    }
}

#[derive(InputObject)]
pub struct InviteMemberInput {
    pub email: String,
    /// owner (by owners only), admin, member or viewer.
    pub role: String,
}

#[derive(Default)]
pub struct InvitationQuery;

#[Object]
impl InvitationQuery {
    /// Invitations of the current tenant not yet accepted (owners and admins).
    #[graphql(guard = "Guarded(\"invitations\")")]
    async fn invitations(&self, ctx: &Context<'_>) -> ApiResult<Vec<InvitationNode>> {
        let t = tenant(ctx)?;
        Ok(services(ctx)
            .invitations()
            .pending(t)
            .await?
            .into_iter()
            .map(InvitationNode)
            .collect())
    }
}

#[derive(Default)]
pub struct InvitationMutation;

#[Object]
impl InvitationMutation {
    /// Invites someone by email (owners and admins). The invitation is stored
    /// before the email is sent; `emailStatus` says whether it went out.
    #[graphql(guard = "Guarded(\"inviteMember\")")]
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        input: InviteMemberInput,
    ) -> ApiResult<InvitationNode> {
        let t = tenant(ctx)?;
        Ok(InvitationNode(
            services(ctx)
                .invitations()
                .invite(t, &input.email, &input.role)
                .await?,
        ))
    }

    /// Revokes an invitation not yet accepted (owners and admins; an owner's
    /// invitation by owners only): its token no longer joins anyone.
    #[graphql(guard = "Guarded(\"revokeInvitation\")")]
    async fn revoke_invitation(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let t = tenant(ctx)?;
        let id = parse_id(&id)
            .ok_or_else(|| ApiError::from(domain::Error::NotFound(Entity::Invitation)))?;
        services(ctx).invitations().revoke(t, id).await?;
        Ok(true)
    }

    /// Accepts an invitation with the token from its email and signs in to its
    /// tenant. A new user chooses their password here; an existing user gives theirs.
    #[graphql(guard = "Guarded(\"acceptInvitation\")")]
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: String,
        display_name: Option<String>,
    ) -> ApiResult<AuthPayload> {
        let signed = services(ctx)
            .invitations()
            .accept(&token, &password, display_name.as_deref())
            .await?;
        Ok(signed.into())
    }
}
