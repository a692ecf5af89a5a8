//! Websockets at /graphql: the graphql-transport-ws handshake with and without a token.
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, protocol: &str) -> Socket {
    let mut request = app.ws_url().into_client_request().expect("request");
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
    socket
}

/// The next message: a JSON text frame, or the close frame as {"close": code, "reason": …}.
async fn next(socket: &mut Socket) -> Value {
    let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .expect("a message within 10 s");
    match message {
        Some(Ok(Message::Text(text))) => serde_json::from_str(&text).expect("json"),
        Some(Ok(Message::Close(frame))) => {
            let (code, reason) = frame
                .map(|f| (u16::from(f.code), f.reason.to_string()))
                .unwrap_or((0, String::new()));
            json!({ "close": code, "reason": reason })
        }
        Some(Err(_)) | None => json!({ "close": null }),
        Some(Ok(other)) => json!({ "other": other.to_string() }),
    }
}

async fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .expect("send");
}

#[tokio::test]
async fn a_good_token_in_connection_init_is_acknowledged_and_names_the_viewer() {
    let app = spawn_app().await;
    let user = app.register("ws@example.com", "Wes").await;
    let mut socket = connect(&app, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", user.access_token) } }),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");

    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ viewer { id email } }" } }),
    )
    .await;
    let result = next(&mut socket).await;
    assert_eq!(result["type"], "next", "{result}");
    assert_eq!(result["id"], "1");
    assert_eq!(result["payload"]["data"]["viewer"]["id"], user.id.as_str());
    assert_eq!(
        result["payload"]["data"]["viewer"]["email"],
        "ws@example.com"
    );
    assert_eq!(next(&mut socket).await["type"], "complete");
}

#[tokio::test]
async fn a_bad_token_in_connection_init_closes_the_socket_unauthenticated() {
    let app = spawn_app().await;
    let mut socket = connect(&app, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer not-a-token" } }),
    )
    .await;
    let closed = next(&mut socket).await;
    assert!(closed["close"].is_number(), "{closed}");
    assert!(
        closed["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("UNAUTHENTICATED"),
        "{closed}"
    );
}

#[tokio::test]
async fn no_token_is_an_anonymous_connection() {
    let app = spawn_app().await;
    let mut socket = connect(&app, "graphql-transport-ws").await;
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "a", "type": "subscribe", "payload": { "query": "{ viewer { id } }" } }),
    )
    .await;
    let result = next(&mut socket).await;
    assert_eq!(result["payload"]["data"]["viewer"], Value::Null, "{result}");
}

#[tokio::test]
async fn the_legacy_graphql_ws_protocol_is_spoken_too() {
    let app = spawn_app().await;
    let user = app.register("legacy@example.com", "Leg").await;
    let mut socket = connect(&app, "graphql-ws").await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", user.access_token) } }),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "1", "type": "start", "payload": { "query": "{ viewer { id } }" } }),
    )
    .await;
    let result = next(&mut socket).await;
    assert_eq!(result["type"], "data", "{result}");
    assert_eq!(result["payload"]["data"]["viewer"]["id"], user.id.as_str());
}
