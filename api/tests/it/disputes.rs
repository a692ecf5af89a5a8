//! Disputes through the API: who may open, review and resolve one and when; each outcome's
//! money in the ledger, at Stripe (the local double: exact form fields and idempotency keys)
//! and in the provider's earnings; the admins' queue; and the `disputeUpdated` stream.
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::realtime::{deal, held_order, order_action};
use crate::stripe_connect::{
    card_order, held_card_order, intent_event, paid_out, send, stripe_app,
};
use crate::stripe_double::{form, header, StripeDouble};
use crate::ws_client::WsClient;

const DISPUTE: &str = "id status reason description adminNotes refundAmount { cents currencyCode } openedBy { id } resolvedBy { id } resolvedAt order { id status refunded { cents } autoCompleteAt availableActions }";

pub(crate) async fn open(
    app: &TestApp,
    who: &Session,
    order: &str,
    reason: &str,
    description: &str,
) -> Value {
    let query = format!(
        "mutation($i: OpenDisputeInput!) {{ openDispute(input: $i) {{ dispute {{ {DISPUTE} }} order {{ status }} userErrors {{ field message code }} }} }}"
    );
    app.gql(
        Some(&who.access_token),
        &query,
        json!({ "i": { "orderId": order, "reason": reason, "description": description } }),
    )
    .await["openDispute"]
        .clone()
}

/// The whole response body: non-admins get a top-level error.
async fn review(app: &TestApp, who: &Session, dispute: &str) -> Value {
    let query = format!(
        "mutation($i: DisputeIdInput!) {{ reviewDispute(input: $i) {{ dispute {{ {DISPUTE} }} userErrors {{ field message code }} }} }}"
    );
    app.post(
        Some(&who.access_token),
        &query,
        json!({ "i": { "disputeId": dispute } }),
    )
    .await
    .1
}

/// The whole response body, as for `review`.
pub(crate) async fn resolve(
    app: &TestApp,
    who: &Session,
    dispute: &str,
    outcome: &str,
    notes: &str,
    refund: Option<&str>,
) -> Value {
    let query = format!(
        "mutation($i: ResolveDisputeInput!) {{ resolveDispute(input: $i) {{ dispute {{ {DISPUTE} }} order {{ status }} userErrors {{ field message code }} }} }}"
    );
    app.post(
        Some(&who.access_token),
        &query,
        json!({ "i": { "disputeId": dispute, "outcome": outcome, "adminNotes": notes, "refundCents": refund } }),
    )
    .await
    .1
}

/// The provider's earnings as its owner sees them: (paid out, pending, platform fees,
/// refunded, completed orders).
pub(crate) async fn earnings(
    app: &TestApp,
    seller: &Seller,
) -> (String, String, String, String, i64) {
    let query = "query($id: ID!) { provider(id: $id) { earnings { paidOut { cents } pending { cents } platformFees { cents } refunded { cents } completedOrders } } }";
    let e = app
        .gql(
            Some(&seller.session.access_token),
            query,
            json!({ "id": seller.provider_id }),
        )
        .await["provider"]["earnings"]
        .clone();
    let cents = |field: &str| e[field]["cents"].as_str().unwrap_or_default().to_owned();
    (
        cents("paidOut"),
        cents("pending"),
        cents("platformFees"),
        cents("refunded"),
        e["completedOrders"].as_i64().unwrap_or(-1),
    )
}

pub(crate) fn money(
    paid_out: &str,
    pending: &str,
    fees: &str,
    refunded: &str,
    completed: i64,
) -> (String, String, String, String, i64) {
    (
        paid_out.to_owned(),
        pending.to_owned(),
        fees.to_owned(),
        refunded.to_owned(),
        completed,
    )
}

pub(crate) async fn admin_session(app: &TestApp) -> Session {
    session_of(&app.login(ADMIN_EMAIL, PASSWORD).await)
}

/// A held card order taken by its provider to DELIVERED.
pub(crate) async fn deliver_card_order(app: &TestApp, seller: &Seller, id: &str) {
    for mutation in ["claimOrder", "deliverOrder"] {
        let input = match mutation {
            "deliverOrder" => json!({ "orderId": id, "summary": "Done" }),
            _ => json!({ "orderId": id }),
        };
        order_action(app, &seller.session, mutation, input).await;
    }
}

pub(crate) fn dispute_id(payload: &Value) -> String {
    payload["dispute"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no dispute: {payload}"))
        .to_owned()
}

/// (field, amount, Idempotency-Key) of every POST the double received at `path`, where `field`
/// names the object the money moved for (a refund's charge, a transfer's group).
pub(crate) async fn money_posts(
    double: &StripeDouble,
    path: &str,
    field: &str,
) -> Vec<(String, String, String)> {
    double
        .requests_to("POST", path)
        .await
        .iter()
        .map(|r| {
            let f = form(r);
            (
                f.get(field).cloned().unwrap_or_default(),
                f.get("amount").cloned().unwrap_or_default(),
                header(r, "idempotency-key").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub(crate) async fn refunds_of(double: &StripeDouble) -> Vec<(String, String, String)> {
    money_posts(double, "/v1/refunds", "charge").await
}

pub(crate) async fn transfers_of(double: &StripeDouble) -> Vec<(String, String, String)> {
    money_posts(double, "/v1/transfers", "transfer_group").await
}

#[tokio::test]
async fn a_partial_resolution_refunds_r_and_pays_out_the_rest_less_the_frozen_commission() {
    let (app, double) = stripe_app().await;
    let (seller, buyer, id, _) = held_card_order(&app, &double, "part", "acct_part_0001").await;
    let admin = admin_session(&app).await;
    deliver_card_order(&app, &seller, &id).await;

    let opened = open(
        &app,
        &buyer,
        &id,
        "QUALITY",
        "  The report misses half the scope. ",
    )
    .await;
    assert_eq!(opened["userErrors"], json!([]), "{opened}");
    let dispute = &opened["dispute"];
    assert_eq!(dispute["status"], "OPEN");
    assert_eq!(dispute["reason"], "QUALITY");
    assert_eq!(dispute["description"], "The report misses half the scope.");
    assert_eq!(dispute["openedBy"]["id"], buyer.id.as_str());
    assert_eq!(dispute["refundAmount"], Value::Null);
    assert_eq!(dispute["order"]["status"], "DISPUTED");
    assert_eq!(
        dispute["order"]["autoCompleteAt"],
        Value::Null,
        "the timers stop"
    );
    assert_eq!(dispute["order"]["availableActions"], json!([]));
    let dispute = dispute_id(&opened);
    // While disputed, the payout waits.
    assert_eq!(
        earnings(&app, &seller).await,
        money("0", "8500", "0", "0", 0)
    );

    // One open dispute per order; the provider and strangers cannot open one.
    let again = open(&app, &buyer, &id, "OTHER", "again").await;
    assert_eq!(error_codes(&again), vec!["INVALID_STATE"], "{again}");
    // The admin sees what an admin may do on a disputed order.
    let seen = app
        .gql(
            Some(&admin.access_token),
            "query($id: ID!) { order(id: $id) { availableActions dispute { id status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        seen["order"]["availableActions"],
        json!(["RESOLVE_DISPUTE"])
    );
    assert_eq!(seen["order"]["dispute"]["id"], dispute.as_str());

    // Only admins review and resolve.
    assert_eq!(
        top_level_code(&review(&app, &seller.session, &dispute).await),
        "FORBIDDEN"
    );
    assert_eq!(
        top_level_code(&resolve(&app, &buyer, &dispute, "REFUND", "mine", None).await),
        "FORBIDDEN"
    );
    let reviewed = review(&app, &admin, &dispute).await;
    assert_eq!(
        reviewed["data"]["reviewDispute"]["dispute"]["status"], "UNDER_REVIEW",
        "{reviewed}"
    );
    let twice = review(&app, &admin, &dispute).await;
    assert_eq!(
        error_codes(&twice["data"]["reviewDispute"]),
        vec!["INVALID_STATE"],
        "{twice}"
    );

    // r must be 1 ..= price - 1, notes are required, and nothing moves when refused.
    for (refund, notes) in [
        (Some("0"), "split"),
        (Some("10000"), "split"),
        (Some("-1"), "split"),
        (None, "split"),
        (Some("2500"), "   "),
    ] {
        let refused = resolve(&app, &admin, &dispute, "PARTIAL", notes, refund).await;
        assert_eq!(
            error_codes(&refused["data"]["resolveDispute"]),
            vec!["INVALID"],
            "{refund:?} {notes:?}: {refused}"
        );
    }
    let full_with_amount = resolve(&app, &admin, &dispute, "REFUND", "all", Some("10000")).await;
    assert_eq!(
        error_codes(&full_with_amount["data"]["resolveDispute"]),
        vec!["INVALID"]
    );
    assert!(refunds_of(&double).await.is_empty());
    assert!(transfers_of(&double).await.is_empty());

    let resolved = resolve(
        &app,
        &admin,
        &dispute,
        "PARTIAL",
        "A quarter back: half the scope was missing but the rest is good.",
        Some("2500"),
    )
    .await;
    let payload = &resolved["data"]["resolveDispute"];
    assert_eq!(payload["userErrors"], json!([]), "{resolved}");
    assert_eq!(payload["dispute"]["status"], "RESOLVED_PARTIAL");
    assert_eq!(payload["dispute"]["refundAmount"]["cents"], "2500");
    assert_eq!(payload["dispute"]["resolvedBy"]["id"], admin.id.as_str());
    assert!(payload["dispute"]["resolvedAt"].is_string());
    assert_eq!(payload["order"]["status"], "COMPLETED");
    assert_eq!(payload["dispute"]["order"]["refunded"]["cents"], "2500");

    // At Stripe: one refund of r and one transfer of (price - r) less 15 % of it.
    let refunds = refunds_of(&double).await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert!(refunds[0].0.starts_with("ch_"), "{refunds:?}");
    assert_eq!(refunds[0].1, "2500");
    assert_eq!(refunds[0].2, format!("{id}:refund:1"));
    let transfers = transfers_of(&double).await;
    assert_eq!(
        transfers,
        vec![(id.clone(), "6375".to_owned(), format!("{id}:transfer:1"))]
    );
    assert_eq!(
        crate::orders::ledger(&app, &id).await,
        vec![
            ("CHARGE".to_owned(), "SUCCEEDED".to_owned(), 10_000),
            ("FEE".to_owned(), "SUCCEEDED".to_owned(), 1125),
            ("REFUND".to_owned(), "SUCCEEDED".to_owned(), 2500),
            ("TRANSFER".to_owned(), "SUCCEEDED".to_owned(), 6375),
        ]
    );
    crate::orders::assert_ledger_balances(&app, &id).await;
    assert_eq!(paid_out(&app, &seller).await, "6375");
    assert_eq!(
        earnings(&app, &seller).await,
        money("6375", "0", "1125", "2500", 1)
    );

    // A resolved dispute stays resolved.
    let again = resolve(&app, &admin, &dispute, "REFUND", "changed my mind", None).await;
    assert_eq!(
        error_codes(&again["data"]["resolveDispute"]),
        vec!["INVALID_STATE"],
        "{again}"
    );
    assert_eq!(refunds_of(&double).await.len(), 1);
}

#[tokio::test]
async fn a_full_refund_returns_the_price_and_no_refund_pays_out_as_on_completion() {
    let (app, double) = stripe_app().await;
    let (seller, buyer, refunded, _) =
        held_card_order(&app, &double, "full", "acct_full_0001").await;
    let admin = admin_session(&app).await;
    let listing = app.listing(&seller, json!({ "priceCents": "10000" })).await;
    let (kept, intent) = card_order(&app, &double, &buyer, &listing).await;
    send(
        &app,
        &intent_event(
            "evt_kept_auth",
            "payment_intent.amount_capturable_updated",
            &intent,
        ),
    )
    .await;
    for id in [&refunded, &kept] {
        deliver_card_order(&app, &seller, id).await;
    }

    let first = open(
        &app,
        &buyer,
        &refunded,
        "NON_DELIVERY",
        "The file is empty.",
    )
    .await;
    assert_eq!(first["userErrors"], json!([]), "{first}");
    let body = resolve(
        &app,
        &admin,
        &dispute_id(&first),
        "REFUND",
        "Empty file confirmed.",
        None,
    )
    .await;
    let payload = &body["data"]["resolveDispute"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(payload["dispute"]["status"], "RESOLVED_REFUND");
    assert_eq!(payload["dispute"]["refundAmount"]["cents"], "10000");
    assert_eq!(payload["order"]["status"], "REFUNDED");

    let second = open(&app, &buyer, &kept, "OTHER", "Not what I expected.").await;
    let body = resolve(
        &app,
        &admin,
        &dispute_id(&second),
        "NO_REFUND",
        "Delivered as listed.",
        None,
    )
    .await;
    let payload = &body["data"]["resolveDispute"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(payload["dispute"]["status"], "RESOLVED_NO_REFUND");
    assert_eq!(payload["dispute"]["refundAmount"]["cents"], "0");
    assert_eq!(payload["order"]["status"], "COMPLETED");

    let refunds = refunds_of(&double).await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(
        (refunds[0].1.as_str(), refunds[0].2.as_str()),
        ("10000", format!("{refunded}:refund:1").as_str())
    );
    assert_eq!(
        transfers_of(&double).await,
        vec![(
            kept.clone(),
            "8500".to_owned(),
            format!("{kept}:transfer:1")
        )],
        "the refunded order pays nothing out"
    );
    for id in [&refunded, &kept] {
        crate::orders::assert_ledger_balances(&app, id).await;
    }
    assert_eq!(
        crate::orders::ledger(&app, &refunded).await,
        vec![
            ("CHARGE".to_owned(), "SUCCEEDED".to_owned(), 10_000),
            ("REFUND".to_owned(), "SUCCEEDED".to_owned(), 10_000),
        ]
    );
    assert_eq!(paid_out(&app, &seller).await, "8500");
    assert_eq!(
        earnings(&app, &seller).await,
        money("8500", "0", "1500", "10000", 1)
    );
}

#[tokio::test]
async fn who_may_open_a_dispute_and_when() {
    let app = spawn_app().await;
    let deal = deal(&app, "when").await;
    let stranger = app.register("stranger@example.com", "Stranger").await;
    let id = held_order(&app, &deal).await;
    order_action(
        &app,
        &deal.seller.session,
        "claimOrder",
        json!({ "orderId": id }),
    )
    .await;

    // Before the delivery: NON_DELIVERY only, and only once late (the listing's 3 days).
    let quality = open(&app, &deal.buyer, &id, "QUALITY", "Slow start").await;
    assert_eq!(error_codes(&quality), vec!["INVALID_STATE"], "{quality}");
    let early = open(&app, &deal.buyer, &id, "NON_DELIVERY", "Nothing yet").await;
    assert_eq!(error_codes(&early), vec!["INVALID_STATE"], "{early}");
    app.clock
        .advance(chrono::Duration::days(3) + chrono::Duration::hours(1));
    let provider = open(&app, &deal.seller.session, &id, "NON_DELIVERY", "me").await;
    assert_eq!(error_codes(&provider), vec!["NOT_ALLOWED"], "{provider}");
    let outsider = open(&app, &stranger, &id, "NON_DELIVERY", "them").await;
    assert_eq!(error_codes(&outsider), vec!["NOT_FOUND"], "{outsider}");
    let blank = open(&app, &deal.buyer, &id, "NON_DELIVERY", " \n ").await;
    assert_eq!(error_codes(&blank), vec!["INVALID"], "{blank}");
    assert_eq!(
        blank["userErrors"][0]["field"],
        json!(["input", "description"])
    );
    let long = open(&app, &deal.buyer, &id, "NON_DELIVERY", &"x".repeat(5001)).await;
    assert_eq!(error_codes(&long), vec!["INVALID"], "{long}");

    let late = open(
        &app,
        &deal.buyer,
        &id,
        "NON_DELIVERY",
        "Three days late, no word.",
    )
    .await;
    assert_eq!(late["userErrors"], json!([]), "{late}");
    assert_eq!(late["order"]["status"], "DISPUTED");
    let dispute = dispute_id(&late);

    // Who reads it: the two parties and admins; anyone else sees nothing.
    let node = "query($id: ID!) { node(id: $id) { ... on Dispute { id status order { id } } } }";
    for who in [&deal.buyer, &deal.seller.session, &deal.admin] {
        let seen = app
            .gql(Some(&who.access_token), node, json!({ "id": dispute }))
            .await;
        assert_eq!(seen["node"]["id"], dispute.as_str(), "{seen}");
    }
    let hidden = app
        .gql(Some(&stranger.access_token), node, json!({ "id": dispute }))
        .await;
    assert_eq!(hidden["node"], Value::Null);

    // The admins' queue, by status; nobody else has one.
    let queue = "query($s: [DisputeStatus!]) { disputes(first: 10, status: $s) { totalCount nodes { id status reason order { id } openedBy { id } createdAt } } }";
    let open_queue = app
        .gql(
            Some(&deal.admin.access_token),
            queue,
            json!({ "s": ["OPEN", "UNDER_REVIEW"] }),
        )
        .await;
    assert_eq!(open_queue["disputes"]["totalCount"], 1, "{open_queue}");
    assert_eq!(open_queue["disputes"]["nodes"][0]["id"], dispute.as_str());
    assert_eq!(
        open_queue["disputes"]["nodes"][0]["order"]["id"],
        id.as_str()
    );
    let (_, refused) = app
        .post(Some(&deal.buyer.access_token), queue, json!({ "s": null }))
        .await;
    assert_eq!(top_level_code(&refused), "FORBIDDEN", "{refused}");

    // A MANUAL order refunded by the admin: no processor, the invoice records the refund.
    let body = resolve(
        &app,
        &deal.admin,
        &dispute,
        "REFUND",
        "Never delivered.",
        None,
    )
    .await;
    let payload = &body["data"]["resolveDispute"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(payload["order"]["status"], "REFUNDED");
    let resolved_queue = app
        .gql(
            Some(&deal.admin.access_token),
            queue,
            json!({ "s": ["OPEN", "UNDER_REVIEW"] }),
        )
        .await;
    assert_eq!(resolved_queue["disputes"]["totalCount"], 0);
    let invoice = crate::orders::invoice_of(&app, &id).await;
    assert_eq!(
        invoice.status,
        entity::invoices::InvoiceStatus::Refunded,
        "{invoice:?}"
    );
}

#[tokio::test]
async fn admins_follow_every_dispute_change_live_and_nobody_else_may() {
    let app = spawn_app().await;
    let deal = deal(&app, "live").await;
    let id = held_order(&app, &deal).await;
    for mutation in ["claimOrder", "deliverOrder"] {
        let input = match mutation {
            "deliverOrder" => json!({ "orderId": id, "summary": "Done" }),
            _ => json!({ "orderId": id }),
        };
        order_action(&app, &deal.seller.session, mutation, input).await;
    }
    let stream =
        "subscription { disputeUpdated { id status refundAmount { cents } order { id status } } }";
    let mut admin = WsClient::authenticated(&app, &deal.admin.access_token).await;
    admin.subscribe("d", stream, json!({})).await;
    let mut buyer = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    buyer.subscribe("d", stream, json!({})).await;
    let refused = buyer.next_data("d").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    assert_eq!(buyer.next().await["type"], "complete");
    // Give the admin's subscription the moment it takes to register.
    admin.assert_quiet(Duration::from_millis(300)).await;

    let opened = open(&app, &deal.buyer, &id, "QUALITY", "Thin report").await;
    let dispute = dispute_id(&opened);
    let got = admin.next_data("d").await["data"]["disputeUpdated"].clone();
    assert_eq!(got["id"], dispute.as_str());
    assert_eq!(got["status"], "OPEN");
    assert_eq!(got["order"]["status"], "DISPUTED");

    let reviewed = review(&app, &deal.admin, &dispute).await;
    assert!(reviewed.get("errors").is_none(), "{reviewed}");
    let got = admin.next_data("d").await["data"]["disputeUpdated"].clone();
    assert_eq!(got["status"], "UNDER_REVIEW");

    let resolved = resolve(
        &app,
        &deal.admin,
        &dispute,
        "PARTIAL",
        "Half back",
        Some("2500"),
    )
    .await;
    assert_eq!(
        resolved["data"]["resolveDispute"]["userErrors"],
        json!([]),
        "{resolved}"
    );
    let got = admin.next_data("d").await["data"]["disputeUpdated"].clone();
    assert_eq!(got["status"], "RESOLVED_PARTIAL");
    assert_eq!(got["refundAmount"]["cents"], "2500");
    assert_eq!(got["order"]["status"], "COMPLETED");
    admin.assert_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn lost_answers_of_a_partial_resolution_are_asked_about_never_made_twice() {
    let (app, double) = stripe_app().await;
    let (seller, buyer, id, intent) =
        held_card_order(&app, &double, "lostp", "acct_lostp_0001").await;
    let admin = admin_session(&app).await;
    deliver_card_order(&app, &seller, &id).await;
    let opened = open(&app, &buyer, &id, "QUALITY", "Half of it").await;
    let dispute = dispute_id(&opened);

    // Both calls go through at Stripe but neither answer comes back.
    double.lose_next_answer("/v1/refunds").await;
    double.lose_next_answer("/v1/transfers").await;
    let resolved = resolve(&app, &admin, &dispute, "PARTIAL", "split", Some("2500")).await;
    assert_eq!(
        resolved["data"]["resolveDispute"]["userErrors"],
        json!([]),
        "{resolved}"
    );
    let pending: Vec<_> = crate::orders::ledger(&app, &id)
        .await
        .into_iter()
        .filter(|(_, status, _)| status == "PENDING")
        .collect();
    assert_eq!(
        pending,
        vec![
            ("REFUND".to_owned(), "PENDING".to_owned(), 2500),
            ("TRANSFER".to_owned(), "PENDING".to_owned(), 6375),
        ]
    );

    // The retry asks Stripe first, finds both made, and makes neither again.
    app.clock.advance(chrono::Duration::minutes(2));
    let ran = api::jobs::run_once(&app.state).await.expect("timers");
    assert_eq!(ran.ledger_retried, 1);
    assert_eq!(refunds_of(&double).await.len(), 1, "refunded once");
    assert_eq!(transfers_of(&double).await.len(), 1, "paid out once");
    let charge = double.payment_intent(&intent).expect("intent")["latest_charge"]
        .as_str()
        .expect("charge")
        .to_owned();
    assert_eq!(
        double.charge(&charge).expect("charge")["amount_refunded"],
        2500
    );
    crate::orders::assert_ledger_balances(&app, &id).await;
    assert_eq!(
        earnings(&app, &seller).await,
        money("6375", "0", "1125", "2500", 1)
    );
    // The payout's id was learned from Stripe's list, so a later chargeback can reverse it.
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let payout = entity::ledger_entries::Entity::find()
        .filter(entity::ledger_entries::Column::OrderId.eq(id.as_str()))
        .filter(
            entity::ledger_entries::Column::Kind.eq(entity::ledger_entries::LedgerKind::Transfer),
        )
        .one(&db.reader)
        .await
        .expect("query")
        .expect("payout");
    assert_eq!(payout.processor_id.as_deref(), Some("tr_double0001"));
}
