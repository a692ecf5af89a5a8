//! The shapes of the server's HTTP answers to GraphQL requests: the negotiated media type
//! (GraphQL over HTTP), request errors without `data`, GraphQL-shaped errors outside execution,
//! and the statuses a limit or a spent budget calls for.
use async_graphql::BatchResponse;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::INTERNAL_CODE;

/// A GraphQL-shaped error response outside execution (auth, limits, internal).
pub(crate) fn error_response(
    status: StatusCode,
    message: &str,
    code: &str,
    request_id: Option<&str>,
) -> Response {
    let mut extensions = json!({ "code": code });
    if let Some(id) = request_id {
        extensions["requestId"] = json!(id);
    }
    let mut response = (
        status,
        Json(json!({ "errors": [{ "message": message, "extensions": extensions }] })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    response
}

pub(crate) fn internal_response(request_id: Option<&str>) -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error",
        INTERNAL_CODE,
        request_id,
    )
}

/// The media type of a GraphQL answer (GraphQL over HTTP): `application/graphql-response+json`
/// when the client accepts it, else `application/json` (also for `*/*` and no Accept at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MediaType {
    GraphqlResponse,
    Json,
}

impl MediaType {
    const GRAPHQL_RESPONSE: &'static str = "application/graphql-response+json";

    pub(crate) fn accepted(headers: &HeaderMap) -> MediaType {
        let accepts_graphql_response = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let kind = parts.next().unwrap_or_default();
                let refused = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                kind.eq_ignore_ascii_case(Self::GRAPHQL_RESPONSE) && !refused
            });
        if accepts_graphql_response {
            MediaType::GraphqlResponse
        } else {
            MediaType::Json
        }
    }

    fn header(self) -> HeaderValue {
        match self {
            MediaType::GraphqlResponse => HeaderValue::from_static(Self::GRAPHQL_RESPONSE),
            MediaType::Json => HeaderValue::from_static("application/json"),
        }
    }
}

/// Adds the request id to internal errors so that a client can quote it and an operator can
/// find the log line.
pub(crate) fn tag_internal_errors(
    response: &mut async_graphql::Response,
    request_id: Option<&str>,
) {
    for error in &mut response.errors {
        let internal = error
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .is_some_and(|code| *code == async_graphql::Value::from(INTERNAL_CODE));
        if internal {
            if let (Some(ext), Some(id)) = (error.extensions.as_mut(), request_id) {
                ext.set("requestId", id);
            }
        }
    }
}

/// True when the request never executed (it did not parse, validate or coerce its
/// variables, or a limit refused it): no data, and no error points into a result.
pub(crate) fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The answer as JSON in the negotiated media type. A request error carries no `data` entry
/// (the GraphQL over HTTP spec: the request did not execute).
pub(crate) fn json_response(
    response: BatchResponse,
    media: MediaType,
    request_error: bool,
) -> Response {
    let headers = response.http_headers();
    let cache_control = response
        .is_ok()
        .then(|| response.cache_control().value())
        .flatten();
    // Straight to bytes; only a request error goes through a JSON value, to drop its `data`.
    let body = if request_error {
        serde_json::to_value(&response).and_then(|mut value| {
            if let Some(object) = value.as_object_mut() {
                object.remove("data");
            }
            serde_json::to_vec(&value)
        })
    } else {
        serde_json::to_vec(&response)
    };
    let body = match body {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "serializing a GraphQL response failed");
            return internal_response(None);
        }
    };
    let mut http = axum::body::Body::from(body).into_response();
    http.headers_mut()
        .insert(header::CONTENT_TYPE, media.header());
    if let Some(value) = cache_control.and_then(|c| HeaderValue::from_str(&c).ok()) {
        http.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    http.headers_mut().extend(headers);
    http
}

/// The wait of an operation refused for its budget (THROTTLED), in ms.
pub(crate) fn throttled_for(response: &async_graphql::Response) -> Option<i64> {
    if response.data != async_graphql::Value::Null {
        return None;
    }
    response.errors.iter().find_map(|e| {
        let ext = e.extensions.as_ref()?;
        if ext.get("code")? != &async_graphql::Value::from(crate::graphql::cost::THROTTLED) {
            return None;
        }
        match ext.get("retryAfterMs")? {
            async_graphql::Value::Number(n) => n.as_i64(),
            _ => None,
        }
    })
}

/// True when a limit (depth, aliases, cost, …) refused the operation before it ran: the request
/// itself is at fault, so it answers 400 whatever the client accepts.
pub(crate) fn refused_by_a_limit(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && response.errors.iter().any(|e| {
            e.extensions
                .as_ref()
                .is_some_and(|ext| ext.get("limit").is_some())
        })
}

/// A POST body that is not a GraphQL request (malformed JSON, a wrong shape, too large): a
/// GraphQL-shaped JSON error instead of async-graphql-axum's plain-text debug output.
pub struct BadRequestBody(pub(crate) async_graphql::ParseRequestError);

impl From<async_graphql::ParseRequestError> for BadRequestBody {
    fn from(err: async_graphql::ParseRequestError) -> Self {
        Self(err)
    }
}

impl IntoResponse for BadRequestBody {
    fn into_response(self) -> Response {
        use async_graphql::ParseRequestError as E;
        match self.0 {
            E::PayloadTooLarge => error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large",
                "PAYLOAD_TOO_LARGE",
                None,
            ),
            E::InvalidRequest(err) => error_response(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a GraphQL request: {err}"),
                "BAD_REQUEST",
                None,
            ),
            other => error_response(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a GraphQL request: {other}"),
                "BAD_REQUEST",
                None,
            ),
        }
    }
}
