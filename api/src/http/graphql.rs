//! GraphQL over HTTP: JSON bodies on POST, queries only on GET, GraphiQL for browsers.
//!
//! The handler authenticates, then attaches the caller's [`TenantContext`],
//! fresh DataLoaders and the request id to each request: per request, never
//! on the schema, so nothing is shared across tenants.

use super::AppState;
use super::client_ip::{ClientIp, client_ip};
use super::graphiql;
use super::metrics::record_operation;
use crate::graphql::context::{Caller, PermissionMemo, RequestHost};
use crate::graphql::error::{ApiError, code};
use crate::graphql::limits::finish_errors;
use crate::graphql::loaders::Loaders;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, ServerError, Variables};
use axum::Json;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::{Query, State};
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::hosts::HostTenant;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tower_http::request_id::RequestId;
use tracing::Span;

/// A response for errors that happen before GraphQL execution, in the same
/// `{"errors": [...]}` shape clients already parse.
pub(super) fn http_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })),
    )
        .into_response()
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    http_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        code::INTERNAL_SERVER_ERROR,
        "internal server error",
    )
}

pub(super) fn request_id(headers: &HeaderMap, ext: Option<&RequestId>) -> String {
    ext.and_then(|r| r.header_value().to_str().ok())
        .or_else(|| headers.get("x-request-id").and_then(|v| v.to_str().ok()))
        .unwrap_or("")
        .to_owned()
}

/// Only `Authorization: Bearer`; tokens are never read from the query string.
/// `None` without the header.
pub(super) fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Some)
        .ok_or_else(|| {
            ApiError::from(domain::Error::Unauthenticated(
                "use `Authorization: Bearer <accessToken>`",
            ))
        })
}

async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    host: Option<&HostTenant>,
) -> Result<Caller, ApiError> {
    let Some(token) = bearer(headers)? else {
        return Ok(Caller::Anonymous);
    };
    let ctx = state.services.auth().authenticate(token).await?;
    if let Some(host) = host {
        host.admits(&ctx)?;
    }
    let span = Span::current();
    span.record("tenant_id", tracing::field::display(ctx.tenant_id()));
    if let Some(user) = ctx.user_id() {
        span.record("user_id", tracing::field::display(user));
    }
    Ok(Caller::Member(ctx))
}

/// A tenant suspended for writes reads, and is refused every mutation; so
/// is a read-only impersonation.
fn writable(caller: &Caller, request: &mut async_graphql::Request) -> Result<(), ServerError> {
    match caller {
        Caller::Member(ctx)
            if ctx.actor().is_some_and(|a| !a.writes)
                && operation_type(request) == Some(OperationType::Mutation) =>
        {
            let mut e = ServerError::new(
                "this impersonation is read-only; an operator can start one that writes",
                None,
            );
            e.extensions
                .get_or_insert_with(Default::default)
                .set("code", code::FORBIDDEN);
            Err(e)
        }
        Caller::Member(ctx)
            if ctx.read_only() && operation_type(request) == Some(OperationType::Mutation) =>
        {
            Err(
                async_graphql::Error::from(ApiError::from(domain::Error::TenantSuspended))
                    .into_server_error(Default::default()),
            )
        }
        _ => Ok(()),
    }
}

/// A request whose document was found (a persisted query's hash) and
/// parsed, from the cache where it can be; or why not.
type Prepared = (async_graphql::Request, Result<(), ServerError>);

/// Once per request, by the handler that received it.
fn prepare(state: &AppState, mut request: async_graphql::Request) -> Prepared {
    let done = state
        .documents
        .prepare_within(&mut request, state.settings.graphql.max_document_bytes);
    (request, done)
}

/// Runs an execution for at most `timeout`; past it, a `TIMEOUT` error.
/// Dropping a timed-out execution drops its open transaction, which rolls back.
pub(super) async fn within(
    timeout: Duration,
    execution: impl Future<Output = async_graphql::Response>,
) -> async_graphql::Response {
    match tokio::time::timeout(timeout, execution).await {
        Ok(r) => r,
        Err(_) => {
            let mut e = ServerError::new("the request took too long and was stopped", None);
            e.extensions
                .get_or_insert_with(Default::default)
                .set("code", code::TIMEOUT);
            async_graphql::Response::from_errors(vec![e])
        }
    }
}

/// Executes each request of a batch with its own per-request data; `single`
/// answers with one response rather than an array.
async fn execute(
    state: &AppState,
    requests: Vec<Prepared>,
    single: bool,
    caller: Caller,
    client: ClientIp,
    host: RequestHost,
    request_id: &str,
) -> BatchResponse {
    let timeout = Duration::from_secs(state.settings.graphql.execution_timeout_secs);
    let mut responses = Vec::with_capacity(requests.len());
    for (mut request, prepared) in requests {
        // Metered for operators before anything can refuse it (see
        // `crate::metering`): a refused operation is still the tenant's.
        if let Caller::Member(ctx) = &caller {
            state.meter.count(ctx.tenant_id());
        }
        // Parsed already and kept in the request for execution; measured,
        // then charged to its tenant, member or client address.
        let admitted = match prepared
            .and_then(|()| writable(&caller, &mut request))
            .and_then(|()| state.gate.admit(&mut request))
        {
            Ok(figures) => {
                let round_trips = figures.map_or(1, |f| f.round_trips);
                state
                    .request_rates
                    .admit(&caller, client.0, round_trips)
                    .await
            }
            Err(e) => Err(e),
        };
        let operation = request.operation_name.clone();
        // An operator acting as a member: each request is in the tenant's
        // audit log, refused ones too, before it runs, or it does not run.
        let admitted = match &caller {
            Caller::Member(ctx) if ctx.actor().is_some() => {
                let named = operation_label(&mut request);
                let recorded =
                    domain::impersonation::record_request(&*state.services.operators, ctx, &named)
                        .await
                        .map_err(|e| {
                            async_graphql::Error::from(ApiError::from(e))
                                .into_server_error(Default::default())
                        });
                recorded.and(admitted)
            }
            _ => admitted,
        };
        if let Err(mut e) = admitted {
            finish_errors(std::slice::from_mut(&mut e), request_id);
            responses.push(async_graphql::Response::from_errors(vec![e]));
            continue;
        }
        if let Some(op) = &operation {
            Span::current().record("operation", op.as_str());
        }
        if let Caller::Member(ctx) = &caller {
            request = request.data(Loaders::new(&state.services, ctx));
        }
        request = request
            .data(caller.clone())
            .data(client)
            .data(host.clone())
            .data(PermissionMemo::default());
        let start = Instant::now();
        let mut response = within(timeout, state.schema.execute(request)).await;
        finish_errors(&mut response.errors, request_id);
        record_operation(
            operation.as_deref(),
            response.errors.is_empty(),
            start.elapsed().as_secs_f64(),
        );
        responses.push(response);
    }
    if single {
        BatchResponse::Single(responses.pop().expect("one request"))
    } else {
        BatchResponse::Batch(responses)
    }
}

async fn run(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    (requests, single): (Vec<Prepared>, bool),
    request_id: &str,
) -> Response {
    let trusted = &state.settings.server.trusted_proxies;
    let client = ClientIp(client_ip(peer.map(|c| c.0.0.ip()), headers, trusted));
    let host = super::host::host_tenant(state, headers).await;
    let caller = match host {
        Ok(ref host) => caller(state, headers, host.as_ref()).await,
        Err(ref e) => Err(e.clone()),
    };
    let caller = match caller {
        Ok(c) => c,
        Err(e) => {
            let mut err = async_graphql::Error::from(e).into_server_error(Default::default());
            finish_errors(std::slice::from_mut(&mut err), request_id);
            return Json(async_graphql::Response::from_errors(vec![err])).into_response();
        }
    };
    let host = RequestHost(host.unwrap_or_default());
    let response = execute(state, requests, single, caller, client, host, request_id).await;
    let mut http = Json(&response).into_response();
    if let Some(cc) = response.cache_control().value()
        && let Ok(v) = cc.parse()
    {
        http.headers_mut()
            .insert(axum::http::header::CACHE_CONTROL, v);
    }
    if let BatchResponse::Single(r) = &response
        && let Some(secs) = retry_after(r)
    {
        http.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, secs.into());
    }
    http
}

/// A request refused only by a rate or a share: its wait, in seconds, for
/// the `Retry-After` header (the body's `extensions.retryAfter` says the same).
fn retry_after(r: &async_graphql::Response) -> Option<u64> {
    if r.errors.is_empty() || !matches!(r.data, async_graphql::Value::Null) {
        return None;
    }
    r.errors
        .iter()
        .map(|e| {
            let ext = e.extensions.as_ref()?;
            match (ext.get("code"), ext.get("retryAfter")) {
                (Some(async_graphql::Value::String(c)), Some(async_graphql::Value::Number(n)))
                    if c == code::RATE_LIMITED =>
                {
                    n.as_u64()
                }
                _ => None,
            }
        })
        .try_fold(0, |max, secs| secs.map(|s| max.max(s)))
}

pub(super) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false)
}

/// `POST /graphql`: `application/json` only. Form and text bodies are refused,
/// so a cross-site form cannot post a mutation without a CORS preflight.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Option<axum::Extension<RequestId>>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    body: Bytes,
) -> Response {
    let request_id = request_id(&headers, rid.as_deref());
    if !is_json(&headers) {
        return http_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::BAD_USER_INPUT,
            "send the request as JSON with `Content-Type: application/json`",
        );
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return http_error(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                &format!("the body is not a GraphQL request: {e}"),
            );
        }
    };
    if let BatchRequest::Batch(items) = &batch {
        let max = state.settings.graphql.max_batch;
        if items.len() > max || items.is_empty() {
            return http_error(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                &format!("a batch holds 1 to {max} requests"),
            );
        }
    }
    let prepared = match batch {
        BatchRequest::Single(r) => (vec![prepare(&state, r)], true),
        BatchRequest::Batch(rs) => (rs.into_iter().map(|r| prepare(&state, r)).collect(), false),
    };
    run(&state, &headers, peer, prepared, &request_id).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    /// JSON; Apollo's persisted queries send `{"persistedQuery": …}` here
    /// and no `query`.
    extensions: Option<String>,
}
/// The operation a GET request would run, if the document parses and names one.
/// The parsed document stays in the request for execution.
/// The operation's name (given, or the document's one named operation), else
/// its kind: what the audit log says an impersonated request was.
fn operation_label(request: &mut async_graphql::Request) -> String {
    if let Some(name) = &request.operation_name {
        return name.clone();
    }
    let Ok(doc) = request.parsed_query() else {
        return "unparsed".to_owned();
    };
    let mut ops = doc.operations.iter();
    match (ops.next(), ops.next()) {
        (Some((Some(name), _)), None) => name.to_string(),
        (Some((None, op)), None) => match op.node.ty {
            OperationType::Mutation => "mutation".to_owned(),
            OperationType::Subscription => "subscription".to_owned(),
            OperationType::Query => "query".to_owned(),
        },
        _ => "query".to_owned(),
    }
}

pub(super) fn operation_type(request: &mut async_graphql::Request) -> Option<OperationType> {
    let name = request.operation_name.clone();
    let doc = request.parsed_query().ok()?;
    doc.operations
        .iter()
        .find(|(n, _)| name.is_none() || n.map(|n| n.as_str()) == name.as_deref())
        .map(|(_, op)| op.node.ty)
}

/// `GET /graphql`: GraphiQL for a browser, or a query from the URL. Mutations
/// are refused here: a GET must never change anything.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Option<axum::Extension<RequestId>>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Query(params): Query<GetParams>,
) -> Response {
    let extensions = match params
        .extensions
        .as_deref()
        .map(serde_json::from_str::<async_graphql::Extensions>)
        .transpose()
    {
        Ok(e) => e.unwrap_or_default(),
        Err(_) => {
            return http_error(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                "`extensions` is not a JSON object",
            );
        }
    };
    let persisted = extensions.contains_key("persistedQuery");
    let Some(query) = params.query.or_else(|| persisted.then(String::new)) else {
        let wants_html = headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|a| a.contains("text/html") || a.contains("*/*"));
        return if wants_html {
            graphiql::page()
        } else {
            http_error(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                "missing `query` parameter",
            )
        };
    };
    let request_id = request_id(&headers, rid.as_deref());
    let variables = match params
        .variables
        .as_deref()
        .map(serde_json::from_str::<Variables>)
        .transpose()
    {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => {
            return http_error(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                "`variables` is not a JSON object",
            );
        }
    };
    let mut request = async_graphql::Request::new(query).variables(variables);
    request.operation_name = params.operation_name;
    request.extensions = extensions;
    // A persisted query's document is found first, so that its operation
    // is checked too.
    let (mut request, prepared) = prepare(&state, request);
    match operation_type(&mut request) {
        Some(OperationType::Query) | None => {}
        Some(_) => {
            let mut r = http_error(
                StatusCode::METHOD_NOT_ALLOWED,
                code::BAD_USER_INPUT,
                "mutations must be sent with POST",
            );
            r.headers_mut().insert(
                axum::http::header::ALLOW,
                axum::http::HeaderValue::from_static("POST"),
            );
            return r;
        }
    }
    run(
        &state,
        &headers,
        peer,
        (vec![(request, prepared)], true),
        &request_id,
    )
    .await
}
