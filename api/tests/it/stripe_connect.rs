//! Stripe Connect through the API: createProvider against a local double of the Stripe API,
//! and signed webhooks (accepted, refused, duplicated, stale) moving a tenant's onboarding.
use sea_orm::EntityTrait;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::stripe_double::{self, form, header, AccountState, StripeDouble};

pub(crate) const WEBHOOK_SECRET: &str = "whsec_platform_test";
const CONNECT_SECRET: &str = "whsec_connect_test";

pub(crate) async fn stripe_app() -> (TestApp, StripeDouble) {
    stripe_app_with(&[]).await
}

pub(crate) async fn stripe_app_with(extra: &[&str]) -> (TestApp, StripeDouble) {
    let double = stripe_double::start().await;
    let url = double.url();
    let mut args = vec![
        "--stripe-secret-key",
        "sk_test_123",
        "--stripe-api-base",
        &url,
        "--stripe-webhook-secret",
        WEBHOOK_SECRET,
        "--stripe-connect-webhook-secret",
        CONNECT_SECRET,
        "--public-base-url",
        "https://market.example.com",
    ];
    args.extend_from_slice(extra);
    let app = spawn_app_with(&args).await;
    (app, double)
}

/// An `account.updated` event in Stripe's own event shape (the fixture's event object), about
/// `account`.
fn account_updated(event_id: &str, account: &Value) -> String {
    let mut event = stripe_double::fixture("event");
    event["id"] = json!(event_id);
    event["type"] = json!("account.updated");
    event["account"] = account["id"].clone();
    event["data"] = json!({ "object": account });
    event.to_string()
}

pub(crate) async fn deliver(app: &TestApp, payload: &str, signature: &str) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/webhooks/stripe", app.addr))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(payload.to_owned())
        .send()
        .await
        .expect("webhook");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) fn sign(payload: &str, secret: &str, age_secs: i64) -> String {
    api::payments::webhook::sign_for_tests(
        payload,
        secret,
        chrono::Utc::now().timestamp() - age_secs,
    )
}

async fn listed(app: &TestApp) -> usize {
    app.gql(None, "{ listings { totalCount } }", json!({}))
        .await["listings"]["totalCount"]
        .as_u64()
        .unwrap_or_default() as usize
}

#[tokio::test]
async fn onboarding_goes_through_stripe_and_account_updated_opens_the_shop() {
    let (app, double) = stripe_app().await;
    let admin = app.register_admin().await;
    let user = app.register("connect@example.com", "Connie").await;
    let account_id = "acct_connie_0001".to_owned();
    double.mock_create_account(&account_id).await;

    let payload = app
        .create_provider(&user, json!({ "displayName": "Connie Reads" }))
        .await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    let tenant_id = payload["provider"]["tenant"]["id"]
        .as_str()
        .expect("tenant")
        .to_owned();
    let provider_id = payload["provider"]["id"]
        .as_str()
        .expect("provider")
        .to_owned();
    assert_eq!(
        payload["provider"]["tenant"]["stripeOnboardingComplete"],
        false
    );
    let link = stripe_double::account_link_object();
    assert_eq!(payload["onboardingUrl"], link["url"]);

    // The exact requests the adapter sent.
    let created = double.requests_to("POST", "/v1/accounts").await;
    assert_eq!(created.len(), 1);
    let fields = form(&created[0]);
    assert_eq!(fields.get("type").map(String::as_str), Some("express"));
    assert_eq!(fields.get("country").map(String::as_str), Some("US"));
    assert_eq!(
        fields.get("email").map(String::as_str),
        Some("connect@example.com")
    );
    assert_eq!(
        fields
            .get("capabilities[card_payments][requested]")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        fields
            .get("capabilities[transfers][requested]")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(fields.get("metadata[tenant_id]"), Some(&tenant_id));
    let key = format!("connect-account-{tenant_id}");
    assert_eq!(header(&created[0], "idempotency-key"), Some(key.as_str()));
    assert_eq!(
        header(&created[0], "authorization"),
        Some("Bearer sk_test_123")
    );
    let links = double.requests_to("POST", "/v1/account_links").await;
    assert_eq!(links.len(), 1);
    let link_fields = form(&links[0]);
    assert_eq!(link_fields.get("account"), Some(&account_id));
    assert_eq!(
        link_fields.get("type").map(String::as_str),
        Some("account_onboarding")
    );
    assert!(link_fields
        .get("return_url")
        .is_some_and(|u| u.starts_with("https://market.example.com/")));
    assert!(link_fields
        .get("refresh_url")
        .is_some_and(|u| u.starts_with("https://market.example.com/")));

    // Verified, with a published listing, but onboarding is not finished: not browsable.
    app.set_provider_status(&admin, &provider_id, "ACTIVE")
        .await;
    let seller = Seller {
        session: user.clone(),
        provider_id: provider_id.clone(),
        tenant_id: tenant_id.clone(),
    };
    app.listing(&seller, json!({})).await;
    assert_eq!(listed(&app).await, 0);

    // Stripe reports the account complete: the shop opens.
    let account = double.set_account(&account_id, &AccountState::complete());
    let event = account_updated("evt_onboarded_1", &account);
    let (status, body) = deliver(&app, &event, &sign(&event, CONNECT_SECRET, 0)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["duplicate"], false);
    assert_eq!(listed(&app).await, 1);
    let tenant = app
        .gql(
            Some(&user.access_token),
            "query($id: ID!) { tenant(id: $id) { stripeOnboardingComplete payoutsEnabled } }",
            json!({ "id": tenant_id }),
        )
        .await;
    assert_eq!(
        tenant["tenant"],
        json!({ "stripeOnboardingComplete": true, "payoutsEnabled": true })
    );

    // The same event again is acknowledged and not applied twice.
    let (status, body) = deliver(&app, &event, &sign(&event, CONNECT_SECRET, 0)).await;
    assert_eq!(status, 200);
    assert_eq!(body["duplicate"], true);

    // Requirements past due hide the listings again, whatever an older event said: the
    // handler reads the account's current state from Stripe.
    let stale_payload = account.clone();
    double.set_account(
        &account_id,
        &AccountState::with_past_due(&["individual.verification.document"]),
    );
    let late = account_updated("evt_late_2", &stale_payload);
    let (status, _) = deliver(&app, &late, &sign(&late, WEBHOOK_SECRET, 0)).await;
    assert_eq!(status, 200);
    assert_eq!(listed(&app).await, 0);

    // A fresh link later does not create a second account.
    let again = app
        .gql(
            Some(&user.access_token),
            "mutation($id: ID!) { startProviderOnboarding(input: { providerId: $id }) { onboardingUrl userErrors { code } } }",
            json!({ "id": provider_id }),
        )
        .await;
    assert_eq!(
        again["startProviderOnboarding"]["onboardingUrl"],
        link["url"]
    );
    assert_eq!(double.requests_to("POST", "/v1/accounts").await.len(), 1);
    assert_eq!(
        double.requests_to("POST", "/v1/account_links").await.len(),
        2
    );
}

#[tokio::test]
async fn webhooks_with_bad_signatures_stale_timestamps_or_bad_bodies_change_nothing() {
    let (app, double) = stripe_app().await;
    let user = app.register("w@example.com", "W").await;
    double.mock_create_account("acct_w_0001").await;
    app.create_provider(&user, json!({ "displayName": "W" }))
        .await;
    let account = double.set_account("acct_w_0001", &AccountState::complete());
    let event = account_updated("evt_refused", &account);

    let cases = [
        sign(&event, "whsec_wrong", 0),
        sign(&event, CONNECT_SECRET, 301),
        "t=123".to_owned(),
        String::new(),
    ];
    for signature in cases {
        let (status, _) = deliver(&app, &event, &signature).await;
        assert_eq!(status, 400, "{signature}");
    }
    let tampered = event.replace("account.updated", "account.updatee");
    let (status, _) = deliver(&app, &tampered, &sign(&event, CONNECT_SECRET, 0)).await;
    assert_eq!(status, 400);
    let not_json = "not json";
    let (status, _) = deliver(&app, not_json, &sign(not_json, CONNECT_SECRET, 0)).await;
    assert_eq!(status, 400);

    // Nothing was applied or recorded: the tenant is still not onboarded, and the same event,
    // properly signed, is new.
    let viewer = app
        .gql(
            Some(&user.access_token),
            "{ viewer { tenants { stripeOnboardingComplete } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        viewer["viewer"]["tenants"][0]["stripeOnboardingComplete"],
        false
    );
    let (status, body) = deliver(&app, &event, &sign(&event, CONNECT_SECRET, 299)).await;
    assert_eq!(status, 200);
    assert_eq!(body["duplicate"], false);
    let viewer = app
        .gql(
            Some(&user.access_token),
            "{ viewer { tenants { stripeOnboardingComplete } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        viewer["viewer"]["tenants"][0]["stripeOnboardingComplete"],
        true
    );
}

#[tokio::test]
async fn unknown_event_types_are_acknowledged() {
    let (app, _double) = stripe_app().await;
    let mut event = stripe_double::fixture("event");
    event["id"] = json!("evt_unknown_kind");
    event["type"] = json!("customer.created");
    let payload = event.to_string();
    let (status, body) = deliver(&app, &payload, &sign(&payload, WEBHOOK_SECRET, 0)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["received"], true);
}

#[tokio::test]
async fn without_stripe_the_webhook_endpoint_does_not_exist() {
    let app = spawn_app().await;
    let (status, _) = deliver(&app, "{}", "t=1,v1=00").await;
    assert_eq!(status, 404);
}

/// A payment_intent event in Stripe's event shape about `intent`.
pub(crate) fn intent_event(event_id: &str, kind: &str, intent: &str) -> String {
    let mut event = stripe_double::fixture("event");
    event["id"] = json!(event_id);
    event["type"] = json!(kind);
    event["account"] = Value::Null;
    let mut object = stripe_double::fixture("payment_intent");
    object["id"] = json!(intent);
    event["data"] = json!({ "object": object });
    event.to_string()
}

/// A verified provider whose Stripe account `account` finished onboarding (told by a signed
/// account.updated), so its listings are on the market.
async fn open_shop(
    app: &TestApp,
    double: &StripeDouble,
    admin: &Session,
    email: &str,
    account: &str,
) -> Seller {
    let session = app.register(email, "Shop").await;
    double.mock_create_account(account).await;
    let created = app
        .create_provider(&session, json!({ "displayName": "Shop" }))
        .await;
    let provider_id = created["provider"]["id"].as_str().expect("id").to_owned();
    let tenant_id = created["provider"]["tenant"]["id"]
        .as_str()
        .expect("tenant")
        .to_owned();
    app.set_provider_status(admin, &provider_id, "ACTIVE").await;
    let object = double.set_account(account, &AccountState::complete());
    let opened = account_updated(&format!("evt_open_{account}"), &object);
    deliver(app, &opened, &sign(&opened, CONNECT_SECRET, 0)).await;
    Seller {
        session,
        provider_id,
        tenant_id,
    }
}

#[tokio::test]
async fn card_orders_follow_payment_webhooks_and_pay_out_through_stripe() {
    let (app, double) = stripe_app().await;
    let admin = app.register_admin().await;
    let seller = open_shop(&app, &double, &admin, "shop@example.com", "acct_shop_0001").await;
    let listing = app.listing(&seller, json!({ "priceCents": "10000" })).await;
    let buyer = app.register("payer@example.com", "Payer").await;

    let place = "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { id status paymentClientSecret } userErrors { code message } } }";
    let placed = app
        .gql(Some(&buyer.access_token), place, json!({ "l": listing }))
        .await;
    let order = &placed["placeOrder"]["order"];
    assert_eq!(order["status"], "PLACED", "{placed}");
    assert!(order["paymentClientSecret"]
        .as_str()
        .is_some_and(|s| s.contains("_secret_")));
    let id = order["id"].as_str().expect("id").to_owned();
    let intents = double.requests_to("POST", "/v1/payment_intents").await;
    assert_eq!(intents.len(), 1);
    let fields = form(&intents[0]);
    assert_eq!(
        fields.get("capture_method").map(String::as_str),
        Some("manual")
    );
    assert_eq!(fields.get("transfer_group"), Some(&id));
    assert_eq!(fields.get("amount").map(String::as_str), Some("10000"));
    let intent_id = double
        .payment_intent_ids()
        .into_iter()
        .next()
        .expect("an intent");

    // Authorized: the order is held; the same event again changes nothing.
    let held = intent_event(
        "evt_auth_1",
        "payment_intent.amount_capturable_updated",
        &intent_id,
    );
    let (status, body) = deliver(&app, &held, &sign(&held, WEBHOOK_SECRET, 0)).await;
    assert_eq!(
        (status, body["duplicate"].clone()),
        (200, json!(false)),
        "{body}"
    );
    let (_, body) = deliver(&app, &held, &sign(&held, WEBHOOK_SECRET, 0)).await;
    assert_eq!(body["duplicate"], true);
    // The hold lasts until the authorized charge's capture_before, as Stripe reports it.
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    let stored = entity::orders::Entity::find_by_id(id.clone())
        .one(&db.reader)
        .await
        .expect("read")
        .expect("order");
    let left = stored.hold_expires_at.expect("hold_expires_at") - chrono::Utc::now();
    assert!(
        (left.num_seconds() - stripe_double::AUTHORIZATION_SECS).abs() < 60,
        "{left}"
    );
    // A failure reported late, after the authorization, is acknowledged and ignored.
    let failed = intent_event("evt_fail_late", "payment_intent.payment_failed", &intent_id);
    let (status, _) = deliver(&app, &failed, &sign(&failed, WEBHOOK_SECRET, 0)).await;
    assert_eq!(status, 200);
    let query = "query($id: ID!) { order(id: $id) { status } }";
    assert_eq!(
        app.gql(Some(&buyer.access_token), query, json!({ "id": id }))
            .await["order"]["status"],
        "PAYMENT_HELD"
    );

    // Claim captures through Stripe; completion transfers from that charge.
    let claim = "mutation($id: ID!) { claimOrder(input: { orderId: $id }) { order { status } userErrors { code } } }";
    app.gql(
        Some(&seller.session.access_token),
        claim,
        json!({ "id": id }),
    )
    .await;
    let capture_path = format!("/v1/payment_intents/{intent_id}/capture");
    let captures = double.requests_to("POST", &capture_path).await;
    assert_eq!(captures.len(), 1);
    let capture_key = format!("{id}:charge:1");
    assert_eq!(
        header(&captures[0], "idempotency-key"),
        Some(capture_key.as_str())
    );
    let deliver_q = "mutation($id: ID!) { deliverOrder(input: { orderId: $id, summary: \"Done\" }) { order { status } } }";
    app.gql(
        Some(&seller.session.access_token),
        deliver_q,
        json!({ "id": id }),
    )
    .await;
    let complete = "mutation($id: ID!) { completeOrder(input: { orderId: $id }) { order { status } userErrors { code } } }";
    let done = app
        .gql(Some(&buyer.access_token), complete, json!({ "id": id }))
        .await;
    assert_eq!(
        done["completeOrder"]["order"]["status"], "COMPLETED",
        "{done}"
    );
    let transfers = double.requests_to("POST", "/v1/transfers").await;
    assert_eq!(transfers.len(), 1);
    let t = form(&transfers[0]);
    assert_eq!(t.get("amount").map(String::as_str), Some("8500"));
    assert_eq!(
        t.get("destination").map(String::as_str),
        Some("acct_shop_0001")
    );
    assert!(t
        .get("source_transaction")
        .is_some_and(|c| c.starts_with("ch_")));
    assert_eq!(t.get("transfer_group"), Some(&id));
    crate::orders::assert_ledger_balances(&app, &id).await;

    // Another order whose payment fails.
    let second = app
        .gql(Some(&buyer.access_token), place, json!({ "l": listing }))
        .await;
    let second_id = second["placeOrder"]["order"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let second_intent = double
        .payment_intent_ids()
        .into_iter()
        .find(|i| *i != intent_id)
        .expect("second intent");
    double.decline_card(&second_intent);
    let fail = intent_event(
        "evt_fail_2",
        "payment_intent.payment_failed",
        &second_intent,
    );
    deliver(&app, &fail, &sign(&fail, WEBHOOK_SECRET, 0)).await;
    assert_eq!(
        app.gql(Some(&buyer.access_token), query, json!({ "id": second_id }))
            .await["order"]["status"],
        "PAYMENT_FAILED"
    );
}

#[tokio::test]
async fn a_failed_transfer_stays_pending_and_the_timer_retries_it_to_success() {
    let (app, double) = stripe_app().await;
    let admin = app.register_admin().await;
    let seller = open_shop(
        &app,
        &double,
        &admin,
        "retry@example.com",
        "acct_retry_0001",
    )
    .await;
    let listing = app.listing(&seller, json!({ "priceCents": "10000" })).await;
    let buyer = app.register("retryb@example.com", "RetryB").await;
    let placed = app
        .gql(
            Some(&buyer.access_token),
            "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { id } } }",
            json!({ "l": listing }),
        )
        .await;
    let id = placed["placeOrder"]["order"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let intent = double
        .payment_intent_ids()
        .into_iter()
        .next()
        .expect("intent");
    let held = intent_event(
        "evt_retry_auth",
        "payment_intent.amount_capturable_updated",
        &intent,
    );
    deliver(&app, &held, &sign(&held, WEBHOOK_SECRET, 0)).await;
    for mutation in ["claimOrder", "deliverOrder"] {
        let input = if mutation == "deliverOrder" {
            "{ orderId: $id, summary: \"Done\" }"
        } else {
            "{ orderId: $id }"
        };
        let q = format!(
            "mutation($id: ID!) {{ {mutation}(input: {input}) {{ userErrors {{ code }} }} }}"
        );
        app.gql(Some(&seller.session.access_token), &q, json!({ "id": id }))
            .await;
    }

    // Stripe refuses the first transfer (the platform balance is short).
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/transfers"))
        .respond_with(wiremock::ResponseTemplate::new(400).set_body_json(json!({
            "error": { "type": "invalid_request_error", "code": "balance_insufficient", "message": "Insufficient funds in Stripe account." }
        })))
        .up_to_n_times(1)
        .mount(double.server())
        .await;
    let done = app
        .gql(Some(&buyer.access_token), "mutation($id: ID!) { completeOrder(input: { orderId: $id }) { order { status } userErrors { code } } }", json!({ "id": id }))
        .await;
    assert_eq!(
        done["completeOrder"]["order"]["status"], "COMPLETED",
        "{done}"
    );
    assert_eq!(
        paid_out(&app, &seller).await,
        "0",
        "the transfer is still pending"
    );

    // Not before its backoff, then retried with the next attempt's key, and it succeeds.
    assert_eq!(
        api::jobs::run_once(&app.state)
            .await
            .expect("timers")
            .ledger_retried,
        0
    );
    app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(
        api::jobs::run_once(&app.state)
            .await
            .expect("timers")
            .ledger_retried,
        1
    );
    assert_eq!(paid_out(&app, &seller).await, "8500");
    let transfers = double.requests_to("POST", "/v1/transfers").await;
    let keys: Vec<_> = transfers
        .iter()
        .map(|r| header(r, "idempotency-key").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        keys,
        vec![format!("{id}:transfer:1"), format!("{id}:transfer:2")]
    );
    crate::orders::assert_ledger_balances(&app, &id).await;
}

pub(crate) async fn paid_out(app: &TestApp, seller: &Seller) -> Value {
    let query = "query($id: ID!) { provider(id: $id) { earnings { paidOut { cents } } } }";
    app.gql(
        Some(&seller.session.access_token),
        query,
        json!({ "id": seller.provider_id }),
    )
    .await["provider"]["earnings"]["paidOut"]["cents"]
        .clone()
}

/// A charge event in Stripe's event shape carrying the double's charge object.
pub(crate) fn charge_event(event_id: &str, kind: &str, charge: &Value) -> String {
    let mut event = stripe_double::fixture("event");
    event["id"] = json!(event_id);
    event["type"] = json!(kind);
    event["account"] = Value::Null;
    event["data"] = json!({ "object": charge });
    event.to_string()
}

/// Places a card order for `listing` and returns (order id, intent id).
pub(crate) async fn card_order(
    app: &TestApp,
    double: &StripeDouble,
    buyer: &Session,
    listing: &str,
) -> (String, String) {
    let known = double.payment_intent_ids();
    let placed = app
        .gql(
            Some(&buyer.access_token),
            "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { id } userErrors { message } } }",
            json!({ "l": listing }),
        )
        .await;
    let id = placed["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("placed: {placed}"))
        .to_owned();
    let intent = double
        .payment_intent_ids()
        .into_iter()
        .find(|i| !known.contains(i))
        .expect("a new intent");
    (id, intent)
}

/// A shop on `account` with a 100.00 listing, and a buyer's card order for it whose payment
/// Stripe holds: (seller, buyer, order id, intent id). Emails start with `name`.
pub(crate) async fn held_card_order(
    app: &TestApp,
    double: &StripeDouble,
    name: &str,
    account: &str,
) -> (Seller, Session, String, String) {
    let admin = app.register_admin().await;
    let seller = open_shop(app, double, &admin, &format!("{name}@example.com"), account).await;
    let listing = app.listing(&seller, json!({ "priceCents": "10000" })).await;
    let buyer = app
        .register(&format!("{name}b@example.com"), &format!("{name} buyer"))
        .await;
    let (id, intent) = card_order(app, double, &buyer, &listing).await;
    let held = intent_event(
        &format!("evt_{name}_auth"),
        "payment_intent.amount_capturable_updated",
        &intent,
    );
    send(app, &held).await;
    (seller, buyer, id, intent)
}

async fn order_state(app: &TestApp, token: &str, id: &str) -> Value {
    let query = "query($id: ID!) { order(id: $id) { status refunded { cents } events { action actorKind note } } }";
    app.gql(Some(token), query, json!({ "id": id })).await["order"].clone()
}

pub(crate) async fn send(app: &TestApp, payload: &str) -> Value {
    let (status, body) = deliver(app, payload, &sign(payload, WEBHOOK_SECRET, 0)).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn payment_events_follow_the_intent_at_stripe_whatever_their_order() {
    let (app, double) = stripe_app().await;
    let admin = app.register_admin().await;
    let seller = open_shop(
        &app,
        &double,
        &admin,
        "events@example.com",
        "acct_events_01",
    )
    .await;
    let listing = app.listing(&seller, json!({ "priceCents": "10000" })).await;
    let buyer = app.register("eventsb@example.com", "EventsB").await;
    let token = buyer.access_token.clone();

    // Canceled at Stripe while placed: the order is cancelled. An authorization reported
    // afterwards finds the intent canceled and changes nothing.
    let (a, a_intent) = card_order(&app, &double, &buyer, &listing).await;
    double.cancel_outside(&a_intent);
    send(
        &app,
        &intent_event("evt_a_cancel", "payment_intent.canceled", &a_intent),
    )
    .await;
    let late = intent_event(
        "evt_a_auth",
        "payment_intent.amount_capturable_updated",
        &a_intent,
    );
    send(&app, &late).await;
    let state = order_state(&app, &token, &a).await;
    assert_eq!(state["status"], "CANCELLED", "{state}");
    let actions: Vec<&str> = state["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, vec!["place", "payment_canceled"], "{state}");

    // Held, then cancelled by the buyer while Stripe fails to release the hold; the payment is
    // captured at Stripe anyway: it is refunded in full, once, however often Stripe says so.
    let (b, b_intent) = card_order(&app, &double, &buyer, &listing).await;
    send(
        &app,
        &intent_event(
            "evt_b_auth",
            "payment_intent.amount_capturable_updated",
            &b_intent,
        ),
    )
    .await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(format!(
            "/v1/payment_intents/{b_intent}/cancel"
        )))
        .respond_with(wiremock::ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(double.server())
        .await;
    let cancel = "mutation($id: ID!) { cancelOrder(input: { orderId: $id, reason: \"changed my mind\" }) { order { status } userErrors { code } } }";
    let cancelled = app.gql(Some(&token), cancel, json!({ "id": b })).await;
    assert_eq!(
        cancelled["cancelOrder"]["order"]["status"], "CANCELLED",
        "{cancelled}"
    );
    let captured = double.capture_outside(&b_intent);
    let charge_id = captured["latest_charge"]
        .as_str()
        .expect("charge")
        .to_owned();
    let succeeded = intent_event("evt_b_paid", "payment_intent.succeeded", &b_intent);
    send(&app, &succeeded).await;
    assert_eq!(send(&app, &succeeded).await["duplicate"], true);
    send(
        &app,
        &intent_event("evt_b_paid_again", "payment_intent.succeeded", &b_intent),
    )
    .await;
    let refunds = double.requests_to("POST", "/v1/refunds").await;
    assert_eq!(refunds.len(), 1, "refunded once");
    let fields = form(&refunds[0]);
    assert_eq!(fields.get("charge"), Some(&charge_id));
    assert_eq!(fields.get("amount").map(String::as_str), Some("10000"));
    let key = format!("{b}:refund:1");
    assert_eq!(header(&refunds[0], "idempotency-key"), Some(key.as_str()));
    let state = order_state(&app, &token, &b).await;
    assert_eq!(state["status"], "CANCELLED");
    assert_eq!(state["refunded"]["cents"], "10000", "{state}");
    assert_eq!(
        double.charge(&charge_id).expect("charge")["amount_refunded"],
        10000
    );
    crate::orders::assert_ledger_balances(&app, &b).await;
    // Stripe's charge.refunded about that refund: already known, nothing more recorded.
    let charge = double.charge(&charge_id).expect("charge");
    send(
        &app,
        &charge_event("evt_b_refunded", "charge.refunded", &charge),
    )
    .await;
    assert_eq!(
        order_state(&app, &token, &b).await["refunded"]["cents"],
        "10000"
    );
    crate::orders::assert_ledger_balances(&app, &b).await;
}

#[tokio::test]
async fn lost_answers_from_stripe_are_reconciled_without_charging_or_refunding_twice() {
    let (app, double) = stripe_app().await;
    let admin = app.register_admin().await;
    let seller = open_shop(&app, &double, &admin, "lost@example.com", "acct_lost_0001").await;
    let listing = app
        .listing(
            &seller,
            json!({ "priceCents": "10000", "turnaroundDays": 1 }),
        )
        .await;
    let buyer = app.register("lostb@example.com", "LostB").await;
    let token = buyer.access_token.clone();
    let (id, intent) = card_order(&app, &double, &buyer, &listing).await;
    send(
        &app,
        &intent_event(
            "evt_lost_auth",
            "payment_intent.amount_capturable_updated",
            &intent,
        ),
    )
    .await;

    // The capture goes through at Stripe but its answer is lost (500): the CHARGE stays
    // PENDING. The retry asks Stripe first, finds the charge, and does not capture again.
    let capture_path = format!("/v1/payment_intents/{intent}/capture");
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(capture_path.clone()))
        .respond_with(wiremock::ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(double.server())
        .await;
    let claim = "mutation($id: ID!) { claimOrder(input: { orderId: $id }) { order { status } userErrors { code } } }";
    let claimed = app
        .gql(
            Some(&seller.session.access_token),
            claim,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        claimed["claimOrder"]["order"]["status"], "CLAIMED",
        "{claimed}"
    );
    let captured = double.capture_outside(&intent);
    let charge_id = captured["latest_charge"]
        .as_str()
        .expect("charge")
        .to_owned();
    app.clock.advance(chrono::Duration::minutes(2));
    let run = api::jobs::run_once(&app.state).await.expect("timers");
    assert_eq!(run.ledger_retried, 1);
    assert_eq!(
        double.requests_to("POST", &capture_path).await.len(),
        1,
        "captured once"
    );
    let rows = crate::orders::ledger(&app, &id).await;
    assert_eq!(
        rows,
        vec![("CHARGE".to_owned(), "SUCCEEDED".to_owned(), 10000)]
    );

    // Late: the buyer cancels for a full refund, whose answer is lost too; Stripe did refund,
    // and charge.refunded confirms it. The timer then has nothing to retry.
    app.clock.advance(chrono::Duration::days(2));
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/refunds"))
        .respond_with(wiremock::ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(double.server())
        .await;
    let cancel = "mutation($id: ID!) { cancelOrder(input: { orderId: $id, reason: \"too late\" }) { order { status refunded { cents } } userErrors { code } } }";
    let cancelled = app.gql(Some(&token), cancel, json!({ "id": id })).await;
    assert_eq!(
        cancelled["cancelOrder"]["order"]["status"], "REFUNDED",
        "{cancelled}"
    );
    let charge = double.refund_outside(&charge_id, 10000);
    send(
        &app,
        &charge_event("evt_lost_refunded", "charge.refunded", &charge),
    )
    .await;
    crate::orders::assert_ledger_balances(&app, &id).await;
    app.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(
        api::jobs::run_once(&app.state)
            .await
            .expect("timers")
            .ledger_retried,
        0
    );
    assert_eq!(
        double.requests_to("POST", "/v1/refunds").await.len(),
        1,
        "refunded once"
    );
}

#[tokio::test]
async fn a_refund_made_in_the_stripe_dashboard_is_recorded_once() {
    let (app, double) = stripe_app().await;
    let (seller, buyer, id, intent) =
        held_card_order(&app, &double, "dash", "acct_dash_0001").await;
    let claim = "mutation($id: ID!) { claimOrder(input: { orderId: $id }) { order { status } } }";
    app.gql(
        Some(&seller.session.access_token),
        claim,
        json!({ "id": id }),
    )
    .await;
    let charge_id = double.payment_intent(&intent).expect("intent")["latest_charge"]
        .as_str()
        .expect("captured")
        .to_owned();

    let charge = double.refund_outside(&charge_id, 2500);
    send(
        &app,
        &charge_event("evt_dash_1", "charge.refunded", &charge),
    )
    .await;
    // Stripe sends the same news again under another event id: counted once.
    send(
        &app,
        &charge_event("evt_dash_2", "charge.refunded", &charge),
    )
    .await;
    let state = order_state(&app, &buyer.access_token, &id).await;
    assert_eq!(state["refunded"]["cents"], "2500", "{state}");
    assert_eq!(state["status"], "CLAIMED");
    let outside: Vec<&Value> = state["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "refund_outside")
        .collect();
    assert_eq!(outside.len(), 1, "{state}");
    assert_eq!(outside[0]["actorKind"], "PAYMENT_PROCESSOR");
    let rows = crate::orders::ledger(&app, &id).await;
    assert_eq!(
        rows,
        vec![
            ("CHARGE".to_owned(), "SUCCEEDED".to_owned(), 10000),
            ("REFUND".to_owned(), "SUCCEEDED".to_owned(), 2500)
        ]
    );
}

#[tokio::test]
async fn a_hold_captured_in_the_dashboard_before_a_cancel_is_refunded_once() {
    let (app, double) = stripe_app().await;
    let (_seller, buyer, id, intent) =
        held_card_order(&app, &double, "early", "acct_early_001").await;
    // Captured at Stripe before anyone claimed the order: the news alone changes nothing.
    let charge_id = double.capture_outside(&intent)["latest_charge"]
        .as_str()
        .expect("charge")
        .to_owned();
    send(
        &app,
        &intent_event("evt_early_paid", "payment_intent.succeeded", &intent),
    )
    .await;
    assert_eq!(
        order_state(&app, &buyer.access_token, &id).await["status"],
        "PAYMENT_HELD"
    );

    // The buyer cancels: Stripe cannot release a captured intent, so the money goes back.
    let cancel = "mutation($id: ID!) { cancelOrder(input: { orderId: $id, reason: \"too slow\" }) { order { status } userErrors { code } } }";
    let cancelled = app
        .gql(Some(&buyer.access_token), cancel, json!({ "id": id }))
        .await;
    assert_eq!(
        cancelled["cancelOrder"]["order"]["status"], "CANCELLED",
        "{cancelled}"
    );
    let refunds = double.requests_to("POST", "/v1/refunds").await;
    assert_eq!(refunds.len(), 1, "refunded as the cancel found the capture");
    // Stripe repeating the news afterwards refunds nothing more.
    send(
        &app,
        &intent_event("evt_early_paid_2", "payment_intent.succeeded", &intent),
    )
    .await;
    assert_eq!(double.requests_to("POST", "/v1/refunds").await.len(), 1);
    let fields = form(&refunds[0]);
    assert_eq!(fields.get("charge"), Some(&charge_id));
    assert_eq!(fields.get("amount").map(String::as_str), Some("10000"));
    let state = order_state(&app, &buyer.access_token, &id).await;
    assert_eq!(state["refunded"]["cents"], "10000", "{state}");
    assert!(
        state["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["action"] == "refund_stray_payment"),
        "{state}"
    );
    crate::orders::assert_ledger_balances(&app, &id).await;
}

#[tokio::test]
async fn a_hold_captured_in_the_dashboard_before_the_claim_is_the_claims_capture() {
    let (app, double) = stripe_app().await;
    let (seller, buyer, id, intent) =
        held_card_order(&app, &double, "early2", "acct_early_002").await;
    let charge_id = double.capture_outside(&intent)["latest_charge"]
        .as_str()
        .expect("charge")
        .to_owned();

    // Stripe refuses to capture twice; the claim finds the capture made and goes on with it.
    let claim = "mutation($id: ID!) { claimOrder(input: { orderId: $id }) { order { status } userErrors { code } } }";
    let claimed = app
        .gql(
            Some(&seller.session.access_token),
            claim,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        claimed["claimOrder"]["order"]["status"], "CLAIMED",
        "{claimed}"
    );
    assert_eq!(
        crate::orders::ledger(&app, &id).await,
        vec![("CHARGE".to_owned(), "SUCCEEDED".to_owned(), 10000)]
    );
    let deliver = "mutation($id: ID!) { deliverOrder(input: { orderId: $id, summary: \"Done\" }) { userErrors { code } } }";
    app.gql(
        Some(&seller.session.access_token),
        deliver,
        json!({ "id": id }),
    )
    .await;
    let complete = "mutation($id: ID!) { completeOrder(input: { orderId: $id }) { order { status } userErrors { code } } }";
    let done = app
        .gql(Some(&buyer.access_token), complete, json!({ "id": id }))
        .await;
    assert_eq!(
        done["completeOrder"]["order"]["status"], "COMPLETED",
        "{done}"
    );
    let transfers = double.requests_to("POST", "/v1/transfers").await;
    assert_eq!(transfers.len(), 1);
    assert_eq!(
        form(&transfers[0]).get("source_transaction"),
        Some(&charge_id)
    );
    assert!(double.requests_to("POST", "/v1/refunds").await.is_empty());
    crate::orders::assert_ledger_balances(&app, &id).await;
}

#[tokio::test]
async fn a_hold_stripe_failed_to_release_is_released_by_the_timers() {
    let (app, double) = stripe_app().await;
    let (_seller, buyer, id, intent) =
        held_card_order(&app, &double, "rel", "acct_release_1").await;
    let cancel_path = format!("/v1/payment_intents/{intent}/cancel");
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(cancel_path.clone()))
        .respond_with(wiremock::ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(double.server())
        .await;
    let cancel = "mutation($id: ID!) { cancelOrder(input: { orderId: $id, reason: \"found another\" }) { order { status } userErrors { code } } }";
    let cancelled = app
        .gql(Some(&buyer.access_token), cancel, json!({ "id": id }))
        .await;
    assert_eq!(
        cancelled["cancelOrder"]["order"]["status"], "CANCELLED",
        "{cancelled}"
    );
    assert_eq!(
        double.payment_intent(&intent).expect("intent")["status"],
        "requires_capture",
        "Stripe failed: the buyer's money is still held"
    );

    let run = api::jobs::run_once(&app.state).await.expect("timers");
    assert_eq!(run.holds_released, 1, "{run:?}");
    assert_eq!(
        double.payment_intent(&intent).expect("intent")["status"],
        "canceled"
    );
    let keys: Vec<String> = double
        .requests_to("POST", &cancel_path)
        .await
        .iter()
        .filter_map(|r| header(r, "idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0], format!("{id}:cancel_intent:1"));
    assert!(
        keys[1].starts_with(&format!("{id}:cancel_intent:retry-")),
        "a new key, since Stripe replays a failed answer under the old one: {keys:?}"
    );
    let again = api::jobs::run_once(&app.state).await.expect("timers");
    assert_eq!(again, api::jobs::Report::default(), "released once");
    assert_eq!(double.requests_to("POST", &cancel_path).await.len(), 2);
    assert!(crate::orders::ledger(&app, &id).await.is_empty());
}

/// Hardening finding 9: signed events that can never apply (no `data.object.id`, an intent or
/// an account Stripe does not know) answered 500 forever, and Stripe retries for days. They are
/// recorded and acknowledged with the reason; only a transient failure (Stripe failing) is 5xx.
#[tokio::test]
async fn events_that_can_never_apply_are_acknowledged_and_only_transient_failures_are_retried() {
    let (app, double) = stripe_app().await;
    let send = |payload: String| {
        let app = &app;
        async move {
            let signature = sign(&payload, WEBHOOK_SECRET, 0);
            deliver(app, &payload, &signature).await
        }
    };
    // No data.object.id.
    let mut event = stripe_double::fixture("event");
    event["id"] = json!("evt_no_object_id");
    event["type"] = json!("payment_intent.succeeded");
    event["account"] = Value::Null;
    event["data"] = json!({ "object": { "object": "payment_intent" } });
    let (status, body) = send(event.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["ignored"]
            .as_str()
            .is_some_and(|r| r.contains("data.object.id")),
        "{body}"
    );
    // Delivered again: a duplicate, still acknowledged.
    let (status, body) = send(event.to_string()).await;
    assert_eq!(
        (status, body["duplicate"].clone()),
        (200, json!(true)),
        "{body}"
    );

    // An intent and an account Stripe answers 404 for.
    let (status, body) = send(intent_event(
        "evt_unknown_intent",
        "payment_intent.amount_capturable_updated",
        "pi_nobody_knows",
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["ignored"].is_string(), "{body}");
    let account = stripe_double::account_object("acct_nobody_knows", &AccountState::complete());
    let payload = account_updated("evt_unknown_account", &account);
    let signature = sign(&payload, CONNECT_SECRET, 0);
    let (status, body) = deliver(&app, &payload, &signature).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["ignored"].is_string(), "{body}");

    // Stripe failing is transient: 500, nothing recorded, and the redelivery is applied.
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/v1/payment_intents/pi_flaky"))
        .respond_with(wiremock::ResponseTemplate::new(500).set_body_json(json!({
            "error": { "type": "api_error", "message": "try again" }
        })))
        .up_to_n_times(10)
        .with_priority(1)
        .mount(double.server())
        .await;
    let flaky = intent_event(
        "evt_flaky",
        "payment_intent.amount_capturable_updated",
        "pi_flaky",
    );
    let (status, _) = send(flaky.clone()).await;
    assert_eq!(status, 500);
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    let recorded = entity::stripe_events::Entity::find_by_id("evt_flaky".to_owned())
        .one(&db.reader)
        .await
        .expect("query");
    assert!(recorded.is_none(), "a transient failure records nothing");
    let rejected = entity::stripe_events::Entity::find_by_id("evt_unknown_intent".to_owned())
        .one(&db.reader)
        .await
        .expect("query");
    assert!(
        rejected.is_some_and(|e| e.processed_at.is_none()),
        "recorded, not applied"
    );
}

/// Hardening finding 16: `placeOrder` commits the order, then authorizes; a process that dies
/// in between left the order PLACED for good. With a test-only hook the server stops right
/// there; the idempotent replay, or else the timers a minute on, finish the authorization from
/// what was committed, once.
#[tokio::test]
async fn an_order_stranded_between_its_commit_and_its_authorization_is_resumed() {
    let (app, double) = stripe_app_with(&["--fault-injection"]).await;
    let admin = app.register_admin().await;
    let seller = open_shop(
        &app,
        &double,
        &admin,
        "strand@example.com",
        "acct_strand_01",
    )
    .await;
    let listing = app.listing(&seller, json!({ "priceCents": "10000" })).await;
    let buyer = app.register("strandb@example.com", "Strand Buyer").await;
    let token = buyer.access_token.clone();
    let arm = || app.arm_fault("stop-after-commit");
    let place = "mutation($l: ID!, $k: String) { placeOrder(input: { listingId: $l, idempotencyKey: $k }) { order { id status } userErrors { code } } }";
    let orders = "{ orders(first: 10) { nodes { id status paymentClientSecret } } }";

    // The process "dies" after the commit: the client gets an internal error, the order is
    // stored PLACED without an intent, and Stripe was never asked.
    arm().await;
    let (_, died) = app
        .post(
            Some(&token),
            place,
            json!({ "l": listing, "k": "strand-1" }),
        )
        .await;
    assert_eq!(top_level_code(&died), "INTERNAL_SERVER_ERROR", "{died}");
    let stored = app.gql(Some(&token), orders, json!({})).await["orders"]["nodes"].clone();
    assert_eq!(stored.as_array().map(Vec::len), Some(1), "{stored}");
    assert_eq!(stored[0]["status"], "PLACED");
    assert!(stored[0]["paymentClientSecret"].is_null());
    let first = stored[0]["id"].as_str().expect("id").to_owned();
    assert!(double
        .requests_to("POST", "/v1/payment_intents")
        .await
        .is_empty());

    // The client retries with its idempotency key: the same order, authorized now.
    let replayed = app
        .gql(
            Some(&token),
            place,
            json!({ "l": listing, "k": "strand-1" }),
        )
        .await["placeOrder"]
        .clone();
    assert_eq!(replayed["order"]["id"], first.as_str(), "{replayed}");
    assert_eq!(replayed["order"]["status"], "PAYMENT_HELD", "{replayed}");

    // Without a key (or without a retry) the timers resume it a minute on.
    arm().await;
    let (_, died) = app.post(Some(&token), place, json!({ "l": listing })).await;
    assert_eq!(top_level_code(&died), "INTERNAL_SERVER_ERROR", "{died}");
    let stranded = app.gql(Some(&token), orders, json!({})).await["orders"]["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|o| o["status"] == "PLACED").cloned())
        .expect("the second order, PLACED");
    let second = stranded["id"].as_str().expect("id").to_owned();
    let early = api::jobs::run_once(&app.state).await.expect("timers");
    assert_eq!(
        early.authorizations_resumed, 0,
        "the placing request may still be at it"
    );
    app.clock.advance(chrono::Duration::minutes(2));
    let ran = api::jobs::run_once(&app.state).await.expect("timers");
    assert_eq!(ran.authorizations_resumed, 1);
    let state = order_state(&app, &token, &second).await;
    assert_eq!(state["status"], "PAYMENT_HELD", "{state}");
    let again = api::jobs::run_once(&app.state).await.expect("timers");
    assert_eq!(again.authorizations_resumed, 0);

    // One intent per order, each under the order's fixed idempotency key.
    let created = double.requests_to("POST", "/v1/payment_intents").await;
    assert_eq!(created.len(), 2);
    let keys: Vec<String> = created
        .iter()
        .filter_map(|r| header(r, "idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(
        keys,
        vec![
            format!("{first}:payment_intent:1"),
            format!("{second}:payment_intent:1")
        ]
    );
}
