//! A raw websocket client for the tests: it sends protocol messages as JSON and reads the
//! server's, including its close frame, so every close code can be asserted.
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct WsClient {
    pub socket: Socket,
}

impl WsClient {
    pub async fn connect(app: &TestApp, protocol: &str) -> WsClient {
        WsClient::connect_url(&app.ws_url(), protocol).await
    }

    pub async fn connect_url(url: &str, protocol: &str) -> WsClient {
        let mut request = url.into_client_request().expect("request");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().expect("header"));
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connects");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol)
        );
        WsClient { socket }
    }

    /// Connects with graphql-transport-ws and completes the handshake with `token`.
    pub async fn authenticated(app: &TestApp, token: &str) -> WsClient {
        let mut client = WsClient::connect(app, "graphql-transport-ws").await;
        client
            .send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }))
            .await;
        let ack = client.next().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        client
    }

    pub async fn send(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("send");
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next message within `wait`: a JSON text frame, the close frame as
    /// {"close": code, "reason": …}, or {"timeout": true}. Keep-alives are skipped.
    pub async fn next_within(&mut self, wait: Duration) -> Value {
        loop {
            let message = match tokio::time::timeout(wait, self.socket.next()).await {
                Ok(message) => message,
                Err(_) => return json!({ "timeout": true }),
            };
            let value = match message {
                Some(Ok(Message::Text(text))) => serde_json::from_str(&text).expect("json"),
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((0, String::new()));
                    json!({ "close": code, "reason": reason })
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Err(_)) | None => json!({ "close": null }),
                Some(Ok(other)) => json!({ "other": other.to_string() }),
            };
            if value["type"] == "ka" {
                continue;
            }
            return value;
        }
    }

    pub async fn next(&mut self) -> Value {
        let value = self.next_within(Duration::from_secs(10)).await;
        assert!(value.get("timeout").is_none(), "no message within 10 s");
        value
    }

    /// The payload of the next `next` message for `id`, skipping server pings.
    pub async fn next_data(&mut self, id: &str) -> Value {
        loop {
            let message = self.next().await;
            if message["type"] == "ping" {
                continue;
            }
            assert_eq!(message["id"], id, "{message}");
            assert_eq!(message["type"], "next", "{message}");
            return message["payload"].clone();
        }
    }

    /// Nothing arrives within `wait` (a quiet period, not a timing assertion on the server).
    pub async fn assert_quiet(&mut self, wait: Duration) {
        let message = self.next_within(wait).await;
        assert_eq!(message, json!({ "timeout": true }), "expected nothing");
    }
}
