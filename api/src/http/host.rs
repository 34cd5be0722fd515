//! The tenant a request's `Host` names (see `domain::hosts`). Proxies must
//! pass the client's `Host` through (nginx: `proxy_set_header Host $host`).

use super::AppState;
use crate::graphql::error::ApiError;
use axum::http::HeaderMap;
use axum::http::header::HOST;
use domain::hosts::{HostTenant, Hostname};

/// The tenant the request's host names; `None` when no host rule applies.
///
/// # Errors
/// When the control plane cannot be read: the token alone must not decide
/// on a host that might belong to another tenant.
pub(super) async fn host_tenant(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<HostTenant>, ApiError> {
    let Some(host) = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(Hostname::from_header)
    else {
        return Ok(None);
    };
    Ok(state.services.hosts.tenant(&host).await?)
}
