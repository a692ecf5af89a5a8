//! The reference web client (`web/` at the repository root): a small single-page app that
//! speaks only the public GraphQL API. Release builds embed its files in the binary; debug
//! builds read them from `web/` at run time, so an edit shows on reload. Served at `/` (the
//! page) and `/app/…` (its modules, styles and vendored libraries) when WEB_APP is on.
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

#[derive(rust_embed::Embed)]
#[folder = "../web/"]
struct Files;

/// The page's Content-Security-Policy: scripts, styles and connections of this origin only
/// (websockets included) plus the object store's when files go to S3, no inline script, no
/// framing. Stripe.js (the Payment Element, loaded only with a real Stripe key) is the one
/// outside script, with the frames and API calls Stripe documents for it.
pub fn app_csp(storage_origin: Option<&str>) -> String {
    let store = storage_origin.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' https://js.stripe.com; \
         frame-src https://js.stripe.com https://hooks.stripe.com; \
         connect-src 'self' https://api.stripe.com{store}; img-src 'self' data: https://*.stripe.com; \
         style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// `/` and `/app/{*path}` with the policy for files stored at `storage_origin`.
pub fn routes<S: Clone + Send + Sync + 'static>(storage_origin: Option<&str>) -> Router<S> {
    let csp = HeaderValue::from_str(&app_csp(storage_origin))
        .unwrap_or(HeaderValue::from_static("default-src 'self'"));
    let page_csp = csp.clone();
    Router::new()
        .route("/", get(move || page(page_csp.clone())))
        .route(
            "/app/{*path}",
            get(move |Path(path): Path<String>| asset(csp.clone(), path)),
        )
}

/// GET /: the app's page.
async fn page(csp: HeaderValue) -> Response {
    serve("index.html", csp)
}

/// GET /app/{*path}: one of the app's files, or 404.
async fn asset(csp: HeaderValue, path: String) -> Response {
    // Index pages, dot-files and the notes beside the code are not served by path.
    if path.is_empty() || path.ends_with(".md") || path.split('/').any(|part| part.starts_with('.'))
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    serve(&path, csp)
}

/// The file with its type, an ETag, and `no-cache`: files change with the binary, and
/// revalidating keeps a reload current.
fn serve(path: &str, csp: HeaderValue) -> Response {
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
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
