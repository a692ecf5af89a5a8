//! A local HTTP double of the Stripe API (wiremock) for the payment adapter's tests.
//!
//! It serves Stripe's own example objects from shared/stripe/fixtures3.json with the ids and
//! flags a test needs patched in. `start()` mounts stateful fallbacks:
//!
//! - Connect: `POST /v1/accounts` creates an Express account (echoing email, country and
//!   metadata), `GET /v1/accounts/{id}` returns what the double holds for that id (404
//!   otherwise), and `POST /v1/account_links` returns the fixture link for a known account.
//! - Escrow: `POST /v1/payment_intents` creates an intent (`pi_double…`) with the amount,
//!   currency, metadata and transfer group asked for; with `capture_method=manual` it is
//!   authorized at once (`requires_capture`, as if the buyer had confirmed with a test card),
//!   otherwise it waits in `requires_payment_method`. `POST /v1/payment_intents/{id}/capture`
//!   captures it (`succeeded`, `latest_charge` a new `ch_double…`), `…/cancel` cancels it;
//!   both refuse an unknown intent (404) or one in the wrong state (400).
//!   `POST /v1/refunds` refunds part or all of a charge the double captured (`re_double…`;
//!   refused beyond what is left), and `POST /v1/transfers` pays a known account from a charge
//!   the double captured (`tr_double…`), and `POST /v1/transfers/{id}/reversals` takes part
//!   or all of one back (`trr_double…`; refused beyond what is left). `GET /v1/transfers`
//!   lists them (filtered by `transfer_group`, newest first) and `GET /v1/transfers/{id}` serves
//!   one with what has been reversed of it. `lose_next_answer` makes the next POST to a path
//!   go through while its caller gets a 500, as when an answer is lost on the way back.
//! - Chargebacks: a test opens a dispute on a captured charge (`open_dispute`, `dp_double…`)
//!   and closes it (`close_dispute`); `GET /v1/disputes/{id}` serves it as the double holds it.
//!
//! Every POST keeps Stripe's idempotency: a repeated `Idempotency-Key` with the same method, path
//! and parameters replays the first successful reply (header `idempotent-replayed: true`); with
//! anything else it is refused with an `idempotency_error`. Mocks a test mounts itself through
//! `server()` win over these fallbacks.
#![allow(dead_code)] // helpers for several test modules; each uses a few

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const FIXTURES_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/stripe/fixtures3.json"
);

/// wiremock serves the matching mock with the lowest number first (5 by default), so anything a
/// test mounts itself takes precedence over these.
const FALLBACK_PRIORITY: u8 = 100;

#[derive(Default)]
struct State {
    /// id → account object served by `GET /v1/accounts/{id}`
    accounts: HashMap<String, Value>,
    /// id → payment intent as last returned
    payment_intents: HashMap<String, Value>,
    /// id → charge made by a capture (with what has been refunded of it)
    charges: HashMap<String, Value>,
    /// id → refund
    refunds: HashMap<String, Value>,
    /// id → transfer (with what has been reversed of it)
    transfers: HashMap<String, Value>,
    /// id → transfer reversal
    reversals: HashMap<String, Value>,
    /// id → dispute (chargeback) as last changed
    disputes: HashMap<String, Value>,
    /// Idempotency-Key → the request first sent with it and the reply given
    replies: HashMap<String, Idempotent>,
    /// id prefix (`acct`, `pi`, `ch`, …) → how many ids the double has made with it
    counters: HashMap<&'static str, usize>,
}

/// What Stripe keeps for an `Idempotency-Key`.
struct Idempotent {
    method: String,
    path: String,
    form: BTreeMap<String, String>,
    reply: Value,
}

impl State {
    /// A fresh id such as `pi_double0001`.
    fn next_id(&mut self, prefix: &'static str) -> String {
        let count = self.counters.entry(prefix).or_default();
        *count += 1;
        format!("{prefix}_double{count:04}")
    }

    /// A key seen before replays the first reply when the request is the same (method, path,
    /// parameters) and is refused otherwise, as Stripe does.
    fn replay(&self, request: &Request) -> Option<ResponseTemplate> {
        let key = header(request, "idempotency-key")?;
        let first = self.replies.get(key)?;
        if first.method == request.method.as_str()
            && first.path == request.url.path()
            && first.form == form(request)
        {
            Some(
                ResponseTemplate::new(200)
                    .set_body_json(&first.reply)
                    .insert_header("idempotent-replayed", "true"),
            )
        } else {
            Some(idempotency_error(key))
        }
    }

    /// Keeps a successful reply for the request's `Idempotency-Key`, if it has one.
    fn remember(&mut self, request: &Request, reply: &Value) {
        if let Some(key) = header(request, "idempotency-key") {
            let first = Idempotent {
                method: request.method.as_str().to_owned(),
                path: request.url.path().to_owned(),
                form: form(request),
                reply: reply.clone(),
            };
            self.replies.insert(key.to_owned(), first);
        }
    }
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    // A test that panicked while holding the lock must not hide its own failure behind ours.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct StripeDouble {
    server: MockServer,
    state: Shared,
}

pub async fn start() -> StripeDouble {
    let server = MockServer::start().await;
    let state = Shared::default();
    Mock::given(method("POST"))
        .and(path("/v1/accounts"))
        .respond_with(CreateAccountResponder {
            id: None,
            state: state.clone(),
        })
        .with_priority(FALLBACK_PRIORITY)
        .named("POST /v1/accounts (fallback)")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1/accounts/[^/]+$"))
        .respond_with(RetrieveAccountResponder {
            state: state.clone(),
        })
        .with_priority(FALLBACK_PRIORITY)
        .named("GET /v1/accounts/{id} (fallback)")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1/payment_intents/[^/]+$"))
        .respond_with(RetrieveIntentResponder {
            state: state.clone(),
        })
        .with_priority(FALLBACK_PRIORITY)
        .named("GET /v1/payment_intents/{id} (fallback)")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1/disputes/[^/]+$"))
        .respond_with(RetrieveDisputeResponder {
            state: state.clone(),
        })
        .with_priority(FALLBACK_PRIORITY)
        .named("GET /v1/disputes/{id} (fallback)")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/transfers"))
        .respond_with(ListTransfersResponder {
            state: state.clone(),
        })
        .with_priority(FALLBACK_PRIORITY)
        .named("GET /v1/transfers (fallback)")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1/transfers/[^/]+$"))
        .respond_with(RetrieveTransferResponder {
            state: state.clone(),
        })
        .with_priority(FALLBACK_PRIORITY)
        .named("GET /v1/transfers/{id} (fallback)")
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/account_links"))
        .respond_with(AccountLinkResponder {
            state: state.clone(),
        })
        .with_priority(FALLBACK_PRIORITY)
        .named("POST /v1/account_links (fallback)")
        .mount(&server)
        .await;

    for (name, pattern, handler) in escrow_routes() {
        Mock::given(method("POST"))
            .and(path_regex(pattern))
            .respond_with(PostResponder {
                handler,
                state: state.clone(),
                lose_answer: false,
            })
            .with_priority(FALLBACK_PRIORITY)
            .named(name)
            .mount(&server)
            .await;
    }
    StripeDouble { server, state }
}

/// The stateful POST endpoints: (name, path pattern, handler).
fn escrow_routes() -> [(&'static str, &'static str, Handler); 6] {
    [
        (
            "POST /v1/payment_intents (fallback)",
            r"^/v1/payment_intents$",
            create_payment_intent,
        ),
        (
            "POST /v1/payment_intents/{id}/capture (fallback)",
            r"^/v1/payment_intents/[^/]+/capture$",
            capture_payment_intent,
        ),
        (
            "POST /v1/payment_intents/{id}/cancel (fallback)",
            r"^/v1/payment_intents/[^/]+/cancel$",
            cancel_payment_intent,
        ),
        (
            "POST /v1/refunds (fallback)",
            r"^/v1/refunds$",
            create_refund,
        ),
        (
            "POST /v1/transfers (fallback)",
            r"^/v1/transfers$",
            create_transfer,
        ),
        (
            "POST /v1/transfers/{id}/reversals (fallback)",
            r"^/v1/transfers/[^/]+/reversals$",
            create_transfer_reversal,
        ),
    ]
}

impl StripeDouble {
    /// The base URL to give the gateway (`StripeSettings::api_base`).
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// For mounting a test's own mocks (errors, odd responses); they win over the fallbacks.
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// Every request received so far, oldest first.
    pub async fn received_requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// The requests received for one method and path, oldest first.
    pub async fn requests_to(&self, method: &str, path: &str) -> Vec<Request> {
        self.received_requests()
            .await
            .into_iter()
            .filter(|req| req.method.as_str() == method && req.url.path() == path)
            .collect()
    }

    /// The next `POST /v1/accounts` creates the account with this id (later ones get
    /// `acct_doubleNNNN` ids again).
    pub async fn mock_create_account(&self, id: &str) {
        Mock::given(method("POST"))
            .and(path("/v1/accounts"))
            .respond_with(CreateAccountResponder {
                id: Some(id.to_owned()),
                state: self.state.clone(),
            })
            .up_to_n_times(1)
            .named(format!("POST /v1/accounts → {id}"))
            .mount(&self.server)
            .await;
    }

    /// From now on `GET /v1/accounts/{id}` returns the account in this state; returns the
    /// object served.
    pub fn set_account(&self, id: &str, state: &AccountState) -> Value {
        let mut state_guard = lock(&self.state);
        let mut account = account_object(id, state);
        // Keep what the account was created with.
        if let Some(previous) = state_guard.accounts.get(id) {
            for field in ["email", "country", "metadata"] {
                account[field] = previous[field].clone();
            }
        }
        state_guard.accounts.insert(id.to_owned(), account.clone());
        account
    }

    /// The account object the double holds for `id`.
    pub fn account(&self, id: &str) -> Option<Value> {
        lock(&self.state).accounts.get(id).cloned()
    }

    /// The payment intent the double holds for `id`, as last returned.
    pub fn payment_intent(&self, id: &str) -> Option<Value> {
        lock(&self.state).payment_intents.get(id).cloned()
    }

    /// A charge made by a capture, with `amount_refunded` kept up to date.
    pub fn charge(&self, id: &str) -> Option<Value> {
        lock(&self.state).charges.get(id).cloned()
    }

    /// A refund the double made.
    pub fn refund(&self, id: &str) -> Option<Value> {
        lock(&self.state).refunds.get(id).cloned()
    }

    /// A transfer the double made.
    pub fn transfer(&self, id: &str) -> Option<Value> {
        lock(&self.state).transfers.get(id).cloned()
    }

    /// The buyer's card was declined: the intent waits for another payment method, as Stripe
    /// leaves it after `payment_intent.payment_failed`. Returns the intent.
    pub fn decline_card(&self, intent_id: &str) -> Value {
        let mut state = lock(&self.state);
        let intent = state
            .payment_intents
            .get_mut(intent_id)
            .expect("known intent");
        intent["status"] = json!("requires_payment_method");
        intent["amount_capturable"] = json!(0);
        intent["last_payment_error"] = json!({ "code": "card_declined", "type": "card_error" });
        intent.clone()
    }

    /// Someone captured the intent outside the platform (the Dashboard); returns the intent.
    pub fn capture_outside(&self, intent_id: &str) -> Value {
        let mut state = lock(&self.state);
        let mut intent = state
            .payment_intents
            .get(intent_id)
            .cloned()
            .expect("known intent");
        let amount = intent["amount"].as_i64().unwrap_or_default();
        capture(&mut state, &mut intent, amount);
        state
            .payment_intents
            .insert(intent_id.to_owned(), intent.clone());
        intent
    }

    /// The intent was canceled at Stripe (expired, or canceled in the Dashboard).
    pub fn cancel_outside(&self, intent_id: &str) -> Value {
        let mut state = lock(&self.state);
        let intent = state
            .payment_intents
            .get_mut(intent_id)
            .expect("known intent");
        intent["status"] = json!("canceled");
        intent["amount_capturable"] = json!(0);
        intent["cancellation_reason"] = json!("automatic");
        intent.clone()
    }

    /// Part of a charge was refunded in the Dashboard; returns the charge.
    pub fn refund_outside(&self, charge_id: &str, amount: i64) -> Value {
        let mut state = lock(&self.state);
        let charge = state.charges.get_mut(charge_id).expect("known charge");
        let refunded = charge["amount_refunded"].as_i64().unwrap_or_default() + amount;
        charge["amount_refunded"] = json!(refunded);
        charge["refunded"] =
            json!(refunded == charge["amount_captured"].as_i64().unwrap_or_default());
        charge.clone()
    }

    /// The next POST to `path` is made as usual, but its caller gets a 500 instead of the
    /// answer (the answer was lost on its way back). Later ones are answered again.
    pub async fn lose_next_answer(&self, path: &str) {
        let (name, _, handler) = escrow_routes()
            .into_iter()
            .find(|(_, pattern, _)| regex_lite_match(pattern, path))
            .unwrap_or_else(|| panic!("no POST endpoint for {path}"));
        Mock::given(method("POST"))
            .and(wiremock::matchers::path(path))
            .respond_with(PostResponder {
                handler,
                state: self.state.clone(),
                lose_answer: true,
            })
            .up_to_n_times(1)
            .with_priority(1)
            .named(format!("{name}: answer lost"))
            .mount(&self.server)
            .await;
    }

    /// A transfer reversal the double made.
    pub fn reversal(&self, id: &str) -> Option<Value> {
        lock(&self.state).reversals.get(id).cloned()
    }

    /// The card network disputes a charge the double captured, for what is left of it after
    /// refunds (`needs_response`, funds withdrawn); returns the dispute.
    pub fn open_dispute(&self, charge_id: &str, reason: &str) -> Value {
        let mut state = lock(&self.state);
        let charge = state.charges.get(charge_id).cloned().expect("known charge");
        let id = state.next_id("dp");
        let amount = charge["amount_captured"].as_i64().unwrap_or_default()
            - charge["amount_refunded"].as_i64().unwrap_or_default();
        let dispute = dispute_object(&id, &charge, amount, reason);
        if let Some(charge) = state.charges.get_mut(charge_id) {
            charge["disputed"] = json!(true);
        }
        state.disputes.insert(id, dispute.clone());
        dispute
    }

    /// The card network decides a dispute: `won` or `lost`; returns the dispute.
    pub fn close_dispute(&self, id: &str, status: &str) -> Value {
        let mut state = lock(&self.state);
        let dispute = state.disputes.get_mut(id).expect("known dispute");
        dispute["status"] = json!(status);
        dispute["evidence_details"]["submission_count"] = json!(1);
        dispute["evidence_details"]["has_evidence"] = json!(true);
        dispute.clone()
    }

    /// The ids of the payment intents the double made, in creation order.
    pub fn payment_intent_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = lock(&self.state).payment_intents.keys().cloned().collect();
        ids.sort();
        ids
    }
}

/// The flags a test sets on a connected account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountState {
    pub details_submitted: bool,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    /// `requirements.past_due`
    pub past_due: Vec<String>,
}

impl AccountState {
    /// Just created: nothing submitted, nothing enabled.
    pub fn new_account() -> Self {
        Self::default()
    }

    /// Onboarding finished and verified.
    pub fn complete() -> Self {
        Self {
            details_submitted: true,
            charges_enabled: true,
            payouts_enabled: true,
            past_due: Vec::new(),
        }
    }

    /// Onboarded once, then a deadline passed: Stripe disables charges and payouts.
    pub fn with_past_due(fields: &[&str]) -> Self {
        Self {
            details_submitted: true,
            charges_enabled: false,
            payouts_enabled: false,
            past_due: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }
}

/// One resource of fixtures3.json (`account`, `account_link`, `event`, …), unpatched.
pub fn fixture(resource: &str) -> Value {
    static FIXTURES: OnceLock<Value> = OnceLock::new();
    let all = FIXTURES.get_or_init(|| {
        let text = std::fs::read_to_string(FIXTURES_PATH)
            .unwrap_or_else(|err| panic!("reading {FIXTURES_PATH}: {err}"));
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("parsing {FIXTURES_PATH}: {err}"))
    });
    all["resources"]
        .get(resource)
        .cloned()
        .unwrap_or_else(|| panic!("{FIXTURES_PATH} has no resource {resource:?}"))
}

/// Stripe's example account as an Express account with this id and these flags.
pub fn account_object(id: &str, state: &AccountState) -> Value {
    let mut account = fixture("account");
    account["id"] = json!(id);
    account["type"] = json!("express");
    account["metadata"] = json!({});
    account["details_submitted"] = json!(state.details_submitted);
    account["charges_enabled"] = json!(state.charges_enabled);
    account["payouts_enabled"] = json!(state.payouts_enabled);
    let capability = if state.charges_enabled {
        "active"
    } else {
        "inactive"
    };
    account["capabilities"] = json!({ "card_payments": capability, "transfers": capability });
    account["external_accounts"]["url"] = json!(format!("/v1/accounts/{id}/external_accounts"));

    let requirements = &mut account["requirements"];
    if state.details_submitted {
        // Once onboarded, only what is past due is still asked for.
        requirements["currently_due"] = json!(state.past_due);
        requirements["eventually_due"] = json!(state.past_due);
    }
    requirements["past_due"] = json!(state.past_due);
    if !state.past_due.is_empty() {
        requirements["disabled_reason"] = json!("requirements.past_due");
    } else if state.charges_enabled {
        requirements["disabled_reason"] = Value::Null;
    }
    account
}

/// Stripe's example account link, freshly created (links expire after a few minutes).
pub fn account_link_object() -> Value {
    let mut link = fixture("account_link");
    let now = chrono::Utc::now().timestamp();
    link["created"] = json!(now);
    link["expires_at"] = json!(now + 300);
    link
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Stripe's example payment intent as a fresh manual-capture intent: nothing captured, no
/// charge, metadata or transfer group yet. The example mixes states that do not hold for a
/// fresh intent (canceled, a payment error, a pending action, processing, a shipping address, a
/// destination charge to an `{id, object}` stub): those are cleared.
pub fn payment_intent_object(id: &str, amount: i64, currency: &str, status: &str) -> Value {
    let mut intent = fixture("payment_intent");
    intent["id"] = json!(id);
    intent["amount"] = json!(amount);
    let capturable = if status == "requires_capture" {
        amount
    } else {
        0
    };
    intent["amount_capturable"] = json!(capturable);
    intent["amount_received"] = json!(0);
    intent["currency"] = json!(currency);
    intent["capture_method"] = json!("manual");
    intent["client_secret"] = json!(format!("{id}_secret_double"));
    intent["created"] = json!(now());
    intent["status"] = json!(status);
    intent["metadata"] = json!({});
    for field in [
        "canceled_at",
        "cancellation_reason",
        "last_payment_error",
        "latest_charge",
        "next_action",
        "processing",
        "shipping",
        "transfer_data",
        "transfer_group",
    ] {
        intent[field] = Value::Null;
    }
    intent
}

/// Stripe's example charge as the one capturing `amount` of `intent` makes. The example's
/// legacy card source and destination stub do not belong to a payment-intent charge.
pub fn charge_object(id: &str, intent: &Value, amount: i64) -> Value {
    let mut charge = fixture("charge");
    charge["id"] = json!(id);
    charge["amount"] = intent["amount"].clone();
    charge["amount_captured"] = json!(amount);
    charge["amount_refunded"] = json!(0);
    charge["captured"] = json!(true);
    charge["paid"] = json!(true);
    charge["refunded"] = json!(false);
    charge["status"] = json!("succeeded");
    charge["currency"] = intent["currency"].clone();
    charge["created"] = json!(now());
    charge["payment_intent"] = intent["id"].clone();
    charge["metadata"] = intent["metadata"].clone();
    charge["transfer_group"] = intent["transfer_group"].clone();
    charge["refunds"]["url"] = json!(format!("/v1/charges/{id}/refunds"));
    charge["source"] = Value::Null;
    charge["transfer_data"] = Value::Null;
    charge
}

/// Stripe's example refund as a succeeded refund of `amount` of `charge`.
pub fn refund_object(id: &str, charge: &Value, amount: i64) -> Value {
    let mut refund = fixture("refund");
    refund["id"] = json!(id);
    refund["amount"] = json!(amount);
    refund["charge"] = charge["id"].clone();
    refund["currency"] = charge["currency"].clone();
    refund["payment_intent"] = charge["payment_intent"].clone();
    refund["created"] = json!(now());
    refund["status"] = json!("succeeded");
    refund["metadata"] = json!({});
    refund
}

/// Stripe's example transfer as a fresh transfer of `amount` to `destination`, not from a
/// particular charge and in no transfer group.
pub fn transfer_object(id: &str, amount: i64, currency: &str, destination: &str) -> Value {
    let mut transfer = fixture("transfer");
    transfer["id"] = json!(id);
    transfer["amount"] = json!(amount);
    transfer["amount_reversed"] = json!(0);
    transfer["reversed"] = json!(false);
    transfer["currency"] = json!(currency);
    transfer["destination"] = json!(destination);
    transfer["created"] = json!(now());
    transfer["metadata"] = json!({});
    transfer["source_transaction"] = Value::Null;
    transfer["transfer_group"] = Value::Null;
    transfer["reversals"]["url"] = json!(format!("/v1/transfers/{id}/reversals"));
    transfer
}

/// Stripe's example dispute as a fresh chargeback of `amount` of `charge`.
pub fn dispute_object(id: &str, charge: &Value, amount: i64, reason: &str) -> Value {
    let mut dispute = fixture("dispute");
    dispute["id"] = json!(id);
    dispute["amount"] = json!(amount);
    dispute["charge"] = charge["id"].clone();
    dispute["currency"] = charge["currency"].clone();
    dispute["payment_intent"] = charge["payment_intent"].clone();
    dispute["created"] = json!(now());
    dispute["reason"] = json!(reason);
    dispute["status"] = json!("needs_response");
    dispute["is_charge_refundable"] = json!(false);
    dispute["payment_method_details"]["card"]["case_type"] = json!("chargeback");
    dispute
}

/// Stripe's example transfer reversal of `amount` of `transfer`.
pub fn reversal_object(id: &str, transfer: &Value, amount: i64) -> Value {
    let mut reversal = fixture("transfer_reversal");
    reversal["id"] = json!(id);
    reversal["amount"] = json!(amount);
    reversal["currency"] = transfer["currency"].clone();
    reversal["transfer"] = transfer["id"].clone();
    reversal["created"] = json!(now());
    reversal["metadata"] = json!({});
    reversal
}

/// The url-encoded form body of a request, decoded (`capabilities[transfers][requested]` →
/// `true`).
pub fn form(req: &Request) -> BTreeMap<String, String> {
    let body = String::from_utf8_lossy(&req.body);
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(key), decode_component(value))
        })
        .collect()
}

/// A request header as text, e.g. `header(req, "idempotency-key")`.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|value| value.to_str().ok())
}

fn decode_component(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let escaped = bytes
                    .get(i + 1..i + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                match escaped {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `metadata[…]` parameters of a form as Stripe's metadata object.
fn metadata(fields: &BTreeMap<String, String>) -> Value {
    let metadata: serde_json::Map<String, Value> = fields
        .iter()
        .filter_map(|(key, value)| {
            let name = key.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((name.to_owned(), json!(value)))
        })
        .collect();
    Value::Object(metadata)
}

/// Stripe's error envelope.
fn stripe_error(status: u16, code: &str, message: String, param: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
        }
    }))
}

/// Stripe's answer to an `Idempotency-Key` reused for a different request.
fn idempotency_error(key: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({
        "error": {
            "type": "idempotency_error",
            "message": format!(
                "Keys for idempotent requests can only be used with the same parameters they were \
                 first used with. Try using a key other than '{key}' if you meant to execute a \
                 different request."
            ),
        }
    }))
}

/// A Stripe error, made into its envelope by `PostResponder`.
struct Refusal {
    status: u16,
    code: &'static str,
    message: String,
    param: &'static str,
}

impl Refusal {
    fn new(status: u16, code: &'static str, message: String, param: &'static str) -> Self {
        Self {
            status,
            code,
            message,
            param,
        }
    }

    fn missing(param: &'static str) -> Self {
        Self::new(
            400,
            "parameter_missing",
            format!("Missing required param: {param}."),
            param,
        )
    }

    fn no_such_intent(id: &str) -> Self {
        Self::new(
            404,
            "resource_missing",
            format!("No such payment_intent: '{id}'"),
            "intent",
        )
    }

    fn unexpected_state(message: String) -> Self {
        Self::new(400, "payment_intent_unexpected_state", message, "")
    }

    fn into_response(self) -> ResponseTemplate {
        stripe_error(self.status, self.code, self.message, self.param)
    }
}

fn required<'a>(
    fields: &'a BTreeMap<String, String>,
    name: &'static str,
) -> Result<&'a str, Refusal> {
    fields
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| Refusal::missing(name))
}

fn optional_integer(
    fields: &BTreeMap<String, String>,
    name: &'static str,
) -> Result<Option<i64>, Refusal> {
    fields
        .get(name)
        .map(|text| {
            text.parse::<i64>().map_err(|_| {
                Refusal::new(
                    400,
                    "parameter_invalid_integer",
                    format!("Invalid integer: {text}"),
                    name,
                )
            })
        })
        .transpose()
}

fn required_integer(fields: &BTreeMap<String, String>, name: &'static str) -> Result<i64, Refusal> {
    optional_integer(fields, name)?.ok_or_else(|| Refusal::missing(name))
}

fn optional_text(fields: &BTreeMap<String, String>, name: &str) -> Value {
    fields.get(name).map_or(Value::Null, |value| json!(value))
}

/// A POST endpoint of the double: the object to answer with, or Stripe's refusal.
type Handler = fn(&mut State, &Request) -> Result<Value, Refusal>;

/// Runs a `Handler` with Stripe's idempotency around it; with `lose_answer`, the work is done
/// and remembered but the caller gets a 500.
struct PostResponder {
    handler: Handler,
    state: Shared,
    lose_answer: bool,
}

impl Respond for PostResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = lock(&self.state);
        if let Some(replayed) = state.replay(request) {
            return replayed;
        }
        match (self.handler)(&mut state, request) {
            Ok(reply) => {
                state.remember(request, &reply);
                if self.lose_answer {
                    return ResponseTemplate::new(500);
                }
                ResponseTemplate::new(200).set_body_json(reply)
            }
            Err(refusal) => refusal.into_response(),
        }
    }
}

/// The `{id}` of `/v1/payment_intents/{id}/{action}`.
fn intent_id<'a>(request: &'a Request, action: &str) -> &'a str {
    let path = request.url.path();
    path.strip_prefix("/v1/payment_intents/")
        .and_then(|rest| rest.strip_suffix(action))
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or(path)
}

/// `POST /v1/payment_intents`
fn create_payment_intent(state: &mut State, request: &Request) -> Result<Value, Refusal> {
    let fields = form(request);
    let amount = required_integer(&fields, "amount")?;
    let currency = required(&fields, "currency")?;
    let capture_method = fields
        .get("capture_method")
        .map_or("automatic", String::as_str);
    let status = if capture_method == "manual" {
        "requires_capture"
    } else {
        "requires_payment_method"
    };
    let id = state.next_id("pi");
    let mut intent = payment_intent_object(&id, amount, currency, status);
    intent["capture_method"] = json!(capture_method);
    intent["metadata"] = metadata(&fields);
    intent["transfer_group"] = optional_text(&fields, "transfer_group");
    intent["automatic_payment_methods"] = fields.get("automatic_payment_methods[enabled]").map_or(
        Value::Null,
        |enabled| json!({ "enabled": enabled == "true" }),
    );
    if status == "requires_capture" {
        intent["payment_method"] = json!("pm_card_visa");
        authorize(state, &mut intent);
    }
    state.payment_intents.insert(id, intent.clone());
    Ok(intent)
}

/// `POST /v1/payment_intents/{id}/capture`
fn capture_payment_intent(state: &mut State, request: &Request) -> Result<Value, Refusal> {
    let id = intent_id(request, "capture");
    let fields = form(request);
    let mut intent = state
        .payment_intents
        .get(id)
        .cloned()
        .ok_or_else(|| Refusal::no_such_intent(id))?;
    let status = intent["status"].as_str().unwrap_or_default().to_owned();
    if status != "requires_capture" {
        return Err(Refusal::unexpected_state(format!(
            "This PaymentIntent could not be captured because it has a status of {status}. Only \
             a PaymentIntent with one of the following statuses may be captured: \
             requires_capture."
        )));
    }
    let capturable = intent["amount_capturable"].as_i64().unwrap_or_default();
    let amount = optional_integer(&fields, "amount_to_capture")?.unwrap_or(capturable);
    if amount > capturable {
        return Err(Refusal::new(
            400,
            "amount_too_large",
            format!("The amount to capture ({amount}) is more than the amount capturable ({capturable})."),
            "amount_to_capture",
        ));
    }
    capture(state, &mut intent, amount);
    state.payment_intents.insert(id.to_owned(), intent.clone());
    Ok(intent)
}

/// Captures `amount` of an intent: its authorized charge becomes a captured one.
fn capture(state: &mut State, intent: &mut Value, amount: i64) {
    let charge_id = match intent["latest_charge"].as_str() {
        Some(id) if state.charges.contains_key(id) => id.to_owned(),
        _ => state.next_id("ch"),
    };
    let charge = charge_object(&charge_id, intent, amount);
    intent["status"] = json!("succeeded");
    intent["amount_received"] = json!(amount);
    intent["amount_capturable"] = json!(0);
    intent["latest_charge"] = json!(charge_id);
    state.charges.insert(charge_id, charge);
}

/// The authorization Stripe makes when the buyer confirms a manual-capture intent: an
/// uncaptured charge whose card must be captured before `capture_before`.
fn authorize(state: &mut State, intent: &mut Value) {
    let charge_id = state.next_id("ch");
    let mut charge = charge_object(&charge_id, intent, 0);
    charge["captured"] = json!(false);
    charge["payment_method_details"]["card"]["capture_before"] = json!(now() + AUTHORIZATION_SECS);
    intent["latest_charge"] = json!(charge_id);
    state.charges.insert(charge_id, charge);
}

/// How long the double's card authorizations last (Stripe's usual 7 days, minus an hour so a
/// test can tell it from the platform's own fallback).
pub const AUTHORIZATION_SECS: i64 = 7 * 24 * 3600 - 3600;

/// `POST /v1/payment_intents/{id}/cancel`
fn cancel_payment_intent(state: &mut State, request: &Request) -> Result<Value, Refusal> {
    let id = intent_id(request, "cancel");
    let fields = form(request);
    let mut intent = state
        .payment_intents
        .get(id)
        .cloned()
        .ok_or_else(|| Refusal::no_such_intent(id))?;
    let status = intent["status"].as_str().unwrap_or_default().to_owned();
    if matches!(status.as_str(), "succeeded" | "canceled") {
        return Err(Refusal::unexpected_state(format!(
            "You cannot cancel this PaymentIntent because it has a status of {status}. Only a \
             PaymentIntent with one of the following statuses may be canceled: \
             requires_payment_method, requires_capture, requires_confirmation, requires_action, \
             processing."
        )));
    }
    intent["status"] = json!("canceled");
    intent["canceled_at"] = json!(now());
    intent["amount_capturable"] = json!(0);
    intent["cancellation_reason"] = optional_text(&fields, "cancellation_reason");
    state.payment_intents.insert(id.to_owned(), intent.clone());
    Ok(intent)
}

/// `POST /v1/refunds` (by `charge`)
fn create_refund(state: &mut State, request: &Request) -> Result<Value, Refusal> {
    let fields = form(request);
    let charge_id = required(&fields, "charge")?;
    let requested = optional_integer(&fields, "amount")?;
    let Some(charge) = state.charges.get_mut(charge_id) else {
        return Err(Refusal::new(
            400,
            "resource_missing",
            format!("No such charge: '{charge_id}'"),
            "charge",
        ));
    };
    let captured = charge["amount_captured"].as_i64().unwrap_or_default();
    let refunded = charge["amount_refunded"].as_i64().unwrap_or_default();
    let left = captured - refunded;
    if left <= 0 {
        return Err(Refusal::new(
            400,
            "charge_already_refunded",
            format!("Charge {charge_id} has already been refunded."),
            "charge",
        ));
    }
    let amount = requested.unwrap_or(left);
    if amount > left {
        return Err(Refusal::new(
            400,
            "amount_too_large",
            format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
            ),
            "amount",
        ));
    }
    charge["amount_refunded"] = json!(refunded + amount);
    charge["refunded"] = json!(refunded + amount == captured);
    let charge = charge.clone();
    let id = state.next_id("re");
    let refund = refund_object(&id, &charge, amount);
    state.refunds.insert(id, refund.clone());
    Ok(refund)
}

/// `POST /v1/transfers`: to an account the double knows, from a charge it captured.
fn create_transfer(state: &mut State, request: &Request) -> Result<Value, Refusal> {
    let fields = form(request);
    let amount = required_integer(&fields, "amount")?;
    let currency = required(&fields, "currency")?;
    let destination = required(&fields, "destination")?;
    if !state.accounts.contains_key(destination) {
        return Err(Refusal::new(
            400,
            "resource_missing",
            format!("No such destination: '{destination}'"),
            "destination",
        ));
    }
    let source = fields.get("source_transaction");
    if let Some(unknown) = source.filter(|charge| !state.charges.contains_key(charge.as_str())) {
        return Err(Refusal::new(
            400,
            "resource_missing",
            format!("No such charge: '{unknown}'"),
            "source_transaction",
        ));
    }
    let id = state.next_id("tr");
    let payment = state.next_id("py");
    let mut transfer = transfer_object(&id, amount, currency, destination);
    transfer["destination_payment"] = json!(payment);
    transfer["source_transaction"] = optional_text(&fields, "source_transaction");
    transfer["transfer_group"] = optional_text(&fields, "transfer_group");
    transfer["metadata"] = metadata(&fields);
    state.transfers.insert(id, transfer.clone());
    Ok(transfer)
}

/// `POST /v1/transfers/{id}/reversals`: part or all of what is left of a transfer it made.
fn create_transfer_reversal(state: &mut State, request: &Request) -> Result<Value, Refusal> {
    let path = request.url.path();
    let transfer_id = path
        .strip_prefix("/v1/transfers/")
        .and_then(|rest| rest.strip_suffix("/reversals"))
        .unwrap_or(path)
        .to_owned();
    let fields = form(request);
    let requested = optional_integer(&fields, "amount")?;
    let Some(transfer) = state.transfers.get_mut(&transfer_id) else {
        return Err(Refusal::new(
            404,
            "resource_missing",
            format!("No such transfer: '{transfer_id}'"),
            "id",
        ));
    };
    let left = transfer["amount"].as_i64().unwrap_or_default()
        - transfer["amount_reversed"].as_i64().unwrap_or_default();
    let amount = requested.unwrap_or(left);
    if amount <= 0 || amount > left {
        return Err(Refusal::new(
            400,
            "transfer_reversal_amount_too_large",
            format!(
                "Reversal amount ({amount}) is greater than what is left of the transfer ({left})"
            ),
            "amount",
        ));
    }
    let reversed = transfer["amount_reversed"].as_i64().unwrap_or_default() + amount;
    transfer["amount_reversed"] = json!(reversed);
    transfer["reversed"] = json!(reversed == transfer["amount"].as_i64().unwrap_or_default());
    let transfer = transfer.clone();
    let id = state.next_id("trr");
    let reversal = reversal_object(&id, &transfer, amount);
    state.reversals.insert(id, reversal.clone());
    Ok(reversal)
}

/// Whether `path` matches one of `escrow_routes`' anchored patterns (`[^/]+` for an id).
fn regex_lite_match(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches('^').trim_end_matches('$');
    let parts: Vec<&str> = pattern.split("[^/]+").collect();
    let mut rest = path;
    for (i, part) in parts.iter().enumerate() {
        let Some(after) = rest.strip_prefix(part) else {
            return false;
        };
        rest = after;
        if i + 1 < parts.len() {
            let end = rest.find('/').unwrap_or(rest.len());
            if end == 0 {
                return false;
            }
            rest = &rest[end..];
        }
    }
    rest.is_empty()
}

struct ListTransfersResponder {
    state: Shared,
}

impl Respond for ListTransfersResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let group = request
            .url
            .query_pairs()
            .find(|(key, _)| key == "transfer_group")
            .map(|(_, value)| value.into_owned());
        let state = lock(&self.state);
        let mut transfers: Vec<&Value> = state
            .transfers
            .values()
            .filter(|t| group.as_deref().is_none_or(|g| t["transfer_group"] == g))
            .collect();
        // Newest first, as Stripe lists; ids count up.
        transfers.sort_by(|a, b| b["id"].as_str().cmp(&a["id"].as_str()));
        ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": transfers,
            "has_more": false,
            "url": "/v1/transfers",
        }))
    }
}

struct RetrieveTransferResponder {
    state: Shared,
}

impl Respond for RetrieveTransferResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id = request.url.path().trim_start_matches("/v1/transfers/");
        match lock(&self.state).transfers.get(id) {
            Some(transfer) => ResponseTemplate::new(200).set_body_json(transfer),
            None => stripe_error(
                404,
                "resource_missing",
                format!("No such transfer: '{id}'"),
                "id",
            ),
        }
    }
}

struct RetrieveDisputeResponder {
    state: Shared,
}

impl Respond for RetrieveDisputeResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id = request.url.path().trim_start_matches("/v1/disputes/");
        match lock(&self.state).disputes.get(id) {
            Some(dispute) => ResponseTemplate::new(200).set_body_json(dispute),
            None => stripe_error(
                404,
                "resource_missing",
                format!("No such dispute: '{id}'"),
                "dispute",
            ),
        }
    }
}

struct CreateAccountResponder {
    id: Option<String>,
    state: Shared,
}

impl Respond for CreateAccountResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = lock(&self.state);
        if let Some(replayed) = state.replay(request) {
            return replayed;
        }

        // A generated id is used up even when the test chose one.
        let generated = state.next_id("acct");
        let id = self.id.clone().unwrap_or(generated);
        let fields = form(request);
        let mut account = account_object(&id, &AccountState::new_account());
        for field in ["email", "country", "type"] {
            if let Some(value) = fields.get(field) {
                account[field] = json!(value);
            }
        }
        account["metadata"] = metadata(&fields);

        state.accounts.insert(id, account.clone());
        state.remember(request, &account);
        ResponseTemplate::new(200).set_body_json(account)
    }
}

struct RetrieveAccountResponder {
    state: Shared,
}

impl Respond for RetrieveAccountResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id = request.url.path().trim_start_matches("/v1/accounts/");
        match lock(&self.state).accounts.get(id) {
            Some(account) => ResponseTemplate::new(200).set_body_json(account),
            None => stripe_error(
                404,
                "resource_missing",
                format!("No such account: '{id}'"),
                "account",
            ),
        }
    }
}

struct RetrieveIntentResponder {
    state: Shared,
}

impl Respond for RetrieveIntentResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id = request
            .url
            .path()
            .trim_start_matches("/v1/payment_intents/");
        let state = lock(&self.state);
        let Some(mut intent) = state.payment_intents.get(id).cloned() else {
            return Refusal::no_such_intent(id).into_response();
        };
        let expand_charge = request
            .url
            .query_pairs()
            .any(|(key, value)| key.starts_with("expand") && value == "latest_charge");
        if expand_charge {
            if let Some(charge) = intent["latest_charge"]
                .as_str()
                .and_then(|c| state.charges.get(c))
            {
                intent["latest_charge"] = charge.clone();
            }
        }
        ResponseTemplate::new(200).set_body_json(intent)
    }
}

struct AccountLinkResponder {
    state: Shared,
}

impl Respond for AccountLinkResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let fields = form(request);
        let Some(account) = fields.get("account") else {
            return stripe_error(
                400,
                "parameter_missing",
                "Missing required param: account.".to_owned(),
                "account",
            );
        };
        if !lock(&self.state).accounts.contains_key(account) {
            return stripe_error(
                400,
                "resource_missing",
                format!("No such account: '{account}'"),
                "account",
            );
        }
        ResponseTemplate::new(200).set_body_json(account_link_object())
    }
}

#[cfg(test)]
mod tests {
    use api::config::StripeSettings;
    use api::payments::stripe::StripeGateway;
    use api::payments::{
        ConnectedAccount, NewConnectedAccount, NewPaymentIntent, NewTransfer, PaymentGateway,
        PaymentIntent,
    };
    use secrecy::SecretString;

    use super::*;

    fn expected_form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn gateway(double: &StripeDouble) -> StripeGateway {
        StripeGateway::new(&StripeSettings {
            secret_key: SecretString::from("sk_test_123".to_owned()),
            webhook_secret: None,
            connect_webhook_secret: None,
            api_base: Some(double.url()),
            publishable_key: None,
        })
        .expect("gateway for the double")
    }

    /// The one request made to `path` so far.
    async fn only_request(double: &StripeDouble, path: &str) -> Request {
        let mut requests = double.requests_to("POST", path).await;
        assert_eq!(requests.len(), 1, "requests to {path}");
        requests.remove(0)
    }

    #[tokio::test]
    async fn stripe_gateway_speaks_connect_to_the_double() {
        let double = start().await;
        let gateway = gateway(&double);

        // create_connected_account: exact form, idempotency key, mapped response
        double.mock_create_account("acct_test_created").await;
        let request = NewConnectedAccount {
            tenant_id: "ten_abc",
            email: "seller@example.com",
            country: "US",
            idempotency_key: "connect-account-ten_abc",
        };
        let created = gateway
            .create_connected_account(request.clone())
            .await
            .expect("create account");
        assert_eq!(
            created,
            ConnectedAccount {
                id: "acct_test_created".to_owned(),
                details_submitted: false,
                charges_enabled: false,
                payouts_enabled: false,
                requirements_past_due: false,
            }
        );
        let creates = double.requests_to("POST", "/v1/accounts").await;
        assert_eq!(creates.len(), 1);
        let create = &creates[0];
        assert_eq!(
            form(create),
            expected_form(&[
                ("type", "express"),
                ("country", "US"),
                ("email", "seller@example.com"),
                ("capabilities[card_payments][requested]", "true"),
                ("capabilities[transfers][requested]", "true"),
                ("metadata[tenant_id]", "ten_abc"),
            ])
        );
        assert_eq!(
            header(create, "idempotency-key"),
            Some("connect-account-ten_abc")
        );
        assert_eq!(header(create, "authorization"), Some("Bearer sk_test_123"));
        let stored = double.account("acct_test_created").expect("account stored");
        assert_eq!(stored["email"], "seller@example.com");
        assert_eq!(stored["metadata"]["tenant_id"], "ten_abc");

        // Same key again: Stripe replays the first reply, so the same account comes back.
        let replayed = gateway
            .create_connected_account(request)
            .await
            .expect("replayed create");
        assert_eq!(replayed.id, "acct_test_created");

        // create_onboarding_link
        let url = gateway
            .create_onboarding_link(
                "acct_test_created",
                "https://app.example/stripe/refresh",
                "https://app.example/stripe/return",
            )
            .await
            .expect("onboarding link");
        assert_eq!(url, fixture("account_link")["url"].as_str().unwrap());
        let links = double.requests_to("POST", "/v1/account_links").await;
        assert_eq!(links.len(), 1);
        assert_eq!(
            form(&links[0]),
            expected_form(&[
                ("account", "acct_test_created"),
                ("refresh_url", "https://app.example/stripe/refresh"),
                ("return_url", "https://app.example/stripe/return"),
                ("type", "account_onboarding"),
            ])
        );
        assert_eq!(header(&links[0], "idempotency-key"), None);

        // retrieve_account maps the flags
        double.set_account("acct_test_created", &AccountState::complete());
        let complete = gateway
            .retrieve_account("acct_test_created")
            .await
            .expect("retrieve complete account");
        assert_eq!(
            complete,
            ConnectedAccount {
                id: "acct_test_created".to_owned(),
                details_submitted: true,
                charges_enabled: true,
                payouts_enabled: true,
                requirements_past_due: false,
            }
        );
        let gets = double
            .requests_to("GET", "/v1/accounts/acct_test_created")
            .await;
        assert_eq!(gets.len(), 1);
        assert!(gets[0].body.is_empty());

        double.set_account(
            "acct_test_created",
            &AccountState::with_past_due(&["external_account"]),
        );
        let past_due = gateway
            .retrieve_account("acct_test_created")
            .await
            .expect("retrieve past-due account");
        assert!(past_due.details_submitted);
        assert!(!past_due.charges_enabled);
        assert!(!past_due.payouts_enabled);
        assert!(past_due.requirements_past_due);

        assert!(gateway.retrieve_account("acct_missing").await.is_err());
    }

    #[tokio::test]
    async fn stripe_gateway_holds_captures_refunds_and_pays_out_through_the_double() {
        let double = start().await;
        let gateway = gateway(&double);
        double.set_account("acct_seller", &AccountState::complete());

        // create_payment_intent: manual capture, order id as transfer group and metadata
        let request = NewPaymentIntent {
            order_id: "ord_123",
            amount_cents: 2500,
            currency: "USD",
            idempotency_key: "order-ord_123-authorize",
        };
        let intent = gateway
            .create_payment_intent(request.clone())
            .await
            .expect("create payment intent");
        assert_eq!(
            intent,
            PaymentIntent {
                id: "pi_double0001".to_owned(),
                client_secret: Some("pi_double0001_secret_double".to_owned()),
                status: "requires_capture".to_owned(),
                amount_received: 0,
                latest_charge: Some("ch_double0001".to_owned()),
                amount_refunded: 0,
                capture_before: None,
                // Stripe reports the authorization by webhook, never with this answer.
                authorization_reported: false,
            }
        );
        // retrieve_payment_intent: the intent as the double holds it
        let fetched = gateway
            .retrieve_payment_intent("pi_double0001")
            .await
            .expect("retrieve payment intent");
        assert_eq!(fetched.status, "requires_capture");
        assert_eq!(fetched.id, "pi_double0001");
        let left = fetched
            .capture_before
            .expect("capture_before of the authorization")
            - chrono::Utc::now();
        assert!(
            (left.num_seconds() - AUTHORIZATION_SECS).abs() < 60,
            "{left}"
        );
        let create = only_request(&double, "/v1/payment_intents").await;
        assert_eq!(
            form(&create),
            expected_form(&[
                ("amount", "2500"),
                ("currency", "usd"),
                ("capture_method", "manual"),
                ("automatic_payment_methods[enabled]", "true"),
                ("transfer_group", "ord_123"),
                ("metadata[order_id]", "ord_123"),
            ])
        );
        assert_eq!(
            header(&create, "idempotency-key"),
            Some("order-ord_123-authorize")
        );
        assert_eq!(header(&create, "authorization"), Some("Bearer sk_test_123"));
        // Same key again: the first reply is replayed, no second intent.
        let replayed = gateway
            .create_payment_intent(request)
            .await
            .expect("replayed payment intent");
        assert_eq!(replayed, intent);
        assert_eq!(
            double
                .requests_to("POST", "/v1/payment_intents")
                .await
                .len(),
            2
        );

        // capture_payment_intent returns the intent's latest charge
        let charge = gateway
            .capture_payment_intent(&intent.id, "order-ord_123-capture")
            .await
            .expect("capture");
        assert_eq!(charge, "ch_double0001");
        let capture = only_request(&double, "/v1/payment_intents/pi_double0001/capture").await;
        assert_eq!(form(&capture), expected_form(&[]));
        assert_eq!(
            header(&capture, "idempotency-key"),
            Some("order-ord_123-capture")
        );
        let captured = double.payment_intent(&intent.id).expect("intent stored");
        assert_eq!(captured["status"], "succeeded");
        assert_eq!(captured["latest_charge"], "ch_double0001");

        // refund: part of the charge
        let refund = gateway
            .refund(&charge, 500, "order-ord_123-refund-1")
            .await
            .expect("refund");
        assert_eq!(refund, "re_double0001");
        let refund_request = only_request(&double, "/v1/refunds").await;
        assert_eq!(
            form(&refund_request),
            expected_form(&[("charge", "ch_double0001"), ("amount", "500")])
        );
        assert_eq!(
            header(&refund_request, "idempotency-key"),
            Some("order-ord_123-refund-1")
        );
        assert_eq!(
            double.charge(&charge).expect("charge")["amount_refunded"],
            500
        );

        // transfer: the provider's share, from the captured charge
        let transfer = gateway
            .transfer(NewTransfer {
                order_id: "ord_123",
                amount_cents: 1800,
                currency: "USD",
                destination_account: "acct_seller",
                source_transaction: &charge,
                idempotency_key: "order-ord_123-transfer",
            })
            .await
            .expect("transfer");
        assert_eq!(transfer, "tr_double0001");
        let transfer_request = only_request(&double, "/v1/transfers").await;
        assert_eq!(
            form(&transfer_request),
            expected_form(&[
                ("amount", "1800"),
                ("currency", "usd"),
                ("destination", "acct_seller"),
                ("source_transaction", "ch_double0001"),
                ("transfer_group", "ord_123"),
                ("metadata[order_id]", "ord_123"),
            ])
        );
        assert_eq!(
            header(&transfer_request, "idempotency-key"),
            Some("order-ord_123-transfer")
        );

        // cancel_payment_intent releases another order's authorization
        let other = gateway
            .create_payment_intent(NewPaymentIntent {
                order_id: "ord_456",
                amount_cents: 1000,
                currency: "usd",
                idempotency_key: "order-ord_456-authorize",
            })
            .await
            .expect("second payment intent");
        assert_eq!(other.id, "pi_double0002");
        gateway
            .cancel_payment_intent(&other.id, "order-ord_456-cancel")
            .await
            .expect("cancel");
        let cancel = only_request(&double, "/v1/payment_intents/pi_double0002/cancel").await;
        assert_eq!(form(&cancel), expected_form(&[]));
        assert_eq!(
            header(&cancel, "idempotency-key"),
            Some("order-ord_456-cancel")
        );
        assert_eq!(
            double.payment_intent(&other.id).expect("intent stored")["status"],
            "canceled"
        );

        // What Stripe refuses comes back as an error.
        assert!(gateway
            .capture_payment_intent(&other.id, "order-ord_456-capture")
            .await
            .is_err());
        assert!(gateway
            .cancel_payment_intent("pi_missing", "cancel-missing")
            .await
            .is_err());
        assert!(gateway
            .refund(&charge, 2001, "order-ord_123-refund-2")
            .await
            .is_err());
        // A key already used for the capture, on another endpoint
        assert!(gateway
            .refund(&charge, 100, "order-ord_123-capture")
            .await
            .is_err());
        assert!(gateway
            .transfer(NewTransfer {
                order_id: "ord_123",
                amount_cents: 100,
                currency: "usd",
                destination_account: "acct_seller",
                source_transaction: &intent.id,
                idempotency_key: "order-ord_123-transfer-from-intent",
            })
            .await
            .is_err());
        assert_eq!(
            double.charge(&charge).expect("charge")["amount_refunded"],
            500
        );
    }
}
