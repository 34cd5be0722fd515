//! GraphQL subscriptions over WebSocket at `GET /graphql`: the
//! `graphql-transport-ws` protocol of the graphql-ws client (and the older
//! `graphql-ws` one).
//!
//! The client signs in with its `connection_init` payload,
//! `{"authorization": "Bearer <accessToken>"}`, checked like a request's
//! header. Every `subscriptions.session_check_ms` the connection checks that
//! the token still stands; when its session is revoked (or the token expires)
//! the connection is closed with 4403, and the client reconnects with a fresh token.
//! So is a member removed from the tenant, or whose role lost `task:read`.
//! Only subscriptions run over the socket.

use super::AppState;
use super::subscription_caps::{Slot, SubscriptionCaps};
use crate::graphql::AppSchema;
use crate::graphql::context::Caller;
use crate::graphql::cost::Gate;
use crate::graphql::documents::Documents;
use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, WebSocket as GqlWebSocket, WebSocketProtocols, WsMessage,
};
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, ServerError};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{FromRequestParts, Request, State, WebSocketUpgrade};
use axum::handler::Handler;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::SEC_WEBSOCKET_PROTOCOL;
use axum::response::{IntoResponse, Response};
use domain::TenantContext;
use domain::authz::Permission;
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt, future};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The close code for a refused or ended session (graphql-transport-ws "Forbidden").
const FORBIDDEN: u16 = 4403;
/// No `connection_init` in time.
const INIT_TIMEOUT: u16 = 4408;
/// The schema as a socket may use it: subscriptions only. Queries and
/// mutations go over HTTP, where their loaders, timeouts and limits apply.
/// Every document comes from the same parsed-document cache (persisted
/// queries included) and passes the same [`Gate`] as over HTTP.
#[derive(Clone)]
struct SubscriptionsOnly {
    schema: AppSchema,
    gate: Arc<Gate>,
    documents: Arc<Documents>,
    max_document_bytes: usize,
}

impl Executor for SubscriptionsOnly {
    async fn execute(&self, _request: async_graphql::Request) -> async_graphql::Response {
        refused()
    }

    fn execute_stream(
        &self,
        mut request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let prepared = self
            .documents
            .prepare_within(&mut request, self.max_document_bytes);
        if let Err(e) = prepared.and_then(|()| self.gate.admit(&mut request)) {
            return futures::stream::once(async { async_graphql::Response::from_errors(vec![e]) })
                .boxed();
        }
        match super::graphql::operation_type(&mut request) {
            // A document that does not parse gets the schema's own error.
            Some(OperationType::Subscription) | None => {
                Executor::execute_stream(&self.schema, request, session_data)
            }
            Some(_) => futures::stream::once(async { refused() }).boxed(),
        }
    }
}

fn refused() -> async_graphql::Response {
    let mut e = ServerError::new(
        "only subscriptions run over WebSocket; send queries and mutations with POST /graphql",
        None,
    );
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", crate::graphql::error::code::BAD_USER_INPUT);
    async_graphql::Response::from_errors(vec![e])
}

/// The first subprotocol offered that we speak.
fn protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|p| p.trim().parse().ok())
}

/// `GET /graphql`: a WebSocket upgrade for subscriptions, or else GraphiQL
/// and queries in the URL.
pub async fn get(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let Ok(upgrade) = WebSocketUpgrade::from_request_parts(&mut parts, &()).await else {
        return super::graphql::get
            .call(Request::from_parts(parts, body), state)
            .await;
    };
    // A token of another tenant than the host's is refused at connection_init.
    let host = match super::host::host_tenant(&state, &parts.headers).await {
        Ok(host) => host,
        Err(_) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "could not tell this host's tenant; try again",
            )
                .into_response();
        }
    };
    let Some(protocol) = protocol(&parts.headers) else {
        return (
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Protocol must offer graphql-transport-ws (or graphql-ws)",
        )
            .into_response();
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // Clients send small messages: small buffers keep an idle
        // subscriber cheap (the defaults are 128 KiB each way).
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve(state, socket, protocol, host))
}

/// The token of `{"authorization": "Bearer …"}` (any case of the key).
fn bearer(payload: &serde_json::Value) -> Option<String> {
    let value = payload
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))?
        .1
        .as_str()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty()).then(|| token.to_owned())
}

struct Connected;

impl Connected {
    fn new() -> Self {
        metrics::gauge!("tenantry_subscription_connections").increment(1.0);
        Self
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        metrics::gauge!("tenantry_subscription_connections").decrement(1.0);
    }
}

async fn serve(
    state: AppState,
    socket: WebSocket,
    protocol: WebSocketProtocols,
    host: Option<domain::hosts::HostTenant>,
) {
    let _connected = Connected::new();
    let services = state.services.clone();
    // The token and caller, once `connection_init` signed in.
    let token: Arc<OnceLock<(String, TenantContext)>> = Arc::default();
    // This socket's place in the per-user and per-tenant socket counts, held
    // until it closes.
    let place: Arc<OnceLock<Slot>> = Arc::default();
    let init = {
        let services = services.clone();
        let token = token.clone();
        let (caps, place) = (state.subscription_caps.clone(), place.clone());
        move |payload: serde_json::Value| async move {
            let t = bearer(&payload).ok_or_else(|| {
                async_graphql::Error::new(
                    "send {\"authorization\": \"Bearer <accessToken>\"} in connection_init",
                )
            })?;
            let ctx = services
                .auth()
                .authenticate(&t)
                .await
                .map_err(|e| match e {
                    domain::Error::Unauthenticated(why) => async_graphql::Error::new(why),
                    e @ (domain::Error::TenantSuspended | domain::Error::TenantDeleted) => {
                        async_graphql::Error::new(e.to_string())
                    }
                    // Storage trouble: the reason stays in the logs.
                    other => {
                        tracing::warn!(error = %other, "subscription sign-in failed");
                        async_graphql::Error::new("could not sign in now; try again")
                    }
                })?;
            if let Some(host) = &host {
                host.admits(&ctx)
                    .map_err(|e| async_graphql::Error::new(e.to_string()))?;
            }
            // An operator acting as a member: the socket is in the audit log.
            domain::impersonation::record_request(&*services.operators, &ctx, "socket")
                .await
                .map_err(|_| async_graphql::Error::new("could not sign in now; try again"))?;
            let held = caps
                .connect(&ctx)
                .map_err(|(cap, max)| async_graphql::Error::new(cap.message(max)))?;
            let _ = place.set(held);
            let _ = token.set((t, ctx.clone()));
            let mut data = Data::default();
            data.insert(Caller::Member(ctx));
            Ok(data)
        }
    };
    let (mut sink, stream) = socket.split();
    // Subscriptions are counted against the caps as the engine reads them;
    // one past a cap is answered here and never reaches the engine.
    let slots = Slots {
        caps: state.subscription_caps.clone(),
        held: Arc::default(),
        token: token.clone(),
        protocol,
        meter: state.meter.clone(),
    };
    let (refusals, mut refused_rx) = futures::channel::mpsc::unbounded::<String>();
    let input = stream.take_while(|m| future::ready(m.is_ok())).filter_map({
        let slots = slots.clone();
        move |m| {
            future::ready(match m {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                    slots.screen(m.into_data(), &refusals)
                }
                _ => None,
            })
        }
    });
    let mut out = std::pin::pin!(
        GqlWebSocket::new(
            SubscriptionsOnly {
                schema: state.schema.clone(),
                gate: state.gate.clone(),
                documents: state.documents.clone(),
                max_document_bytes: state.settings.graphql.max_document_bytes,
            },
            input,
            protocol
        )
        .on_connection_init(init)
    );
    let every = Duration::from_millis(state.settings.subscriptions.session_check_ms.max(100));
    let mut check = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let engine = state.platform.authorizer();
    let mut changes = engine.changes();
    // The change this socket's member was last checked at.
    let mut checked_at = engine.version();
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut init_deadline = std::pin::pin!(tokio::time::sleep(Duration::from_millis(
        state.settings.subscriptions.init_timeout_ms,
    )));
    loop {
        tokio::select! {
            Some(text) = refused_rx.next() => {
                if sink.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            msg = out.next() => match msg {
                Some(WsMessage::Text(text)) => {
                    slots.sent(&text);
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    // A refused `connection_init` is "Forbidden" in graphql-transport-ws.
                    let code = if token.get().is_none() && code == 1002 { FORBIDDEN } else { code };
                    let _ = sink.send(close(code, &reason)).await;
                    return;
                }
                None => return,
            },
            () = &mut init_deadline, if token.get().is_none() => {
                let _ = sink.send(close(INIT_TIMEOUT, "Connection initialisation timeout")).await;
                return;
            }
            // Now and then, and as soon as this node applies a change of the
            // feed (a suspension, a removal, a role change: within
            // `authz.poll_interval_ms`, at once with Redis).
            periodic = async {
                // Once the engine is gone (shutting down) only the tick is left.
                tokio::select! {
                    _ = check.tick() => true,
                    Ok(()) = changes.changed() => false,
                }
            } => {
                let Some((t, ctx)) = token.get() else { continue };
                // A change of another tenant leaves this socket's member as it
                // was: no lookup (with Redis, a round trip) per socket for it.
                if !periodic && engine.still_fresh(ctx.tenant_id().as_uuid(), checked_at) {
                    continue;
                }
                checked_at = engine.version();
                if let Some((code, why)) = ended(&services, t, ctx).await {
                    let _ = sink.send(close(code, &why)).await;
                    return;
                }
            }
        }
    }
}

/// Why a signed-in socket must close now, if it must: its session, its
/// membership or its tenant's standing ended (the membership lookup is the
/// cache's, which the change feed keeps current), or its role lost
/// `task:read` (the policy is in memory: no query). Storage trouble is not
/// the session's end: look again next time.
async fn ended(
    services: &crate::services::Services,
    token: &str,
    ctx: &TenantContext,
) -> Option<(u16, String)> {
    match services.auth().authenticate(token).await {
        Err(domain::Error::Unauthenticated(why)) => return Some((FORBIDDEN, why.to_owned())),
        Err(e @ (domain::Error::TenantSuspended | domain::Error::TenantDeleted)) => {
            return Some((FORBIDDEN, e.to_string()));
        }
        _ => {}
    }
    // An impersonation ends with its operator's role (storage trouble: look again).
    if let Some(actor) = ctx.actor()
        && let Ok(false) = services.operators.is_operator(actor.operator).await
    {
        return Some((FORBIDDEN, domain::impersonation::OPERATOR_GONE.to_owned()));
    }
    if !services.authorizer.allowed(ctx, Permission::TaskRead).await {
        return Some((FORBIDDEN, "no longer allowed to read tasks".to_owned()));
    }
    None
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// This socket's subscriptions and the slots they hold.
#[derive(Clone)]
struct Slots {
    caps: Arc<SubscriptionCaps>,
    held: Arc<Mutex<HashMap<String, Slot>>>,
    token: Arc<OnceLock<(String, TenantContext)>>,
    protocol: WebSocketProtocols,
    /// Each subscription started counts as one operation of the tenant.
    meter: Arc<crate::metering::RequestMeter>,
}

#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

impl Slots {
    /// A client message on its way to the engine: `None` when it is a
    /// subscription past a cap, whose refusal goes to `refusals` instead.
    fn screen(
        &self,
        data: axum::body::Bytes,
        refusals: &futures::channel::mpsc::UnboundedSender<String>,
    ) -> Option<axum::body::Bytes> {
        // What does not parse is the engine's to answer.
        let Ok(Envelope { kind, id: Some(id) }) = serde_json::from_slice(&data) else {
            return Some(data);
        };
        match kind.as_str() {
            "subscribe" | "start" => {
                // Before sign-in the engine refuses it.
                let Some((_, ctx)) = self.token.get() else {
                    return Some(data);
                };
                // Counted like a request, refused by a cap or not.
                self.meter.count(ctx.tenant_id());
                let mut held = self.held.lock().expect("slots lock");
                // The engine replaces a subscription whose id is reused: it
                // keeps the slot it has.
                if held.contains_key(&id) {
                    return Some(data);
                }
                match self.caps.take(ctx, held.len()) {
                    Ok(slot) => {
                        held.insert(id, slot);
                        Some(data)
                    }
                    Err((cap, max)) => {
                        let _ = refusals.unbounded_send(self.refusal(&id, &cap.message(max)));
                        None
                    }
                }
            }
            "complete" | "stop" => {
                self.held.lock().expect("slots lock").remove(&id);
                Some(data)
            }
            _ => Some(data),
        }
    }

    /// A server message on its way out: a completed subscription gives its slot back.
    fn sent(&self, text: &str) {
        if text.starts_with(r#"{"type":"complete""#)
            && let Ok(Envelope { id: Some(id), .. }) = serde_json::from_str(text)
        {
            self.held.lock().expect("slots lock").remove(&id);
        }
    }

    fn refusal(&self, id: &str, message: &str) -> String {
        let error = serde_json::json!({
            "message": message,
            "extensions": { "code": crate::graphql::error::code::RATE_LIMITED },
        });
        // graphql-transport-ws sends a list of errors; the older protocol one.
        let payload = match self.protocol {
            WebSocketProtocols::GraphQLWS => serde_json::json!([error]),
            WebSocketProtocols::SubscriptionsTransportWS => error,
        };
        serde_json::json!({ "type": "error", "id": id, "payload": payload }).to_string()
    }
}
