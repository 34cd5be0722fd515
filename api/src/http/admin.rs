//! `POST /admin/graphql`: the operator schema. The bearer token is any
//! access token of the operator's (they sign in like anyone); the user it
//! names must be on the operator list, checked on every request, so a
//! revoked operator is refused at once.

use super::AppState;
use super::graphql::{bearer, http_error, is_json, request_id, within};
use crate::graphql::error::{ApiError, code};
use crate::graphql::limits::finish_errors;
use async_graphql::ServerError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use tower_http::request_id::RequestId;

fn refused(e: ApiError, request_id: &str) -> Response {
    let mut err: ServerError = async_graphql::Error::from(e).into_server_error(Default::default());
    finish_errors(std::slice::from_mut(&mut err), request_id);
    Json(async_graphql::Response::from_errors(vec![err])).into_response()
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Option<axum::Extension<RequestId>>,
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
    // One operation a request: operators have no need for batches.
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return http_error(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                &format!("the body is not a GraphQL request: {e}"),
            );
        }
    };
    let operator = match bearer(&headers) {
        Ok(Some(token)) => state.services.operations().authenticate(token).await,
        Ok(None) => Err(domain::Error::Unauthenticated(
            "sign in first: send `Authorization: Bearer <accessToken>`",
        )),
        Err(e) => return refused(e, &request_id),
    };
    let operator = match operator {
        Ok(o) => o,
        Err(e) => return refused(e.into(), &request_id),
    };
    tracing::Span::current().record("user_id", tracing::field::display(operator.user_id));
    let timeout = Duration::from_secs(state.settings.graphql.execution_timeout_secs);
    let mut response = within(timeout, state.admin_schema.execute(request.data(operator))).await;
    finish_errors(&mut response.errors, &request_id);
    Json(response).into_response()
}
