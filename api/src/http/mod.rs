//! The HTTP surface: routes and the middleware stack around them.

mod admin;
pub mod client_ip;
mod fixtures;
mod graphiql;
mod graphql;
mod headers;
mod health;
mod host;
pub mod metrics;
pub mod request_rates;
pub mod subscription_caps;
mod ws;

use crate::config::Settings;
use crate::graphql::AppSchema;
use crate::services::Services;
use axum::http::{HeaderName, Request, StatusCode};
use axum::routing::get;
use axum::{Router, extract::MatchedPath};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    /// The operator schema, at `/admin/graphql`.
    pub admin_schema: crate::graphql::admin::AdminSchema,
    /// Limits every document passes before the engine sees it.
    pub gate: Arc<crate::graphql::cost::Gate>,
    pub documents: Arc<crate::graphql::documents::Documents>,
    /// Every request's rates, per tenant, member and client address.
    pub request_rates: Arc<request_rates::RequestRates>,
    /// Each tenant's operations on this node, until the next flush.
    pub meter: Arc<crate::metering::RequestMeter>,
    /// Subscriptions held on this node, per user and per tenant.
    pub subscription_caps: Arc<subscription_caps::SubscriptionCaps>,
    pub services: Arc<Services>,
    pub platform: infra::platform::Platform,
    pub settings: Arc<Settings>,
}

/// Compares secrets in constant time, so timing does not reveal them.
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// # Errors
/// A CORS origin in configuration that is not a valid header value.
pub fn router(state: AppState) -> anyhow::Result<Router> {
    let body_limit = state.settings.server.body_limit_bytes;
    let timeout = Duration::from_secs(state.settings.server.request_timeout_secs);
    let cors = headers::cors(&state.settings)?;
    let security = headers::security(&state.settings);
    let fixtures_on = state.settings.fixtures_enabled();
    let mut router = Router::new()
        .route("/graphql", get(ws::get).post(graphql::post))
        .route("/admin/graphql", axum::routing::post(admin::post))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if state.settings.metrics.token.is_some() {
        router = router.route("/metrics", get(metrics::render_to_token));
    }
    if fixtures_on {
        let routes = fixtures::routes(state.clone());
        let settings = state.settings.clone();
        router = router.fallback(move |req: axum::extract::Request| async move {
            fixtures::fallback(&settings, routes, req).await
        });
    }
    let mut router = router
        .layer(axum::middleware::from_fn(metrics::track_http))
        .with_state(state)
        .layer(
            // Outermost first: the request id exists before the span that logs it,
            // and the body limit wraps the body however a handler reads it.
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::COOKIE,
                ]))
                .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                        let path = req
                            .extensions()
                            .get::<MatchedPath>()
                            .map_or(req.uri().path(), |p| p.as_str());
                        let request_id = req
                            .extensions()
                            .get::<RequestId>()
                            .and_then(|id| id.header_value().to_str().ok())
                            .unwrap_or("");
                        tracing::info_span!(
                            "request",
                            method = %req.method(),
                            path,
                            request_id,
                            tenant_id = tracing::field::Empty,
                            user_id = tracing::field::Empty,
                            operation = tracing::field::Empty,
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
                .layer(CatchPanicLayer::custom(graphql::panic_response))
                .layer(RequestBodyLimitLayer::new(body_limit))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    timeout,
                )),
        )
        .layer(cors);
    for layer in security {
        router = router.layer(layer);
    }
    Ok(router)
}
