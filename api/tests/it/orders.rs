//! Orders through the API: the MANUAL and (simulated) STRIPE happy paths, the money ledger,
//! refusals, a race of claims, and idempotent placement.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::*;

const ORDER_FIELDS: &str = "id number status paymentMode price { cents } platformFee { cents } providerPayout { cents } refunded { cents } paymentClientSecret slaDeadline isLate revisionsUsed deliveredAt autoCompleteAt completedAt availableActions deliveries { revision summary } events { fromStatus toStatus actorKind action note }";

fn place_mutation() -> String {
    format!("mutation($input: PlaceOrderInput!) {{ placeOrder(input: $input) {{ order {{ {ORDER_FIELDS} }} userErrors {{ field message code }} }} }}")
}

/// Runs an order mutation taking `input`; returns its payload.
async fn act(
    app: &TestApp,
    who: &Session,
    mutation: &str,
    input_type: &str,
    input: Value,
) -> Value {
    let query = format!(
        "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ order {{ {ORDER_FIELDS} }} userErrors {{ field message code }} }} }}"
    );
    app.gql(Some(&who.access_token), &query, json!({ "input": input }))
        .await[mutation]
        .clone()
}

async fn place(app: &TestApp, buyer: &Session, listing_id: &str) -> Value {
    app.gql(
        Some(&buyer.access_token),
        &place_mutation(),
        json!({ "input": { "listingId": listing_id } }),
    )
    .await["placeOrder"]
        .clone()
}

/// Sums of the order's ledger entries by kind and status.
pub(crate) async fn ledger(app: &TestApp, order_id: &str) -> Vec<(String, String, i64)> {
    use sea_orm::ActiveEnum;
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    let mut rows: Vec<(String, String, i64)> = entity::ledger_entries::Entity::find()
        .filter(entity::ledger_entries::Column::OrderId.eq(order_id))
        .all(&db.reader)
        .await
        .expect("ledger")
        .into_iter()
        .map(|e| (e.kind.to_value(), e.status.to_value(), e.amount_cents))
        .collect();
    rows.sort();
    rows
}

/// The order's invoice, read from the database.
pub(crate) async fn invoice_of(app: &TestApp, order_id: &str) -> entity::invoices::Model {
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    entity::invoices::Entity::find()
        .filter(entity::invoices::Column::OrderId.eq(order_id))
        .one(&db.reader)
        .await
        .expect("query")
        .expect("invoice")
}

/// charge = net transfers + net fee + refunds + what a lost chargeback took, over SUCCEEDED
/// entries, with nothing PENDING (a payout a lost chargeback cancelled is FAILED and counts for
/// nothing). Commission OWED on a MANUAL order is money outside the platform and stays out.
pub(crate) async fn assert_ledger_balances(app: &TestApp, order_id: &str) {
    let rows: Vec<_> = ledger(app, order_id)
        .await
        .into_iter()
        .filter(|(kind, status, _)| !(kind == "FEE" && status == "OWED"))
        .collect();
    let sum = |kind: &str| {
        rows.iter()
            .filter(|(k, s, _)| k == kind && s == "SUCCEEDED")
            .map(|(_, _, a)| a)
            .sum::<i64>()
    };
    assert!(
        rows.iter()
            .all(|(_, s, _)| s == "SUCCEEDED" || s == "FAILED"),
        "unsettled entries: {rows:?}"
    );
    assert!(
        rows.iter()
            .all(|(k, s, _)| s == "SUCCEEDED" || k == "TRANSFER"),
        "only a payout may be cancelled: {rows:?}"
    );
    assert_eq!(
        sum("CHARGE"),
        sum("TRANSFER") - sum("TRANSFER_REVERSAL") + sum("FEE") - sum("FEE_REVERSAL")
            + sum("REFUND")
            + sum("CHARGEBACK"),
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_manual_order_goes_from_placement_to_completion() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = manual_seller(&app, &admin, "m@example.com").await;
    let listing = app
        .listing(
            &seller,
            json!({ "priceCents": "10000", "revisionsIncluded": 1, "turnaroundDays": 5 }),
        )
        .await;
    let buyer = app.register("mb@example.com", "Buyer").await;

    let placed = place(&app, &buyer, &listing).await;
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    let order = &placed["order"];
    let id = order["id"].as_str().expect("id").to_owned();
    assert_eq!(order["status"], "PLACED");
    assert_eq!(order["paymentMode"], "MANUAL");
    assert_eq!(order["number"], "ORD-000001");
    assert_eq!(order["price"]["cents"], "10000");
    assert_eq!(order["platformFee"]["cents"], "1500");
    assert_eq!(order["providerPayout"]["cents"], "8500");
    assert_eq!(order["availableActions"], json!(["MARK_PAID", "CANCEL"]));

    // The invoice and the buyer's contact exist in the seller's tenant.
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    let invoice = invoice_of(&app, &id).await;
    assert!(
        invoice.number.starts_with("INV-") && invoice.number.ends_with("-000001"),
        "{}",
        invoice.number
    );
    assert_eq!(invoice.status, entity::invoices::InvoiceStatus::Sent);
    assert_eq!(invoice.tenant_id, seller.tenant_id);

    let paid = act(
        &app,
        &buyer,
        "markOrderPaid",
        "MarkOrderPaidInput",
        json!({ "orderId": id, "method": "bank", "reference": "TX-1" }),
    )
    .await;
    assert_eq!(paid["order"]["status"], "PLACED");
    // Saying it again (a retry, a double click, padded input) records nothing more; other
    // details are a new statement.
    for reference in ["TX-1", " TX-1 ", "TX-1"] {
        let again = act(
            &app,
            &buyer,
            "markOrderPaid",
            "MarkOrderPaidInput",
            json!({ "orderId": id, "method": "bank", "reference": reference }),
        )
        .await;
        assert_eq!(again["userErrors"], json!([]), "{again}");
        assert_eq!(again["order"]["status"], "PLACED");
    }
    let marks = |events: &Value| {
        events
            .as_array()
            .map(|e| e.iter().filter(|e| e["action"] == "mark_paid").count())
            .unwrap_or(0)
    };
    let events_query = "query($id: ID!) { order(id: $id) { events { action } } }";
    let events = app
        .gql(Some(&buyer.access_token), events_query, json!({ "id": id }))
        .await["order"]["events"]
        .clone();
    assert_eq!(marks(&events), 1, "{events}");
    let log = app
        .gql(
            Some(&seller.session.access_token),
            "query($id: ID!) { order(id: $id) { invoice { events { action } } } }",
            json!({ "id": id }),
        )
        .await["order"]["invoice"]["events"]
        .clone();
    assert_eq!(marks(&log), 1, "{log}");
    let corrected = act(
        &app,
        &buyer,
        "markOrderPaid",
        "MarkOrderPaidInput",
        json!({ "orderId": id, "method": "bank", "reference": "TX-1b" }),
    )
    .await;
    assert_eq!(corrected["order"]["status"], "PLACED");
    let events = app
        .gql(Some(&buyer.access_token), events_query, json!({ "id": id }))
        .await["order"]["events"]
        .clone();
    assert_eq!(marks(&events), 2, "{events}");
    let confirmed = act(
        &app,
        &seller.session,
        "confirmOrderPayment",
        "OrderIdInput",
        json!({ "orderId": id }),
    )
    .await;
    assert_eq!(confirmed["order"]["status"], "PAYMENT_HELD");
    let invoice = entity::invoices::Entity::find_by_id(invoice.id.clone())
        .one(&db.reader)
        .await
        .expect("q")
        .expect("invoice");
    assert_eq!(invoice.status, entity::invoices::InvoiceStatus::Paid);
    assert_eq!(invoice.buyer_payment_reference.as_deref(), Some("TX-1b"));

    let claimed = act(
        &app,
        &seller.session,
        "claimOrder",
        "OrderIdInput",
        json!({ "orderId": id }),
    )
    .await;
    assert_eq!(claimed["order"]["status"], "CLAIMED");
    assert!(claimed["order"]["slaDeadline"].is_string());
    let started = act(
        &app,
        &seller.session,
        "startOrder",
        "OrderIdInput",
        json!({ "orderId": id }),
    )
    .await;
    assert_eq!(started["order"]["status"], "IN_PROGRESS");
    let delivered = act(
        &app,
        &seller.session,
        "deliverOrder",
        "DeliverOrderInput",
        json!({ "orderId": id, "summary": "Solid draft", "score": 72 }),
    )
    .await;
    assert_eq!(delivered["order"]["status"], "DELIVERED");
    let first_auto = delivered["order"]["autoCompleteAt"]
        .as_str()
        .expect("autoCompleteAt")
        .to_owned();
    assert_eq!(
        delivered["order"]["availableActions"],
        json!([]),
        "the provider has nothing to do"
    );

    let revision = act(
        &app,
        &buyer,
        "requestRevision",
        "RequestRevisionInput",
        json!({ "orderId": id, "message": "Tighten act two" }),
    )
    .await;
    assert_eq!(revision["order"]["status"], "IN_PROGRESS");
    assert_eq!(revision["order"]["revisionsUsed"], 1);
    assert!(
        revision["order"]["autoCompleteAt"].is_null(),
        "the timer stops while revising"
    );
    app.clock.advance(chrono::Duration::hours(30));
    let again = act(
        &app,
        &seller.session,
        "deliverOrder",
        "DeliverOrderInput",
        json!({ "orderId": id, "summary": "Revised" }),
    )
    .await;
    let second_auto = again["order"]["autoCompleteAt"]
        .as_str()
        .expect("autoCompleteAt")
        .to_owned();
    let restarted = chrono::DateTime::parse_from_rfc3339(&second_auto).expect("rfc3339")
        - chrono::DateTime::parse_from_rfc3339(&first_auto).expect("rfc3339");
    assert!(
        (restarted - chrono::Duration::hours(30))
            .num_seconds()
            .abs()
            < 60,
        "re-delivery 30 h later restarts the timer 30 h later: {first_auto} then {second_auto}"
    );
    assert_eq!(
        again["order"]["deliveries"],
        json!([{ "revision": 1, "summary": "Solid draft" }, { "revision": 2, "summary": "Revised" }])
    );
    // Every included revision is used now.
    let exhausted = act(
        &app,
        &buyer,
        "requestRevision",
        "RequestRevisionInput",
        json!({ "orderId": id, "message": "More" }),
    )
    .await;
    assert_eq!(error_codes(&exhausted), vec!["LIMIT_EXCEEDED"]);

    let done = act(
        &app,
        &buyer,
        "completeOrder",
        "OrderIdInput",
        json!({ "orderId": id }),
    )
    .await;
    assert_eq!(done["order"]["status"], "COMPLETED");
    assert!(done["order"]["completedAt"].is_string());
    let statuses: Vec<&str> = done["order"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["toStatus"].as_str().unwrap_or_default())
        .collect();
    // place, mark paid, mark paid again with a corrected reference (the repeats in between
    // recorded nothing), confirm, …
    assert_eq!(
        statuses,
        vec![
            "PLACED",
            "PLACED",
            "PLACED",
            "PAYMENT_HELD",
            "CLAIMED",
            "IN_PROGRESS",
            "DELIVERED",
            "IN_PROGRESS",
            "DELIVERED",
            "COMPLETED"
        ]
    );
    assert_eq!(done["order"]["events"][7]["note"], "Tighten act two");
    // MANUAL orders move no money through the platform: the 15% commission is owed.
    assert_eq!(
        ledger(&app, &id).await,
        vec![("FEE".to_owned(), "OWED".to_owned(), 1500)]
    );
    let provider = app
        .gql(
            Some(&seller.session.access_token),
            "query($id: ID!) { provider(id: $id) { totalOrdersCompleted earnings { platformFees { cents } platformFeesOwed { cents } paidOut { cents } } } }",
            json!({ "id": seller.provider_id }),
        )
        .await;
    assert_eq!(provider["provider"]["totalOrdersCompleted"], 1);
    assert_eq!(
        provider["provider"]["earnings"],
        json!({ "platformFees": { "cents": "0" }, "platformFeesOwed": { "cents": "1500" }, "paidOut": { "cents": "0" } })
    );
}

#[tokio::test]
async fn a_card_order_is_held_captured_on_claim_and_paid_out_on_completion() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "card@example.com", "Card Seller", json!({}))
        .await;
    let listing = app.listing(&seller, json!({ "priceCents": "20000" })).await;
    let buyer = app.register("cb@example.com", "Card Buyer").await;

    let placed = place(&app, &buyer, &listing).await;
    let id = placed["order"]["id"].as_str().expect("id").to_owned();
    // The simulated processor authorizes at once, through the webhook's path.
    assert_eq!(placed["order"]["status"], "PAYMENT_HELD", "{placed}");
    assert_eq!(placed["order"]["paymentMode"], "STRIPE");
    assert!(
        placed["order"]["paymentClientSecret"].is_null(),
        "only while PLACED"
    );
    assert_eq!(
        placed["order"]["events"][1]["actorKind"],
        "PAYMENT_PROCESSOR"
    );
    assert!(
        ledger(&app, &id).await.is_empty(),
        "nothing captured before the claim"
    );

    act(
        &app,
        &seller.session,
        "claimOrder",
        "OrderIdInput",
        json!({ "orderId": id }),
    )
    .await;
    assert_eq!(
        ledger(&app, &id).await,
        vec![("CHARGE".into(), "SUCCEEDED".into(), 20000)]
    );
    act(
        &app,
        &seller.session,
        "deliverOrder",
        "DeliverOrderInput",
        json!({ "orderId": id, "summary": "Done" }),
    )
    .await;
    let done = act(
        &app,
        &buyer,
        "completeOrder",
        "OrderIdInput",
        json!({ "orderId": id }),
    )
    .await;
    assert_eq!(done["order"]["status"], "COMPLETED");
    assert_eq!(
        ledger(&app, &id).await,
        vec![
            ("CHARGE".into(), "SUCCEEDED".into(), 20000),
            ("FEE".into(), "SUCCEEDED".into(), 3000),
            ("TRANSFER".into(), "SUCCEEDED".into(), 17000),
        ]
    );
    assert_ledger_balances(&app, &id).await;
    let earnings = app
        .gql(
            Some(&seller.session.access_token),
            "query($id: ID!) { provider(id: $id) { earnings { paidOut { cents } pending { cents } platformFees { cents } completedOrders } } }",
            json!({ "id": seller.provider_id }),
        )
        .await;
    assert_eq!(
        earnings["provider"]["earnings"],
        json!({ "paidOut": { "cents": "17000" }, "pending": { "cents": "0" }, "platformFees": { "cents": "3000" }, "completedOrders": 1 })
    );
}

#[tokio::test]
async fn cancelling_before_the_claim_moves_no_money() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app.seller(&admin, "cx@example.com", "Cx", json!({})).await;
    let listing = app.listing(&seller, json!({})).await;
    let buyer = app.register("cxb@example.com", "Cxb").await;
    let id = place(&app, &buyer, &listing).await["order"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let missing_reason = act(
        &app,
        &buyer,
        "cancelOrder",
        "CancelOrderInput",
        json!({ "orderId": id, "reason": " " }),
    )
    .await;
    assert_eq!(error_codes(&missing_reason), vec!["INVALID"]);
    let cancelled = act(
        &app,
        &buyer,
        "cancelOrder",
        "CancelOrderInput",
        json!({ "orderId": id, "reason": "Changed my mind" }),
    )
    .await;
    assert_eq!(cancelled["order"]["status"], "CANCELLED");
    assert!(ledger(&app, &id).await.is_empty());
    let again = act(
        &app,
        &buyer,
        "cancelOrder",
        "CancelOrderInput",
        json!({ "orderId": id, "reason": "Twice" }),
    )
    .await;
    assert_eq!(error_codes(&again), vec!["INVALID_STATE"]);
}

#[tokio::test]
async fn orders_are_refused_where_the_rules_say_so() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app.seller(&admin, "rf@example.com", "Rf", json!({})).await;
    let buyer = app.register("rfb@example.com", "Rfb").await;
    let stranger = app.register("rfs@example.com", "Rfs").await;
    let fixed = app
        .listing(&seller, json!({ "revisionsIncluded": 0 }))
        .await;
    let hourly = app.listing(&seller, json!({ "priceType": "HOURLY" })).await;
    let draft = app.listing(&seller, json!({ "publish": false })).await;

    assert_eq!(
        error_codes(&place(&app, &seller.session, &fixed).await),
        vec!["NOT_ALLOWED"]
    );
    assert_eq!(
        error_codes(&place(&app, &buyer, &hourly).await),
        vec!["INVALID"]
    );
    assert_eq!(
        error_codes(&place(&app, &buyer, &draft).await),
        vec!["NOT_FOUND"]
    );
    assert_eq!(
        error_codes(&place(&app, &buyer, &api::ids::new_id(api::ids::Kind::Listing)).await),
        vec!["NOT_FOUND"]
    );
    let (_, anonymous) = app
        .post(
            None,
            &place_mutation(),
            json!({ "input": { "listingId": fixed } }),
        )
        .await;
    assert_eq!(top_level_code(&anonymous), "UNAUTHENTICATED");

    let id = place(&app, &buyer, &fixed).await["order"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let by_buyer = act(
        &app,
        &buyer,
        "claimOrder",
        "OrderIdInput",
        json!({ "orderId": id }),
    )
    .await;
    assert_eq!(error_codes(&by_buyer), vec!["NOT_ALLOWED"]);
    let by_stranger = act(
        &app,
        &stranger,
        "claimOrder",
        "OrderIdInput",
        json!({ "orderId": id }),
    )
    .await;
    assert_eq!(error_codes(&by_stranger), vec!["NOT_FOUND"]);
    let not_manual = act(
        &app,
        &buyer,
        "markOrderPaid",
        "MarkOrderPaidInput",
        json!({ "orderId": id, "method": "cash", "reference": "r" }),
    )
    .await;
    assert_eq!(error_codes(&not_manual), vec!["INVALID_STATE"]);
    let too_early = act(
        &app,
        &seller.session,
        "deliverOrder",
        "DeliverOrderInput",
        json!({ "orderId": id, "summary": "x" }),
    )
    .await;
    assert_eq!(error_codes(&too_early), vec!["INVALID_STATE"]);

    act(
        &app,
        &seller.session,
        "claimOrder",
        "OrderIdInput",
        json!({ "orderId": id }),
    )
    .await;
    let not_late = act(
        &app,
        &buyer,
        "cancelOrder",
        "CancelOrderInput",
        json!({ "orderId": id, "reason": "slow" }),
    )
    .await;
    assert_eq!(error_codes(&not_late), vec!["INVALID_STATE"]);
    let bad_score = act(
        &app,
        &seller.session,
        "deliverOrder",
        "DeliverOrderInput",
        json!({ "orderId": id, "summary": "x", "score": 101 }),
    )
    .await;
    assert_eq!(error_codes(&bad_score), vec!["INVALID"]);
    act(
        &app,
        &seller.session,
        "deliverOrder",
        "DeliverOrderInput",
        json!({ "orderId": id, "summary": "x" }),
    )
    .await;
    let no_revisions = act(
        &app,
        &buyer,
        "requestRevision",
        "RequestRevisionInput",
        json!({ "orderId": id, "message": "more" }),
    )
    .await;
    assert_eq!(error_codes(&no_revisions), vec!["LIMIT_EXCEEDED"]);

    // Strangers cannot read it; its parties can.
    let query = "query($id: ID!) { order(id: $id) { id } }";
    assert!(app
        .gql(Some(&stranger.access_token), query, json!({ "id": id }))
        .await["order"]
        .is_null());
    assert_eq!(
        app.gql(Some(&buyer.access_token), query, json!({ "id": id }))
            .await["order"]["id"],
        id.as_str()
    );
    assert_eq!(
        app.gql(Some(&admin.access_token), query, json!({ "id": id }))
            .await["order"]["id"],
        id.as_str()
    );
}

#[tokio::test]
async fn twenty_concurrent_claims_make_exactly_one_winner() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "race@example.com", "Race", json!({}))
        .await;
    let listing = app.listing(&seller, json!({})).await;
    let buyer = app.register("raceb@example.com", "RaceB").await;
    let id = place(&app, &buyer, &listing).await["order"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let claims = (0..20).map(|_| {
        act(
            &app,
            &seller.session,
            "claimOrder",
            "OrderIdInput",
            json!({ "orderId": id }),
        )
    });
    let results = futures_util::future::join_all(claims).await;
    let winners = results
        .iter()
        .filter(|p| p["userErrors"] == json!([]))
        .count();
    assert_eq!(winners, 1, "{results:?}");
    for loser in results.iter().filter(|p| p["userErrors"] != json!([])) {
        let code = loser["userErrors"][0]["code"].as_str().unwrap_or_default();
        assert!(code == "INVALID_STATE" || code == "CONFLICT", "{loser}");
    }
    // One capture, one claim event.
    assert_eq!(
        ledger(&app, &id).await,
        vec![("CHARGE".into(), "SUCCEEDED".into(), 15000)]
    );
    let order = app
        .gql(
            Some(&buyer.access_token),
            "query($id: ID!) { order(id: $id) { events { toStatus } } }",
            json!({ "id": id }),
        )
        .await;
    let claimed = order["order"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["toStatus"] == "CLAIMED")
        .count();
    assert_eq!(claimed, 1);
}

#[tokio::test]
async fn complete_racing_request_revision_has_one_winner() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app.seller(&admin, "rr@example.com", "Rr", json!({})).await;
    let listing = app
        .listing(&seller, json!({ "revisionsIncluded": 2 }))
        .await;
    let buyer = app.register("rrb@example.com", "Rrb").await;
    let id = place(&app, &buyer, &listing).await["order"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    act(
        &app,
        &seller.session,
        "claimOrder",
        "OrderIdInput",
        json!({ "orderId": id }),
    )
    .await;
    act(
        &app,
        &seller.session,
        "deliverOrder",
        "DeliverOrderInput",
        json!({ "orderId": id, "summary": "x" }),
    )
    .await;
    let (complete, revise) = tokio::join!(
        act(
            &app,
            &buyer,
            "completeOrder",
            "OrderIdInput",
            json!({ "orderId": id })
        ),
        act(
            &app,
            &buyer,
            "requestRevision",
            "RequestRevisionInput",
            json!({ "orderId": id, "message": "again" })
        ),
    );
    let wins = [&complete, &revise]
        .iter()
        .filter(|p| p["userErrors"] == json!([]))
        .count();
    assert_eq!(wins, 1, "{complete} {revise}");
}

#[tokio::test]
async fn place_order_with_an_idempotency_key_places_once() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "idem@example.com", "Idem", json!({}))
        .await;
    let listing = app.listing(&seller, json!({})).await;
    let other = app.listing(&seller, json!({ "title": "Other" })).await;
    let buyer = app.register("idemb@example.com", "IdemB").await;
    let input = json!({ "listingId": listing, "idempotencyKey": "key-1" });
    let first = app
        .gql(
            Some(&buyer.access_token),
            &place_mutation(),
            json!({ "input": input }),
        )
        .await;
    let second = app
        .gql(
            Some(&buyer.access_token),
            &place_mutation(),
            json!({ "input": input }),
        )
        .await;
    assert_eq!(
        first["placeOrder"]["order"]["id"],
        second["placeOrder"]["order"]["id"]
    );
    let reused = app
        .gql(
            Some(&buyer.access_token),
            &place_mutation(),
            json!({ "input": { "listingId": other, "idempotencyKey": "key-1" } }),
        )
        .await;
    assert_eq!(error_codes(&reused["placeOrder"]), vec!["CONFLICT"]);
    let orders = app
        .gql(
            Some(&buyer.access_token),
            "{ orders { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(orders["orders"]["totalCount"], 1);
}

#[tokio::test]
async fn each_party_lists_its_own_orders() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app.seller(&admin, "ls@example.com", "Ls", json!({})).await;
    let listing = app.listing(&seller, json!({})).await;
    let buyer = app.register("lsb@example.com", "Lsb").await;
    let stranger = app.register("lss@example.com", "Lss").await;
    for _ in 0..3 {
        place(&app, &buyer, &listing).await;
    }
    let query = "query($filter: OrderFilter) { orders(filter: $filter, first: 2) { totalCount nodes { id } pageInfo { hasNextPage } } }";
    let count = |who: &Session, filter: Value| {
        let app = &app;
        let token = who.access_token.clone();
        async move {
            app.gql(Some(&token), query, json!({ "filter": filter }))
                .await["orders"]["totalCount"]
                .clone()
        }
    };
    assert_eq!(count(&buyer, json!({})).await, 3);
    assert_eq!(count(&buyer, json!({ "role": "PROVIDER" })).await, 0);
    assert_eq!(
        count(&seller.session, json!({ "role": "PROVIDER" })).await,
        3
    );
    assert_eq!(
        count(&seller.session, json!({ "status": ["COMPLETED"] })).await,
        0
    );
    assert_eq!(count(&stranger, json!({})).await, 0);
    assert_eq!(count(&admin, json!({})).await, 3);
}

#[tokio::test]
async fn a_late_order_can_be_cancelled_for_a_full_refund() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "late@example.com", "Late", json!({}))
        .await;
    let listing = app
        .listing(
            &seller,
            json!({ "priceCents": "12345", "turnaroundDays": 3 }),
        )
        .await;
    let buyer = app.register("lateb@example.com", "LateB").await;
    let id = place(&app, &buyer, &listing).await["order"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let claimed = act(
        &app,
        &seller.session,
        "claimOrder",
        "OrderIdInput",
        json!({ "orderId": id }),
    )
    .await;
    assert_eq!(claimed["order"]["isLate"], false);
    assert!(!claimed["order"]["availableActions"]
        .as_array()
        .expect("actions")
        .is_empty());

    // Three days pass, and one more second: the deadline is behind us.
    app.clock
        .advance(chrono::Duration::days(3) + chrono::Duration::seconds(1));
    let query = format!("query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}");
    let late = app
        .gql(Some(&buyer.access_token), &query, json!({ "id": id }))
        .await;
    assert_eq!(late["order"]["isLate"], true);
    assert_eq!(
        late["order"]["availableActions"],
        json!(["CANCEL", "OPEN_DISPUTE"])
    );

    let refunded = act(
        &app,
        &buyer,
        "cancelOrder",
        "CancelOrderInput",
        json!({ "orderId": id, "reason": "Too late" }),
    )
    .await;
    assert_eq!(refunded["order"]["status"], "REFUNDED", "{refunded}");
    assert_eq!(refunded["order"]["refunded"]["cents"], "12345");
    assert_eq!(
        ledger(&app, &id).await,
        vec![
            ("CHARGE".into(), "SUCCEEDED".into(), 12345),
            ("REFUND".into(), "SUCCEEDED".into(), 12345)
        ]
    );
    assert_ledger_balances(&app, &id).await;
}

#[tokio::test]
async fn a_page_of_orders_costs_the_same_statements_for_1_and_5_orders() {
    let app = spawn_app_with(&["--sql-statement-count"]).await;
    let admin = app.register_admin().await;
    let seller = app.seller(&admin, "np1@example.com", "Np", json!({})).await;
    let listing = app.listing(&seller, json!({})).await;
    let buyer = app.register("np1b@example.com", "NpB").await;
    for _ in 0..5 {
        let id = place(&app, &buyer, &listing).await["order"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        act(
            &app,
            &seller.session,
            "claimOrder",
            "OrderIdInput",
            json!({ "orderId": id }),
        )
        .await;
        act(
            &app,
            &seller.session,
            "deliverOrder",
            "DeliverOrderInput",
            json!({ "orderId": id, "summary": "x" }),
        )
        .await;
    }
    let query = "query($n: Int) { orders(first: $n) { nodes { number buyer { displayName } provider { displayName } listing { title } events { toStatus } deliveries { revision } availableActions } } }";
    let mut counts = Vec::new();
    for n in [1, 5] {
        let (_, body) = app
            .post(Some(&buyer.access_token), query, json!({ "n": n }))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(
            body["data"]["orders"]["nodes"].as_array().map(Vec::len),
            Some(n)
        );
        counts.push(
            body["extensions"]["sqlStatements"]
                .as_u64()
                .expect("sqlStatements"),
        );
    }
    assert_eq!(
        counts[0], counts[1],
        "statements for 1 and 5 orders: {counts:?}"
    );
}
