//! Sign-up, sign-in, tenants and the caller's identity.

use super::context::{RequestHost, services, tenant};
use super::error::{ApiError, ApiResult};
use super::guard::Guarded;
use super::scalars::{Isolation, parse_id};
use super::types::{AuthPayload, MembershipNode, TenantNode, UserNode};
use crate::http::client_ip::ClientIp;
use async_graphql::{Context, ID, InputObject, Object};
use domain::TenantId;
use domain::auth::{SignUpInput as DomainSignUp, TenantInput};
use domain::error::Entity;

#[derive(InputObject)]
pub struct SignUpInput {
    pub email: String,
    /// 10 to 128 characters.
    pub password: String,
    pub display_name: String,
    /// The first tenant, which the new user owns.
    pub tenant_name: String,
    /// 3–63 lower-case letters, digits and hyphens.
    pub tenant_slug: String,
    /// Only the deployment's default is accepted here; `createTenant` may
    /// choose among those the deployment lets users choose.
    pub isolation: Option<Isolation>,
}

#[derive(InputObject)]
pub struct SignInInput {
    pub email: String,
    pub password: String,
    /// The tenant to sign in to; the user's first tenant when absent.
    pub tenant_slug: Option<String>,
}

#[derive(InputObject)]
pub struct CreateTenantInput {
    pub name: String,
    pub slug: String,
    /// Where the tenant's data lives; the deployment's default when absent.
    /// Others only when the deployment lets users choose them
    /// (`tenancy.self_service.isolations`).
    pub isolation: Option<Isolation>,
}

/// What to change about the current tenant; a field left out stays.
#[derive(InputObject)]
pub struct UpdateTenantInput {
    pub name: Option<String>,
    /// Signing in by the old slug stops working at once; tokens and ids stay.
    pub slug: Option<String>,
}

#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The signed-in user.
    #[graphql(guard = "Guarded(\"me\")")]
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<UserNode> {
        let t = tenant(ctx)?;
        let id = t.user_id().ok_or_else(ApiError::unauthenticated)?;
        Ok(UserNode(services(ctx).identity.user(id).await?))
    }

    /// Every tenant the signed-in user belongs to, with their role.
    #[graphql(guard = "Guarded(\"myTenants\")")]
    async fn my_tenants(&self, ctx: &Context<'_>) -> ApiResult<Vec<MembershipNode>> {
        let t = tenant(ctx)?;
        let id = t.user_id().ok_or_else(ApiError::unauthenticated)?;
        let all = services(ctx).identity.memberships_of(id).await?;
        Ok(all.into_iter().map(|(m, t)| MembershipNode(m, t)).collect())
    }

    /// The tenant the access token is for.
    #[graphql(guard = "Guarded(\"tenant\")")]
    async fn tenant(&self, ctx: &Context<'_>) -> ApiResult<TenantNode> {
        let t = tenant(ctx)?;
        Ok(TenantNode(
            services(ctx).identity.tenant(t.tenant_id()).await?,
        ))
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates a user and their first tenant (the user its owner) and signs in to it.
    #[graphql(guard = "Guarded(\"signUp\")")]
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> ApiResult<AuthPayload> {
        let input = DomainSignUp {
            email: input.email,
            password: input.password,
            display_name: input.display_name,
            tenant_name: input.tenant_name,
            tenant_slug: input.tenant_slug,
            isolation: input.isolation.map(Into::into),
        };
        let client = ctx.data_opt::<ClientIp>().and_then(|c| c.0);
        Ok(services(ctx).auth().sign_up(input, client).await?.into())
    }

    /// Signs in. Every failure answers the same `UNAUTHENTICATED`, whichever part was wrong.
    #[graphql(guard = "Guarded(\"signIn\")")]
    async fn sign_in(&self, ctx: &Context<'_>, input: SignInInput) -> ApiResult<AuthPayload> {
        // On a tenant's host, signing in is signing in to that tenant.
        let host = ctx.data_opt::<RequestHost>().and_then(|h| h.0.as_ref());
        let slug = match (host, input.tenant_slug.as_deref()) {
            (Some(h), Some(asked)) if asked != h.slug.as_str() => {
                return Err(domain::Error::Unauthenticated(
                    "this host is another tenant's: sign in to a tenant on its own host",
                )
                .into());
            }
            (Some(h), _) => Some(h.slug.as_str()),
            (None, asked) => asked,
        };
        let signed = services(ctx)
            .auth()
            .sign_in(
                &input.email,
                &input.password,
                slug,
                ctx.data_opt::<ClientIp>().and_then(|c| c.0),
            )
            .await?;
        Ok(signed.into())
    }

    /// Exchanges a refresh token for new tokens. The presented token is used
    /// up; presenting it again ends the whole session (theft detection).
    #[graphql(guard = "Guarded(\"refreshSession\")")]
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> ApiResult<AuthPayload> {
        Ok(services(ctx).auth().refresh(&refresh_token).await?.into())
    }

    /// Ends the current session at once (its access token is refused from the
    /// next request), or every session of the caller with `allSessions: true`.
    #[graphql(guard = "Guarded(\"signOut\")")]
    async fn sign_out(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] all_sessions: bool,
    ) -> ApiResult<bool> {
        let t = tenant(ctx)?;
        services(ctx).auth().sign_out(t, all_sessions).await?;
        Ok(true)
    }

    /// Changes the caller's password; every other session of theirs ends.
    #[graphql(guard = "Guarded(\"changePassword\")")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> ApiResult<bool> {
        let t = tenant(ctx)?;
        services(ctx)
            .auth()
            .change_password(t, &current_password, &new_password)
            .await?;
        Ok(true)
    }

    /// Issues a token for another tenant the caller belongs to.
    #[graphql(guard = "Guarded(\"switchTenant\")")]
    async fn switch_tenant(&self, ctx: &Context<'_>, tenant_id: ID) -> ApiResult<AuthPayload> {
        let t = tenant(ctx)?;
        let target: TenantId =
            parse_id(&tenant_id).ok_or(ApiError::from(domain::Error::NotFound(Entity::Tenant)))?;
        Ok(services(ctx).auth().switch_tenant(t, target).await?.into())
    }

    /// Renames the current tenant and/or changes its slug (owners).
    #[graphql(guard = "Guarded(\"updateTenant\")")]
    async fn update_tenant(
        &self,
        ctx: &Context<'_>,
        input: UpdateTenantInput,
    ) -> ApiResult<TenantNode> {
        let tenant = services(ctx)
            .auth()
            .update_tenant(tenant(ctx)?, input.name.as_deref(), input.slug.as_deref())
            .await?;
        Ok(TenantNode(tenant))
    }

    /// Deletes the current tenant (owners), naming its slug to confirm. Its
    /// members, this caller included, are refused `TENANT_DELETED` from the
    /// next request, on every server; the operators can restore it until it
    /// is purged with everything it holds, at the time returned
    /// (`tenancy.deletion_grace_secs` later: 30 days by default).
    #[graphql(guard = "Guarded(\"deleteTenant\")")]
    async fn delete_tenant(
        &self,
        ctx: &Context<'_>,
        confirm_slug: String,
    ) -> ApiResult<chrono::DateTime<chrono::Utc>> {
        Ok(services(ctx)
            .deletions()
            .by_owner(tenant(ctx)?, &confirm_slug)
            .await?)
    }

    /// Creates a tenant owned by the caller. Use `switchTenant` to work in it.
    #[graphql(guard = "Guarded(\"createTenant\")")]
    async fn create_tenant(
        &self,
        ctx: &Context<'_>,
        input: CreateTenantInput,
    ) -> ApiResult<TenantNode> {
        let t = tenant(ctx)?;
        let owner = t.user_id().ok_or_else(ApiError::unauthenticated)?;
        let tenant = services(ctx)
            .auth()
            .create_tenant(
                owner,
                TenantInput {
                    name: input.name,
                    slug: input.slug,
                    isolation: input.isolation.map(Into::into),
                },
            )
            .await?;
        Ok(TenantNode(tenant))
    }
}
