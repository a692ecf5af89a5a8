//! GraphQL over websockets at /graphql: `graphql-transport-ws` (graphql-ws ≥ 5) and the
//! legacy `graphql-ws` (subscriptions-transport-ws). async-graphql's own handler leaves out
//! what DESIGN §8 asks for, so the protocol is spoken here and async-graphql only executes:
//!
//! - `connection_init` must come within 3 s (else close 4408); a second one closes 4429;
//! - its payload `{ "authorization": "Bearer …" }` is checked; a bad or expired token closes
//!   4403; no token is an anonymous connection (every subscription then refuses);
//! - `subscribe` before the ack closes 4401; a duplicate id closes 4409; an unreadable
//!   message closes 4400; a message larger than a request body is refused by the socket;
//! - at most 20 operations run at once: the 21st gets an `error` on its id and the
//!   connection stays;
//! - the token and the user's status are checked again for every operation (and, in
//!   `services::realtime`, for every event);
//! - the server pings every WS_PING_SECS (15 s): `ping` (transport-ws) or `ka` (legacy).
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::OperationType;
use async_graphql::Data;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::error::ApiError;
use crate::graphql::loaders::Loaders;
use crate::graphql::{gate, AppSchema};
use crate::services::realtime::StreamAuth;
use crate::services::{accounts, Viewer};
use crate::state::AppState;

pub const INIT_TIMEOUT: Duration = Duration::from_secs(3);
pub const MAX_OPERATIONS: usize = 20;

/// Which of the two subprotocols the client chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`
    TransportWs,
    /// `graphql-ws`, the legacy subscriptions-transport-ws protocol
    Legacy,
}

impl Protocol {
    pub const NAMES: [&'static str; 2] = ["graphql-transport-ws", "graphql-ws"];

    pub fn from_name(name: &str) -> Option<Protocol> {
        match name {
            "graphql-transport-ws" => Some(Protocol::TransportWs),
            "graphql-ws" => Some(Protocol::Legacy),
            _ => None,
        }
    }

    fn next(self) -> &'static str {
        match self {
            Protocol::TransportWs => "next",
            Protocol::Legacy => "data",
        }
    }
}

/// What an operation's task hands the connection. One pointer wide: the channel allocates its
/// slots in blocks of 32 per connection.
enum Outgoing {
    Next(Box<(String, async_graphql::Response)>),
    Done(Box<str>),
}

/// A message carrying an operation's payload.
#[derive(Serialize)]
struct Envelope<'a, P: Serialize> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    payload: P,
}

/// Why the server closes the socket.
struct Close(u16, String);

struct Connection {
    protocol: Protocol,
    schema: AppSchema,
    app: AppState,
    loaders: Arc<Loaders>,
    init_received: bool,
    acked: bool,
    token: Option<String>,
    operations: HashMap<String, AbortHandle>,
    out: mpsc::Sender<Outgoing>,
    /// Who pays for an anonymous connection's operations (query-cost budgets).
    client_ip: std::net::IpAddr,
}

/// Serves one upgraded socket until either side closes it.
pub async fn serve(
    socket: WebSocket,
    protocol: Protocol,
    schema: AppSchema,
    app: AppState,
    loaders: Arc<Loaders>,
    client_ip: std::net::IpAddr,
) {
    let _live = crate::observability::Live::new("websocket_connections");
    let (mut sink, mut incoming) = socket.split();
    let (out, mut results) = mpsc::channel::<Outgoing>(64);
    let ping_every = app.settings.ws_ping_interval;
    let mut conn = Connection {
        protocol,
        schema,
        app,
        loaders,
        init_received: false,
        acked: false,
        token: None,
        operations: HashMap::new(),
        out,
        client_ip,
    };
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    // Ticks missed before the ack are not made up in a burst.
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let close = 'conn: loop {
        let reply: Result<Vec<String>, Close> = tokio::select! {
            () = &mut init_deadline, if !conn.init_received => {
                Err(Close(4408, "Connection initialisation timeout".into()))
            }
            _ = ping.tick(), if conn.acked => Ok(vec![match protocol {
                Protocol::TransportWs => r#"{"type":"ping"}"#.to_owned(),
                Protocol::Legacy => r#"{"type":"ka"}"#.to_owned(),
            }]),
            message = incoming.next() => match message {
                // Boxed: the handling of a message (authentication, queries) would otherwise
                // size every idle connection's state.
                Some(Ok(Message::Text(text))) => Box::pin(conn.handle(text.as_str()))
                    .await
                    .map(|replies| replies.iter().map(Value::to_string).collect()),
                Some(Ok(Message::Binary(_))) => {
                    Err(Close(4400, "binary messages are not part of the protocol".into()))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(Vec::new()),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break 'conn None,
            },
            Some(result) = results.recv() => Ok(conn.result(result)),
        };
        match reply {
            Ok(messages) => {
                for message in messages {
                    if sink.send(Message::Text(message.into())).await.is_err() {
                        break 'conn None;
                    }
                }
            }
            Err(close) => break Some(close),
        }
    };
    for (_, operation) in conn.operations.drain() {
        operation.abort();
    }
    if let Some(Close(code, reason)) = close {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    let _ = sink.close().await;
}

impl Connection {
    async fn handle(&mut self, text: &str) -> Result<Vec<Value>, Close> {
        let message: Value = serde_json::from_str(text)
            .map_err(|_| Close(4400, "the message is not JSON".into()))?;
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Close(4400, "the message has no type".into()))?;
        match (kind, self.protocol) {
            ("connection_init", _) => self.init(message.get("payload")).await,
            ("ping", Protocol::TransportWs) => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = message.get("payload").filter(|p| p.is_object()) {
                    pong["payload"] = payload.clone();
                }
                Ok(vec![pong])
            }
            ("pong", Protocol::TransportWs) => Ok(Vec::new()),
            ("subscribe", Protocol::TransportWs) | ("start", Protocol::Legacy) => {
                self.subscribe(&message).await
            }
            ("complete", Protocol::TransportWs) | ("stop", Protocol::Legacy) => {
                let id = operation_id(&message)?;
                if let Some(operation) = self.operations.remove(id) {
                    operation.abort();
                }
                Ok(Vec::new())
            }
            ("connection_terminate", Protocol::Legacy) => {
                Err(Close(1000, "terminated by the client".into()))
            }
            _ => Err(Close(4400, format!("unexpected message type {kind:?}"))),
        }
    }

    async fn init(&mut self, payload: Option<&Value>) -> Result<Vec<Value>, Close> {
        if self.init_received {
            return Err(Close(4429, "Too many initialisation requests".into()));
        }
        self.init_received = true;
        let header = payload
            .and_then(|p| p.get("authorization").or_else(|| p.get("Authorization")))
            .and_then(Value::as_str);
        if let Some(header) = header {
            let token = bearer_token(header).ok_or_else(|| {
                Close(
                    4403,
                    "Forbidden: UNAUTHENTICATED: not a bearer token".into(),
                )
            })?;
            self.viewer_for(token).await?;
            self.token = Some(token.to_owned());
        }
        self.acked = true;
        let mut replies = vec![json!({ "type": "connection_ack" })];
        if self.protocol == Protocol::Legacy {
            replies.push(json!({ "type": "ka" }));
        }
        Ok(replies)
    }

    /// The viewer behind the socket's token, checked now: a token that expired or an account
    /// that may no longer sign in closes the socket with 4403.
    async fn viewer_for(&self, token: &str) -> Result<Viewer, Close> {
        match accounts::authenticate(&self.app, token).await {
            Ok(viewer) => Ok(viewer),
            Err(ApiError::Internal(err)) => {
                tracing::error!(error = ?err, "authenticating a websocket failed");
                Err(Close(1011, "internal error".into()))
            }
            Err(_) => Err(Close(
                4403,
                "Forbidden: UNAUTHENTICATED: invalid or expired token, or inactive account".into(),
            )),
        }
    }

    async fn subscribe(&mut self, message: &Value) -> Result<Vec<Value>, Close> {
        if !self.acked {
            return Err(Close(4401, "Unauthorized".into()));
        }
        let id = operation_id(message)?.to_owned();
        if self.operations.contains_key(&id) {
            return Err(Close(4409, format!("Subscriber for {id} already exists")));
        }
        let payload = message
            .get("payload")
            .cloned()
            .ok_or_else(|| Close(4400, "subscribe without payload".into()))?;
        let request: async_graphql::Request = serde_json::from_value(payload)
            .map_err(|_| Close(4400, "the payload is not a GraphQL request".into()))?;
        // Persisted queries and the allowlist hold over a socket as over HTTP.
        let request = match self.app.persisted.resolve(request) {
            Ok(request) => request,
            Err(refused) => {
                return Ok(vec![json!({
                    "id": id,
                    "type": "error",
                    "payload": self.errors(json!({
                        "message": refused.message,
                        "extensions": { "code": refused.code },
                    })),
                })])
            }
        };
        self.operations.retain(|_, op| !op.is_finished());
        if self.operations.len() >= MAX_OPERATIONS {
            return Ok(vec![json!({
                "id": id,
                "type": "error",
                "payload": self.errors(json!({
                    "message": format!("at most {MAX_OPERATIONS} operations per connection"),
                    "extensions": { "code": "LIMIT_EXCEEDED", "max": MAX_OPERATIONS },
                })),
            })]);
        }
        let viewer = match &self.token {
            Some(token) => self.viewer_for(token).await?,
            None => Viewer::Anonymous,
        };
        let payer = gate::payer(&viewer, self.client_ip);
        let mut data = Data::default();
        data.insert(viewer);
        data.insert(self.loaders.clone());
        data.insert(crate::app::ClientIp(self.client_ip));
        data.insert(StreamAuth {
            token: self.token.clone(),
        });
        let mut request = request;
        request.data = data;
        let settings = &self.app.settings;
        let mut admission = gate::admit(
            &mut request,
            &settings.limits,
            settings.graphql_introspection,
        );
        admission.charge(&self.app, payer);
        // A query or mutation over the socket is bounded like one over HTTP; a subscription
        // lives as long as its client wants.
        let subscription = admission.kind() == Some(OperationType::Subscription);
        let deadline = (!subscription)
            .then(|| tokio::time::Instant::now() + settings.limits.execution_timeout);
        let schema = self.schema.clone();
        let app = self.app.clone();
        let out = self.out.clone();
        let task_id = id.clone();
        let task = tokio::spawn(async move {
            let _live = crate::observability::Live::new("subscriptions_active");
            let mut stream = match admission.take_refusal() {
                Some(error) => futures_util::stream::once(std::future::ready(
                    async_graphql::Response::from_errors(vec![error]),
                ))
                .boxed(),
                None => schema.execute_stream(request),
            };
            // A query or mutation has one answer, finished like one over HTTP; a
            // subscription's answers are coded one by one.
            let mut single = (!subscription).then_some(admission);
            loop {
                let next = match deadline {
                    Some(deadline) => {
                        match tokio::time::timeout_at(deadline, stream.next()).await {
                            Ok(next) => next,
                            Err(_) => Some(timed_out()),
                        }
                    }
                    None => stream.next().await,
                };
                let Some(mut response) = next else {
                    break;
                };
                match single.take() {
                    Some(admission) => admission.finish(&app, &mut response),
                    None => gate::code_errors(&mut response),
                }
                let stop = deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
                if out
                    .send(Outgoing::Next(Box::new((task_id.clone(), response))))
                    .await
                    .is_err()
                {
                    return;
                }
                if stop {
                    break;
                }
            }
            let _ = out.send(Outgoing::Done(task_id.into())).await;
        });
        self.operations.insert(id, task.abort_handle());
        Ok(Vec::new())
    }

    /// An operation's result as the text to send, serialized once, straight from the response.
    fn result(&mut self, result: Outgoing) -> Vec<String> {
        match result {
            Outgoing::Next(next) => {
                let (id, mut response) = *next;
                if !self.operations.contains_key(&id) {
                    return Vec::new();
                }
                crate::answers::tag_internal_errors(&mut response, None);
                let kind = self.protocol.next();
                let text = serde_json::to_string(&Envelope {
                    id: &id,
                    kind,
                    payload: &response,
                })
                .unwrap_or_else(|_| {
                    json!({ "id": id, "type": kind, "payload": { "errors": [{
                        "message": "internal error",
                        "extensions": { "code": crate::error::INTERNAL_CODE } }] } })
                    .to_string()
                });
                vec![text]
            }
            Outgoing::Done(id) => match self.operations.remove(&*id) {
                Some(_) => vec![json!({ "id": id, "type": "complete" }).to_string()],
                None => Vec::new(),
            },
        }
    }

    /// An `error` payload: a list of errors (transport-ws) or one error (legacy).
    fn errors(&self, error: Value) -> Value {
        match self.protocol {
            Protocol::TransportWs => json!([error]),
            Protocol::Legacy => error,
        }
    }
}

/// What an operation past the execution timeout answers on its id.
fn timed_out() -> async_graphql::Response {
    let mut error = async_graphql::ServerError::new(
        "the operation ran past the execution timeout and was stopped",
        None,
    );
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", "TIMEOUT");
    async_graphql::Response::from_errors(vec![error])
}

fn operation_id(message: &Value) -> Result<&str, Close> {
    message
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .ok_or_else(|| {
            Close(
                4400,
                "the message needs an id of 1 to 128 characters".into(),
            )
        })
}

pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}
