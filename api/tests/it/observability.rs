//! `/metrics` through the real server: Prometheus text that counts operations by operation and
//! outcome, errors by code, timer runs and webhook events, and shows the pool and the live
//! websockets. One recorder serves every app in this test process, so counters are compared
//! before and after (other tests can only add to them), and a gauge is read while this test
//! holds what it counts.
use serde_json::json;

use crate::helpers::*;

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut request = app.client.get(format!("{}/metrics", app.addr));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("metrics");
    let status = response.status().as_u16();
    (status, response.text().await.expect("text"))
}

/// The value of one sample (`name{labels}`), labels in the exporter's order; 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(series)?;
            rest.strip_prefix(' ')?.trim().parse::<f64>().ok()
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_operations_errors_timers_and_webhooks() {
    let (app, _double) = crate::stripe_connect::stripe_app().await;
    let (status, before) = scrape(&app, None).await;
    assert_eq!(status, 200, "{before}");

    for _ in 0..3 {
        let ok = app
            .gql(None, "{ listings(first: 1) { totalCount } }", json!({}))
            .await;
        assert!(ok["listings"]["totalCount"].is_number(), "{ok}");
    }
    let (_, invalid) = app
        .post(None, "{ listings { noSuchField } }", json!({}))
        .await;
    assert_eq!(top_level_code(&invalid), "GRAPHQL_VALIDATION_FAILED");
    api::jobs::run_once(&app.state).await.expect("timers");
    let event = json!({ "id": "evt_metrics_1", "object": "event", "type": "customer.created",
        "api_version": "2024-06-20", "created": 1, "livemode": false, "pending_webhooks": 1,
        "data": { "object": { "id": "cus_1", "object": "customer" } } })
    .to_string();
    let (code, _) = crate::stripe_connect::deliver(
        &app,
        &event,
        &crate::stripe_connect::sign(&event, crate::stripe_connect::WEBHOOK_SECRET, 0),
    )
    .await;
    assert_eq!(code, 200);

    let (_, after) = scrape(&app, None).await;
    let grew = |series: &str| sample(&after, series) - sample(&before, series);
    assert!(
        grew(r#"graphql_operations_total{operation="query:listings",outcome="ok"}"#) >= 3.0,
        "{after}"
    );
    assert!(
        grew(r#"graphql_operations_total{operation="invalid",outcome="error"}"#) >= 1.0,
        "{after}"
    );
    assert!(grew(r#"graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"}"#) >= 1.0);
    assert!(grew(r#"graphql_operation_duration_seconds_count{operation="query:listings"}"#) >= 3.0);
    assert!(grew(r#"timer_runs_total{result="ok"}"#) >= 1.0, "{after}");
    assert!(
        grew(r#"stripe_webhook_events_total{type="customer.created",result="ignored"}"#) >= 1.0,
        "{after}"
    );
    assert!(after.contains("# TYPE graphql_operation_duration_seconds histogram"));
    assert!(
        after.contains(r#"db_pool_connections{pool="writer",state="idle"}"#),
        "{after}"
    );
    assert!(after.contains("timer_lag_seconds "), "{after}");

    // A websocket held open shows in the gauge while it lives.
    let mut socket = crate::ws_client::WsClient::connect(&app, "graphql-transport-ws").await;
    socket.send(json!({ "type": "connection_init" })).await;
    assert_eq!(socket.next().await["type"], "connection_ack");
    let (_, during) = scrape(&app, None).await;
    assert!(sample(&during, "websocket_connections") >= 1.0, "{during}");
    drop(socket);

    // A subscription counts on the bus once its start has run, and no longer once it ends.
    let buyer = app.register("gauge@example.com", "Gauge").await;
    let mut socket = crate::ws_client::WsClient::authenticated(&app, &buyer.access_token).await;
    socket
        .subscribe("m", "subscription { myOrderEvents { id } }", json!({}))
        .await;
    let mut subscribed = 0.0;
    for _ in 0..50 {
        let (_, text) = scrape(&app, None).await;
        subscribed = sample(&text, "event_bus_subscribers");
        if subscribed >= 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(subscribed, 1.0, "one stream on the bus");
    drop(socket);
    let mut left = 1.0;
    for _ in 0..50 {
        let (_, text) = scrape(&app, None).await;
        left = sample(&text, "event_bus_subscribers");
        if left == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0.0, "gone with its socket");
}

#[tokio::test]
async fn with_a_metrics_token_only_the_scraper_that_presents_it_reads_them() {
    let app = spawn_app_with(&["--metrics-token", "scrape-secret-1"]).await;
    let (status, body) = scrape(&app, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = scrape(&app, Some("scrape-secret-2")).await;
    assert_eq!(status, 401);
    let (status, body) = scrape(&app, Some("scrape-secret-1")).await;
    assert_eq!(status, 200, "{body}");
}
