//! Chargebacks through signed webhooks against the local Stripe double: a dispute the card
//! network opens freezes the order whatever it was doing and holds or takes back its payout
//! (a transfer reversal, exact form fields and Idempotency-Key); its close decides (won: the
//! order resumes and is paid out; lost: REFUNDED, the money recorded as taken). Every event is
//! delivered twice and out of order, and nothing changes twice.
use serde_json::{json, Value};

use crate::disputes::{
    admin_session, deliver_card_order, earnings, money, money_posts, open, refunds_of, resolve,
    transfers_of,
};
use crate::helpers::*;
use crate::orders::{assert_ledger_balances, invoice_of, ledger};
use crate::realtime::order_action;
use crate::stripe_connect::{charge_event, held_card_order, send, stripe_app};
use crate::stripe_double::{form, header, StripeDouble};

const ORDER: &str = "status refunded { cents } autoCompleteAt completedAt availableActions chargeback { status amount { cents currencyCode } reason priorStatus openedAt closedAt } events { action actorKind }";

async fn order(app: &TestApp, who: &Session, id: &str) -> Value {
    app.gql(
        Some(&who.access_token),
        &format!("query($id: ID!) {{ order(id: $id) {{ {ORDER} }} }}"),
        json!({ "id": id }),
    )
    .await["order"]
        .clone()
}

/// The captured charge of the order whose intent is `intent`.
fn charge_of(double: &StripeDouble, intent: &str) -> String {
    double.payment_intent(intent).expect("intent")["latest_charge"]
        .as_str()
        .expect("captured")
        .to_owned()
}

/// Sends a `charge.dispute.*` event about `dispute` as it is now.
async fn dispute_event(app: &TestApp, event_id: &str, kind: &str, dispute: &Value) {
    send(app, &charge_event(event_id, kind, dispute)).await;
}

/// (transfer, amount, Idempotency-Key) of every reversal the double received.
async fn reversals_of(double: &StripeDouble) -> Vec<(String, String, String)> {
    double
        .received_requests()
        .await
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/reversals"))
        .map(|r| {
            let transfer = r
                .url
                .path()
                .trim_start_matches("/v1/transfers/")
                .trim_end_matches("/reversals")
                .to_owned();
            (
                transfer,
                form(r).get("amount").cloned().unwrap_or_default(),
                header(r, "idempotency-key").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn actions(order: &Value) -> Vec<String> {
    order["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn entries(rows: &[(&str, i64)]) -> Vec<(String, String, i64)> {
    let mut rows: Vec<_> = rows
        .iter()
        .map(|(kind, amount)| (kind.to_string(), "SUCCEEDED".to_owned(), *amount))
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn a_chargeback_before_the_payout_holds_it_and_a_won_one_resumes_the_order() {
    let (app, double) = stripe_app().await;
    let (seller, buyer, id, intent) = held_card_order(&app, &double, "cbw", "acct_cbw_0001").await;
    let admin = admin_session(&app).await;
    deliver_card_order(&app, &seller, &id).await;
    let charge = charge_of(&double, &intent);

    let dispute = double.open_dispute(&charge, "product_not_received");
    let dp = dispute["id"].as_str().expect("dispute id").to_owned();
    // Delivered twice under one id, and once more as an update.
    for event in ["evt_cbw_created", "evt_cbw_created"] {
        dispute_event(&app, event, "charge.dispute.created", &dispute).await;
    }
    dispute_event(&app, "evt_cbw_updated", "charge.dispute.updated", &dispute).await;

    let frozen = order(&app, &buyer, &id).await;
    assert_eq!(frozen["status"], "DISPUTED", "{frozen}");
    assert_eq!(frozen["autoCompleteAt"], Value::Null, "the timers stop");
    assert_eq!(frozen["availableActions"], json!([]));
    assert_eq!(frozen["chargeback"]["status"], "OPEN");
    assert_eq!(frozen["chargeback"]["amount"]["cents"], "10000");
    assert_eq!(frozen["chargeback"]["amount"]["currencyCode"], "USD");
    assert_eq!(frozen["chargeback"]["reason"], "product_not_received");
    assert_eq!(frozen["chargeback"]["priorStatus"], "DELIVERED");
    assert_eq!(frozen["chargeback"]["closedAt"], Value::Null);
    assert_eq!(
        actions(&frozen)
            .iter()
            .filter(|a| *a == "chargeback")
            .count(),
        1,
        "{frozen}"
    );
    let last = frozen["events"].as_array().expect("events").last().cloned();
    assert_eq!(last.expect("event")["actorKind"], "PAYMENT_PROCESSOR");
    // Nobody moves a frozen order: not the buyer, and admins have nothing to resolve.
    let completed = app
        .gql(
            Some(&buyer.access_token),
            "mutation($i: OrderIdInput!) { completeOrder(input: $i) { userErrors { code } } }",
            json!({ "i": { "orderId": id } }),
        )
        .await;
    assert_eq!(
        error_codes(&completed["completeOrder"]),
        vec!["INVALID_STATE"]
    );
    let opened = open(&app, &buyer, &id, "QUALITY", "me too").await;
    assert_eq!(error_codes(&opened), vec!["INVALID_STATE"], "{opened}");
    assert_eq!(
        order(&app, &admin, &id).await["availableActions"],
        json!([])
    );
    assert!(transfers_of(&double).await.is_empty());
    assert!(
        reversals_of(&double).await.is_empty(),
        "nothing was paid out"
    );

    // Won: the order is DELIVERED again with a fresh auto-complete timer.
    let won = double.close_dispute(&dp, "won");
    for event in ["evt_cbw_closed", "evt_cbw_closed"] {
        dispute_event(&app, event, "charge.dispute.closed", &won).await;
    }
    let resumed = order(&app, &buyer, &id).await;
    assert_eq!(resumed["status"], "DELIVERED", "{resumed}");
    assert!(resumed["autoCompleteAt"].is_string());
    assert_eq!(resumed["chargeback"]["status"], "WON");
    assert!(resumed["chargeback"]["closedAt"].is_string());
    assert_eq!(
        actions(&resumed)
            .iter()
            .filter(|a| a.starts_with("chargeback"))
            .collect::<Vec<_>>(),
        vec!["chargeback", "chargeback_won"]
    );
    // A late `created` changes nothing.
    dispute_event(
        &app,
        "evt_cbw_created_late",
        "charge.dispute.created",
        &dispute,
    )
    .await;
    assert_eq!(order(&app, &buyer, &id).await["events"], resumed["events"]);

    order_action(&app, &buyer, "completeOrder", json!({ "orderId": id })).await;
    assert_eq!(
        transfers_of(&double).await,
        vec![(id.clone(), "8500".to_owned(), format!("{id}:transfer:1"))]
    );
    assert_eq!(
        ledger(&app, &id).await,
        entries(&[("CHARGE", 10_000), ("FEE", 1500), ("TRANSFER", 8500)])
    );
    assert_ledger_balances(&app, &id).await;
    assert_eq!(
        earnings(&app, &seller).await,
        money("8500", "0", "1500", "0", 1)
    );
}

#[tokio::test]
async fn a_chargeback_after_the_payout_takes_it_back_and_a_lost_one_refunds_the_order() {
    let (app, double) = stripe_app().await;
    let (seller, buyer, id, intent) = held_card_order(&app, &double, "cbl", "acct_cbl_0001").await;
    deliver_card_order(&app, &seller, &id).await;
    order_action(&app, &buyer, "completeOrder", json!({ "orderId": id })).await;
    let charge = charge_of(&double, &intent);
    let transfer = double
        .transfer("tr_double0001")
        .expect("the payout was made");
    assert_eq!(transfer["amount"], 8500);

    // The network decided before the platform heard of the dispute: `closed` comes first.
    let dispute = double.open_dispute(&charge, "fraudulent");
    let dp = dispute["id"].as_str().expect("dispute id").to_owned();
    let lost = double.close_dispute(&dp, "lost");
    dispute_event(&app, "evt_cbl_closed", "charge.dispute.closed", &lost).await;

    let refunded = order(&app, &buyer, &id).await;
    assert_eq!(refunded["status"], "REFUNDED", "{refunded}");
    assert_eq!(refunded["refunded"]["cents"], "10000");
    assert_eq!(refunded["chargeback"]["status"], "LOST");
    assert_eq!(refunded["chargeback"]["priorStatus"], "COMPLETED");
    assert_eq!(refunded["availableActions"], json!([]));
    // The payout was taken back once, under the order's reversal key.
    assert_eq!(
        reversals_of(&double).await,
        vec![(
            "tr_double0001".to_owned(),
            "8500".to_owned(),
            format!("{id}:transfer_reversal:1")
        )]
    );
    // Exactly the amount: no other field, and the reversal's key above.
    let sent = double
        .requests_to("POST", "/v1/transfers/tr_double0001/reversals")
        .await;
    assert_eq!(
        form(&sent[0]),
        [("amount".to_owned(), "8500".to_owned())]
            .into_iter()
            .collect()
    );
    assert_eq!(
        double.transfer("tr_double0001").expect("tr")["amount_reversed"],
        8500
    );
    assert!(
        refunds_of(&double).await.is_empty(),
        "the bank refunded, not the platform"
    );
    let book = entries(&[
        ("CHARGE", 10_000),
        ("CHARGEBACK", 10_000),
        ("FEE", 1500),
        ("FEE_REVERSAL", 1500),
        ("TRANSFER", 8500),
        ("TRANSFER_REVERSAL", 8500),
    ]);
    assert_eq!(ledger(&app, &id).await, book);
    assert_ledger_balances(&app, &id).await;
    assert_eq!(
        earnings(&app, &seller).await,
        money("0", "0", "0", "0", 0),
        "a charged-back order no longer counts as completed"
    );
    let invoice = invoice_of(&app, &id).await;
    assert_eq!(invoice.refunded_cents, 10_000);
    assert_eq!(sea_orm::ActiveEnum::to_value(&invoice.status), "REFUNDED");

    // Late and repeated news changes nothing: the `created`, the `closed` again, and Stripe's
    // `transfer.reversed` for the reversal the platform made itself.
    let timeline = refunded["events"].clone();
    dispute_event(&app, "evt_cbl_created", "charge.dispute.created", &dispute).await;
    dispute_event(&app, "evt_cbl_closed", "charge.dispute.closed", &lost).await;
    dispute_event(&app, "evt_cbl_closed_2", "charge.dispute.closed", &lost).await;
    let reversed = double.transfer("tr_double0001").expect("tr");
    for event in ["evt_cbl_reversed", "evt_cbl_reversed_2"] {
        send(&app, &charge_event(event, "transfer.reversed", &reversed)).await;
    }
    let after = order(&app, &buyer, &id).await;
    assert_eq!(after["events"], timeline);
    assert_eq!(after["status"], "REFUNDED");
    assert_eq!(reversals_of(&double).await.len(), 1);
    assert_eq!(ledger(&app, &id).await, book);
}

#[tokio::test]
async fn a_won_chargeback_after_the_payout_pays_it_out_again() {
    let (app, double) = stripe_app().await;
    let (seller, buyer, id, intent) = held_card_order(&app, &double, "cbr", "acct_cbr_0001").await;
    deliver_card_order(&app, &seller, &id).await;
    order_action(&app, &buyer, "completeOrder", json!({ "orderId": id })).await;
    let completed_at = order(&app, &buyer, &id).await["completedAt"].clone();
    let charge = charge_of(&double, &intent);

    let dispute = double.open_dispute(&charge, "general");
    let dp = dispute["id"].as_str().expect("dispute id").to_owned();
    dispute_event(&app, "evt_cbr_created", "charge.dispute.created", &dispute).await;
    let frozen = order(&app, &seller.session, &id).await;
    assert_eq!(frozen["status"], "DISPUTED", "{frozen}");
    assert_eq!(frozen["chargeback"]["priorStatus"], "COMPLETED");
    assert_eq!(
        reversals_of(&double).await,
        vec![(
            "tr_double0001".to_owned(),
            "8500".to_owned(),
            format!("{id}:transfer_reversal:1")
        )]
    );
    assert_eq!(
        earnings(&app, &seller).await.0,
        "0",
        "the payout was taken back"
    );

    // Won: COMPLETED again, as it was, and what was taken back is paid out again.
    let won = double.close_dispute(&dp, "won");
    for event in ["evt_cbr_closed", "evt_cbr_closed"] {
        dispute_event(&app, event, "charge.dispute.closed", &won).await;
    }
    let resumed = order(&app, &seller.session, &id).await;
    assert_eq!(resumed["status"], "COMPLETED", "{resumed}");
    assert_eq!(resumed["completedAt"], completed_at, "completed once");
    assert_eq!(resumed["chargeback"]["status"], "WON");
    let transfers = money_posts(&double, "/v1/transfers", "transfer_group").await;
    assert_eq!(
        transfers,
        vec![
            (id.clone(), "8500".to_owned(), format!("{id}:transfer:1")),
            (
                id.clone(),
                "8500".to_owned(),
                format!("{id}:transfer_repaid:1")
            ),
        ]
    );
    assert_eq!(
        ledger(&app, &id).await,
        entries(&[
            ("CHARGE", 10_000),
            ("FEE", 1500),
            ("TRANSFER", 8500),
            ("TRANSFER", 8500),
            ("TRANSFER_REVERSAL", 8500),
        ])
    );
    assert_ledger_balances(&app, &id).await;
    assert_eq!(
        earnings(&app, &seller).await,
        money("8500", "0", "1500", "0", 1),
        "paid out once, net; completed once"
    );
}

#[tokio::test]
async fn a_chargeback_over_a_buyers_dispute_decides_it_and_admins_wait() {
    let (app, double) = stripe_app().await;
    let (seller, buyer, id, intent) = held_card_order(&app, &double, "cbd", "acct_cbd_0001").await;
    let admin = admin_session(&app).await;
    deliver_card_order(&app, &seller, &id).await;
    let opened = open(&app, &buyer, &id, "QUALITY", "Not what was ordered").await;
    assert_eq!(opened["userErrors"], json!([]), "{opened}");
    let buyer_dispute = opened["dispute"]["id"]
        .as_str()
        .expect("dispute")
        .to_owned();
    let charge = charge_of(&double, &intent);

    let dispute = double.open_dispute(&charge, "product_unacceptable");
    let dp = dispute["id"].as_str().expect("dispute id").to_owned();
    dispute_event(&app, "evt_cbd_created", "charge.dispute.created", &dispute).await;
    let frozen = order(&app, &admin, &id).await;
    assert_eq!(frozen["status"], "DISPUTED");
    assert_eq!(frozen["chargeback"]["priorStatus"], "DISPUTED");
    assert_eq!(
        frozen["availableActions"],
        json!([]),
        "admins wait for the network"
    );
    let refused = resolve(&app, &admin, &buyer_dispute, "NO_REFUND", "fine work", None).await;
    assert_eq!(
        error_codes(&refused["data"]["resolveDispute"]),
        vec!["INVALID_STATE"],
        "{refused}"
    );

    // Lost: REFUNDED; the buyer's own dispute is closed as refunded by the processor.
    let lost = double.close_dispute(&dp, "lost");
    dispute_event(&app, "evt_cbd_closed", "charge.dispute.closed", &lost).await;
    let query = "query($id: ID!) { order(id: $id) { status refunded { cents } dispute { status refundAmount { cents } resolvedBy { id } adminNotes } } }";
    let after = app
        .gql(Some(&buyer.access_token), query, json!({ "id": id }))
        .await["order"]
        .clone();
    assert_eq!(after["status"], "REFUNDED", "{after}");
    assert_eq!(after["refunded"]["cents"], "10000");
    assert_eq!(after["dispute"]["status"], "RESOLVED_REFUND");
    assert_eq!(after["dispute"]["refundAmount"]["cents"], "10000");
    assert_eq!(after["dispute"]["resolvedBy"], Value::Null);
    assert!(refunds_of(&double).await.is_empty());
    assert!(transfers_of(&double).await.is_empty());
    assert!(reversals_of(&double).await.is_empty());
    assert_eq!(
        ledger(&app, &id).await,
        entries(&[("CHARGE", 10_000), ("CHARGEBACK", 10_000)])
    );
    assert_ledger_balances(&app, &id).await;
    assert_eq!(earnings(&app, &seller).await, money("0", "0", "0", "0", 0));
}

#[tokio::test]
async fn a_payout_waiting_for_a_retry_is_held_and_never_made_when_the_chargeback_is_lost() {
    let (app, double) = stripe_app().await;
    let (seller, buyer, id, intent) = held_card_order(&app, &double, "cbh", "acct_cbh_0001").await;
    deliver_card_order(&app, &seller, &id).await;
    // Stripe refuses the payout once: it waits for the timers' retry.
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/transfers"))
        .respond_with(wiremock::ResponseTemplate::new(400).set_body_json(json!({
            "error": { "type": "invalid_request_error", "code": "balance_insufficient", "message": "Insufficient funds in Stripe account." }
        })))
        .up_to_n_times(1)
        .mount(double.server())
        .await;
    order_action(&app, &buyer, "completeOrder", json!({ "orderId": id })).await;
    assert_eq!(transfers_of(&double).await.len(), 1, "one refused attempt");

    let dispute = double.open_dispute(&charge_of(&double, &intent), "fraudulent");
    let dp = dispute["id"].as_str().expect("dispute id").to_owned();
    dispute_event(&app, "evt_cbh_created", "charge.dispute.created", &dispute).await;
    assert_eq!(order(&app, &buyer, &id).await["status"], "DISPUTED");
    // Past its backoff, the payout is still held: no retry is due while the chargeback is open.
    app.clock.advance(chrono::Duration::minutes(5));
    let ran = api::jobs::run_once(&app.state).await.expect("timers");
    assert_eq!(ran.ledger_retried, 0);
    assert_eq!(transfers_of(&double).await.len(), 1, "no payout left");
    assert!(
        reversals_of(&double).await.is_empty(),
        "nothing to take back"
    );

    let lost = double.close_dispute(&dp, "lost");
    dispute_event(&app, "evt_cbh_closed", "charge.dispute.closed", &lost).await;
    assert_eq!(order(&app, &buyer, &id).await["status"], "REFUNDED");
    app.clock.advance(chrono::Duration::hours(2));
    api::jobs::run_once(&app.state).await.expect("timers");
    assert_eq!(
        transfers_of(&double).await.len(),
        1,
        "the held payout is never made"
    );
    let mut book = entries(&[
        ("CHARGE", 10_000),
        ("CHARGEBACK", 10_000),
        ("FEE", 1500),
        ("FEE_REVERSAL", 1500),
    ]);
    book.push(("TRANSFER".to_owned(), "FAILED".to_owned(), 8500));
    book.sort();
    assert_eq!(ledger(&app, &id).await, book);
    assert_ledger_balances(&app, &id).await;
    assert_eq!(earnings(&app, &seller).await, money("0", "0", "0", "0", 0));
}
