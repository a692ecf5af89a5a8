//! `/files/{key}`: uploads and downloads for the local store, through URLs the API signed
//! (HMAC over method, key and expiry). With S3 the client uses the store's own presigned URLs
//! and these routes refuse everything.
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::domain::file;
use crate::state::AppState;
use crate::storage::MAX_OBJECT_BYTES;

#[derive(Deserialize)]
struct Signed {
    expires: i64,
    signature: String,
}

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/files/{*key}", get(download).put(upload))
        .with_state(state)
}

fn refused(status: StatusCode, message: &str) -> Response {
    (status, message.to_owned()).into_response()
}

fn allowed(state: &AppState, method: &Method, key: &str, signed: &Signed) -> bool {
    state
        .storage
        .verify_local(method, key, signed.expires, &signed.signature, state.now())
}

/// The signature is checked before a byte of the body is read, then the body streams to the
/// store; past the largest purpose's limit (checked again per purpose when the key is
/// attached) nothing is stored and the answer is 413.
async fn upload(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(signed): Query<Signed>,
    body: Body,
) -> Response {
    if !allowed(&state, &Method::PUT, &key, &signed) {
        return refused(StatusCode::FORBIDDEN, "invalid or expired upload URL");
    }
    match state.storage.put_stream(&key, body, MAX_OBJECT_BYTES).await {
        Ok(true) => StatusCode::OK.into_response(),
        Ok(false) => refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the file is larger than any upload may be",
        ),
        Err(err) => {
            tracing::error!(error = ?err, key, "storing an upload failed");
            refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the file could not be stored",
            )
        }
    }
}

async fn download(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(signed): Query<Signed>,
) -> Response {
    if !allowed(&state, &Method::GET, &key, &signed) {
        return refused(StatusCode::FORBIDDEN, "invalid or expired download URL");
    }
    let stream = match state.storage.get(&key).await {
        Ok(Some(stream)) => stream,
        Ok(None) => return refused(StatusCode::NOT_FOUND, "no such file"),
        Err(err) => {
            tracing::error!(error = ?err, key, "reading a file failed");
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the file could not be read",
            );
        }
    };
    let name = key.rsplit('/').next().unwrap_or("file");
    let content_type = file::served_type(name).unwrap_or("application/octet-stream");
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        file::safe_name(name)
    ))
    .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
