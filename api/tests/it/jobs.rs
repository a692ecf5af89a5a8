//! The order timers, with time moved by the application clock instead of sleeps: unpaid
//! expiry, release of unclaimed holds, auto-completion, SLA lateness, and ledger retries.
use serde_json::{json, Value};

use crate::helpers::*;

async fn order_status(app: &TestApp, who: &Session, id: &str) -> Value {
    app.gql(
        Some(&who.access_token),
        "query($id: ID!) { order(id: $id) { status isLate events { toStatus actorKind action note } } }",
        json!({ "id": id }),
    )
    .await["order"]
        .clone()
}

async fn run(app: &TestApp) -> api::jobs::Report {
    api::jobs::run_once(&app.state).await.expect("timers")
}

async fn place(app: &TestApp, buyer: &Session, listing: &str) -> String {
    app.gql(
        Some(&buyer.access_token),
        "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { id } userErrors { code } } }",
        json!({ "l": listing }),
    )
    .await["placeOrder"]["order"]["id"]
        .as_str()
        .expect("order id")
        .to_owned()
}

async fn provider_act(app: &TestApp, seller: &Seller, mutation: &str, id: &str) {
    let query = format!("mutation($id: ID!) {{ {mutation}(input: {{ orderId: $id }}) {{ userErrors {{ code }} }} }}");
    let data = app
        .gql(
            Some(&seller.session.access_token),
            &query,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data[mutation]["userErrors"],
        json!([]),
        "{mutation}: {data}"
    );
}

#[tokio::test]
async fn delivered_orders_complete_by_themselves_and_pay_out() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "auto@example.com", "Auto", json!({}))
        .await;
    let listing = app.listing(&seller, json!({})).await;
    let buyer = app.register("autob@example.com", "AutoB").await;
    let id = place(&app, &buyer, &listing).await;
    provider_act(&app, &seller, "claimOrder", &id).await;
    app.gql(
        Some(&seller.session.access_token),
        "mutation($id: ID!) { deliverOrder(input: { orderId: $id, summary: \"Done\" }) { userErrors { code } } }",
        json!({ "id": id }),
    )
    .await;

    app.clock
        .advance(chrono::Duration::days(3) - chrono::Duration::minutes(1));
    assert_eq!(run(&app).await.auto_completed, 0, "not yet");
    app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(run(&app).await.auto_completed, 1);
    let order = order_status(&app, &buyer, &id).await;
    assert_eq!(order["status"], "COMPLETED");
    let last = order["events"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .expect("event");
    assert_eq!(last["actorKind"], "SYSTEM");
    assert_eq!(last["action"], "auto_complete");
    crate::orders::assert_ledger_balances(&app, &id).await;
    assert_eq!(
        run(&app).await,
        api::jobs::Report::default(),
        "a second run finds nothing"
    );
}

#[tokio::test]
async fn unpaid_orders_expire_after_a_day_and_unclaimed_holds_are_released() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let card = app
        .seller(&admin, "hold@example.com", "Hold", json!({}))
        .await;
    let card_listing = app.listing(&card, json!({})).await;
    let buyer = app.register("holdb@example.com", "HoldB").await;
    // A card order held now (the simulated hold lasts 7 days).
    let held = place(&app, &buyer, &card_listing).await;

    // An unpaid MANUAL order.
    let manual = manual_seller(&app, &admin, "unpaid@example.com").await;
    let manual_listing = app.listing(&manual, json!({})).await;
    let unpaid = place(&app, &buyer, &manual_listing).await;

    app.clock
        .advance(chrono::Duration::hours(24) + chrono::Duration::seconds(1));
    let report = run(&app).await;
    assert_eq!(report.expired_unpaid, 1);
    assert_eq!(report.released_unclaimed, 0, "the hold has days left");
    assert_eq!(
        order_status(&app, &buyer, &unpaid).await["status"],
        "CANCELLED"
    );
    assert_eq!(
        order_status(&app, &buyer, &held).await["status"],
        "PAYMENT_HELD"
    );

    // 12 hours before the hold expires, an unclaimed order is released.
    app.clock
        .advance(chrono::Duration::days(5) + chrono::Duration::hours(12));
    assert_eq!(run(&app).await.released_unclaimed, 1);
    let order = order_status(&app, &buyer, &held).await;
    assert_eq!(order["status"], "CANCELLED");
    let last = order["events"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .expect("event");
    assert!(
        last["note"]
            .as_str()
            .unwrap_or_default()
            .contains("not claimed"),
        "the buyer is told why: {last}"
    );
}

#[tokio::test]
async fn lateness_is_recorded_once() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "slow@example.com", "Slow", json!({}))
        .await;
    let listing = app.listing(&seller, json!({ "turnaroundDays": 2 })).await;
    let buyer = app.register("slowb@example.com", "SlowB").await;
    let id = place(&app, &buyer, &listing).await;
    provider_act(&app, &seller, "claimOrder", &id).await;
    app.clock
        .advance(chrono::Duration::days(2) + chrono::Duration::seconds(1));
    assert_eq!(run(&app).await.marked_late, 1);
    assert_eq!(run(&app).await.marked_late, 0);
    let order = order_status(&app, &buyer, &id).await;
    assert_eq!(order["status"], "CLAIMED");
    assert_eq!(order["isLate"], true);
    let late: Vec<_> = order["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "mark_late")
        .collect();
    assert_eq!(late.len(), 1);
}

/// Found by `scripts/crash-soak` (SIGKILL under order traffic): a kill after a STRIPE order's
/// intent was stored but before the order followed it left the order PLACED for good with the
/// simulated gateway, which sends no webhook (and with Stripe, whenever its webhook is
/// missed): the timers resumed only orders without an intent. Now the replay and the timers
/// read the intent and follow it.
#[tokio::test]
async fn an_order_stopped_after_its_intent_was_stored_follows_the_intent() {
    let app = spawn_app_with(&["--fault-injection"]).await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "intent@example.com", "Intent Seller", json!({}))
        .await;
    let listing = app.listing(&seller, json!({ "priceCents": "10000" })).await;
    let buyer = app.register("intentb@example.com", "Intent Buyer").await;
    let arm = || app.arm_fault("stop-after-intent");
    let place = "mutation($l: ID!, $k: String) { placeOrder(input: { listingId: $l, idempotencyKey: $k }) { order { id status } userErrors { code } } }";
    let placed_ones = "{ orders(first: 10) { nodes { id status paymentClientSecret } } }";

    // Stopped with the intent stored: the replay of the same key follows it.
    arm().await;
    let (_, died) = app
        .post(
            Some(&buyer.access_token),
            place,
            json!({ "l": listing, "k": "intent-1" }),
        )
        .await;
    assert_eq!(top_level_code(&died), "INTERNAL_SERVER_ERROR", "{died}");
    let stored = app
        .gql(Some(&buyer.access_token), placed_ones, json!({}))
        .await["orders"]["nodes"]
        .clone();
    assert_eq!(stored[0]["status"], "PLACED", "{stored}");
    assert!(stored[0]["paymentClientSecret"].is_string(), "{stored}");
    let replayed = app
        .gql(
            Some(&buyer.access_token),
            place,
            json!({ "l": listing, "k": "intent-1" }),
        )
        .await["placeOrder"]
        .clone();
    assert_eq!(replayed["order"]["status"], "PAYMENT_HELD", "{replayed}");

    // Without a retry, the timers follow it a minute on, once.
    arm().await;
    let (_, died) = app
        .post(Some(&buyer.access_token), place, json!({ "l": listing }))
        .await;
    assert_eq!(top_level_code(&died), "INTERNAL_SERVER_ERROR", "{died}");
    let second = app
        .gql(Some(&buyer.access_token), placed_ones, json!({}))
        .await["orders"]["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|o| o["status"] == "PLACED").cloned())
        .expect("the second order, PLACED");
    let id = second["id"].as_str().expect("id");
    assert_eq!(run(&app).await.authorizations_resumed, 0, "too early");
    app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(run(&app).await.authorizations_resumed, 1);
    assert_eq!(
        order_status(&app, &buyer, id).await["status"],
        "PAYMENT_HELD"
    );
    assert_eq!(run(&app).await.authorizations_resumed, 0);
}
