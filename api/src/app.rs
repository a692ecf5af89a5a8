//! The HTTP application: routes, middleware, the GraphQL handlers (HTTP and websocket) and
//! graceful shutdown.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse};
use async_graphql_axum::GraphQLBatchRequest;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Instrument;

pub use crate::answers::BadRequestBody;
use crate::answers::{
    error_response, internal_response, is_request_error, json_response, refused_by_a_limit,
    tag_internal_errors, throttled_for, MediaType,
};
use crate::config::Settings;
use crate::db::Db;
use crate::error::ApiError;
use crate::graphql::{self, gate, loaders::Loaders, AppSchema};
use crate::services::{accounts, Viewer};
use crate::state::AppState;

/// Answers smaller than this go out uncompressed (most mutations and single objects).
const COMPRESS_ABOVE_BYTES: u16 = 1024;

const REQUEST_ID: &str = "x-request-id";

#[derive(Clone)]
struct HttpState {
    app: AppState,
    schema: AppSchema,
    /// One set of uncached loaders for every websocket operation: nothing is older than its
    /// load, and concurrent subscribers' loads share batches.
    ws_loaders: Arc<Loaders>,
}

/// A built application: migrated database, bound listener, ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let db = Db::connect(&settings.database_url).await?;
        db.migrate().await.context("running migrations")?;
        let gateway = crate::payments::from_settings(&settings)?;
        let listener = TcpListener::bind(&settings.bind_addr)
            .await
            .with_context(|| format!("binding {}", settings.bind_addr))?;
        // Port 0 picks a free port; signed file URLs need the one actually bound.
        let mut settings = settings;
        settings.bind_addr = listener.local_addr()?.to_string();
        let state = AppState::new(settings, db, gateway)?;
        crate::events::spawn_pg_listener(&state.db.writer, state.events.clone());
        crate::services::orders::sequencer::spawn(
            &state.db.writer,
            state.events.clone(),
            state.faults.clone(),
        );
        accounts::bootstrap_admins(&state)
            .await
            .map_err(|e| anyhow::anyhow!("granting ADMIN_EMAILS: {e:?}"))?;
        let router = router(state.clone());
        Ok(Application {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM, then finishes requests in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_with_shutdown(shutdown_signal()).await
    }

    pub async fn run_with_shutdown(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(addr = %self.local_addr(), "listening; GraphQL at /graphql");
        if let Some(interval) = self.state.settings.jobs_interval {
            crate::jobs::spawn(self.state.clone(), interval);
        }
        let header_read_timeout = self.state.settings.http_header_read_timeout;
        crate::serve::serve(self.listener, self.router, header_read_timeout, signal).await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; draining");
}

fn router(app: AppState) -> Router {
    crate::observability::install();
    let settings = app.settings.clone();
    let schema = graphql::build_schema(app.clone());
    let files_state = app.clone();
    let ws_loaders = Arc::new(Loaders::uncached(&app.db.reader));
    let state = HttpState {
        app,
        schema,
        ws_loaders,
    };

    let cors = if settings.cors_origins.is_empty() {
        CorsLayer::new()
    } else {
        let origins: Vec<HeaderValue> = settings
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(3600))
    };

    let mut routes = Router::new().route("/graphql", get(graphql_get).post(graphql_post));
    if settings.graphiql {
        routes = routes.route("/graphiql/{file}", get(crate::graphiql::asset));
    }
    if settings.web_app {
        let store = state.app.storage.foreign_origin();
        routes = routes.merge(crate::web::routes(store.as_deref()));
    }
    if settings.fault_injection {
        routes = routes.merge(crate::faults::routes(state.app.clone()));
    }
    routes
        .route("/webhooks/stripe", post(stripe_webhook))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            settings.http_body_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(settings.max_body_bytes))
        .layer(axum::middleware::map_response(json_payload_too_large))
        // File uploads have their own, larger limit; the layers below wrap them too.
        .merge(crate::files_http::routes(files_state))
        // Each layer wraps the ones above it: the request id is set first and seen by all.
        // A small answer costs more to compress than it saves on the wire.
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        )
        .layer(cors)
        .layer(CatchPanicLayer::custom(|_| {
            let request_id = CURRENT_REQUEST_ID.try_with(Clone::clone).ok();
            tracing::error!(
                request_id = request_id.as_deref().unwrap_or("-"),
                "handler panicked"
            );
            internal_response(request_id.as_deref())
        }))
        .layer(axum::middleware::from_fn(with_request_id))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let request_id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id)
            }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The body limit's own 413 is empty: give it the GraphQL error shape every other refusal has.
async fn json_payload_too_large(response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return BadRequestBody(async_graphql::ParseRequestError::PayloadTooLarge).into_response();
    }
    response
}

tokio::task_local! {
    /// The request id while a request is handled, for the panic handler's answer.
    static CURRENT_REQUEST_ID: String;
}

async fn with_request_id(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let id = request_id(request.headers()).unwrap_or_default();
    CURRENT_REQUEST_ID.scope(id, next.run(request)).await
}

/// Stripe webhooks: the raw body is verified against the signing secrets before anything is
/// parsed; a bad signature, a stale timestamp or a malformed body is a 400 and changes nothing.
async fn stripe_webhook(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let secrets: Vec<&str> = state
        .app
        .settings
        .stripe
        .iter()
        .flat_map(|s| [&s.webhook_secret, &s.connect_webhook_secret])
        .flatten()
        .map(secrecy::ExposeSecret::expose_secret)
        .collect();
    if secrets.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "Stripe webhooks are not configured" })),
        )
            .into_response();
    }
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Ok(payload) = std::str::from_utf8(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "body is not UTF-8" })),
        )
            .into_response();
    };
    let event = match crate::payments::webhook::verify(payload, signature, &secrets) {
        Ok(event) => event,
        Err(err) => {
            tracing::warn!(error = %err, "Stripe webhook refused");
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": err.to_string() })),
            )
                .into_response();
        }
    };
    let handled = crate::services::webhooks::handle(&state.app, &event).await;
    crate::observability::webhook_event(
        &event.event_type,
        match &handled {
            Ok(crate::services::webhooks::Outcome::Applied) => "applied",
            Ok(crate::services::webhooks::Outcome::Ignored) => "ignored",
            Ok(crate::services::webhooks::Outcome::Duplicate) => "duplicate",
            Ok(crate::services::webhooks::Outcome::Rejected(_)) => "rejected",
            Err(_) => "failed",
        },
    );
    match handled {
        Ok(crate::services::webhooks::Outcome::Rejected(reason)) => Json(json!({
            "received": true,
            "duplicate": false,
            "ignored": reason,
        }))
        .into_response(),
        Ok(outcome) => Json(json!({
            "received": true,
            "duplicate": outcome == crate::services::webhooks::Outcome::Duplicate,
        }))
        .into_response(),
        Err(err) => {
            // Stripe retries a non-2xx answer, and nothing was recorded: the retry applies it.
            tracing::error!(error = ?err, "applying a Stripe event failed");
            internal_response(request_id(&headers).as_deref())
        }
    }
}

/// Prometheus metrics. With METRICS_TOKEN set, only a scraper that presents it as a bearer
/// token reads them.
async fn metrics(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.app.settings.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::ws::bearer_token)
            .unwrap_or_default();
        let expected = secrecy::ExposeSecret::expose_secret(expected);
        // Digests compared, so the comparison's time says nothing about the token.
        use sha2::Digest as _;
        if sha2::Sha256::digest(presented.as_bytes()) != sha2::Sha256::digest(expected.as_bytes()) {
            return error_response(
                StatusCode::UNAUTHORIZED,
                "metrics need the METRICS_TOKEN bearer token",
                "UNAUTHENTICATED",
                None,
            );
        }
    }
    match crate::observability::render(&state.app) {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        None => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not available",
            "UNAVAILABLE",
            None,
        ),
    }
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(state): State<HttpState>) -> Response {
    match state.app.db.ping().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "reason": "database" })),
            )
                .into_response()
        }
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The viewer of an HTTP request: anonymous without an Authorization header; a bad or expired
/// token is refused with 401, never treated as anonymous.
async fn viewer_from_headers(app: &AppState, headers: &HeaderMap) -> Result<Viewer, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Viewer::Anonymous);
    };
    let token = value.to_str().ok().and_then(crate::ws::bearer_token);
    authenticate(app, token).await.map_err(|err| match err {
        ApiError::Internal(inner) => {
            tracing::error!(error = ?inner, "authenticating a request failed");
            internal_response(request_id(headers).as_deref())
        }
        _ => error_response(
            StatusCode::UNAUTHORIZED,
            "invalid or expired token",
            "UNAUTHENTICATED",
            None,
        ),
    })
}

async fn authenticate(app: &AppState, token: Option<&str>) -> Result<Viewer, ApiError> {
    match token {
        Some(token) => accounts::authenticate(app, token).await,
        None => Err(ApiError::Unauthenticated),
    }
}

async fn execute(
    state: &HttpState,
    headers: &HeaderMap,
    peer: std::net::SocketAddr,
    batch: BatchRequest,
    over_get: bool,
) -> Response {
    let request_id = request_id(headers);
    let viewer = match viewer_from_headers(&state.app, headers).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let limits = state.app.settings.limits;
    if let BatchRequest::Batch(requests) = &batch {
        if requests.len() > limits.batch {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("at most {} operations per batch", limits.batch),
                "BAD_USER_INPUT",
                None,
            );
        }
    }
    let persisted = &state.app.persisted;
    let resolved = match batch {
        BatchRequest::Single(request) => persisted.resolve(request).map(BatchRequest::Single),
        BatchRequest::Batch(requests) => requests
            .into_iter()
            .map(|r| persisted.resolve(r))
            .collect::<Result<Vec<_>, _>>()
            .map(BatchRequest::Batch),
    };
    let batch = match resolved {
        Ok(batch) => batch,
        Err(refused) => {
            return error_response(
                StatusCode::from_u16(refused.status).unwrap_or(StatusCode::BAD_REQUEST),
                &refused.message,
                refused.code,
                None,
            )
        }
    };
    let single = matches!(batch, BatchRequest::Single(_));
    let requests = match batch {
        BatchRequest::Single(request) => vec![request],
        BatchRequest::Batch(requests) => requests,
    };
    let settings = &state.app.settings;
    let admitted: Vec<_> = requests
        .into_iter()
        .map(|mut request| {
            let admission = gate::admit(&mut request, &limits, settings.graphql_introspection);
            (request, admission)
        })
        .collect();
    // Checked once the text is known (a persisted query sent by hash has none before), and
    // before any budget pays for it.
    if over_get
        && admitted
            .iter()
            .any(|(_, admission)| admission.kind() == Some(OperationType::Mutation))
    {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST",
            "BAD_REQUEST",
            None,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let loaders = Arc::new(Loaders::new(&state.app.db.reader));
    let payer = gate::payer(&viewer, peer.ip());
    let counter = &state.app.db.statements;
    let before = counter.load(std::sync::atomic::Ordering::Relaxed);
    let operations = admitted.into_iter().map(|(request, mut admission)| {
        admission.charge(&state.app, payer.clone());
        let request = request
            .data(viewer.clone())
            .data(loaders.clone())
            .data(ClientIp(peer.ip()));
        async move {
            let mut response = match admission.take_refusal() {
                Some(error) => async_graphql::Response::from_errors(vec![error]),
                None => {
                    let span = admission.span();
                    state.schema.execute(request).instrument(span).await
                }
            };
            admission.finish(&state.app, &mut response);
            response
        }
    });
    // Past the timeout the operation is dropped where it stands: an open transaction rolls
    // back, and nothing after it runs.
    let Ok(mut responses) = tokio::time::timeout(
        limits.execution_timeout,
        futures_util::future::join_all(operations),
    )
    .await
    else {
        tracing::warn!(
            timeout_ms = limits.execution_timeout.as_millis() as u64,
            "an operation ran past the execution timeout"
        );
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "the operation ran past {} ms and was stopped; nothing it had not committed was kept",
                limits.execution_timeout.as_millis()
            ),
            "TIMEOUT",
            request_id.as_deref(),
        );
    };
    let mut response = match (single, responses.pop()) {
        (true, Some(response)) => BatchResponse::Single(response),
        (_, last) => {
            responses.extend(last);
            BatchResponse::Batch(responses)
        }
    };
    if state.app.settings.sql_statement_count {
        let ran = counter.load(std::sync::atomic::Ordering::Relaxed) - before;
        if let BatchResponse::Single(resp) = &mut response {
            resp.extensions
                .insert("sqlStatements".to_owned(), async_graphql::Value::from(ran));
        }
    }
    match &mut response {
        BatchResponse::Single(resp) => tag_internal_errors(resp, request_id.as_deref()),
        BatchResponse::Batch(resps) => {
            for resp in resps {
                tag_internal_errors(resp, request_id.as_deref());
            }
        }
    }
    let refused_by_limit = match &response {
        BatchResponse::Single(resp) => refused_by_a_limit(resp),
        BatchResponse::Batch(_) => false,
    };
    let throttled = match &response {
        BatchResponse::Single(resp) => throttled_for(resp),
        BatchResponse::Batch(resps) => resps.iter().find_map(throttled_for),
    };
    let media = MediaType::accepted(headers);
    let request_error = match &response {
        BatchResponse::Single(resp) => is_request_error(resp),
        BatchResponse::Batch(_) => false,
    };
    let mut http = json_response(response, media, request_error);
    if let Some(wait_ms) = throttled {
        *http.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        let secs = (wait_ms + 999) / 1000;
        if let Ok(value) = HeaderValue::from_str(&secs.max(1).to_string()) {
            http.headers_mut().insert(header::RETRY_AFTER, value);
        }
    } else if refused_by_limit || (request_error && media == MediaType::GraphqlResponse) {
        *http.status_mut() = StatusCode::BAD_REQUEST;
    }
    http
}

/// The client's address, for the budgets of anonymous callers and the login limits.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub std::net::IpAddr);

async fn graphql_post(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    request: Result<GraphQLBatchRequest<BadRequestBody>, BadRequestBody>,
) -> Response {
    // GraphQL over HTTP: a POST body is JSON, and says so.
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body with Content-Type: application/json",
            "BAD_REQUEST",
            None,
        );
    }
    let request = match request {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
    };
    let request = request.into_inner();
    if request
        .iter()
        .any(|r| r.query.is_empty() && !r.extensions.contains_key("persistedQuery"))
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            "the request has no query",
            "BAD_REQUEST",
            None,
        );
    }
    execute(&state, &headers, peer, request, false).await
}

/// GET /graphql: a websocket upgrade for subscriptions, a query in the query string, or
/// GraphiQL for a browser.
async fn graphql_get(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    if let Ok(upgrade) = upgrade {
        return websocket(state, upgrade, peer.ip());
    }
    if let Some(query) = uri.query().filter(|q| !q.is_empty()) {
        let request = match async_graphql::http::parse_query_string(query) {
            Ok(request) => request,
            Err(err) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    &err.to_string(),
                    "BAD_REQUEST",
                    None,
                )
            }
        };
        return execute(&state, &headers, peer, BatchRequest::Single(request), true).await;
    }
    if !state.app.settings.graphiql {
        return error_response(
            StatusCode::NOT_FOUND,
            "GraphiQL is disabled; send queries with POST",
            "NOT_FOUND",
            None,
        );
    }
    crate::graphiql::page()
}

fn websocket(state: HttpState, upgrade: WebSocketUpgrade, client_ip: std::net::IpAddr) -> Response {
    let schema = state.schema.clone();
    let app = state.app.clone();
    let loaders = state.ws_loaders.clone();
    let limit = app.settings.max_body_bytes;
    let upgrade = upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        // tungstenite reserves 128 KiB per socket for reading by default; a client sends a
        // few small messages (init, subscribe, pong), subscriptions mostly idle, and 10,000
        // of them must fit in a few hundred MiB. Larger messages are read in more rounds.
        .read_buffer_size(1024)
        .write_buffer_size(4 * 1024)
        .protocols(crate::ws::Protocol::NAMES);
    // Without a subprotocol both sides speak the legacy one, as async-graphql did.
    let protocol = upgrade
        .selected_protocol()
        .and_then(|p| p.to_str().ok())
        .and_then(crate::ws::Protocol::from_name)
        .unwrap_or(crate::ws::Protocol::Legacy);
    upgrade.on_upgrade(move |socket| {
        crate::ws::serve(socket, protocol, schema, app, loaders, client_ip)
    })
}
