//! `spawn_app` and typed helpers shared by the tests.
use std::time::Duration;

use api::config::{RawSettings, Settings};
use api::Application;
use clap::Parser;
use serde_json::{json, Value};

pub const JWT_SECRET: &str = "integration-test-secret-0123456789abcdef";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone)]
pub struct TestApp {
    pub state: api::state::AppState,
    pub clock: std::sync::Arc<api::state::SystemClock>,
    pub addr: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub settings: Settings,
    // Keeps the SQLite directory alive for the test's duration.
    _dir: std::sync::Arc<tempfile::TempDir>,
}

#[derive(Parser)]
struct TestCli {
    #[command(flatten)]
    settings: RawSettings,
}

/// A fresh database URL: a SQLite file in `dir`, or a new PostgreSQL database when
/// TEST_DATABASE_URL names a server.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            use sqlx::Connection;
            let name = format!("it_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&base)
                .await
                .expect("connect to TEST_DATABASE_URL");
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let (server, _) = base.rsplit_once('/').expect("a database path in the URL");
            format!("{server}/{name}")
        }
        _ => format!("sqlite://{}?mode=rwc", dir.join("marketplace.db").display()),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the server with extra command-line settings, e.g. `&["--access-token-ttl-secs", "1"]`.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = fresh_database_url(dir.path()).await;
    let data_dir = dir.path().display().to_string();
    let mut args = vec![
        "marketplace",
        "--bind-addr",
        "127.0.0.1:0",
        "--data-dir",
        &data_dir,
        "--database-url",
        &database_url,
        "--jwt-secret",
        JWT_SECRET,
        "--admin-emails",
        ADMIN_EMAIL,
        "--log-format",
        "pretty",
        // Tests run the timers by hand, after moving the clock.
        "--jobs-interval-secs",
        "0",
    ];
    // Every test calls from 127.0.0.1 and many run at once: budgets and login limits are
    // generous unless a test sets its own.
    for (flag, value) in [
        ("--query-budget", "100000000"),
        ("--query-budget-restore-per-sec", "100000000"),
        ("--auth-attempts-per-ip-per-min", "1000000"),
        ("--auth-attempts-per-email-per-min", "1000000"),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    let raw = TestCli::try_parse_from(args).expect("settings").settings;
    if std::env::var_os("TEST_LOG").is_some() {
        api::telemetry::init(raw.effective_log_format());
    }
    let settings = Settings::resolve(raw).expect("resolve settings");
    let app = Application::build(settings.clone())
        .await
        .expect("build app");
    let port = app.port();
    let clock = app.state().system_clock.clone();
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        state,
        clock,
        addr: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        settings,
        _dir: std::sync::Arc::new(dir),
    }
}

/// The registered user a test acts as.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    pub fn uses_postgres(&self) -> bool {
        self.settings.database_url.starts_with("postgres")
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/graphql", self.port)
    }

    /// POSTs one operation; returns the HTTP status and the JSON body.
    pub async fn post(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.graphql_url())
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }

    /// Runs an operation that must succeed without top-level errors; returns `data`.
    /// Arms a fault hook (`POST /__faults/{fault}`, on a server started with
    /// `--fault-injection`), e.g. `"hold-before-commit?ms=1500"`.
    pub async fn arm_fault(&self, fault: &str) {
        let response = self
            .client
            .post(format!("{}/__faults/{fault}", self.addr))
            .send()
            .await
            .expect("arm a fault");
        assert_eq!(response.status().as_u16(), 204, "{fault}");
    }

    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(token, query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    pub async fn register(&self, email: &str, name: &str) -> Session {
        let data = self
            .gql(
                None,
                REGISTER,
                json!({ "input": { "email": email, "password": PASSWORD, "displayName": name } }),
            )
            .await;
        let payload = &data["register"];
        assert_eq!(payload["userErrors"], json!([]), "{payload}");
        session_of(payload)
    }

    /// Registers ADMIN_EMAIL and grants it ADMIN as the operator would (`admin grant`):
    /// registering alone makes nobody an admin.
    pub async fn register_admin(&self) -> Session {
        let session = self.register(ADMIN_EMAIL, "Admin").await;
        api::services::accounts::grant_admin(&self.state, ADMIN_EMAIL)
            .await
            .expect("grant ADMIN");
        session
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.gql(
            None,
            LOGIN,
            json!({ "input": { "email": email, "password": password } }),
        )
        .await["login"]
            .clone()
    }
}

pub fn session_of(payload: &Value) -> Session {
    Session {
        id: payload["user"]["id"].as_str().expect("user id").to_owned(),
        access_token: payload["accessToken"]
            .as_str()
            .expect("access token")
            .to_owned(),
        refresh_token: payload["refreshToken"]
            .as_str()
            .expect("refresh token")
            .to_owned(),
    }
}

/// The codes of a payload's userErrors, in order.
pub fn error_codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .expect("userErrors")
        .iter()
        .map(|e| e["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The top-level error code of a response body.
pub fn top_level_code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken expiresAt user { id email displayName roles status } userErrors { field message code } } }";

pub const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken expiresAt user { id email displayName roles status } userErrors { field message code } } }";

pub const REFRESH: &str = "mutation($input: RefreshSessionInput!) { refreshSession(input: $input) { accessToken refreshToken expiresAt user { id email displayName roles status } userErrors { field message code } } }";

pub const VIEWER: &str = "{ viewer { id email displayName roles status } }";

pub const CREATE_PROVIDER: &str = "mutation($input: CreateProviderInput!) { createProvider(input: $input) { provider { id status displayName tenant { id paymentMode stripeOnboardingComplete } } onboardingUrl userErrors { field message code } } }";

pub const SET_PROVIDER_STATUS: &str = "mutation($input: SetProviderStatusInput!) { setProviderStatus(input: $input) { provider { id status } userErrors { field message code } } }";

pub const CREATE_LISTING: &str = "mutation($input: CreateListingInput!) { createListing(input: $input) { listing { id slug title status category priceType price { cents currencyCode amount } publishedAt } userErrors { field message code } } }";

/// A provider ready to sell: registered, profiled (personal tenant, simulated onboarding) and
/// verified by the admin.
#[derive(Debug, Clone)]
pub struct Seller {
    pub session: Session,
    pub provider_id: String,
    pub tenant_id: String,
}

impl TestApp {
    pub async fn create_provider(&self, session: &Session, input: Value) -> Value {
        self.gql(
            Some(&session.access_token),
            CREATE_PROVIDER,
            json!({ "input": input }),
        )
        .await["createProvider"]
            .clone()
    }

    pub async fn set_provider_status(
        &self,
        admin: &Session,
        provider_id: &str,
        status: &str,
    ) -> Value {
        self.gql(
            Some(&admin.access_token),
            SET_PROVIDER_STATUS,
            json!({ "input": { "providerId": provider_id, "status": status, "reason": "checked" } }),
        )
        .await["setProviderStatus"]
            .clone()
    }

    /// Registers `email`, makes it a provider named `name` with `extra` profile fields, and has
    /// `admin` verify it.
    pub async fn seller(&self, admin: &Session, email: &str, name: &str, extra: Value) -> Seller {
        let session = self.register(email, name).await;
        let mut input = json!({ "displayName": name });
        if let (Some(obj), Some(more)) = (input.as_object_mut(), extra.as_object()) {
            obj.extend(more.clone());
        }
        let payload = self.create_provider(&session, input).await;
        assert_eq!(payload["userErrors"], json!([]), "{payload}");
        let provider_id = payload["provider"]["id"].as_str().expect("id").to_owned();
        let tenant_id = payload["provider"]["tenant"]["id"]
            .as_str()
            .expect("tenant")
            .to_owned();
        let verified = self
            .set_provider_status(admin, &provider_id, "ACTIVE")
            .await;
        assert_eq!(verified["userErrors"], json!([]), "{verified}");
        Seller {
            session,
            provider_id,
            tenant_id,
        }
    }

    /// Creates a listing with defaults overridden by `fields`; returns the payload.
    pub async fn create_listing(&self, seller: &Seller, fields: Value) -> Value {
        let mut input = json!({
            "providerId": seller.provider_id,
            "title": "Feature script coverage",
            "category": "script_coverage",
            "priceCents": "15000",
            "turnaroundDays": 7,
            "publish": true,
        });
        if let (Some(obj), Some(more)) = (input.as_object_mut(), fields.as_object()) {
            obj.extend(more.clone());
        }
        self.gql(
            Some(&seller.session.access_token),
            CREATE_LISTING,
            json!({ "input": input }),
        )
        .await["createListing"]
            .clone()
    }

    /// Like `create_listing`, for inputs that must succeed; returns the listing id.
    pub async fn listing(&self, seller: &Seller, fields: Value) -> String {
        let payload = self.create_listing(seller, fields).await;
        assert_eq!(payload["userErrors"], json!([]), "{payload}");
        payload["listing"]["id"].as_str().expect("id").to_owned()
    }
}

/// A verified provider whose tenant takes MANUAL payments.
pub async fn manual_seller(app: &TestApp, admin: &Session, email: &str) -> Seller {
    let session = app.register(email, "Manual Seller").await;
    let tenant = app
        .gql(
            Some(&session.access_token),
            "mutation { createTenant(input: { name: \"Manual Co\", paymentMode: MANUAL, paymentInstructions: \"Bank transfer\" }) { tenant { id } } }",
            json!({}),
        )
        .await;
    let tenant_id = tenant["createTenant"]["tenant"]["id"]
        .as_str()
        .expect("tenant")
        .to_owned();
    let created = app
        .create_provider(
            &session,
            json!({ "displayName": "Manual Reader", "tenantId": tenant_id }),
        )
        .await;
    let provider_id = created["provider"]["id"]
        .as_str()
        .expect("provider")
        .to_owned();
    app.set_provider_status(admin, &provider_id, "ACTIVE").await;
    Seller {
        session,
        provider_id,
        tenant_id,
    }
}
