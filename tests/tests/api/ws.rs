//! A graphql-transport-ws client, written from the protocol's description:
//! what a browser's graphql-ws client does, message by message.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Ws {
    socket: Socket,
}

/// What reading from the connection gave.
#[derive(Debug)]
pub enum Read {
    Message(Value),
    Closed(Option<u16>, String),
    Nothing,
}

impl Ws {
    /// Opens `ws://…/graphql` and sends `connection_init` with `payload`.
    pub async fn open(http_base: &str, payload: Value) -> Self {
        let mut ws = Self::connect(http_base).await;
        ws.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        ws
    }

    /// Opens `ws://…/graphql` and sends nothing.
    pub async fn connect(http_base: &str) -> Self {
        let url = format!("{}/graphql", http_base.replacen("http", "ws", 1));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (socket, res) = tokio_tungstenite::connect_async(req)
            .await
            .expect("the WebSocket upgrade");
        assert_eq!(
            res.headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
        Self { socket }
    }

    /// Opens a connection signed in with `token` and waits for the ack.
    pub async fn signed_in(http_base: &str, token: &str) -> Self {
        let mut ws = Self::open(
            http_base,
            json!({ "authorization": format!("Bearer {token}") }),
        )
        .await;
        match ws.read(Duration::from_secs(10)).await {
            Read::Message(m) if m["type"] == "connection_ack" => ws,
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.socket
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    /// Starts a subscription under `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol message (answering pings), a close, or nothing within `wait`.
    pub async fn read(&mut self, wait: Duration) -> Read {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next()).await;
            match next {
                Err(_) => return Read::Nothing,
                Ok(None) => return Read::Closed(None, String::new()),
                Ok(Some(Err(e))) => return Read::Closed(None, e.to_string()),
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Read::Message(v);
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return match frame {
                        Some(CloseFrame { code, reason }) => {
                            Read::Closed(Some(code.into()), reason.to_string())
                        }
                        None => Read::Closed(None, String::new()),
                    };
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// The `payload.data` of the next `next` message of subscription `id`.
    pub async fn next_data(&mut self, id: &str) -> Value {
        match self.read(Duration::from_secs(15)).await {
            Read::Message(m) if m["type"] == "next" && m["id"] == id => {
                assert!(m["payload"].get("errors").is_none(), "{m}");
                m["payload"]["data"].clone()
            }
            other => panic!("expected the next event of {id}, got {other:?}"),
        }
    }
}
