//! Budgets and sign-in limits (hardening findings 2 and 3): every operation takes its static
//! cost from its caller's budget (the user's, or the address's when anonymous) and is THROTTLED
//! with the wait once it is spent; `login`/`register` are limited per address and per email and
//! come one per request. Time is moved with the application's clock, not slept.
use serde_json::{json, Value};

use crate::helpers::*;

/// 2 + 100 × (1 + 1) = 202 points.
const PAGE: &str = "{ listings(first: 100) { nodes { provider { id } } } }";

fn available(body: &Value) -> i64 {
    body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
        .as_i64()
        .unwrap_or_else(|| panic!("no throttle status: {body}"))
}

/// Ten aliases of `nodes` with 100 ids: 10 × 100 = 1,000 points requested.
fn thousand_points() -> (String, Value) {
    let ids: Vec<String> = (0..100).map(|i| format!("lst_{i:026}")).collect();
    let aliased: Vec<String> = (0..10)
        .map(|i| format!("a{i}: nodes(ids: $ids) {{ id }}"))
        .collect();
    (
        format!("query($ids: [ID!]!) {{ {} }}", aliased.join(" ")),
        json!({ "ids": ids }),
    )
}

/// An operation is charged its requested (static) cost before it runs, so it must find that
/// many points; once answered, what the answer did not need comes back (the actual cost, like
/// Shopify's). A spent budget is THROTTLED with the wait and refills with time.
#[tokio::test]
async fn a_spent_budget_is_throttled_with_its_wait_and_refills_with_time() {
    let app = spawn_app_with(&[
        "--query-budget",
        "1000",
        "--query-budget-restore-per-sec",
        "1",
    ])
    .await;
    // Registering is an anonymous operation too: it takes its few points from the address.
    let admin = app.register_admin().await;
    let (status, first) = app.post(None, PAGE, json!({})).await;
    assert_eq!(status, 200, "{first}");
    let cost = &first["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 202, "{first}");
    // No listings exist: the page came back empty, 2 points.
    assert_eq!(cost["actualQueryCost"], 2, "{first}");
    let status_of = &cost["throttleStatus"];
    assert_eq!(status_of["maximumAvailable"], 1000);
    assert_eq!(status_of["restoreRate"], 1);
    let start = available(&first);
    assert!((980..=1000).contains(&start), "{first}");

    // 1,000 points requested, more than are left: refused before it runs, with the wait.
    let (query, variables) = thousand_points();
    let (status, throttled) = app.post(None, &query, variables.clone()).await;
    assert_eq!(status, 429, "{throttled}");
    assert!(throttled["data"].is_null());
    assert_eq!(top_level_code(&throttled), "THROTTLED", "{throttled}");
    let wait = throttled["errors"][0]["extensions"]["retryAfterMs"]
        .as_i64()
        .expect("retryAfterMs");
    assert!((1..=30_000).contains(&wait), "{throttled}");
    assert_eq!(throttled["errors"][0]["extensions"]["cost"], 1000);
    // A cheap operation still fits in what is left.
    let (status, cheap) = app
        .post(None, "{ categories { category } }", json!({}))
        .await;
    assert_eq!(status, 200, "{cheap}");

    // A signed-in user pays from their own budget, not the address's.
    let (status, own) = app
        .post(Some(&admin.access_token), &query, variables.clone())
        .await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["extensions"]["cost"]["actualQueryCost"], 0, "{own}");
    // All 1,000 were taken; none of the ids exists, so 999 came back (one is the least
    // an operation costs).
    assert_eq!(available(&own), 999, "{own}");
    let (status, again) = app
        .post(Some(&admin.access_token), &query, variables.clone())
        .await;
    assert_eq!(status, 429, "{again}");

    // Once the wait has passed (and a few seconds more for the cheap operation's point) the
    // same operation runs; a long rest refills to the maximum.
    app.clock
        .advance(chrono::Duration::seconds(wait / 1000 + 5));
    let (status, ran) = app.post(None, &query, variables).await;
    assert_eq!(status, 200, "{ran}");
    app.clock.advance(chrono::Duration::seconds(3600));
    let (_, rested) = app
        .post(None, "{ categories { category } }", json!({}))
        .await;
    assert_eq!(available(&rested), 999, "{rested}");
}

/// Finding 2: `nodes(ids:)` with 100 ids in 100 aliases in a batch of 10 made 100,000 lookups.
/// Aliases stop at 15 and 100 ids cost 100 each: 15 aliases are refused by cost, and a batch of
/// ten 1,000-point operations runs the first and throttles the rest.
#[tokio::test]
async fn nodes_lookups_are_costed_per_id_and_a_batch_pays_for_each_operation() {
    let app = spawn_app_with(&[
        "--query-budget",
        "1000",
        "--query-budget-restore-per-sec",
        "1",
    ])
    .await;
    let ids: Vec<String> = (0..100).map(|i| format!("lst_{i:026}")).collect();
    let aliased: Vec<String> = (0..11)
        .map(|i| format!("a{i}: nodes(ids: $ids) {{ id }}"))
        .collect();
    let query = format!("query($ids: [ID!]!) {{ {} }}", aliased.join(" "));
    let (status, refused) = app.post(None, &query, json!({ "ids": ids })).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["errors"][0]["extensions"]["limit"], "cost");
    assert_eq!(refused["errors"][0]["extensions"]["actual"], 1100);

    let one: Vec<String> = (0..10)
        .map(|i| format!("a{i}: nodes(ids: $ids) {{ id }}"))
        .collect();
    let op = format!("query($ids: [ID!]!) {{ {} }}", one.join(" "));
    let batch: Vec<Value> = (0..10)
        .map(|_| json!({ "query": op, "variables": { "ids": ids } }))
        .collect();
    let response = app
        .client
        .post(app.graphql_url())
        .json(&batch)
        .send()
        .await
        .expect("batch");
    assert_eq!(response.status().as_u16(), 429);
    let bodies: Vec<Value> = response.json().await.expect("json");
    assert_eq!(bodies.len(), 10);
    assert!(bodies[0].get("errors").is_none(), "{}", bodies[0]);
    assert_eq!(bodies[0]["extensions"]["cost"]["requestedQueryCost"], 1000);
    for body in &bodies[1..] {
        assert_eq!(top_level_code(body), "THROTTLED", "{body}");
    }
}

async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    app.gql(
        None,
        "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken userErrors { code message } } }",
        json!({ "e": email, "p": password }),
    )
    .await["login"]
        .clone()
}

fn code(payload: &Value) -> &str {
    payload["userErrors"][0]["code"].as_str().unwrap_or("none")
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address_and_per_email_and_one_per_request() {
    let app = spawn_app_with(&[
        "--auth-attempts-per-ip-per-min",
        "4",
        "--auth-attempts-per-email-per-min",
        "2",
    ])
    .await;
    // Attempt 1 on the address and on the email.
    let user = app.register("throttled@example.com", "Thea").await;
    assert!(!user.access_token.is_empty());
    // Attempt 2 of 2 on the email: a wrong password is just wrong.
    assert_eq!(
        code(&login(&app, "throttled@example.com", "wrong-password-1").await),
        "INVALID"
    );
    // A third on the same email is refused before any password is checked, whatever its case.
    let refused = login(&app, " Throttled@Example.com", "correct horse battery").await;
    assert_eq!(code(&refused), "LIMIT_EXCEEDED", "{refused}");
    assert!(refused["accessToken"].is_null());
    // Attempt 4 of 4 on the address: another email still gets an answer; the fifth does not.
    assert_eq!(
        code(&login(&app, "nobody@example.com", "whatever-pass").await),
        "INVALID"
    );
    let by_address = login(&app, "someone-else@example.com", "whatever-pass").await;
    assert_eq!(code(&by_address), "LIMIT_EXCEEDED", "{by_address}");
    assert!(by_address["userErrors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("retry in")));

    // A minute later the right password signs in.
    app.clock.advance(chrono::Duration::seconds(60));
    let signed_in = login(&app, "throttled@example.com", "correct horse battery").await;
    assert!(signed_in["accessToken"].is_string(), "{signed_in}");

    // Two password fields in one request are refused before either runs.
    let two = "mutation { a: login(input: { email: \"a@example.com\", password: \"x\" }) { accessToken } b: login(input: { email: \"b@example.com\", password: \"x\" }) { accessToken } }";
    let (status, body) = app.post(None, two, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["limit"], "passwordFields");
    let mixed = "mutation { register(input: { email: \"r@example.com\", password: \"long enough pw\", displayName: \"R\" }) { accessToken } ...L } fragment L on Mutation { login(input: { email: \"b@example.com\", password: \"x\" }) { accessToken } }";
    let (status, body) = app.post(None, mixed, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["limit"], "passwordFields");
}

/// Operations over a websocket pay like those over HTTP: an anonymous connection's from its
/// address's budget (they ran for free before: the socket's operations knew no address).
#[tokio::test]
async fn anonymous_websocket_operations_pay_from_the_address_budget() {
    let app = spawn_app_with(&[
        "--query-budget",
        "1000",
        "--query-budget-restore-per-sec",
        "1",
    ])
    .await;
    let (query, variables) = thousand_points();
    let mut socket = crate::ws_client::WsClient::connect(&app, "graphql-transport-ws").await;
    socket.send(json!({ "type": "connection_init" })).await;
    assert_eq!(socket.next().await["type"], "connection_ack");
    socket.subscribe("1", &query, variables.clone()).await;
    let first = socket.next_data("1").await;
    assert!(first.get("errors").is_none(), "{first}");
    // 1,000 taken, 999 given back: the same operation no longer fits.
    socket.subscribe("2", &query, variables.clone()).await;
    let mut throttled = None;
    for _ in 0..4 {
        let message = socket.next().await;
        if message["id"] == "2" {
            throttled = Some(message);
            break;
        }
    }
    let throttled = throttled.expect("an answer for the second operation");
    assert!(throttled.to_string().contains("THROTTLED"), "{throttled}");
    // And the address's HTTP budget is the same one.
    let (status, body) = app.post(None, &query, variables).await;
    assert_eq!(status, 429, "{body}");
}
