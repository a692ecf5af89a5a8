//! The reference web client's files (web/) are served by the API with a Content-Security-Policy
//! that allows scripts from this origin only; GraphiQL carries one too; WEB_APP switches the app
//! off. What the app does in a browser is checked by api/tests/clients/web.test.cjs.
use crate::helpers::*;

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.addr))
        .send()
        .await
        .expect("get")
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_app_and_its_modules_are_served_under_a_strict_policy() {
    let app = spawn_app().await;
    let page = get(&app, "/").await;
    assert_eq!(page.status().as_u16(), 200);
    assert!(header(&page, "content-type").starts_with("text/html"));
    let csp = header(&page, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "connect-src 'self' https://api.stripe.com;",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let html = page.text().await.expect("html");
    // No inline script and nothing from another origin.
    assert!(html.contains(r#"<script type="module" src="/app/main.js"></script>"#));
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(!html.contains("http://") && !html.contains("https://"));

    for (path, kind) in [
        ("/app/main.js", "text/javascript"),
        ("/app/pages/order.js", "text/javascript"),
        ("/app/vendor/preact.mjs", "text/javascript"),
        ("/app/vendor/graphql-ws.js", "text/javascript"),
        ("/app/styles.css", "text/css"),
    ] {
        let file = get(&app, path).await;
        assert_eq!(file.status().as_u16(), 200, "{path}");
        assert!(header(&file, "content-type").starts_with(kind), "{path}");
        assert_eq!(header(&file, "x-content-type-options"), "nosniff");
        assert!(!header(&file, "etag").is_empty(), "{path}");
        let body = file.text().await.expect("body");
        // Every module the app imports is one of its own files.
        for import in body
            .split("from '")
            .skip(1)
            .chain(body.split("from\"").skip(1))
        {
            let target = import.split(['\'', '"']).next().unwrap_or_default();
            assert!(
                target.starts_with("./") || target.starts_with("../") || target == "ws",
                "{path} imports {target}"
            );
        }
    }
    for missing in [
        "/app/",
        "/app/nothing.js",
        "/app/../api/Cargo.toml",
        "/app/vendor/README.md",
    ] {
        assert_eq!(get(&app, missing).await.status().as_u16(), 404, "{missing}");
    }
    // GraphiQL has a policy of its own: its scripts from this origin, no inline script.
    let graphiql = app
        .client
        .get(app.graphql_url())
        .header("accept", "text/html")
        .send()
        .await
        .expect("graphiql");
    let csp = header(&graphiql, "content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
}

#[tokio::test]
async fn the_app_can_be_switched_off() {
    let app = spawn_app_with(&["--web-app", "false"]).await;
    assert_eq!(get(&app, "/").await.status().as_u16(), 404);
    assert_eq!(get(&app, "/app/main.js").await.status().as_u16(), 404);
}

/// With files on S3, the browser uploads to the store's origin: the policy lets it connect
/// there, and only there.
#[tokio::test]
async fn with_s3_storage_the_policy_admits_the_stores_origin() {
    let app = spawn_app_with(&[
        "--storage-url",
        "s3://web-client-bucket",
        "--s3-endpoint",
        "http://127.0.0.1:9",
        "--aws-access-key-id",
        "testing",
        "--aws-secret-access-key",
        "testing",
        "--aws-region",
        "us-east-1",
    ])
    .await;
    let csp = header(&get(&app, "/").await, "content-security-policy");
    assert!(
        csp.contains("connect-src 'self' https://api.stripe.com http://127.0.0.1:9;"),
        "{csp}"
    );
    let plain = spawn_app().await;
    let csp = header(&get(&plain, "/").await, "content-security-policy");
    assert!(
        csp.contains("connect-src 'self' https://api.stripe.com;"),
        "{csp}"
    );
}

/// A client learns Stripe's publishable key from the API, for the Payment Element; with
/// simulated payments there is none.
#[tokio::test]
async fn the_stripe_publishable_key_is_public_and_null_when_payments_are_simulated() {
    let query = "{ stripePublishableKey }";
    let simulated = spawn_app().await;
    let data = simulated.gql(None, query, serde_json::json!({})).await;
    assert!(data["stripePublishableKey"].is_null(), "{data}");
    let stripe = spawn_app_with(&[
        "--stripe-secret-key",
        "sk_test_123",
        "--stripe-api-base",
        "http://127.0.0.1:9",
        "--stripe-publishable-key",
        "pk_test_abc",
    ])
    .await;
    let data = stripe.gql(None, query, serde_json::json!({})).await;
    assert_eq!(data["stripePublishableKey"], "pk_test_abc");
}
