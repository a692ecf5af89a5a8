//! The HTTP surface: health, GraphiQL, GET queries, limits, request ids, node lookups.
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn liveness_and_readiness_answer() {
    let app = spawn_app().await;
    let live = app
        .client
        .get(format!("{}/health/live", app.addr))
        .send()
        .await
        .expect("live");
    assert_eq!(live.status().as_u16(), 200);
    let ready = app
        .client
        .get(format!("{}/health/ready", app.addr))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status().as_u16(), 200);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn graphiql_is_served_to_browsers_and_wired_for_subscriptions() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.graphql_url())
        .header("accept", "text/html")
        .send()
        .await
        .expect("graphiql");
    assert_eq!(response.status().as_u16(), 200);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html")));
    let html = response.text().await.expect("html");
    assert!(html.contains("graphiql"), "not GraphiQL");
    assert!(html.contains("/graphql"));
    assert!(
        html.to_lowercase().contains("subscription"),
        "no subscription endpoint"
    );
    // Everything the page loads comes from the API itself: no CDN.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    for (file, kind) in [
        ("graphiql.min.js", "text/javascript"),
        ("graphiql.min.css", "text/css"),
        ("react.production.min.js", "text/javascript"),
        ("react-dom.production.min.js", "text/javascript"),
        ("boot.js", "text/javascript"),
    ] {
        assert!(
            html.contains(&format!("/graphiql/{file}")),
            "{file} in the page"
        );
        let asset = app
            .client
            .get(format!("{}/graphiql/{file}", app.addr))
            .send()
            .await
            .expect("asset");
        assert_eq!(asset.status().as_u16(), 200, "{file}");
        let content_type = asset
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(content_type.starts_with(kind), "{file}: {content_type}");
        assert!(asset.bytes().await.expect("body").len() > 100, "{file}");
    }
    let missing = app
        .client
        .get(format!("{}/graphiql/../Cargo.toml", app.addr))
        .send()
        .await
        .expect("missing");
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test]
async fn graphiql_can_be_switched_off() {
    let app = spawn_app_with(&["--graphiql", "false"]).await;
    let response = app.client.get(app.graphql_url()).send().await.expect("get");
    assert_eq!(response.status().as_u16(), 404);
    let asset = app
        .client
        .get(format!("{}/graphiql/graphiql.min.js", app.addr))
        .send()
        .await
        .expect("asset");
    assert_eq!(asset.status().as_u16(), 404);
}

#[tokio::test]
async fn a_query_over_get_runs_and_a_mutation_over_get_is_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.graphql_url())
        .query(&[("query", "{ viewer { id } }")])
        .send()
        .await
        .expect("get query");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"], json!({ "viewer": null }));

    let response = app
        .client
        .get(app.graphql_url())
        .query(&[(
            "query",
            "mutation { logout(input: { refreshToken: \"x\" }) { ok } }",
        )])
        .send()
        .await
        .expect("get mutation");
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("POST")
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.graphql_url())
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .expect("post");
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id");
    assert_eq!(id.len(), 36, "{id}");

    // A client-chosen id is kept.
    let response = app
        .client
        .post(app.graphql_url())
        .header("x-request-id", "client-chosen-1")
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .expect("post");
    assert_eq!(
        response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("client-chosen-1")
    );
}

#[tokio::test]
async fn the_body_limit_holds_at_the_limit_and_one_past_it() {
    let app = spawn_app_with(&["--max-body-bytes", "4096"]).await;
    let envelope = json!({ "query": "{ viewer { id } }", "variables": { "pad": "" } }).to_string();
    let at_limit = 4096 - envelope.len();
    for (pad, expected) in [(at_limit, 200), (at_limit + 1, 413)] {
        let body = json!({ "query": "{ viewer { id } }", "variables": { "pad": "x".repeat(pad) } })
            .to_string();
        let size = body.len();
        let response = app
            .client
            .post(app.graphql_url())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status().as_u16(), expected, "body of {size} bytes");
    }
}

#[tokio::test]
async fn batches_are_limited_to_ten_operations() {
    let app = spawn_app().await;
    let op = json!({ "query": "{ viewer { id } }" });
    let ten: Vec<Value> = std::iter::repeat_n(op.clone(), 10).collect();
    let response = app
        .client
        .post(app.graphql_url())
        .json(&ten)
        .send()
        .await
        .expect("batch");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body.as_array().map(Vec::len), Some(10));

    let eleven: Vec<Value> = std::iter::repeat_n(op, 11).collect();
    let response = app
        .client
        .post(app.graphql_url())
        .json(&eleven)
        .send()
        .await
        .expect("batch");
    assert_eq!(response.status().as_u16(), 400);
}

#[tokio::test]
async fn node_resolves_a_user_and_nodes_keeps_the_order() {
    let app = spawn_app().await;
    let ann = app.register("n1@example.com", "Ann").await;
    let bob = app.register("n2@example.com", "Bob").await;
    let ghost = api::ids::new_id(api::ids::Kind::User);
    let data = app
        .gql(
            None,
            "query($id: ID!) { node(id: $id) { __typename id ... on User { displayName } } }",
            json!({ "id": ann.id }),
        )
        .await;
    assert_eq!(data["node"]["__typename"], "User");
    assert_eq!(data["node"]["id"], ann.id.as_str());
    assert_eq!(data["node"]["displayName"], "Ann");

    let data = app
        .gql(
            None,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [bob.id, "garbage", ghost, ann.id] }),
        )
        .await;
    assert_eq!(
        data["nodes"],
        json!([{ "id": bob.id }, null, null, { "id": ann.id }])
    );
}

#[tokio::test]
async fn nodes_accepts_at_most_a_hundred_ids() {
    let app = spawn_app().await;
    let ids: Vec<String> = (0..101)
        .map(|_| api::ids::new_id(api::ids::Kind::User))
        .collect();
    let (_, body) = app
        .post(
            None,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids[..100] }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // 101 ids: past the input-list limit, refused before anything runs.
    let (status, body) = app
        .post(
            None,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["limit"], "inputList",
        "{body}"
    );
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let app = spawn_app_with(&["--cors-origins", "https://spa.example.com"]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.graphql_url())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("https://spa.example.com")
        .await
        .expect("preflight");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://spa.example.com")
    );
    let denied = preflight("https://evil.example.com")
        .await
        .expect("preflight");
    assert!(denied
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

/// Hardening finding 14: a body that is not a GraphQL request answered `400 text/plain` with
/// Rust debug text; it is a GraphQL-shaped JSON error, and one past the body limit is too.
#[tokio::test]
async fn a_malformed_body_gets_a_graphql_shaped_json_error() {
    let app = spawn_app_with(&["--max-body-bytes", "4096"]).await;
    for (body, status, code) in [
        ("{\"query\": ", 400, "BAD_REQUEST"),
        ("not json at all", 400, "BAD_REQUEST"),
        ("{\"query\": 42}", 400, "BAD_REQUEST"),
        ("[1, 2]", 400, "BAD_REQUEST"),
    ] {
        let response = app
            .client
            .post(app.graphql_url())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status().as_u16(), status, "{body}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{body}: {content_type}"
        );
        let answer: Value = response.json().await.expect("json");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], code,
            "{body}: {answer}"
        );
        let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains("InvalidRequest("),
            "debug text leaked: {message}"
        );
    }
    let big = json!({ "query": "{ viewer { id } }", "variables": { "pad": "x".repeat(5000) } });
    let response = app
        .client
        .post(app.graphql_url())
        .json(&big)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 413);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        "PAYLOAD_TOO_LARGE"
    );
}

/// Finding 14 too: a panic answers 500 "internal error" with the request id in the body, as
/// every other internal error does. The panic comes from a test-only fault hook.
#[tokio::test]
async fn a_panic_answers_internal_error_with_its_request_id() {
    let app = spawn_app_with(&["--fault-injection"]).await;
    let response = app
        .client
        .post(format!("{}/__faults/panic", app.addr))
        .header("x-request-id", "req-panic-1")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 500);
    assert_eq!(
        response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-panic-1")
    );
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["errors"][0]["message"], "internal error");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        "INTERNAL_SERVER_ERROR"
    );
    assert_eq!(
        answer["errors"][0]["extensions"]["requestId"],
        "req-panic-1"
    );
    // Without the setting there is no such hook.
    let plain = spawn_app().await;
    let response = plain
        .client
        .post(format!("{}/__faults/panic", plain.addr))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 404);
}

/// Hardening finding 13: no header-read timeout, so a client could hold a connection open by
/// sending a header a byte at a time. A client that has not sent its headers within the
/// timeout is disconnected; one that does is served as usual.
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(&["--http-header-read-timeout-secs", "1"]).await;
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    slow.write_all(b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: appl")
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut buf)).await;
    match closed {
        Ok(Ok(n)) => {
            // Closed, possibly after a 408.
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
        }
        Ok(Err(_)) => {}
        Err(_) => panic!("the connection was still open 10 s after a 1 s header timeout"),
    }
    // A client that sends its request in time is served.
    let (status, body) = app.post(None, "{ __typename }", json!({})).await;
    assert_eq!(status, 200, "{body}");
}

/// Answers are gzipped for clients that accept it once they are worth it: a small answer (most
/// mutations, one object) goes out as it is, a large one (a page, the schema) compressed.
#[tokio::test]
async fn large_answers_are_compressed_and_small_ones_are_not() {
    let app = spawn_app().await;
    let send = |query: &'static str| {
        app.client
            .post(app.graphql_url())
            .header("content-type", "application/json")
            .header("accept-encoding", "gzip")
            .body(json!({ "query": query }).to_string())
            .send()
    };
    let small = send("{ __typename }").await.expect("small");
    assert_eq!(small.status(), 200);
    assert!(small.headers().get("content-encoding").is_none());
    let body: Value = small.json().await.expect("plain JSON");
    assert_eq!(body["data"]["__typename"], "Query");

    let large = send("{ __schema { types { name fields { name } } } }")
        .await
        .expect("large");
    assert_eq!(large.status(), 200);
    assert_eq!(
        large
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
}
