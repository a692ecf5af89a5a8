//! Persisted queries through the API: automatic persisted queries (hash, then text once, then
//! hash), the limits still applying to an operation sent by hash, mutations by hash over GET
//! refused, and an allowlist file that runs nothing else.
use serde_json::{json, Value};

use crate::helpers::*;

fn sha256(text: &str) -> String {
    api::persisted::sha256_hex(text)
}

async fn send(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.graphql_url())
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

fn by_hash(hash: &str) -> Value {
    json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } })
}

fn with_text(text: &str, hash: &str) -> Value {
    let mut body = by_hash(hash);
    body["query"] = json!(text);
    body
}

#[tokio::test]
async fn automatic_persisted_queries_learn_a_text_once_and_keep_every_limit() {
    let app = spawn_app().await;
    let text = "query Count { listings(first: 5) { totalCount } }";
    let hash = sha256(text);

    let (status, unknown) = send(&app, by_hash(&hash)).await;
    assert_eq!(status, 200, "{unknown}");
    assert_eq!(top_level_code(&unknown), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound");

    let (status, wrong) = send(&app, with_text(text, &sha256("something else"))).await;
    assert_eq!(
        (status, top_level_code(&wrong)),
        (400, "BAD_REQUEST".to_owned()),
        "{wrong}"
    );

    let (status, learned) = send(&app, with_text(text, &hash)).await;
    assert_eq!(status, 200, "{learned}");
    assert!(
        learned["data"]["listings"]["totalCount"].is_number(),
        "{learned}"
    );
    let (status, again) = send(&app, by_hash(&hash)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["data"], learned["data"]);

    // Over GET too (Apollo's link sends hashed queries with GET when told to).
    let url = format!(
        "{}?extensions={}",
        app.graphql_url(),
        urlencode(&json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string())
    );
    let got: Value = app
        .client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(got["data"], learned["data"], "{got}");

    // An operation over the cost limit is refused when it is registered, as it would be in
    // full: the text is run, not a document that skipped the checks.
    let costly =
        "{ listings(first: 100) { nodes { provider { listings(first: 100) { nodes { id } } } } } }";
    let (status, refused) = send(&app, with_text(costly, &sha256(costly))).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["limit"], "cost",
        "{refused}"
    );
    assert_eq!(refused["data"], Value::Null);
    // Sent again by its hash alone, it is refused the same way.
    let (status, by_hash_refused) = send(&app, by_hash(&sha256(costly))).await;
    assert_eq!(status, 400, "{by_hash_refused}");
    assert_eq!(
        by_hash_refused["errors"][0]["extensions"]["limit"], "cost",
        "{by_hash_refused}"
    );

    // A mutation learned over POST is not run by its hash over GET.
    let mutation = "mutation { logout(input: { refreshToken: \"x\" }) { userErrors { code } } }";
    let m_hash = sha256(mutation);
    let _ = send(&app, with_text(mutation, &m_hash)).await;
    let url = format!(
        "{}?extensions={}",
        app.graphql_url(),
        urlencode(&json!({ "persistedQuery": { "version": 1, "sha256Hash": m_hash } }).to_string())
    );
    let response = app.client.get(url).send().await.expect("get");
    assert_eq!(response.status().as_u16(), 405);
}

#[tokio::test]
async fn an_allowlist_runs_only_its_operations() {
    let dir = tempfile::tempdir().expect("dir");
    let allowed = "query Count { listings(first: 5) { totalCount } }";
    let manifest = json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{ "id": sha256(allowed), "name": "Count", "type": "query", "body": allowed }]
    });
    let path = dir.path().join("allowlist.json");
    std::fs::write(&path, manifest.to_string()).expect("write");
    let app = spawn_app_with(&[
        "--persisted-queries-allowlist",
        path.to_str().expect("path"),
    ])
    .await;

    let (status, by_text) = send(&app, json!({ "query": allowed })).await;
    assert_eq!(status, 200, "{by_text}");
    assert!(by_text["data"]["listings"]["totalCount"].is_number());
    let (status, hashed) = send(&app, by_hash(&sha256(allowed))).await;
    assert_eq!(status, 200, "{hashed}");
    assert_eq!(hashed["data"], by_text["data"]);

    for body in [
        json!({ "query": "{ listings(first: 5) { totalCount } }" }),
        with_text("{ viewer { id } }", &sha256("{ viewer { id } }")),
        by_hash(&sha256("{ viewer { id } }")),
    ] {
        let (status, refused) = send(&app, body.clone()).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert_eq!(top_level_code(&refused), "PERSISTED_QUERY_NOT_ALLOWED");
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The allowlist holds over a websocket as over HTTP: an operation not on it is refused on its
/// id, one on it (by hash too) runs.
#[tokio::test]
async fn the_allowlist_holds_over_websockets() {
    let dir = tempfile::tempdir().expect("dir");
    let allowed = "query Count { listings(first: 5) { totalCount } }";
    let path = dir.path().join("allowlist.json");
    std::fs::write(&path, json!({ sha256(allowed): allowed }).to_string()).expect("write");
    let app = spawn_app_with(&[
        "--persisted-queries-allowlist",
        path.to_str().expect("path"),
    ])
    .await;
    let mut socket = crate::ws_client::WsClient::connect(&app, "graphql-transport-ws").await;
    socket.send(json!({ "type": "connection_init" })).await;
    assert_eq!(socket.next().await["type"], "connection_ack");
    socket
        .send(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ viewer { id } }" } }),
        )
        .await;
    let refused = socket.next().await;
    assert_eq!(
        (refused["id"].as_str(), refused["type"].as_str()),
        (Some("1"), Some("error")),
        "{refused}"
    );
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_ALLOWED"
    );
    socket
        .send(json!({ "id": "2", "type": "subscribe", "payload": by_hash(&sha256(allowed)) }))
        .await;
    let ran = socket.next_data("2").await;
    assert!(ran["data"]["listings"]["totalCount"].is_number(), "{ran}");
}
