//! Order files through the API and the local store: presigned uploads, the checks before a key
//! is attached, signed downloads for the parties, and refused signatures, expiries and sizes.
use serde_json::{json, Value};

use crate::helpers::*;

const CREATE_UPLOAD: &str = "mutation($input: CreateUploadInput!) { createUpload(input: $input) { upload { key url method headers { name value } expiresAt } userErrors { field message code } } }";

const FILE_FIELDS: &str = "key fileName contentType byteSize downloadUrl";

/// A paid (simulated card) order claimed by its provider.
async fn claimed_order(app: &TestApp) -> (Seller, Session, String) {
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "filer@example.com", "Filer", json!({}))
        .await;
    let listing = app.listing(&seller, json!({ "priceCents": "10000" })).await;
    let buyer = app.register("filebuyer@example.com", "FileBuyer").await;
    let placed = app
        .gql(
            Some(&buyer.access_token),
            "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { id status } } }",
            json!({ "l": listing }),
        )
        .await;
    let id = placed["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("placed: {placed}"))
        .to_owned();
    let claimed = app
        .gql(
            Some(&seller.session.access_token),
            "mutation($id: ID!) { claimOrder(input: { orderId: $id }) { order { status } userErrors { message } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        claimed["claimOrder"]["order"]["status"], "CLAIMED",
        "{claimed}"
    );
    (seller, buyer, id)
}

async fn create_upload(
    app: &TestApp,
    who: &Session,
    order: &str,
    purpose: &str,
    name: &str,
    content_type: &str,
    size: u64,
) -> Value {
    let input = json!({ "orderId": order, "purpose": purpose, "fileName": name,
        "contentType": content_type, "byteSize": size.to_string() });
    app.gql(
        Some(&who.access_token),
        CREATE_UPLOAD,
        json!({ "input": input }),
    )
    .await["createUpload"]
        .clone()
}

/// PUTs `body` to a presigned upload with the headers it asks for; returns the HTTP status.
async fn put(app: &TestApp, upload: &Value, body: Vec<u8>) -> u16 {
    let mut request = app.client.put(upload["url"].as_str().expect("url"));
    for header in upload["headers"].as_array().expect("headers") {
        request = request.header(
            header["name"].as_str().expect("name"),
            header["value"].as_str().expect("value"),
        );
    }
    request
        .body(body)
        .send()
        .await
        .expect("upload")
        .status()
        .as_u16()
}

async fn deliver(app: &TestApp, seller: &Seller, order: &str, key: Option<&str>) -> Value {
    let query = format!("mutation($id: ID!, $key: String) {{ deliverOrder(input: {{ orderId: $id, summary: \"See the report\", fileKey: $key }}) {{ order {{ status delivery {{ file {{ {FILE_FIELDS} }} }} }} userErrors {{ field message code }} }} }}");
    app.gql(
        Some(&seller.session.access_token),
        &query,
        json!({ "id": order, "key": key }),
    )
    .await["deliverOrder"]
        .clone()
}

fn first_code(payload: &Value) -> String {
    payload["userErrors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_script_and_a_report_go_up_through_signed_urls_and_come_back_to_the_parties() {
    let app = spawn_app().await;
    let (seller, buyer, order) = claimed_order(&app).await;

    // The buyer's script.
    let script = b"INT. HOUSE - DAY\n\nA page of a script.\n".to_vec();
    let payload = create_upload(
        &app,
        &buyer,
        &order,
        "ORDER_SCRIPT",
        "My Script.fountain",
        "text/plain",
        script.len() as u64,
    )
    .await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    let upload = &payload["upload"];
    assert_eq!(upload["method"], "PUT");
    assert_eq!(
        upload["headers"],
        json!([{ "name": "Content-Type", "value": "text/plain" }])
    );
    let expires =
        chrono::DateTime::parse_from_rfc3339(upload["expiresAt"].as_str().expect("expiresAt"))
            .expect("rfc3339");
    let ttl = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        ttl > chrono::Duration::minutes(14) && ttl <= chrono::Duration::minutes(15),
        "{ttl}"
    );
    assert_eq!(put(&app, upload, script.clone()).await, 200);
    let attach = format!("mutation($id: ID!, $key: String!) {{ attachOrderScript(input: {{ orderId: $id, fileKey: $key }}) {{ order {{ scriptFile {{ {FILE_FIELDS} }} }} userErrors {{ field message code }} }} }}");
    let attached = app
        .gql(
            Some(&buyer.access_token),
            &attach,
            json!({ "id": order, "key": upload["key"] }),
        )
        .await["attachOrderScript"]
        .clone();
    assert_eq!(attached["userErrors"], json!([]), "{attached}");
    let file = &attached["order"]["scriptFile"];
    assert_eq!(file["fileName"], "My_Script.fountain");
    assert_eq!(file["contentType"], "text/plain");
    assert_eq!(file["byteSize"], script.len().to_string());

    // The provider reads it through its own view of the order.
    let seen = app
        .gql(
            Some(&seller.session.access_token),
            "query($id: ID!) { order(id: $id) { scriptFile { downloadUrl } } }",
            json!({ "id": order }),
        )
        .await;
    let url = seen["order"]["scriptFile"]["downloadUrl"]
        .as_str()
        .expect("url");
    let got = app.client.get(url).send().await.expect("download");
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), script);

    // The provider's report, delivered with the file.
    let report = vec![b'%'; 4096];
    let payload = create_upload(
        &app,
        &seller.session,
        &order,
        "DELIVERY_REPORT",
        "report.pdf",
        "application/pdf",
        report.len() as u64,
    )
    .await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    assert_eq!(put(&app, &payload["upload"], report.clone()).await, 200);
    let key = payload["upload"]["key"].as_str().expect("key");
    let delivered = deliver(&app, &seller, &order, Some(key)).await;
    assert_eq!(delivered["userErrors"], json!([]), "{delivered}");
    assert_eq!(delivered["order"]["status"], "DELIVERED");
    let file = &delivered["order"]["delivery"]["file"];
    assert_eq!(file["byteSize"], "4096");
    // What is attached is a frozen copy, not the key the upload URL writes to.
    let attached = file["key"].as_str().expect("key");
    assert!(
        attached.starts_with(&format!("orders/{order}/attached/")) && attached != key,
        "{attached}"
    );
    let url = file["downloadUrl"].as_str().expect("url");
    let got = app.client.get(url).send().await.expect("download");
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(
        got.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), report);

    // The buyer downloads it too; a stranger sees no order and so no file.
    let mine = app
        .gql(
            Some(&buyer.access_token),
            "query($id: ID!) { order(id: $id) { delivery { file { downloadUrl } } } }",
            json!({ "id": order }),
        )
        .await;
    assert!(
        mine["order"]["delivery"]["file"]["downloadUrl"].is_string(),
        "{mine}"
    );
    let stranger = app.register("nosy@example.com", "Nosy").await;
    let theirs = app
        .gql(
            Some(&stranger.access_token),
            "query($id: ID!) { order(id: $id) { delivery { file { downloadUrl } } } }",
            json!({ "id": order }),
        )
        .await;
    assert_eq!(theirs["order"], Value::Null);

    // A download URL lives five minutes.
    app.clock
        .advance(chrono::Duration::minutes(5) + chrono::Duration::seconds(5));
    assert_eq!(
        app.client
            .get(url)
            .send()
            .await
            .expect("late")
            .status()
            .as_u16(),
        403
    );
}

#[tokio::test]
async fn uploads_are_refused_for_the_wrong_party_type_size_signature_or_time() {
    let app = spawn_app().await;
    let (seller, buyer, order) = claimed_order(&app).await;
    let stranger = app.register("other@example.com", "Other").await;
    let report = |name: &str, ty: &str, size: u64| (name.to_owned(), ty.to_owned(), size);
    let limit = 25 * 1024 * 1024;

    // (who, purpose, (name, type, size), expected code, field)
    type Case<'a> = (
        &'a Session,
        &'a str,
        (String, String, u64),
        &'a str,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            &buyer,
            "DELIVERY_REPORT",
            report("r.pdf", "application/pdf", 10),
            "NOT_ALLOWED",
            None,
        ),
        (
            &seller.session,
            "ORDER_SCRIPT",
            report("s.txt", "text/plain", 10),
            "NOT_ALLOWED",
            None,
        ),
        (
            &stranger,
            "ORDER_SCRIPT",
            report("s.txt", "text/plain", 10),
            "NOT_FOUND",
            None,
        ),
        (
            &seller.session,
            "DELIVERY_REPORT",
            report("r.exe", "application/pdf", 10),
            "INVALID",
            Some("fileName"),
        ),
        (
            &seller.session,
            "DELIVERY_REPORT",
            report("r.pdf", "text/html", 10),
            "INVALID",
            Some("contentType"),
        ),
        (
            &seller.session,
            "DELIVERY_REPORT",
            report("r.pdf", "application/pdf", 0),
            "INVALID",
            Some("byteSize"),
        ),
        (
            &seller.session,
            "DELIVERY_REPORT",
            report("r.pdf", "application/pdf", limit + 1),
            "LIMIT_EXCEEDED",
            Some("byteSize"),
        ),
        (
            &buyer,
            "ORDER_SCRIPT",
            report("s.md", "text/markdown", 50 * 1024 * 1024 + 1),
            "LIMIT_EXCEEDED",
            Some("byteSize"),
        ),
    ];
    for (who, purpose, (name, ty, size), code, field) in cases {
        let payload = create_upload(&app, who, &order, purpose, &name, &ty, size).await;
        assert_eq!(
            first_code(&payload),
            code,
            "{purpose} {name} {ty} {size}: {payload}"
        );
        assert_eq!(payload["upload"], Value::Null);
        if let Some(field) = field {
            assert_eq!(
                payload["userErrors"][0]["field"],
                json!(["input", field]),
                "{payload}"
            );
        }
    }
    // At the limit is fine.
    let at_limit = create_upload(
        &app,
        &seller.session,
        &order,
        "DELIVERY_REPORT",
        "r.pdf",
        "application/pdf",
        limit,
    )
    .await;
    assert_eq!(at_limit["userErrors"], json!([]), "{at_limit}");

    // A tampered signature, another key under the same signature, or an expired URL: 403.
    let payload = create_upload(
        &app,
        &seller.session,
        &order,
        "DELIVERY_REPORT",
        "r.pdf",
        "application/pdf",
        10,
    )
    .await;
    let upload = payload["upload"].clone();
    let url = upload["url"].as_str().expect("url").to_owned();
    let mut tampered = upload.clone();
    let last = url.chars().last().expect("sig");
    let swapped = if last == '0' { '1' } else { '0' };
    tampered["url"] = json!(format!("{}{swapped}", &url[..url.len() - 1]));
    assert_eq!(put(&app, &tampered, b"0123456789".to_vec()).await, 403);
    let mut moved = upload.clone();
    moved["url"] = json!(url.replace("/r.pdf?", "/s.pdf?"));
    assert_eq!(put(&app, &moved, b"0123456789".to_vec()).await, 403);

    // Nothing uploaded yet under the key: refused, the order stays CLAIMED.
    let key = upload["key"].as_str().expect("key").to_owned();
    let early = deliver(&app, &seller, &order, Some(&key)).await;
    assert_eq!(
        (first_code(&early), early["userErrors"][0]["field"].clone()),
        ("INVALID".to_owned(), json!(["input", "fileKey"])),
        "{early}"
    );
    // A key of another order is refused the same way.
    let foreign = key.replace(&order, "ord_0000000000000000000000000000000a");
    assert_eq!(
        first_code(&deliver(&app, &seller, &order, Some(&foreign)).await),
        "INVALID"
    );

    // More bytes than declared are refused as they arrive (nothing is stored), and so is
    // another Content-Type than the declared one.
    let big = create_upload(
        &app,
        &seller.session,
        &order,
        "DELIVERY_REPORT",
        "big.pdf",
        "application/pdf",
        10,
    )
    .await;
    assert_eq!(
        put(&app, &big["upload"], vec![0u8; limit as usize + 1]).await,
        413
    );
    assert_eq!(put(&app, &big["upload"], vec![0u8; 11]).await, 413);
    let not_stored = deliver(&app, &seller, &order, big["upload"]["key"].as_str()).await;
    assert_eq!(first_code(&not_stored), "INVALID", "{not_stored}");
    let mut as_html = big["upload"].clone();
    as_html["headers"] = json!([{ "name": "Content-Type", "value": "text/html" }]);
    assert_eq!(put(&app, &as_html, vec![0u8; 10]).await, 415);
    as_html["headers"] = json!([]);
    assert_eq!(put(&app, &as_html, vec![0u8; 10]).await, 415);

    // Upload URLs live 15 minutes.
    app.clock
        .advance(chrono::Duration::minutes(15) + chrono::Duration::seconds(5));
    assert_eq!(put(&app, &upload, b"0123456789".to_vec()).await, 403);
    let state = app
        .gql(
            Some(&buyer.access_token),
            "query($id: ID!) { order(id: $id) { status deliveries { revision } } }",
            json!({ "id": order }),
        )
        .await;
    assert_eq!(
        state["order"],
        json!({ "status": "CLAIMED", "deliveries": [] })
    );

    // Once delivered, no script can be attached any more.
    assert_eq!(
        deliver(&app, &seller, &order, None).await["order"]["status"],
        "DELIVERED"
    );
    let late = create_upload(
        &app,
        &buyer,
        &order,
        "ORDER_SCRIPT",
        "s.txt",
        "text/plain",
        10,
    )
    .await;
    assert_eq!(first_code(&late), "INVALID_STATE", "{late}");
}

/// The S3 store against a local S3 server (moto; `scripts/test` starts one and sets
/// TEST_S3_ENDPOINT): a presigned PUT from the store's Signer, uploaded with a plain HTTP client,
/// HEAD-checked on delivery, and downloaded through a presigned GET. moto does not check
/// signatures; those and their expiry are tested on the local `/files/` URLs above.
#[tokio::test]
async fn with_s3_storage_the_client_uploads_and_downloads_through_presigned_urls() {
    let endpoint = std::env::var("TEST_S3_ENDPOINT").expect(
        "TEST_S3_ENDPOINT names a local S3 server (moto); run the suite with scripts/test, which starts one",
    );
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    let bucket = format!("it-{}", uuid::Uuid::new_v4().simple());
    let client = reqwest::Client::new();
    let made = client
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("create bucket");
    assert!(made.status().is_success(), "bucket: {}", made.status());
    let storage_url = format!("s3://{bucket}");
    let app = spawn_app_with(&[
        "--storage-url",
        &storage_url,
        "--s3-endpoint",
        &endpoint,
        "--aws-access-key-id",
        "testing",
        "--aws-secret-access-key",
        "testing",
        "--aws-region",
        "us-east-1",
    ])
    .await;
    let (seller, buyer, order) = claimed_order(&app).await;

    let report = b"# Coverage\n\nStrong second act.\n".to_vec();
    let payload = create_upload(
        &app,
        &seller.session,
        &order,
        "DELIVERY_REPORT",
        "notes.md",
        "text/markdown",
        report.len() as u64,
    )
    .await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    let url = payload["upload"]["url"].as_str().expect("url");
    assert!(
        url.starts_with(&format!("{endpoint}/{bucket}/orders/{order}/")),
        "{url}"
    );
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    // The declared Content-Type is signed: S3 refuses an upload that sends another one.
    assert!(
        url.contains("X-Amz-SignedHeaders=content-type%3Bhost"),
        "{url}"
    );
    let key = payload["upload"]["key"].as_str().expect("key").to_owned();

    // Not uploaded yet: the HEAD finds nothing.
    assert_eq!(
        first_code(&deliver(&app, &seller, &order, Some(&key)).await),
        "INVALID"
    );
    assert_eq!(put(&app, &payload["upload"], report.clone()).await, 200);
    // Anonymous reads are refused: the object is reachable only through presigned URLs.
    let anonymous = client
        .get(format!("{endpoint}/{bucket}/{key}"))
        .send()
        .await
        .expect("anonymous read");
    assert_eq!(anonymous.status().as_u16(), 403);

    let delivered = deliver(&app, &seller, &order, Some(&key)).await;
    assert_eq!(delivered["userErrors"], json!([]), "{delivered}");
    let file = &delivered["order"]["delivery"]["file"];
    assert_eq!(file["byteSize"], report.len().to_string());
    assert_eq!(file["contentType"], "text/markdown");
    let download = file["downloadUrl"].as_str().expect("download url");
    assert!(download.contains("X-Amz-Expires=300"), "{download}");
    let got = client.get(download).send().await.expect("download");
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), report);
    // The buyer sees the same file on the order.
    let seen = app
        .gql(
            Some(&buyer.access_token),
            "query($id: ID!) { order(id: $id) { delivery { file { key } } } }",
            json!({ "id": order }),
        )
        .await;
    let attached = file["key"].as_str().expect("attached key");
    assert_eq!(seen["order"]["delivery"]["file"]["key"], attached);
    assert!(attached.contains("/attached/"), "{attached}");

    // The presigned URL still lives (S3 cannot revoke it), but what it writes now is attached
    // to nothing: the delivered file is a frozen copy.
    assert_eq!(
        put(
            &app,
            &payload["upload"],
            b"replaced after delivery".to_vec()
        )
        .await,
        200
    );
    let again = file["downloadUrl"].as_str().expect("download url");
    let got = client.get(again).send().await.expect("download again");
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), report);
}

/// Hardening finding 5: `PUT /files/…` read up to 50 MiB into memory before checking the
/// signature. An unsigned upload announcing 48 MiB is refused (403) after its first kilobyte,
/// without the server waiting for (or holding) the rest.
#[tokio::test]
async fn an_unsigned_upload_is_refused_before_its_body_is_read() {
    let app = spawn_app().await;
    let answer = large_put_status(
        &app,
        "/files/orders/ord_x/delivery/report.pdf?expires=9999999999&signature=00",
        "application/pdf",
        48 * 1024 * 1024,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

/// Announces a PUT of `length` bytes to `path`, sends its first kilobyte only, and returns the
/// status line the server answers with (within 10 s, without waiting for the rest).
async fn large_put_status(app: &TestApp, path: &str, content_type: &str, length: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(&[b'x'; 1024])
        .await
        .expect("first kilobyte");
    let mut answer = vec![0u8; 512];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered without the rest of the body")
        .expect("read");
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Hardening finding 6: an upload URL still worked after its file was attached, so the
/// provider replaced a checked 20-byte report with 26 MiB after deliverOrder and the buyer
/// downloaded that. Now the URL is spent once its file is attached, the attached file is a
/// frozen copy, and an upload is attached once.
#[tokio::test]
async fn an_upload_is_spent_when_attached_and_the_attached_file_is_frozen() {
    let app = spawn_app().await;
    let (seller, buyer, order) = claimed_order(&app).await;

    // The buyer's script: attached once; the same key a second time is refused.
    let script = b"FADE IN.\n".to_vec();
    let payload = create_upload(
        &app,
        &buyer,
        &order,
        "ORDER_SCRIPT",
        "s.txt",
        "text/plain",
        script.len() as u64,
    )
    .await;
    assert_eq!(put(&app, &payload["upload"], script.clone()).await, 200);
    let attach = "mutation($id: ID!, $key: String!) { attachOrderScript(input: { orderId: $id, fileKey: $key }) { order { scriptFile { key } } userErrors { field message code } } }";
    let vars = json!({ "id": order, "key": payload["upload"]["key"] });
    let first = app
        .gql(Some(&buyer.access_token), attach, vars.clone())
        .await;
    assert_eq!(
        first["attachOrderScript"]["userErrors"],
        json!([]),
        "{first}"
    );
    let second = app.gql(Some(&buyer.access_token), attach, vars).await;
    assert_eq!(
        first_code(&second["attachOrderScript"]),
        "INVALID",
        "{second}"
    );
    assert_eq!(put(&app, &payload["upload"], script.clone()).await, 409);

    // The provider's 20-byte report, delivered.
    let report = b"twenty bytes exactly".to_vec();
    let payload = create_upload(
        &app,
        &seller.session,
        &order,
        "DELIVERY_REPORT",
        "r.pdf",
        "application/pdf",
        report.len() as u64,
    )
    .await;
    let upload = &payload["upload"];
    assert_eq!(put(&app, upload, report.clone()).await, 200);
    let delivered = deliver(&app, &seller, &order, upload["key"].as_str()).await;
    assert_eq!(delivered["userErrors"], json!([]), "{delivered}");

    // The same URL, still within its 15 minutes: spent, whatever the size.
    let url = upload["url"].as_str().expect("url");
    let path = &url[url.find("/files/").expect("a /files/ URL")..];
    let answer = large_put_status(&app, path, "application/pdf", 26 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 409"), "{answer}");
    assert_eq!(
        put(&app, upload, b"a different twenty!!".to_vec()).await,
        409
    );

    // The buyer downloads exactly what was checked at delivery.
    let seen = app
        .gql(
            Some(&buyer.access_token),
            "query($id: ID!) { order(id: $id) { delivery { file { byteSize contentType downloadUrl } } } }",
            json!({ "id": order }),
        )
        .await;
    let file = &seen["order"]["delivery"]["file"];
    assert_eq!(file["byteSize"], "20", "{seen}");
    let got = app
        .client
        .get(file["downloadUrl"].as_str().expect("url"))
        .send()
        .await
        .expect("download");
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), report);
}

/// Uploads never attached are removed by the timers a day after their URL expired, object and
/// record; attached ones (and the frozen copies orders keep) are left alone.
#[tokio::test]
async fn abandoned_uploads_are_swept_a_day_after_they_expire() {
    let app = spawn_app().await;
    let (seller, buyer, order) = claimed_order(&app).await;
    let script = b"FADE OUT.\n".to_vec();
    let kept = create_upload(
        &app,
        &buyer,
        &order,
        "ORDER_SCRIPT",
        "s.txt",
        "text/plain",
        script.len() as u64,
    )
    .await;
    assert_eq!(put(&app, &kept["upload"], script.clone()).await, 200);
    let attach = "mutation($id: ID!, $key: String!) { attachOrderScript(input: { orderId: $id, fileKey: $key }) { order { scriptFile { key } } userErrors { code } } }";
    let attached = app
        .gql(
            Some(&buyer.access_token),
            attach,
            json!({ "id": order, "key": kept["upload"]["key"] }),
        )
        .await;
    let frozen = attached["attachOrderScript"]["order"]["scriptFile"]["key"]
        .as_str()
        .expect("attached")
        .to_owned();
    let abandoned = create_upload(
        &app,
        &seller.session,
        &order,
        "DELIVERY_REPORT",
        "r.pdf",
        "application/pdf",
        4,
    )
    .await;
    assert_eq!(put(&app, &abandoned["upload"], b"%PDF".to_vec()).await, 200);
    let key = abandoned["upload"]["key"].as_str().expect("key").to_owned();
    assert_eq!(app.state.storage.size(&key).await.expect("size"), Some(4));

    // Within a day of the URL's expiry nothing goes.
    app.clock.advance(chrono::Duration::hours(20));
    let early = api::jobs::run_once(&app.state).await.expect("timers");
    assert_eq!(early.uploads_swept, 0);
    app.clock.advance(chrono::Duration::hours(5));
    let ran = api::jobs::run_once(&app.state).await.expect("timers");
    assert_eq!(ran.uploads_swept, 1);
    assert_eq!(app.state.storage.size(&key).await.expect("size"), None);
    let late = deliver(&app, &seller, &order, Some(&key)).await;
    assert_eq!(first_code(&late), "INVALID", "{late}");
    // The attached script's frozen copy is untouched.
    assert_eq!(
        app.state.storage.size(&frozen).await.expect("size"),
        Some(script.len() as u64)
    );
    assert_eq!(
        api::jobs::run_once(&app.state)
            .await
            .expect("timers")
            .uploads_swept,
        0
    );
}
