//! What a resolver can know about its request.

use super::error::{ApiError, ApiResult};
use crate::services::Services;
use async_graphql::Context;
use domain::TenantContext;
use std::sync::Arc;

/// The caller, attached per request by the HTTP handler after verifying the token.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    Member(TenantContext),
}

/// Page-size limits, from configuration.
#[derive(Clone, Copy, Debug)]
pub struct PageLimits {
    pub max: u64,
    pub default: u64,
}

pub fn services<'a>(ctx: &Context<'a>) -> &'a Arc<Services> {
    ctx.data_unchecked::<Arc<Services>>()
}

pub fn page_limits(ctx: &Context<'_>) -> PageLimits {
    *ctx.data_unchecked::<PageLimits>()
}

/// The caller's tenant binding, or `UNAUTHENTICATED`.
pub fn tenant<'a>(ctx: &Context<'a>) -> ApiResult<&'a TenantContext> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::Member(t)) => Ok(t),
        _ => Err(ApiError::unauthenticated()),
    }
}

/// What a list resolver needs: the services, the caller's tenant binding
/// (or `UNAUTHENTICATED`) and the page-size limits.
pub fn list_context<'a>(
    ctx: &Context<'a>,
) -> ApiResult<(&'a Arc<Services>, &'a TenantContext, PageLimits)> {
    Ok((services(ctx), tenant(ctx)?, page_limits(ctx)))
}
