//! Liveness and readiness.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// The process is up. No dependencies are checked: a database outage must not
/// get healthy processes restarted.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready to serve: the database answers, and Redis too when it is configured.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match state.platform.storage().ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            "unreachable"
        }
    };
    let redis = match &state.services.redis {
        None => "not configured",
        Some(conn) => match infra::redis_conn::ping(conn).await {
            Ok(()) => "ok",
            Err(e) => {
                tracing::warn!(error = %e, "readiness: redis unreachable");
                "unreachable"
            }
        },
    };
    let ready = database == "ok" && redis != "unreachable";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // Saturation of the database tenants' pools: a node with no free slot
    // and rejections climbing needs a bigger budget or fewer tenants.
    let pools = state.platform.storage().tenant_pools().map(|p| {
        json!({ "open": p.open, "freeSlots": p.free_slots, "opened": p.opened,
                "retired": p.retired, "rejected": p.rejected })
    });
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": database,
        "redis": redis,
        "tenantPools": pools,
    });
    (status, Json(body))
}
