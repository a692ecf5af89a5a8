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
