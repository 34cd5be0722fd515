//! What a resolver can know about its request.

use super::error::{ApiError, ApiResult};
use crate::services::Services;
use async_graphql::Context;
use domain::TenantContext;
use domain::authz::Permission;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The caller, attached per request by the HTTP handler after verifying the token.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    Member(TenantContext),
}

/// Permission decisions already made in this request: a list of 100 tasks
/// asks for `Task.assignee` 100 times, and the answer cannot change mid-request.
/// Bit `i` says permission `i` (of [`Permission::ALL`]) was decided, bit `32 + i` allows it.
#[derive(Debug, Default)]
pub struct PermissionMemo(AtomicU64);

// A fork adding resources adds permissions: past 32 the memo needs a wider word.
const _: () = assert!(Permission::ALL.len() <= 32);

impl PermissionMemo {
    pub fn get(&self, p: Permission) -> Option<bool> {
        let (known, allowed) = Self::bits(p);
        let v = self.0.load(Ordering::Relaxed);
        (v & known != 0).then_some(v & allowed != 0)
    }

    pub fn set(&self, p: Permission, allowed: bool) {
        let (known, yes) = Self::bits(p);
        self.0
            .fetch_or(known | if allowed { yes } else { 0 }, Ordering::Relaxed);
    }

    fn bits(p: Permission) -> (u64, u64) {
        let i = Permission::ALL.iter().position(|q| *q == p).unwrap_or(0);
        (1 << i, 1 << (32 + i))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_keeps_each_decision_apart() {
        let m = PermissionMemo::default();
        assert_eq!(m.get(Permission::TaskRead), None);
        m.set(Permission::TaskRead, true);
        m.set(Permission::TenantManage, false);
        assert_eq!(m.get(Permission::TaskRead), Some(true));
        assert_eq!(m.get(Permission::TenantManage), Some(false));
        assert_eq!(m.get(Permission::TaskWrite), None);
    }
}

/// The tenant the request's host names, when a host rule applies
/// (`tenancy.base_domain`, custom domains): signing in there signs in to it.
#[derive(Debug, Clone, Default)]
pub struct RequestHost(pub Option<domain::hosts::HostTenant>);
