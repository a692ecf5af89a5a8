//! A local HTTP double of the Stripe API (wiremock) for the payment adapter's tests.
//!
//! It serves Stripe's own example objects from shared/stripe/fixtures3.json with the ids and
//! flags a test needs patched in. `start()` mounts stateful fallbacks for Connect:
//! `POST /v1/accounts` creates an Express account (echoing email, country and metadata, and
//! replaying the stored reply for a repeated `Idempotency-Key`, as Stripe does),
//! `GET /v1/accounts/{id}` returns what the double holds for that id (404 otherwise), and
//! `POST /v1/account_links` returns the fixture link for a known account. Mocks a test mounts
//! itself through `server()` win over these fallbacks.
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
    /// Idempotency-Key → the reply first given for it
    replies: HashMap<String, Value>,
    created: usize,
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
    Mock::given(method("POST"))
        .and(path("/v1/account_links"))
        .respond_with(AccountLinkResponder {
            state: state.clone(),
        })
        .with_priority(FALLBACK_PRIORITY)
        .named("POST /v1/account_links (fallback)")
        .mount(&server)
        .await;
    StripeDouble { server, state }
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

struct CreateAccountResponder {
    id: Option<String>,
    state: Shared,
}

impl Respond for CreateAccountResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let key = header(request, "idempotency-key").map(str::to_owned);
        let mut state = lock(&self.state);
        if let Some(previous) = key.as_ref().and_then(|key| state.replies.get(key)) {
            return ResponseTemplate::new(200)
                .set_body_json(previous)
                .insert_header("idempotent-replayed", "true");
        }

        state.created += 1;
        let number = state.created;
        let id = self
            .id
            .clone()
            .unwrap_or_else(|| format!("acct_double{number:04}"));
        let fields = form(request);
        let mut account = account_object(&id, &AccountState::new_account());
        for field in ["email", "country", "type"] {
            if let Some(value) = fields.get(field) {
                account[field] = json!(value);
            }
        }
        let metadata: serde_json::Map<String, Value> = fields
            .iter()
            .filter_map(|(key, value)| {
                let name = key.strip_prefix("metadata[")?.strip_suffix(']')?;
                Some((name.to_owned(), json!(value)))
            })
            .collect();
        account["metadata"] = Value::Object(metadata);

        state.accounts.insert(id, account.clone());
        if let Some(key) = key {
            state.replies.insert(key, account.clone());
        }
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
    use api::payments::{ConnectedAccount, NewConnectedAccount, PaymentGateway};
    use secrecy::SecretString;

    use super::*;

    fn expected_form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn stripe_gateway_speaks_connect_to_the_double() {
        let double = start().await;
        let gateway = StripeGateway::new(&StripeSettings {
            secret_key: SecretString::from("sk_test_123".to_owned()),
            webhook_secret: None,
            connect_webhook_secret: None,
            api_base: Some(double.url()),
        })
        .expect("gateway for the double");

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
}
