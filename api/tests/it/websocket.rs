//! Websockets at /graphql: the handshake with and without a token, both subprotocols, every
//! close code of DESIGN §8 from a raw client, the operation limit and the server's pings.
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ws_client::WsClient;

const MY_EVENTS: &str = "subscription { myOrderEvents { id toStatus } }";

#[tokio::test]
async fn a_good_token_in_connection_init_is_acknowledged_and_names_the_viewer() {
    let app = spawn_app().await;
    let user = app.register("ws@example.com", "Wes").await;
    let mut ws = WsClient::authenticated(&app, &user.access_token).await;
    ws.subscribe("1", "{ viewer { id email } }", json!({}))
        .await;
    let result = ws.next_data("1").await;
    assert_eq!(result["data"]["viewer"]["id"], user.id.as_str());
    assert_eq!(result["data"]["viewer"]["email"], "ws@example.com");
    assert_eq!(ws.next().await, json!({ "id": "1", "type": "complete" }));
}

#[tokio::test]
async fn a_bad_token_in_connection_init_closes_4403() {
    let app = spawn_app().await;
    let mut ws = WsClient::connect(&app, "graphql-transport-ws").await;
    ws.send(
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer not-a-token" } }),
    )
    .await;
    let closed = ws.next().await;
    assert_eq!(closed["close"], 4403, "{closed}");
    assert!(
        closed["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("UNAUTHENTICATED"),
        "{closed}"
    );
}

#[tokio::test]
async fn an_expired_token_closes_4403_too() {
    let app = spawn_app_with(&["--access-token-ttl-secs", "1"]).await;
    let user = app.register("exp@example.com", "Exp").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut ws = WsClient::connect(&app, "graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", user.access_token) } }))
        .await;
    assert_eq!(ws.next().await["close"], 4403);
}

#[tokio::test]
async fn no_connection_init_within_3_seconds_closes_4408() {
    let app = spawn_app().await;
    let mut ws = WsClient::connect(&app, "graphql-transport-ws").await;
    let closed = ws.next_within(Duration::from_secs(6)).await;
    assert_eq!(closed["close"], 4408, "{closed}");
}

#[tokio::test]
async fn a_second_connection_init_closes_4429() {
    let app = spawn_app().await;
    let mut ws = WsClient::connect(&app, "graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.next().await["type"], "connection_ack");
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.next().await["close"], 4429);
}

#[tokio::test]
async fn subscribe_before_the_ack_closes_4401() {
    let app = spawn_app().await;
    let mut ws = WsClient::connect(&app, "graphql-transport-ws").await;
    ws.subscribe("1", "{ viewer { id } }", json!({})).await;
    assert_eq!(ws.next().await["close"], 4401);
}

#[tokio::test]
async fn a_duplicate_subscription_id_closes_4409() {
    let app = spawn_app().await;
    let user = app.register("dup@example.com", "Dup").await;
    let mut ws = WsClient::authenticated(&app, &user.access_token).await;
    ws.subscribe("same", MY_EVENTS, json!({})).await;
    ws.subscribe("same", MY_EVENTS, json!({})).await;
    let closed = ws.next().await;
    assert_eq!(closed["close"], 4409, "{closed}");
}

#[tokio::test]
async fn unreadable_messages_close_4400() {
    let app = spawn_app().await;
    for bad in [
        "not json",
        r#"{"no":"type"}"#,
        r#"{"type":"no_such_type"}"#,
        r#"{"type":"subscribe","payload":{"query":"{ viewer { id } }"}}"#,
    ] {
        let mut ws = WsClient::connect(&app, "graphql-transport-ws").await;
        ws.send(json!({ "type": "connection_init" })).await;
        assert_eq!(ws.next().await["type"], "connection_ack");
        ws.send_text(bad).await;
        let closed = ws.next().await;
        assert_eq!(closed["close"], 4400, "{bad}: {closed}");
    }
}

#[tokio::test]
async fn the_21st_operation_is_refused_on_its_id_and_the_connection_stays() {
    let app = spawn_app().await;
    let user = app.register("many@example.com", "Many").await;
    let mut ws = WsClient::authenticated(&app, &user.access_token).await;
    for n in 1..=20 {
        ws.subscribe(&n.to_string(), MY_EVENTS, json!({})).await;
    }
    ws.subscribe("21", MY_EVENTS, json!({})).await;
    let refused = ws.next().await;
    assert_eq!(refused["id"], "21", "{refused}");
    assert_eq!(refused["type"], "error");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    // Still open: a ping is answered, and freeing one slot lets a new operation run.
    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(ws.next().await["type"], "pong");
    ws.send(json!({ "id": "1", "type": "complete" })).await;
    ws.subscribe("q", "{ viewer { id } }", json!({})).await;
    assert_eq!(
        ws.next_data("q").await["data"]["viewer"]["id"],
        user.id.as_str()
    );
}

#[tokio::test]
async fn the_server_pings_on_its_interval() {
    let app = spawn_app_with(&["--ws-ping-secs", "1"]).await;
    let mut ws = WsClient::connect(&app, "graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.next().await["type"], "connection_ack");
    let ping = ws.next_within(Duration::from_secs(5)).await;
    assert_eq!(ping, json!({ "type": "ping" }));
}

#[tokio::test]
async fn no_token_is_an_anonymous_connection_and_subscriptions_refuse_it() {
    let app = spawn_app().await;
    let mut ws = WsClient::connect(&app, "graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.next().await["type"], "connection_ack");
    ws.subscribe("a", "{ viewer { id } }", json!({})).await;
    assert_eq!(ws.next_data("a").await["data"]["viewer"], Value::Null);
    assert_eq!(ws.next().await["type"], "complete");
    ws.subscribe("b", MY_EVENTS, json!({})).await;
    let refused = ws.next_data("b").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );
}

#[tokio::test]
async fn the_legacy_graphql_ws_protocol_is_spoken_too() {
    let app = spawn_app().await;
    let user = app.register("legacy@example.com", "Leg").await;
    let mut ws = WsClient::connect(&app, "graphql-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", user.access_token) } }))
        .await;
    assert_eq!(ws.next().await["type"], "connection_ack");
    ws.send(json!({ "id": "1", "type": "start", "payload": { "query": "{ viewer { id } }" } }))
        .await;
    let result = ws.next().await;
    assert_eq!(result["type"], "data", "{result}");
    assert_eq!(result["payload"]["data"]["viewer"]["id"], user.id.as_str());
    assert_eq!(ws.next().await["type"], "complete");
}
