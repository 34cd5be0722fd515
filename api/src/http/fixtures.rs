//! `POST /_fixtures/tenants`, `DELETE /_fixtures/tenants/{id}`: fresh tenants
//! with data for end-to-end suites. Mounted only when `FIXTURES_SECRET` is set
//! outside production, and then as the router's fallback behind the secret:
//! no route names `/_fixtures`, so a request without the secret, whatever its
//! method, gets the very 404 an unknown path gets (and counts as unmatched in
//! the metrics). Only tenants made here can be deleted here.

use super::AppState;
use crate::config::Settings;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use domain::TenantId;
use secrecy::ExposeSecret;
use seed::fixtures::{CustomRoleSpec, Fixture, FixtureSpec, Fixtures};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    /// The deployment's default when absent.
    isolation: Option<String>,
    #[serde(default)]
    users: Vec<UserBody>,
    /// Custom roles to make first; users may then hold them.
    #[serde(default)]
    roles: Vec<RoleBody>,
    #[serde(default)]
    projects: usize,
    #[serde(default)]
    tasks_per_project: usize,
    seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    name: String,
    permissions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    role: String,
}

fn authorised(settings: &Settings, headers: &HeaderMap) -> bool {
    let Some(secret) = &settings.fixtures.secret else {
        return false;
    };
    headers.get("x-fixtures-secret").is_some_and(|given| {
        super::same_secret(given.as_bytes(), secret.expose_secret().as_bytes())
    })
}

/// The fixture routes, reached only through [`fallback`].
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/_fixtures/tenants", post(create))
        .route("/_fixtures/tenants/{id}", delete(remove))
        .with_state(state)
}

/// The outer router's fallback: an authorised request under `/_fixtures/`
/// goes on to `routes`; anything else gets what an unknown path gets.
pub async fn fallback(settings: &Settings, routes: Router, req: Request) -> Response {
    if !req.uri().path().starts_with("/_fixtures/") || !authorised(settings, req.headers()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match routes.oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    }
}

fn bad_request(message: String, fields: serde_json::Value) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message, "fields": fields })),
    )
        .into_response()
}

fn body_of(f: &Fixture) -> serde_json::Value {
    json!({
        "tenant": { "id": f.tenant.id.to_string(), "slug": f.tenant.slug.as_str(), "isolation": f.tenant.isolation.as_str() },
        "users": f.users.iter().map(|u| json!({
            "id": u.id.to_string(), "email": u.email, "password": u.password, "role": u.role,
            "accessToken": u.access_token, "refreshToken": u.refresh_token,
        })).collect::<Vec<_>>(),
        "projects": f.projects.iter().map(|p| json!({
            "id": p.id.to_string(), "name": p.name,
            "taskIds": p.task_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

async fn create(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let body: CreateBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(format!("the body is not a fixture request: {e}"), json!([])),
    };
    let isolation = match body
        .isolation
        .map_or(Ok(state.settings.tenancy.default_isolation), |i| i.parse())
    {
        Ok(i) => i,
        Err(e) => {
            return bad_request(
                e,
                json!([{ "field": "isolation", "message": "row, schema or database" }]),
            );
        }
    };
    let mut roles: Vec<String> = body.users.into_iter().map(|u| u.role).collect();
    if roles.is_empty() {
        roles.push("owner".into());
    }
    let spec = FixtureSpec {
        isolation,
        roles,
        custom_roles: body
            .roles
            .into_iter()
            .map(|r| CustomRoleSpec {
                name: r.name,
                permissions: r.permissions,
            })
            .collect(),
        projects: body.projects,
        tasks_per_project: body.tasks_per_project,
        seed: body.seed,
    };
    let tenancy = state.platform.tenancy();
    let fixtures = Fixtures {
        auth: state.services.auth(),
        access: &*state.services.access,
        tenancy: &tenancy,
    };
    match fixtures.create(&spec).await {
        Ok(f) => (StatusCode::CREATED, Json(body_of(&f))).into_response(),
        Err(domain::Error::Invalid(fields)) => bad_request(
            "invalid fixture request".into(),
            fields
                .iter()
                .map(|f| json!({ "field": f.field, "message": f.message }))
                .collect(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "creating a fixture failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "internal server error" })),
            )
                .into_response()
        }
    }
}

async fn remove(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<TenantId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let tenancy = state.platform.tenancy();
    let fixtures = Fixtures {
        auth: state.services.auth(),
        access: &*state.services.access,
        tenancy: &tenancy,
    };
    match fixtures.delete(id).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "deleting a fixture failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "internal server error" })),
            )
                .into_response()
        }
    }
}
