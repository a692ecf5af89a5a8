//! The invoice book through the API: contacts kept by a tenant's members (bounds, search, soft
//! delete and restore in lists, counts and the one-live-contact rule) and an isolation matrix
//! run as a member of another tenant, as an anonymous caller and as a buyer, checked in the
//! database.
use sea_orm::EntityTrait;
use serde_json::{json, Value};

use crate::helpers::*;

const CONTACT: &str = "id name email phone deletedAt totalTransactions totalSpent { cents currencyCode } marketplaceUser { id } tenant { id }";

async fn contact_mutation(app: &TestApp, who: Option<&str>, mutation: &str, input: Value) -> Value {
    let input_type = match mutation {
        "createContact" => "ContactInput",
        "updateContact" => "UpdateContactInput",
        _ => "ContactIdInput",
    };
    let query = format!(
        "mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ contact {{ {CONTACT} }} userErrors {{ field message code }} }} }}"
    );
    app.post(who, &query, json!({ "i": input })).await.1
}

/// A mutation that must come back as data (no top-level error): its payload.
async fn contact_payload(app: &TestApp, who: &Session, mutation: &str, input: Value) -> Value {
    let body = contact_mutation(app, Some(&who.access_token), mutation, input).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"][mutation].clone()
}

async fn create(app: &TestApp, who: &Session, tenant: &str, fields: Value) -> Value {
    let mut input = json!({ "tenantId": tenant });
    if let (Some(obj), Some(more)) = (input.as_object_mut(), fields.as_object()) {
        obj.extend(more.clone());
    }
    contact_payload(app, who, "createContact", input).await
}

fn id_of(payload: &Value) -> String {
    payload["contact"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no contact: {payload}"))
        .to_owned()
}

/// The tenant's contacts as `who` sees them: (total, names newest first).
async fn contacts(app: &TestApp, who: &Session, tenant: &str, filter: Value) -> (i64, Vec<String>) {
    let data = app
        .gql(
            Some(&who.access_token),
            "query($id: ID!, $f: ContactFilter) { node(id: $id) { ... on Tenant { contacts(filter: $f) { totalCount nodes { name } } } } }",
            json!({ "id": tenant, "f": filter }),
        )
        .await;
    let page = &data["node"]["contacts"];
    let names = page["nodes"]
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .map(|n| n["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (page["totalCount"].as_i64().unwrap_or(-1), names)
}

async fn stored(app: &TestApp, id: &str) -> entity::contacts::Model {
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    entity::contacts::Entity::find_by_id(id.to_owned())
        .one(&db.reader)
        .await
        .expect("query")
        .expect("contact")
}

#[tokio::test]
async fn members_keep_contacts_and_soft_deletes_leave_every_default_read() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = manual_seller(&app, &admin, "book@example.com").await;
    let tenant = seller.tenant_id.clone();
    let me = &seller.session;

    // Bounds and shapes, each refused on its field with nothing stored.
    for (fields, field) in [
        (json!({ "name": "   " }), "name"),
        (json!({ "name": "x".repeat(201) }), "name"),
        (json!({ "name": "Ana\u{0}" }), "name"),
        (json!({ "name": "Ana\u{202e}" }), "name"),
        (
            json!({ "name": "Ana", "email": "ana.example.com" }),
            "email",
        ),
        (
            json!({ "name": "Ana", "email": "ana@exa mple.com" }),
            "email",
        ),
        (json!({ "name": "Ana", "phone": "call me" }), "phone"),
    ] {
        let refused = create(&app, me, &tenant, fields.clone()).await;
        assert_eq!(
            error_codes(&refused),
            vec!["INVALID"],
            "{fields}: {refused}"
        );
        assert_eq!(refused["userErrors"][0]["field"], json!(["input", field]));
    }
    assert_eq!(contacts(&app, me, &tenant, json!({})).await.0, 0);

    let ana = create(
        &app,
        me,
        &tenant,
        json!({ "name": "  Ana Silva ", "email": "Ana@Example.COM", "phone": "+1 (555) 010-2030" }),
    )
    .await;
    assert_eq!(ana["userErrors"], json!([]), "{ana}");
    assert_eq!(ana["contact"]["name"], "Ana Silva");
    assert_eq!(ana["contact"]["email"], "ana@example.com");
    assert_eq!(ana["contact"]["totalTransactions"], 0);
    assert_eq!(ana["contact"]["totalSpent"]["cents"], "0");
    assert_eq!(ana["contact"]["marketplaceUser"], Value::Null);
    assert_eq!(ana["contact"]["tenant"]["id"], tenant.as_str());
    let ana = id_of(&ana);
    let long = "x".repeat(200);
    let bruno = id_of(&create(&app, me, &tenant, json!({ "name": "Bruno" })).await);
    create(&app, me, &tenant, json!({ "name": long })).await;

    // Newest first; search by name or email, case-insensitive, with LIKE's wildcards literal.
    assert_eq!(
        contacts(&app, me, &tenant, json!({})).await,
        (
            3,
            vec![long.clone(), "Bruno".to_owned(), "Ana Silva".to_owned()]
        )
    );
    assert_eq!(
        contacts(&app, me, &tenant, json!({ "query": "SILVA" })).await,
        (1, vec!["Ana Silva".to_owned()])
    );
    assert_eq!(
        contacts(&app, me, &tenant, json!({ "query": "example.COM" }))
            .await
            .0,
        1
    );
    assert_eq!(
        contacts(&app, me, &tenant, json!({ "query": "%" })).await.0,
        0
    );
    assert_eq!(
        contacts(&app, me, &tenant, json!({ "query": "_" })).await.0,
        0
    );

    // Updates: what is left out stays, a blank email clears it, a bad phone changes nothing.
    let changed = contact_payload(
        &app,
        me,
        "updateContact",
        json!({ "contactId": ana, "name": "Ana S. Silva", "email": "" }),
    )
    .await;
    assert_eq!(changed["userErrors"], json!([]), "{changed}");
    assert_eq!(changed["contact"]["name"], "Ana S. Silva");
    assert_eq!(changed["contact"]["email"], Value::Null);
    assert_eq!(changed["contact"]["phone"], "+1 (555) 010-2030");
    let bad = contact_payload(
        &app,
        me,
        "updateContact",
        json!({ "contactId": ana, "name": "Other", "phone": "x" }),
    )
    .await;
    assert_eq!(error_codes(&bad), vec!["INVALID"]);
    assert_eq!(stored(&app, &ana).await.name, "Ana S. Silva");

    // Soft delete: gone from the list and the count, shown to members on request, whole.
    let deleted = contact_payload(&app, me, "deleteContact", json!({ "contactId": ana })).await;
    assert_eq!(deleted["userErrors"], json!([]), "{deleted}");
    assert!(deleted["contact"]["deletedAt"].is_string());
    assert_eq!(
        contacts(&app, me, &tenant, json!({})).await,
        (2, vec![long.clone(), "Bruno".to_owned()])
    );
    assert_eq!(
        contacts(&app, me, &tenant, json!({ "query": "silva" }))
            .await
            .0,
        0
    );
    assert_eq!(
        contacts(&app, me, &tenant, json!({ "includeDeleted": true }))
            .await
            .0,
        3
    );
    for (mutation, input) in [
        ("deleteContact", json!({ "contactId": ana })),
        (
            "updateContact",
            json!({ "contactId": ana, "name": "Again" }),
        ),
    ] {
        let refused = contact_payload(&app, me, mutation, input).await;
        assert_eq!(error_codes(&refused), vec!["INVALID_STATE"], "{mutation}");
    }
    // Admins read live contacts only; members read deleted ones too.
    let node = "query($id: ID!) { node(id: $id) { ... on Contact { name deletedAt } } }";
    assert_eq!(
        app.gql(Some(&admin.access_token), node, json!({ "id": ana }))
            .await["node"],
        Value::Null
    );
    assert_eq!(
        app.gql(Some(&me.access_token), node, json!({ "id": ana }))
            .await["node"]["name"],
        "Ana S. Silva"
    );
    assert_eq!(
        app.gql(Some(&admin.access_token), node, json!({ "id": bruno }))
            .await["node"]["name"],
        "Bruno"
    );
    assert_eq!(
        contacts(&app, &admin, &tenant, json!({ "includeDeleted": true }))
            .await
            .0,
        2,
        "includeDeleted is for members"
    );

    let restored = contact_payload(&app, me, "restoreContact", json!({ "contactId": ana })).await;
    assert_eq!(restored["userErrors"], json!([]), "{restored}");
    assert_eq!(restored["contact"]["deletedAt"], Value::Null);
    assert_eq!(restored["contact"]["name"], "Ana S. Silva");
    assert_eq!(restored["contact"]["phone"], "+1 (555) 010-2030");
    assert_eq!(contacts(&app, me, &tenant, json!({})).await.0, 3);
    let again = contact_payload(&app, me, "restoreContact", json!({ "contactId": ana })).await;
    assert_eq!(error_codes(&again), vec!["INVALID_STATE"]);
}

#[tokio::test]
async fn one_live_contact_per_marketplace_user_and_deleted_ones_do_not_count() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = manual_seller(&app, &admin, "uniq@example.com").await;
    let tenant = seller.tenant_id.clone();
    let listing = app.listing(&seller, json!({ "priceCents": "5000" })).await;
    let buyer = app.register("uniqb@example.com", "Uma Buyer").await;
    let place =
        "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { userErrors { code } } }";
    app.gql(Some(&buyer.access_token), place, json!({ "l": listing }))
        .await;

    // The buyer's first order made the tenant's contact for them.
    let query = "query($id: ID!, $f: ContactFilter) { node(id: $id) { ... on Tenant { contacts(filter: $f) { totalCount nodes { id name email marketplaceUser { id } firstContactedAt } } } } }";
    let page = app
        .gql(
            Some(&seller.session.access_token),
            query,
            json!({ "id": tenant, "f": {} }),
        )
        .await["node"]["contacts"]
        .clone();
    assert_eq!(page["totalCount"], 1, "{page}");
    let first = &page["nodes"][0];
    assert_eq!(first["name"], "Uma Buyer");
    assert_eq!(first["email"], "uniqb@example.com");
    assert_eq!(first["marketplaceUser"]["id"], buyer.id.as_str());
    assert!(first["firstContactedAt"].is_string());
    let old = first["id"].as_str().expect("id").to_owned();

    // Deleted, it no longer holds the user's place: the next order makes a new live one.
    contact_payload(
        &app,
        &seller.session,
        "deleteContact",
        json!({ "contactId": old }),
    )
    .await;
    app.gql(Some(&buyer.access_token), place, json!({ "l": listing }))
        .await;
    assert_eq!(
        contacts(&app, &seller.session, &tenant, json!({})).await.0,
        1
    );
    assert_eq!(
        contacts(
            &app,
            &seller.session,
            &tenant,
            json!({ "includeDeleted": true })
        )
        .await
        .0,
        2
    );
    // Two live contacts for one user never: restoring the old one is refused, nothing moves.
    let refused = contact_payload(
        &app,
        &seller.session,
        "restoreContact",
        json!({ "contactId": old }),
    )
    .await;
    assert_eq!(error_codes(&refused), vec!["CONFLICT"], "{refused}");
    assert!(stored(&app, &old).await.deleted_at.is_some());
}

#[tokio::test]
async fn strangers_anonymous_callers_and_buyers_get_nothing_from_a_tenants_book() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let owner = manual_seller(&app, &admin, "owner@example.com").await;
    let other = manual_seller(&app, &admin, "other@example.com").await;
    let listing = app.listing(&owner, json!({ "priceCents": "5000" })).await;
    // A buyer with an order of the owner's tenant: still no reader of its book.
    let buyer = app.register("matrixb@example.com", "Matrix Buyer").await;
    app.gql(
        Some(&buyer.access_token),
        "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { userErrors { code } } }",
        json!({ "l": listing }),
    )
    .await;
    let tenant = owner.tenant_id.clone();
    let secret = id_of(
        &create(
            &app,
            &owner.session,
            &tenant,
            json!({ "name": "Secret Client", "email": "secret@example.com" }),
        )
        .await,
    );
    let deleted = id_of(&create(&app, &owner.session, &tenant, json!({ "name": "Gone" })).await);
    contact_payload(
        &app,
        &owner.session,
        "deleteContact",
        json!({ "contactId": deleted }),
    )
    .await;
    let before_secret = stored(&app, &secret).await;
    let before_deleted = stored(&app, &deleted).await;

    // Each read comes back empty: the object does not exist for them.
    let reads = [
        (
            "query($id: ID!) { node(id: $id) { ... on Contact { name } } }",
            json!({ "id": secret }),
            json!({ "node": null }),
        ),
        (
            "query($id: ID!) { node(id: $id) { ... on Contact { name } } }",
            json!({ "id": deleted }),
            json!({ "node": null }),
        ),
        (
            "query($id: ID!) { nodes(ids: [$id]) { ... on Contact { name } } }",
            json!({ "id": secret }),
            json!({ "nodes": [null] }),
        ),
        (
            "query($id: ID!) { node(id: $id) { ... on Tenant { contacts(filter: { includeDeleted: true }) { totalCount } } } }",
            json!({ "id": tenant }),
            json!({ "node": null }),
        ),
        (
            "query($id: ID!) { tenant(id: $id) { contacts { totalCount } } }",
            json!({ "id": tenant }),
            json!({ "tenant": null }),
        ),
    ];
    for (who, token) in [
        (
            "another tenant's member",
            Some(other.session.access_token.as_str()),
        ),
        ("a buyer", Some(buyer.access_token.as_str())),
        ("anonymous", None),
    ] {
        for (query, vars, empty) in &reads {
            let (status, body) = app.post(token, query, vars.clone()).await;
            assert_eq!(status, 200, "{who}: {body}");
            assert_eq!(&body["data"], empty, "{who} read {query}: {body}");
        }
        for (mutation, input) in [
            (
                "updateContact",
                json!({ "contactId": secret, "name": "Mine" }),
            ),
            ("deleteContact", json!({ "contactId": secret })),
            ("restoreContact", json!({ "contactId": deleted })),
            (
                "createContact",
                json!({ "tenantId": tenant, "name": "Planted" }),
            ),
        ] {
            let body = contact_mutation(&app, token, mutation, input).await;
            match token {
                None => assert_eq!(top_level_code(&body), "UNAUTHENTICATED", "{body}"),
                Some(_) => {
                    let payload = &body["data"][mutation];
                    assert_eq!(
                        error_codes(payload),
                        vec!["NOT_FOUND"],
                        "{who} {mutation}: {body}"
                    );
                    assert_eq!(payload["contact"], Value::Null);
                }
            }
        }
    }
    // Nothing changed and nothing was planted.
    assert_eq!(stored(&app, &secret).await, before_secret);
    assert_eq!(stored(&app, &deleted).await, before_deleted);
    assert_eq!(
        contacts(
            &app,
            &owner.session,
            &tenant,
            json!({ "includeDeleted": true })
        )
        .await
        .1,
        vec![
            "Gone".to_owned(),
            "Secret Client".to_owned(),
            "Matrix Buyer".to_owned()
        ]
    );
    assert_eq!(
        contacts(&app, &other.session, &other.tenant_id, json!({}))
            .await
            .0,
        0
    );
}

#[tokio::test]
async fn the_first_orders_of_a_fresh_database_placed_at_once_all_get_consecutive_numbers() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = manual_seller(&app, &admin, "rush@example.com").await;
    let listing = app.listing(&seller, json!({ "priceCents": "5000" })).await;
    let mut buyers = Vec::new();
    for i in 0..10 {
        buyers.push(
            app.register(&format!("rush{i}@example.com"), &format!("Rush {i}"))
                .await,
        );
    }
    // No counter row exists yet: every placement races to create it.
    let place = "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { id number } userErrors { code message } } }";
    let placed = futures_util::future::join_all(
        buyers
            .iter()
            .map(|b| app.post(Some(&b.access_token), place, json!({ "l": listing }))),
    )
    .await;
    let mut numbers = Vec::new();
    for (status, body) in &placed {
        assert_eq!(*status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        let payload = &body["data"]["placeOrder"];
        assert_eq!(payload["userErrors"], json!([]), "{payload}");
        numbers.push(
            payload["order"]["number"]
                .as_str()
                .expect("number")
                .to_owned(),
        );
    }
    numbers.sort();
    let expected: Vec<String> = (1..=10).map(|n| format!("ORD-{n:06}")).collect();
    assert_eq!(numbers, expected);
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    let mut invoices: Vec<String> = entity::invoices::Entity::find()
        .all(&db.reader)
        .await
        .expect("invoices")
        .into_iter()
        .map(|i| i.number)
        .collect();
    invoices.sort();
    let year = chrono::Datelike::year(&chrono::Utc::now());
    let expected: Vec<String> = (1..=10).map(|n| format!("INV-{year}-{n:06}")).collect();
    assert_eq!(invoices, expected);
}

const INVOICE: &str = "id number status paymentMode total { cents currencyCode } deposit { cents } balance { cents } refunded { cents } issuedAt dueAt lineItems { description quantity unitPrice { cents } total { cents } } payments { id } client { id } contact { id } tenant { id }";

async fn create_invoice(app: &TestApp, who: &Session, input: Value) -> Value {
    let query = format!(
        "mutation($i: CreateInvoiceInput!) {{ createInvoice(input: $i) {{ invoice {{ {INVOICE} }} userErrors {{ field message code }} }} }}"
    );
    let body = app
        .post(Some(&who.access_token), &query, json!({ "i": input }))
        .await
        .1;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["createInvoice"].clone()
}

async fn issue_invoice(app: &TestApp, who: &Session, id: &str) -> Value {
    app.gql(
        Some(&who.access_token),
        "mutation($i: InvoiceIdInput!) { issueInvoice(input: $i) { invoice { status issuedAt } userErrors { field code } } }",
        json!({ "i": { "invoiceId": id } }),
    )
    .await["issueInvoice"]
        .clone()
}

async fn read_invoice(app: &TestApp, who: &Session, id: &str) -> Value {
    app.gql(
        Some(&who.access_token),
        &format!("query($id: ID!) {{ invoice(id: $id) {{ {INVOICE} }} }}"),
        json!({ "id": id }),
    )
    .await["invoice"]
        .clone()
}

fn line(description: &str, quantity: i64, unit: &str) -> Value {
    json!({ "description": description, "quantity": quantity, "unitPriceCents": unit })
}

#[tokio::test]
async fn members_bill_contacts_in_exact_bigint_money_and_clients_read_issued_invoices() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = manual_seller(&app, &admin, "bill@example.com").await;
    let other = manual_seller(&app, &admin, "billother@example.com").await;
    let tenant = seller.tenant_id.clone();
    let me = &seller.session;
    let listing = app.listing(&seller, json!({ "priceCents": "5000" })).await;
    let buyer = app.register("billb@example.com", "Bill Buyer").await;
    let placed = app
        .gql(
            Some(&buyer.access_token),
            "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { id } } }",
            json!({ "l": listing }),
        )
        .await;
    let order = placed["placeOrder"]["order"]["id"]
        .as_str()
        .expect("order")
        .to_owned();
    let client = app
        .gql(
            Some(&me.access_token),
            "query($id: ID!) { node(id: $id) { ... on Tenant { contacts { nodes { id } } } } }",
            json!({ "id": tenant }),
        )
        .await["node"]["contacts"]["nodes"][0]["id"]
        .as_str()
        .expect("the buyer's contact")
        .to_owned();
    let walk_in = id_of(&create(&app, me, &tenant, json!({ "name": "Walk-in" })).await);
    let theirs = id_of(
        &create(
            &app,
            &other.session,
            &other.tenant_id,
            json!({ "name": "Theirs" }),
        )
        .await,
    );

    // 101 lines: past the input-list limit (MAX_INPUT_LIST, 100), refused before anything runs.
    let query = format!(
        "mutation($i: CreateInvoiceInput!) {{ createInvoice(input: $i) {{ invoice {{ {INVOICE} }} userErrors {{ field message code }} }} }}"
    );
    let lines: Vec<Value> = (0..101).map(|i| line(&format!("l{i}"), 1, "1")).collect();
    let (status, body) = app
        .post(
            Some(&me.access_token),
            &query,
            json!({ "i": { "tenantId": tenant, "contactId": client, "lineItems": lines } }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["limit"], "inputList",
        "{body}"
    );

    // Refusals name the field, and nothing is created.
    let base =
        |lines: Value| json!({ "tenantId": tenant, "contactId": client, "lineItems": lines });
    for (input, code, field) in [
        (base(json!([])), "INVALID", json!(["input", "lineItems"])),
        (
            base(json!([line("ok", 1, "1"), line("none", 0, "1")])),
            "INVALID",
            json!(["input", "lineItems.1.quantity"]),
        ),
        (
            base(json!([line("neg", 1, "-1")])),
            "INVALID",
            json!(["input", "lineItems.0.unitPriceCents"]),
        ),
        (
            base(json!([line("nul\u{0}", 1, "1")])),
            "INVALID",
            json!(["input", "lineItems.0.description"]),
        ),
        // 2 × 9,000,000,000,000,000,000 would wrap a 64-bit integer: refused, never wrapped.
        (
            base(json!([line("huge", 2, "9000000000000000000")])),
            "INVALID",
            json!(["input", "lineItems.0.unitPriceCents"]),
        ),
        (
            base(json!([
                line("a", 1, "9223372036854775807"),
                line("b", 1, "1")
            ])),
            "INVALID",
            json!(["input", "lineItems.1.unitPriceCents"]),
        ),
        (
            json!({ "tenantId": tenant, "contactId": client, "lineItems": [line("a", 1, "100")], "depositCents": "101" }),
            "INVALID",
            json!(["input", "depositCents"]),
        ),
        (
            json!({ "tenantId": tenant, "contactId": client, "lineItems": [line("a", 1, "100")], "currencyCode": "US" }),
            "INVALID",
            json!(["input", "currencyCode"]),
        ),
        (
            json!({ "tenantId": tenant, "contactId": theirs, "lineItems": [line("a", 1, "100")] }),
            "NOT_FOUND",
            json!(["input", "contactId"]),
        ),
        (
            json!({ "tenantId": other.tenant_id, "contactId": theirs, "lineItems": [line("a", 1, "100")] }),
            "NOT_FOUND",
            json!(["input", "tenantId"]),
        ),
    ] {
        let refused = create_invoice(&app, me, input.clone()).await;
        assert_eq!(error_codes(&refused), vec![code], "{input}: {refused}");
        assert_eq!(refused["userErrors"][0]["field"], field, "{refused}");
        assert_eq!(refused["invoice"], Value::Null);
    }
    // Beyond 64 bits the value itself is refused before anything runs.
    let query =
        "mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { userErrors { code } } }";
    let beyond = app
        .post(
            Some(&me.access_token),
            query,
            json!({ "i": base(json!([line("x", 1, "9223372036854775808")])) }),
        )
        .await
        .1;
    assert_eq!(top_level_code(&beyond), "BAD_USER_INPUT", "{beyond}");

    // $25M and 9,000,000,000,000,000 cents round-trip exactly as BigInt strings.
    let big = create_invoice(
        &app,
        me,
        json!({
            "tenantId": tenant, "contactId": client, "depositCents": "2500000000",
            "lineItems": [line("Audit", 2, "1250000000"), line("Retainer", 1, "9000000000000000")],
        }),
    )
    .await;
    assert_eq!(big["userErrors"], json!([]), "{big}");
    let invoice = &big["invoice"];
    assert_eq!(invoice["status"], "DRAFT");
    assert_eq!(invoice["paymentMode"], "MANUAL", "the tenant's mode");
    assert_eq!(invoice["total"]["cents"], "9000002500000000");
    assert_eq!(invoice["deposit"]["cents"], "2500000000");
    assert_eq!(invoice["balance"]["cents"], "9000002500000000");
    assert_eq!(invoice["lineItems"][0]["total"]["cents"], "2500000000");
    assert_eq!(
        invoice["lineItems"][1]["unitPrice"]["cents"],
        "9000000000000000"
    );
    assert_eq!(invoice["client"]["id"], buyer.id.as_str());
    assert_eq!(invoice["contact"]["id"], client.as_str());
    let year = chrono::Datelike::year(&chrono::Utc::now());
    // The order's invoice took number 1.
    assert_eq!(invoice["number"], format!("INV-{year}-000002"));
    let id = invoice["id"].as_str().expect("id").to_owned();

    // A draft is the tenant's own: the client neither reads nor lists it.
    assert_eq!(read_invoice(&app, &buyer, &id).await, Value::Null);
    let mine = "query { invoices { totalCount nodes { id status } } }";
    let listed = app.gql(Some(&buyer.access_token), mine, json!({})).await;
    assert_eq!(
        listed["invoices"]["totalCount"], 1,
        "only the order's: {listed}"
    );
    // Issued, it is theirs to read, but the tenant's contact record is not.
    let issued = issue_invoice(&app, me, &id).await;
    assert_eq!(issued["userErrors"], json!([]), "{issued}");
    assert_eq!(issued["invoice"]["status"], "SENT");
    assert!(issued["invoice"]["issuedAt"].is_string());
    let seen = read_invoice(&app, &buyer, &id).await;
    assert_eq!(seen["total"]["cents"], "9000002500000000");
    assert_eq!(seen["contact"], Value::Null);
    assert_eq!(
        app.gql(Some(&buyer.access_token), mine, json!({})).await["invoices"]["totalCount"],
        2
    );
    assert_eq!(
        error_codes(&issue_invoice(&app, me, &id).await),
        vec!["INVALID_STATE"]
    );
    // The order's own invoice, from the order, for its buyer and its provider.
    let of_order =
        "query($id: ID!) { order(id: $id) { invoice { number status total { cents } } } }";
    for who in [&buyer, me] {
        let got = app
            .gql(Some(&who.access_token), of_order, json!({ "id": order }))
            .await;
        assert_eq!(
            got["order"]["invoice"]["number"],
            format!("INV-{year}-000001"),
            "{got}"
        );
        assert_eq!(got["order"]["invoice"]["total"]["cents"], "5000");
    }
    // The book lists both for members; an invoice for a contact without an account has no
    // client to read it.
    let walk = create_invoice(
        &app,
        me,
        json!({ "tenantId": tenant, "contactId": walk_in, "lineItems": [line("Call", 1, "0")], "paymentMode": "STRIPE", "currencyCode": "eur" }),
    )
    .await;
    assert_eq!(walk["invoice"]["client"], Value::Null);
    assert_eq!(walk["invoice"]["paymentMode"], "STRIPE");
    assert_eq!(walk["invoice"]["total"]["currencyCode"], "EUR");
    let book = "query($id: ID!) { node(id: $id) { ... on Tenant { invoices(filter: { status: [DRAFT] }) { totalCount } all: invoices { totalCount } } } }";
    let counts = app
        .gql(Some(&me.access_token), book, json!({ "id": tenant }))
        .await;
    assert_eq!(counts["node"]["invoices"]["totalCount"], 1);
    assert_eq!(counts["node"]["all"]["totalCount"], 3);

    // Another tenant's member: nothing to read, nothing to issue.
    assert_eq!(read_invoice(&app, &other.session, &id).await, Value::Null);
    let walk_id = walk["invoice"]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        error_codes(&issue_invoice(&app, &other.session, &walk_id).await),
        vec!["NOT_FOUND"]
    );
    assert_eq!(read_invoice(&app, me, &walk_id).await["status"], "DRAFT");
    let anonymous = app
        .post(
            None,
            "query($id: ID!) { invoice(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await
        .1;
    assert_eq!(anonymous["data"]["invoice"], Value::Null);
}

#[tokio::test]
async fn fifty_invoices_created_at_once_get_fifty_consecutive_numbers() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = manual_seller(&app, &admin, "fifty@example.com").await;
    let tenant = seller.tenant_id.clone();
    let contact = id_of(&create(&app, &seller.session, &tenant, json!({ "name": "Many" })).await);
    let input = |i: usize| json!({ "tenantId": tenant, "contactId": contact, "lineItems": [line(&format!("Item {i}"), 1, "100")] });
    // A refused create draws no number.
    let refused = create_invoice(
        &app,
        &seller.session,
        json!({ "tenantId": tenant, "contactId": contact, "lineItems": [] }),
    )
    .await;
    assert_eq!(error_codes(&refused), vec!["INVALID"]);
    let created = futures_util::future::join_all(
        (0..50).map(|i| create_invoice(&app, &seller.session, input(i))),
    )
    .await;
    let mut numbers: Vec<String> = created
        .iter()
        .map(|p| {
            assert_eq!(p["userErrors"], json!([]), "{p}");
            p["invoice"]["number"].as_str().expect("number").to_owned()
        })
        .collect();
    numbers.sort();
    let year = chrono::Datelike::year(&chrono::Utc::now());
    let expected: Vec<String> = (1..=50).map(|n| format!("INV-{year}-{n:06}")).collect();
    assert_eq!(numbers, expected);
}

/// Runs an invoice mutation as `who` and returns its payload.
async fn invoice_move(app: &TestApp, who: &Session, mutation: &str, input: Value) -> Value {
    let input_type = match mutation {
        "markInvoicePaid" => "MarkInvoicePaidInput",
        "recordPayment" => "RecordPaymentInput",
        "refundInvoice" => "RefundInvoiceInput",
        _ => "InvoiceIdInput",
    };
    let query = format!(
        "mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ invoice {{ status balance {{ cents }} refunded {{ cents }} deletedAt paidAt buyerPaymentMethod providerConfirmedBy {{ id }} payments {{ amount {{ cents }} method reference }} }} userErrors {{ field code message }} }} }}"
    );
    app.gql(Some(&who.access_token), &query, json!({ "i": input }))
        .await[mutation]
        .clone()
}

async fn contact_totals(app: &TestApp, id: &str) -> (i32, i64) {
    let c = stored(app, id).await;
    (c.total_transactions, c.total_spent_cents)
}

#[tokio::test]
async fn a_standalone_invoice_is_paid_in_parts_refunded_within_what_was_paid_and_kept_exact() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = manual_seller(&app, &admin, "parts@example.com").await;
    let me = &seller.session;
    let tenant = seller.tenant_id.clone();
    let contact = id_of(&create(&app, me, &tenant, json!({ "name": "Partial Payer" })).await);
    let made = create_invoice(
        &app,
        me,
        json!({ "tenantId": tenant, "contactId": contact, "lineItems": [line("Work", 1, "10000")] }),
    )
    .await;
    let id = made["invoice"]["id"].as_str().expect("id").to_owned();
    let pay = |amount: &str| json!({ "invoiceId": id, "amountCents": amount, "method": "wire", "reference": "T-1" });

    // Nothing is paid on a draft, and a draft with nothing paid can be voided or deleted only.
    assert_eq!(
        error_codes(&invoice_move(&app, me, "recordPayment", pay("100")).await),
        vec!["INVALID_STATE"]
    );
    issue_invoice(&app, me, &id).await;
    for (amount, code) in [("0", "INVALID"), ("10001", "INVALID"), ("-5", "INVALID")] {
        let refused = invoice_move(&app, me, "recordPayment", pay(amount)).await;
        assert_eq!(error_codes(&refused), vec![code], "{amount}: {refused}");
        assert_eq!(
            refused["userErrors"][0]["field"],
            json!(["input", "amountCents"])
        );
    }
    let part = invoice_move(&app, me, "recordPayment", pay("3000")).await;
    assert_eq!(part["userErrors"], json!([]), "{part}");
    assert_eq!(part["invoice"]["status"], "SENT");
    assert_eq!(part["invoice"]["balance"]["cents"], "7000");
    assert_eq!(contact_totals(&app, &contact).await, (0, 3000));
    // Never above the balance; a voided or deleted invoice with money on it is refused.
    assert_eq!(
        error_codes(&invoice_move(&app, me, "recordPayment", pay("7001")).await),
        vec!["INVALID"]
    );
    for mutation in ["voidInvoice", "deleteInvoice"] {
        let refused = invoice_move(&app, me, mutation, json!({ "invoiceId": id })).await;
        assert_eq!(error_codes(&refused), vec!["INVALID_STATE"], "{mutation}");
    }
    let rest = invoice_move(&app, me, "recordPayment", pay("7000")).await;
    assert_eq!(rest["invoice"]["status"], "PAID");
    assert_eq!(rest["invoice"]["balance"]["cents"], "0");
    assert!(rest["invoice"]["paidAt"].is_string());
    assert_eq!(
        rest["invoice"]["payments"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(contact_totals(&app, &contact).await, (1, 10_000));

    // A partial refund, then one that would exceed what was paid: refused, nothing changed.
    let refund =
        |amount: &str| json!({ "invoiceId": id, "amountCents": amount, "reason": "Scope cut" });
    let back = invoice_move(&app, me, "refundInvoice", refund("4000")).await;
    assert_eq!(back["userErrors"], json!([]), "{back}");
    assert_eq!(back["invoice"]["status"], "PARTIALLY_REFUNDED");
    assert_eq!(back["invoice"]["refunded"]["cents"], "4000");
    let before = stored_invoice(&app, &id).await;
    let too_much = invoice_move(&app, me, "refundInvoice", refund("6001")).await;
    assert_eq!(error_codes(&too_much), vec!["INVALID"], "{too_much}");
    assert_eq!(stored_invoice(&app, &id).await, before);
    assert_eq!(contact_totals(&app, &contact).await, (1, 6000));
    let blank = invoice_move(
        &app,
        me,
        "refundInvoice",
        json!({ "invoiceId": id, "amountCents": "1", "reason": " " }),
    )
    .await;
    assert_eq!(error_codes(&blank), vec!["INVALID"]);
    let all = invoice_move(&app, me, "refundInvoice", refund("6000")).await;
    assert_eq!(all["invoice"]["status"], "REFUNDED");
    assert_eq!(contact_totals(&app, &contact).await, (1, 0));
    // Every change is in the log with its actor, amount and time; refusals left no trace.
    let log = app
        .gql(
            Some(&me.access_token),
            "query($id: ID!) { invoice(id: $id) { events { action fromStatus toStatus actor { id } amount { cents } note occurredAt } } }",
            json!({ "id": id }),
        )
        .await["invoice"]["events"]
        .clone();
    let rows: Vec<(String, String, String)> = log
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            assert_eq!(e["actor"]["id"], seller.session.id.as_str(), "{e}");
            assert!(e["occurredAt"].is_string());
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["toStatus"].as_str().unwrap_or_default().to_owned(),
                e["amount"]["cents"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let expect = |a: &str, s: &str, c: &str| (a.to_owned(), s.to_owned(), c.to_owned());
    assert_eq!(
        rows,
        vec![
            expect("create", "DRAFT", "10000"),
            expect("issue", "SENT", "-"),
            expect("record_payment", "SENT", "3000"),
            expect("record_payment", "PAID", "7000"),
            expect("refund", "PARTIALLY_REFUNDED", "4000"),
            expect("refund", "REFUNDED", "6000"),
        ]
    );
    assert_eq!(log[4]["note"], "Scope cut", "the refund's reason is kept");

    // A draft is voided, deleted (gone from the book, shown on request) and restored whole.
    let draft = create_invoice(
        &app,
        me,
        json!({ "tenantId": tenant, "contactId": contact, "lineItems": [line("Maybe", 1, "500")] }),
    )
    .await["invoice"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        invoice_move(&app, me, "voidInvoice", json!({ "invoiceId": draft })).await["invoice"]
            ["status"],
        "VOID"
    );
    let gone = invoice_move(&app, me, "deleteInvoice", json!({ "invoiceId": draft })).await;
    assert!(gone["invoice"]["deletedAt"].is_string(), "{gone}");
    let book = "query($id: ID!) { node(id: $id) { ... on Tenant { live: invoices { totalCount } all: invoices(filter: { includeDeleted: true }) { totalCount } } } }";
    let counts = app
        .gql(Some(&me.access_token), book, json!({ "id": tenant }))
        .await;
    assert_eq!(counts["node"]["live"]["totalCount"], 1);
    assert_eq!(counts["node"]["all"]["totalCount"], 2);
    assert_eq!(
        error_codes(&invoice_move(&app, me, "issueInvoice", json!({ "invoiceId": draft })).await),
        vec!["INVALID_STATE"]
    );
    let back = invoice_move(&app, me, "restoreInvoice", json!({ "invoiceId": draft })).await;
    assert_eq!(back["invoice"]["deletedAt"], Value::Null);
    assert_eq!(back["invoice"]["status"], "VOID");
    assert_eq!(
        app.gql(Some(&me.access_token), book, json!({ "id": tenant }))
            .await["node"]["live"]["totalCount"],
        2
    );
}

async fn stored_invoice(app: &TestApp, id: &str) -> entity::invoices::Model {
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    entity::invoices::Entity::find_by_id(id.to_owned())
        .one(&db.reader)
        .await
        .expect("query")
        .expect("invoice")
}

#[tokio::test]
async fn a_manual_order_is_paid_through_its_invoice_and_order_and_invoice_never_disagree() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = manual_seller(&app, &admin, "flow@example.com").await;
    let listing = app.listing(&seller, json!({ "priceCents": "5000" })).await;
    let buyer = app.register("flowb@example.com", "Flow Buyer").await;
    let placed = app
        .gql(
            Some(&buyer.access_token),
            "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { id invoice { id status } } } }",
            json!({ "l": listing }),
        )
        .await;
    let order = placed["placeOrder"]["order"]["id"]
        .as_str()
        .expect("order")
        .to_owned();
    let invoice = placed["placeOrder"]["order"]["invoice"]["id"]
        .as_str()
        .expect("the order's invoice")
        .to_owned();
    assert_eq!(placed["placeOrder"]["order"]["invoice"]["status"], "SENT");
    let state = |who: &Session| {
        let token = who.access_token.clone();
        let order = order.clone();
        let app = app.clone();
        async move {
            let got = app
                .gql(
                    Some(&token),
                    "query($id: ID!) { order(id: $id) { status invoice { status balance { cents } } } }",
                    json!({ "id": order }),
                )
                .await;
            (
                got["order"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                got["order"]["invoice"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        }
    };

    // Only the client marks it paid; a partial payment cannot split it from its order.
    let stranger = invoice_move(
        &app,
        &seller.session,
        "markInvoicePaid",
        json!({ "invoiceId": invoice, "method": "wire", "reference": "X" }),
    )
    .await;
    assert_eq!(error_codes(&stranger), vec!["NOT_ALLOWED"]);
    let partial = invoice_move(
        &app,
        &seller.session,
        "recordPayment",
        json!({ "invoiceId": invoice, "amountCents": "100", "method": "cash" }),
    )
    .await;
    assert_eq!(error_codes(&partial), vec!["INVALID_STATE"]);
    for mutation in ["voidInvoice", "refundInvoice"] {
        let input = if mutation == "refundInvoice" {
            json!({ "invoiceId": invoice, "amountCents": "1", "reason": "no" })
        } else {
            json!({ "invoiceId": invoice })
        };
        assert_eq!(
            error_codes(&invoice_move(&app, &seller.session, mutation, input).await),
            vec!["INVALID_STATE"],
            "{mutation}"
        );
    }

    let marked = invoice_move(
        &app,
        &buyer,
        "markInvoicePaid",
        json!({ "invoiceId": invoice, "method": "wire", "reference": "W-42" }),
    )
    .await;
    assert_eq!(marked["userErrors"], json!([]), "{marked}");
    assert_eq!(marked["invoice"]["status"], "PENDING_CONFIRMATION");
    assert_eq!(marked["invoice"]["buyerPaymentMethod"], "wire");
    assert_eq!(
        state(&buyer).await,
        ("PLACED".to_owned(), "PENDING_CONFIRMATION".to_owned())
    );
    // The order's own mutation now finds it marked: the two paths are one.
    let again = app
        .gql(
            Some(&buyer.access_token),
            "mutation($i: MarkOrderPaidInput!) { markOrderPaid(input: $i) { userErrors { code } } }",
            json!({ "i": { "orderId": order, "method": "wire", "reference": "W-43" } }),
        )
        .await;
    assert_eq!(again["markOrderPaid"]["userErrors"], json!([]), "{again}");

    let confirmed = invoice_move(
        &app,
        &seller.session,
        "confirmInvoicePayment",
        json!({ "invoiceId": invoice }),
    )
    .await;
    assert_eq!(confirmed["userErrors"], json!([]), "{confirmed}");
    assert_eq!(confirmed["invoice"]["status"], "PAID");
    assert_eq!(confirmed["invoice"]["balance"]["cents"], "0");
    assert_eq!(
        confirmed["invoice"]["providerConfirmedBy"]["id"],
        seller.session.id.as_str()
    );
    assert_eq!(
        state(&seller.session).await,
        ("PAYMENT_HELD".to_owned(), "PAID".to_owned())
    );
    // Confirming again, by either path, changes nothing.
    let twice = invoice_move(
        &app,
        &seller.session,
        "confirmInvoicePayment",
        json!({ "invoiceId": invoice }),
    )
    .await;
    assert_eq!(error_codes(&twice), vec!["INVALID_STATE"]);
    let paid = stored_invoice(&app, &invoice).await;
    assert_eq!(paid.paid_cents, 5000);
    // The order's moves are in the invoice's log too, with who made them.
    let log = app
        .gql(
            Some(&seller.session.access_token),
            "query($id: ID!) { invoice(id: $id) { events { action toStatus actor { id } } } }",
            json!({ "id": invoice }),
        )
        .await["invoice"]["events"]
        .clone();
    let rows: Vec<(String, String)> = log
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["actor"]["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("create".to_owned(), buyer.id.clone()),
            ("mark_paid".to_owned(), buyer.id.clone()),
            ("mark_paid".to_owned(), buyer.id.clone()),
            ("confirm_payment".to_owned(), seller.session.id.clone()),
        ]
    );
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    use sea_orm::{ColumnTrait, QueryFilter};
    let contact = entity::contacts::Entity::find()
        .filter(entity::contacts::Column::UserId.eq(buyer.id.as_str()))
        .one(&db.reader)
        .await
        .expect("query")
        .expect("contact");
    assert_eq!(
        (contact.total_transactions, contact.total_spent_cents),
        (1, 5000)
    );
}

#[tokio::test]
async fn nobody_outside_the_tenant_reads_or_moves_its_invoices() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let owner = manual_seller(&app, &admin, "invowner@example.com").await;
    let other = manual_seller(&app, &admin, "invother@example.com").await;
    let listing = app.listing(&owner, json!({ "priceCents": "5000" })).await;
    // A buyer with an order of the owner's tenant, to whom these invoices are not addressed.
    let buyer = app.register("invbuyer@example.com", "Inv Buyer").await;
    app.gql(
        Some(&buyer.access_token),
        "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { userErrors { code } } }",
        json!({ "l": listing }),
    )
    .await;
    let me = &owner.session;
    let tenant = owner.tenant_id.clone();
    let contact = id_of(&create(&app, me, &tenant, json!({ "name": "Private" })).await);
    let new = |unit: &str| json!({ "tenantId": tenant, "contactId": contact, "lineItems": [line("Work", 1, unit)] });
    let draft = create_invoice(&app, me, new("100")).await["invoice"]["id"]
        .as_str()
        .expect("draft")
        .to_owned();
    let sent = create_invoice(&app, me, new("200")).await["invoice"]["id"]
        .as_str()
        .expect("sent")
        .to_owned();
    issue_invoice(&app, me, &sent).await;
    let paid = create_invoice(&app, me, new("300")).await["invoice"]["id"]
        .as_str()
        .expect("paid")
        .to_owned();
    issue_invoice(&app, me, &paid).await;
    invoice_move(
        &app,
        me,
        "recordPayment",
        json!({ "invoiceId": paid, "amountCents": "300", "method": "cash" }),
    )
    .await;
    let void = create_invoice(&app, me, new("400")).await["invoice"]["id"]
        .as_str()
        .expect("void")
        .to_owned();
    invoice_move(&app, me, "voidInvoice", json!({ "invoiceId": void })).await;
    invoice_move(&app, me, "deleteInvoice", json!({ "invoiceId": void })).await;
    let all = [&draft, &sent, &paid, &void];
    let mut before = Vec::new();
    for id in all {
        before.push(stored_invoice(&app, id).await);
    }

    let moves = [
        (
            "issueInvoice",
            "InvoiceIdInput",
            json!({ "invoiceId": draft }),
        ),
        (
            "markInvoicePaid",
            "MarkInvoicePaidInput",
            json!({ "invoiceId": sent, "method": "wire", "reference": "R" }),
        ),
        (
            "confirmInvoicePayment",
            "InvoiceIdInput",
            json!({ "invoiceId": sent }),
        ),
        (
            "recordPayment",
            "RecordPaymentInput",
            json!({ "invoiceId": sent, "amountCents": "1", "method": "cash" }),
        ),
        (
            "refundInvoice",
            "RefundInvoiceInput",
            json!({ "invoiceId": paid, "amountCents": "1", "reason": "mine" }),
        ),
        (
            "voidInvoice",
            "InvoiceIdInput",
            json!({ "invoiceId": draft }),
        ),
        (
            "deleteInvoice",
            "InvoiceIdInput",
            json!({ "invoiceId": draft }),
        ),
        (
            "restoreInvoice",
            "InvoiceIdInput",
            json!({ "invoiceId": void }),
        ),
        ("createInvoice", "CreateInvoiceInput", new("1")),
    ];
    for (who, token) in [
        (
            "another tenant's member",
            Some(other.session.access_token.as_str()),
        ),
        ("an unrelated buyer", Some(buyer.access_token.as_str())),
        ("anonymous", None),
    ] {
        for id in all {
            let (_, body) = app
                .post(
                    token,
                    "query($id: ID!) { invoice(id: $id) { id } node(id: $id) { id } }",
                    json!({ "id": id }),
                )
                .await;
            assert_eq!(
                body["data"],
                json!({ "invoice": null, "node": null }),
                "{who}: {body}"
            );
        }
        let (_, listed) = app
            .post(token, "query($t: ID!) { invoices { totalCount } of: invoices(filter: { tenantId: $t, includeDeleted: true }) { totalCount } }", json!({ "t": tenant }))
            .await;
        if token.is_some() {
            assert_eq!(listed["data"]["of"]["totalCount"], 0, "{who}: {listed}");
            let own = listed["data"]["invoices"]["totalCount"]
                .as_i64()
                .unwrap_or(-1);
            // The buyer sees its own order's invoice only; the other member its own book (empty).
            assert!(own <= 1, "{who}: {listed}");
        } else {
            assert_eq!(listed["data"]["of"]["totalCount"], 0, "{listed}");
        }
        for (mutation, input_type, input) in &moves {
            let query = format!(
                "mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ invoice {{ id }} userErrors {{ code }} }} }}"
            );
            let (_, body) = app.post(token, &query, json!({ "i": input })).await;
            match token {
                None => assert_eq!(
                    top_level_code(&body),
                    "UNAUTHENTICATED",
                    "{mutation}: {body}"
                ),
                Some(_) => {
                    let payload = &body["data"][mutation];
                    assert_eq!(
                        error_codes(payload),
                        vec!["NOT_FOUND"],
                        "{who} {mutation}: {body}"
                    );
                    assert_eq!(payload["invoice"], Value::Null);
                }
            }
        }
    }
    // Nothing moved, and nothing was added to the book.
    for (id, was) in all.iter().zip(&before) {
        assert_eq!(&stored_invoice(&app, id).await, was);
    }
    let book = "query($id: ID!) { node(id: $id) { ... on Tenant { invoices(filter: { includeDeleted: true }) { totalCount } } } }";
    assert_eq!(
        app.gql(Some(&me.access_token), book, json!({ "id": tenant }))
            .await["node"]["invoices"]["totalCount"],
        5,
        "four of the book's own and the order's"
    );
}

/// PostgreSQL's row security behind the services: a transaction in the tenant role sees and
/// changes only the books its settings name, sees nothing without them, and leaves nothing on
/// the pooled connection. Two books are made through the API (whose own scoped transactions
/// must pass the policies); the second line is then probed with SQL as a buggy service would.
#[tokio::test]
async fn row_security_confines_a_tenant_scoped_transaction_to_its_books() {
    use sqlx::{Connection, Row};
    let app = spawn_app().await;
    if !app.uses_postgres() {
        return;
    }
    assert!(app.state.db.tenant_rls(), "the policies are in place");
    let admin = app.register_admin().await;
    let a = manual_seller(&app, &admin, "rls-a@example.com").await;
    let b = manual_seller(&app, &admin, "rls-b@example.com").await;
    let client = app.register("rls-client@example.com", "Rls Client").await;
    let mut invoices = Vec::new();
    for seller in [&a, &b] {
        let contact = id_of(
            &create(
                &app,
                &seller.session,
                &seller.tenant_id,
                json!({ "name": "Client" }),
            )
            .await,
        );
        let made = create_invoice(
            &app,
            &seller.session,
            json!({ "tenantId": seller.tenant_id, "contactId": contact, "lineItems": [line("Work", 1, "700")] }),
        )
        .await;
        assert_eq!(made["userErrors"], json!([]), "{made}");
        let id = made["invoice"]["id"].as_str().expect("invoice").to_owned();
        issue_invoice(&app, &seller.session, &id).await;
        invoices.push(id);
    }
    // The client's own invoice (a contact standing for a marketplace user, made by an order)
    // passes the client branch of the policy when the client marks it paid.
    let listing = app.listing(&b, json!({ "priceCents": "5000" })).await;
    app.gql(
        Some(&client.access_token),
        "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { userErrors { code } } }",
        json!({ "l": listing }),
    )
    .await;
    let page = app
        .gql(
            Some(&b.session.access_token),
            "query($id: ID!) { node(id: $id) { ... on Tenant { contacts { nodes { id marketplaceUser { id } } } } } }",
            json!({ "id": b.tenant_id }),
        )
        .await;
    let known = page["node"]["contacts"]["nodes"]
        .as_array()
        .and_then(|nodes| {
            nodes
                .iter()
                .find(|n| n["marketplaceUser"]["id"] == client.id.as_str())
        })
        .and_then(|n| n["id"].as_str())
        .expect("the order made a contact for the client")
        .to_owned();
    let made = create_invoice(
        &app,
        &b.session,
        json!({ "tenantId": b.tenant_id, "contactId": known, "lineItems": [line("Work", 1, "900")] }),
    )
    .await;
    let id = made["invoice"]["id"].as_str().expect("invoice").to_owned();
    issue_invoice(&app, &b.session, &id).await;
    let marked = invoice_move(
        &app,
        &client,
        "markInvoicePaid",
        json!({ "invoiceId": id, "method": "wire", "reference": "R-1" }),
    )
    .await;
    assert_eq!(
        marked["invoice"]["status"], "PENDING_CONFIRMATION",
        "{marked}"
    );

    let mut conn = sqlx::PgConnection::connect(&app.settings.database_url)
        .await
        .expect("connect");
    // Scoped to tenant A: B's rows are invisible, and writes to them change nothing or fail.
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SELECT set_config('app.tenant_ids', $1, true)")
        .bind(&a.tenant_id)
        .execute(&mut *tx)
        .await
        .expect("set");
    sqlx::query("SET LOCAL ROLE marketplace_tenant")
        .execute(&mut *tx)
        .await
        .expect("role");
    let seen: Vec<String> = sqlx::query("SELECT tenant_id FROM invoices")
        .fetch_all(&mut *tx)
        .await
        .expect("invoices")
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    assert_eq!(seen, vec![a.tenant_id.clone()]);
    for table in ["contacts", "invoice_counters"] {
        let other: i64 = sqlx::query(&format!(
            "SELECT count(*) FROM {table} WHERE tenant_id = $1"
        ))
        .bind(&b.tenant_id)
        .fetch_one(&mut *tx)
        .await
        .expect("count")
        .get(0);
        assert_eq!(other, 0, "{table} of B seen from A");
    }
    for table in ["invoice_line_items", "invoice_events"] {
        let other: i64 = sqlx::query(&format!(
            "SELECT count(*) FROM {table} WHERE invoice_id = $1"
        ))
        .bind(&invoices[1])
        .fetch_one(&mut *tx)
        .await
        .expect("count")
        .get(0);
        assert_eq!(other, 0, "{table} of B's invoice seen from A");
    }
    let changed = sqlx::query("UPDATE invoices SET paid_cents = 700 WHERE id = $1")
        .bind(&invoices[1])
        .execute(&mut *tx)
        .await
        .expect("update")
        .rows_affected();
    assert_eq!(changed, 0, "B's invoice changed from A");
    let own = sqlx::query("UPDATE invoices SET updated_at = updated_at WHERE id = $1")
        .bind(&invoices[0])
        .execute(&mut *tx)
        .await
        .expect("update")
        .rows_affected();
    assert_eq!(own, 1, "A's own invoice");
    let planted = sqlx::query(
        "INSERT INTO invoice_events (id, invoice_id, action, to_status, occurred_at) \
         VALUES ('ievt_planted', $1, 'refund', 'REFUNDED', now())",
    )
    .bind(&invoices[1])
    .execute(&mut *tx)
    .await
    .expect_err("an event planted on B's invoice");
    assert!(
        planted.to_string().contains("row-level security"),
        "{planted}"
    );
    tx.rollback().await.expect("rollback");

    // The tenant role without settings sees nothing at all.
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SET LOCAL ROLE marketplace_tenant")
        .execute(&mut *tx)
        .await
        .expect("role");
    for table in ["invoices", "contacts", "payments", "invoice_events"] {
        let n: i64 = sqlx::query(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await
            .expect("count")
            .get(0);
        assert_eq!(n, 0, "{table} without a scope");
    }
    tx.commit().await.expect("commit");

    // Nothing stays on the connection: the next transaction is the connecting user again.
    let (user, scope): (String, Option<String>) =
        sqlx::query_as("SELECT current_user::text, current_setting('app.tenant_ids', true)")
            .fetch_one(&mut conn)
            .await
            .expect("after");
    assert_eq!(user, "postgres");
    assert!(scope.unwrap_or_default().is_empty());
    let all: i64 = sqlx::query("SELECT count(*) FROM invoices")
        .fetch_one(&mut conn)
        .await
        .expect("count")
        .get(0);
    assert!(all >= 2, "the unscoped connection sees every book: {all}");

    // B's books are untouched.
    let b_invoice = stored_invoice(&app, &invoices[1]).await;
    assert_eq!(b_invoice.paid_cents, 0);
}

#[tokio::test]
async fn a_deposit_comes_first_and_an_open_invoice_paid_in_part_is_refunded_whole() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = manual_seller(&app, &admin, "deposit@example.com").await;
    let me = &seller.session;
    let tenant = seller.tenant_id.clone();
    let contact = id_of(&create(&app, me, &tenant, json!({ "name": "Deposit Payer" })).await);
    let made = create_invoice(
        &app,
        me,
        json!({ "tenantId": tenant, "contactId": contact, "depositCents": "4000", "lineItems": [line("Work", 1, "10000")] }),
    )
    .await;
    let id = made["invoice"]["id"].as_str().expect("id").to_owned();
    assert_eq!(made["invoice"]["deposit"]["cents"], "4000");
    // A typed-in contact is first contacted when the first invoice to it is issued.
    assert!(stored(&app, &contact).await.first_contacted_at.is_none());
    issue_invoice(&app, me, &id).await;
    let first = stored(&app, &contact).await.first_contacted_at;
    assert!(first.is_some());
    let pay = |amount: &str| json!({ "invoiceId": id, "amountCents": amount, "method": "wire" });

    // Below the deposit: refused on the amount, nothing recorded.
    let short = invoice_move(&app, me, "recordPayment", pay("3999")).await;
    assert_eq!(error_codes(&short), vec!["INVALID"], "{short}");
    assert!(short["userErrors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("deposit")));
    assert_eq!(stored_invoice(&app, &id).await.paid_cents, 0);
    let deposit = invoice_move(&app, me, "recordPayment", pay("4000")).await;
    assert_eq!(deposit["userErrors"], json!([]), "{deposit}");
    assert_eq!(deposit["invoice"]["balance"]["cents"], "6000");
    assert_eq!(contact_totals(&app, &contact).await, (0, 4000));

    // Open and paid in part: a part refund is refused; the whole of it closes the invoice,
    // which then owes nothing and takes no payment.
    let refund =
        |amount: &str| json!({ "invoiceId": id, "amountCents": amount, "reason": "Cancelled" });
    let part = invoice_move(&app, me, "refundInvoice", refund("1000")).await;
    assert_eq!(error_codes(&part), vec!["INVALID"], "{part}");
    assert_eq!(stored_invoice(&app, &id).await.refunded_cents, 0);
    let whole = invoice_move(&app, me, "refundInvoice", refund("4000")).await;
    assert_eq!(whole["userErrors"], json!([]), "{whole}");
    assert_eq!(whole["invoice"]["status"], "REFUNDED");
    assert_eq!(whole["invoice"]["balance"]["cents"], "0");
    assert_eq!(whole["invoice"]["refunded"]["cents"], "4000");
    assert_eq!(contact_totals(&app, &contact).await, (0, 0));
    assert_eq!(
        error_codes(&invoice_move(&app, me, "recordPayment", pay("6000")).await),
        vec!["INVALID_STATE"]
    );

    // A void invoice owes nothing either.
    let void = create_invoice(
        &app,
        me,
        json!({ "tenantId": tenant, "contactId": contact, "lineItems": [line("Maybe", 1, "500")] }),
    )
    .await["invoice"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    issue_invoice(&app, me, &void).await;
    let voided = invoice_move(&app, me, "voidInvoice", json!({ "invoiceId": void })).await;
    assert_eq!(voided["invoice"]["status"], "VOID");
    assert_eq!(voided["invoice"]["balance"]["cents"], "0");
    // Later invoices leave the first contact's date alone.
    assert_eq!(stored(&app, &contact).await.first_contacted_at, first);
}

/// A page of invoices with their contact, client, lines, payments and log costs the same SQL
/// statements for one invoice as for four.
#[tokio::test]
async fn a_page_of_invoices_costs_the_same_statements_for_1_and_4() {
    let app = spawn_app_with(&["--sql-statement-count"]).await;
    let admin = app.register_admin().await;
    let seller = manual_seller(&app, &admin, "n1-invoices@example.com").await;
    let me = &seller.session;
    let tenant = seller.tenant_id.clone();
    for n in 0..4 {
        let contact =
            id_of(&create(&app, me, &tenant, json!({ "name": format!("Client {n}") })).await);
        let made = create_invoice(
            &app,
            me,
            json!({ "tenantId": tenant, "contactId": contact, "lineItems": [line("A", 1, "100"), line("B", 2, "50")] }),
        )
        .await;
        let id = made["invoice"]["id"].as_str().expect("id").to_owned();
        issue_invoice(&app, me, &id).await;
        invoice_move(
            &app,
            me,
            "recordPayment",
            json!({ "invoiceId": id, "amountCents": "50", "method": "cash" }),
        )
        .await;
    }
    let query = "query($t: ID!, $n: Int) { invoices(filter: { tenantId: $t }, first: $n) { nodes { id contact { id name } client { id } tenant { id } lineItems { total { cents } } payments { id } events { action } } } }";
    let mut counts = Vec::new();
    for n in [1, 4] {
        let (_, body) = app
            .post(
                Some(&me.access_token),
                query,
                json!({ "t": tenant, "n": n }),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        let nodes = body["data"]["invoices"]["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), n);
        assert!(
            nodes.iter().all(|i| i["contact"]["name"].is_string()),
            "{body}"
        );
        counts.push(
            body["extensions"]["sqlStatements"]
                .as_u64()
                .expect("sqlStatements"),
        );
    }
    assert_eq!(
        counts[0], counts[1],
        "statements for 1 and 4 invoices: {counts:?}"
    );
}
