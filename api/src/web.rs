//! The reference web client (`web/` at the repository root): a small single-page app that
//! speaks only the public GraphQL API. Release builds embed its files in the binary; debug
//! builds read them from `web/` at run time, so an edit shows on reload. Served at `/` (the
//! page) and `/app/…` (its modules, styles and vendored libraries) when WEB_APP is on.
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "../web/"]
struct Files;

/// The page's Content-Security-Policy: scripts, styles and connections of this origin only
/// (websockets included), no inline script, no framing. Stripe's Payment Element, used only
/// with a real Stripe key, is the one outside origin a page may load.
pub const APP_CSP: &str = "default-src 'self'; script-src 'self' https://js.stripe.com; \
     frame-src https://js.stripe.com; connect-src 'self'; img-src 'self' data:; \
     style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// GET /: the app's page.
pub async fn page() -> Response {
    serve("index.html", "no-cache")
}

/// GET /app/{*path}: one of the app's files, or 404.
pub async fn asset(Path(path): Path<String>) -> Response {
    // Index pages, dot-files and the notes beside the code are not served by path.
    if path.is_empty() || path.ends_with(".md") || path.split('/').any(|part| part.starts_with('.'))
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    // Modules change with the binary; revalidating keeps a reload current.
    serve(&path, "no-cache")
}

fn serve(path: &str, cache: &'static str) -> Response {
    let Some(file) = Files::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = match path.rsplit_once('.').map(|(_, ext)| ext) {
        // mime_guess answers application/javascript for .mjs; browsers want text/javascript.
        Some("js" | "mjs") => "text/javascript; charset=utf-8".to_owned(),
        Some("html") => "text/html; charset=utf-8".to_owned(),
        Some("css") => "text/css; charset=utf-8".to_owned(),
        _ => file.metadata.mimetype().to_owned(),
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let mut response = file.data.into_owned().into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(APP_CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
