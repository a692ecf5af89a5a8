//! `/files/{key}`: uploads and downloads for the local store, through URLs the API signed
//! (HMAC over method, key and expiry). With S3 the client uses the store's own presigned URLs
//! and these routes refuse everything.
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::domain::file;
use crate::services::files;
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

/// The signature is checked before a byte of the body is read, then the upload's record: a
/// URL whose file was attached is spent (409), the Content-Type must be the declared one (415),
/// and the body streams to the store up to the declared size (past it nothing is stored: 413).
async fn upload(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(signed): Query<Signed>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !allowed(&state, &Method::PUT, &key, &signed) {
        return refused(StatusCode::FORBIDDEN, "invalid or expired upload URL");
    }
    let upload = match files::upload_at(&state, &key).await {
        Ok(Some(upload)) => upload,
        Ok(None) => return refused(StatusCode::FORBIDDEN, "no upload was created for this URL"),
        Err(err) => {
            tracing::error!(error = ?err, key, "reading an upload record failed");
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the file could not be stored",
            );
        }
    };
    if upload.attached_at.is_some() {
        return refused(
            StatusCode::CONFLICT,
            "this upload URL is spent: its file is attached; create a new upload",
        );
    }
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if sent_type.as_deref() != Some(upload.content_type.as_str()) {
        return refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!(
                "send the Content-Type this upload was created with: {}",
                upload.content_type
            ),
        );
    }
    let declared = u64::try_from(upload.byte_size).unwrap_or(0);
    match state
        .storage
        .put_stream(&key, body, declared.min(MAX_OBJECT_BYTES))
        .await
    {
        Ok(true) => StatusCode::OK.into_response(),
        Ok(false) => refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the file is larger than the size this upload was created with",
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
    let recorded = files::attached_type(&state, &key).await.ok().flatten();
    let content_type = recorded
        .as_deref()
        .or_else(|| file::served_type(name))
        .unwrap_or("application/octet-stream");
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        file::safe_name(name)
    ))
    .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, content_type),
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
