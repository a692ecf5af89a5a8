//! Listings and browsing through the API: mutations and refusals, visibility, every filter and
//! sort key with keyset pagination, full-text search, categories, and the statement count.
use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::*;

const LISTINGS: &str = "query($first: Int, $after: String, $filter: ListingFilter, $sortKey: ListingSortKey, $reverse: Boolean) { listings(first: $first, after: $after, filter: $filter, sortKey: $sortKey, reverse: $reverse) { totalCount nodes { id title price { cents } turnaroundDays } pageInfo { hasNextPage hasPreviousPage endCursor } } }";

/// Every listing id of a browse query, paging `page_size` at a time.
async fn browse_all(
    app: &TestApp,
    token: Option<&str>,
    vars: Value,
    page_size: i32,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut v = vars.clone();
        v["first"] = json!(page_size);
        v["after"] = json!(after);
        let data = app.gql(token, LISTINGS, v).await;
        let listings = &data["listings"];
        for node in listings["nodes"].as_array().expect("nodes") {
            ids.push(node["id"].as_str().expect("id").to_owned());
        }
        if listings["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        after = listings["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
}

#[tokio::test]
async fn create_listing_validates_every_bound() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app.seller(&admin, "l@example.com", "L", json!({})).await;
    let cases = [
        (json!({ "priceCents": "1" }), None),
        (json!({ "priceCents": "1000000000000" }), None),
        (json!({ "priceCents": "1000000000001" }), Some("priceCents")),
        (json!({ "priceCents": "0" }), Some("priceCents")),
        (json!({ "priceCents": null }), Some("priceCents")),
        (json!({ "priceType": "CONTACT", "priceCents": null }), None),
        (json!({ "turnaroundDays": 90 }), None),
        (json!({ "turnaroundDays": 91 }), Some("turnaroundDays")),
        (json!({ "turnaroundDays": 0 }), Some("turnaroundDays")),
        (json!({ "maxPages": 500 }), None),
        (json!({ "maxPages": 501 }), Some("maxPages")),
        (json!({ "revisionsIncluded": 10 }), None),
        (
            json!({ "revisionsIncluded": 11 }),
            Some("revisionsIncluded"),
        ),
        (json!({ "title": "t".repeat(200) }), None),
        (json!({ "title": "t".repeat(201) }), Some("title")),
        (json!({ "description": "d".repeat(5000) }), None),
        (
            json!({ "description": "d".repeat(5001) }),
            Some("description"),
        ),
        (json!({ "category": "astrology" }), Some("category")),
        (
            json!({ "category": "editing", "tier": "EARLY_DRAFT" }),
            Some("tier"),
        ),
        (json!({ "tier": "EARLY_DRAFT" }), None),
    ];
    for (fields, fault) in cases {
        let payload = app.create_listing(&seller, fields.clone()).await;
        match fault {
            None => assert_eq!(payload["userErrors"], json!([]), "{fields}: {payload}"),
            Some(field) => {
                assert_eq!(
                    payload["userErrors"][0]["field"],
                    json!(["input", field]),
                    "{fields}: {payload}"
                );
                assert_eq!(payload["userErrors"][0]["code"], "INVALID");
                assert!(payload["listing"].is_null());
            }
        }
    }
}

#[tokio::test]
async fn only_the_owner_lists_for_a_provider_and_edits_keep_the_slug() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "own@example.com", "Own", json!({}))
        .await;
    let other = app
        .seller(&admin, "oth@example.com", "Oth", json!({}))
        .await;

    let refused = app
        .gql(
            Some(&other.session.access_token),
            CREATE_LISTING,
            json!({ "input": { "providerId": seller.provider_id, "title": "Mine now", "category": "editing", "priceCents": "100" } }),
        )
        .await;
    assert_eq!(error_codes(&refused["createListing"]), vec!["NOT_FOUND"]);

    let created = app
        .create_listing(
            &seller,
            json!({ "title": "Pilot Coverage", "publish": false }),
        )
        .await;
    assert_eq!(created["listing"]["slug"], "pilot-coverage");
    assert_eq!(created["listing"]["status"], "DRAFT");
    assert!(created["listing"]["publishedAt"].is_null());
    assert_eq!(
        created["listing"]["price"],
        json!({ "cents": "15000", "currencyCode": "USD", "amount": "150.00" })
    );
    let id = created["listing"]["id"].as_str().expect("id").to_owned();

    let update = "mutation($input: UpdateListingInput!) { updateListing(input: $input) { listing { slug title price { cents } } userErrors { code field } } }";
    let edited = app
        .gql(
            Some(&seller.session.access_token),
            update,
            json!({ "input": { "listingId": id, "title": "Pilot Coverage Deluxe", "priceCents": "20000" } }),
        )
        .await;
    assert_eq!(edited["updateListing"]["listing"]["slug"], "pilot-coverage");
    assert_eq!(
        edited["updateListing"]["listing"]["title"],
        "Pilot Coverage Deluxe"
    );
    assert_eq!(
        edited["updateListing"]["listing"]["price"]["cents"],
        "20000"
    );
    let bad = app
        .gql(
            Some(&seller.session.access_token),
            update,
            json!({ "input": { "listingId": id, "priceCents": "-1" } }),
        )
        .await;
    assert_eq!(error_codes(&bad["updateListing"]), vec!["INVALID"]);
    let foreign = app
        .gql(
            Some(&other.session.access_token),
            update,
            json!({ "input": { "listingId": id, "title": "Stolen" } }),
        )
        .await;
    assert_eq!(error_codes(&foreign["updateListing"]), vec!["NOT_FOUND"]);

    // A second listing with the same title gets a slug of its own.
    let twin = app
        .create_listing(&seller, json!({ "title": "Pilot Coverage" }))
        .await;
    let slug = twin["listing"]["slug"].as_str().expect("slug");
    assert!(slug.starts_with("pilot-coverage-"), "{slug}");
}

const SET_LISTING_STATUS: &str = "mutation($input: SetListingStatusInput!) { setListingStatus(input: $input) { listing { status publishedAt } userErrors { code } } }";

#[tokio::test]
async fn listing_status_moves_and_what_each_viewer_sees() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app.seller(&admin, "st@example.com", "St", json!({})).await;
    let buyer = app.register("buyer@example.com", "Buyer").await;
    let id = app
        .listing(&seller, json!({ "title": "Draft one", "publish": false }))
        .await;
    let by_id = "query($id: ID, $slug: String) { listing(id: $id, slug: $slug) { id status } }";
    let set = |status: &'static str| {
        app.gql(
            Some(&seller.session.access_token),
            SET_LISTING_STATUS,
            json!({ "input": { "listingId": id, "status": status } }),
        )
    };

    // A draft: its owner and admins see it, nobody else.
    assert!(app
        .gql(Some(&buyer.access_token), by_id, json!({ "id": id }))
        .await["listing"]
        .is_null());
    assert!(app.gql(None, by_id, json!({ "slug": "draft-one" })).await["listing"].is_null());
    assert_eq!(
        app.gql(
            Some(&seller.session.access_token),
            by_id,
            json!({ "id": id })
        )
        .await["listing"]["status"],
        "DRAFT"
    );
    assert_eq!(
        app.gql(
            Some(&admin.access_token),
            by_id,
            json!({ "slug": "draft-one" })
        )
        .await["listing"]["id"],
        id.as_str()
    );

    assert_eq!(
        error_codes(&set("PAUSED").await["setListingStatus"]),
        vec!["INVALID_STATE"]
    );
    let published = set("ACTIVE").await;
    assert_eq!(published["setListingStatus"]["listing"]["status"], "ACTIVE");
    let published_at = published["setListingStatus"]["listing"]["publishedAt"].clone();
    assert!(published_at.is_string());
    assert_eq!(
        app.gql(None, by_id, json!({ "slug": "draft-one" })).await["listing"]["id"],
        id.as_str()
    );

    let paused = set("PAUSED").await;
    assert_eq!(paused["setListingStatus"]["listing"]["status"], "PAUSED");
    assert!(app.gql(None, by_id, json!({ "id": id })).await["listing"].is_null());
    let resumed = set("ACTIVE").await;
    assert_eq!(
        resumed["setListingStatus"]["listing"]["publishedAt"], published_at,
        "first publication is kept"
    );
    assert_eq!(
        set("ARCHIVED").await["setListingStatus"]["listing"]["status"],
        "ARCHIVED"
    );
    assert_eq!(
        error_codes(&set("ACTIVE").await["setListingStatus"]),
        vec!["INVALID_STATE"]
    );
    assert_eq!(
        set("DRAFT").await["setListingStatus"]["listing"]["status"],
        "DRAFT"
    );

    // The owner sees drafts through Provider.listings(includeInactive); others do not.
    let own =
        "query($id: ID!) { provider(id: $id) { listings(includeInactive: true) { totalCount } } }";
    let mine = app
        .gql(
            Some(&seller.session.access_token),
            own,
            json!({ "id": seller.provider_id }),
        )
        .await;
    assert_eq!(mine["provider"]["listings"]["totalCount"], 1);
    let theirs = app
        .gql(
            Some(&buyer.access_token),
            own,
            json!({ "id": seller.provider_id }),
        )
        .await;
    assert_eq!(theirs["provider"]["listings"]["totalCount"], 0);

    let (_, no_key) = app.post(None, "{ listing { id } }", json!({})).await;
    assert_eq!(top_level_code(&no_key), "BAD_USER_INPUT");
}

#[tokio::test]
async fn listings_of_suspended_providers_or_tenants_that_cannot_take_orders_are_hidden() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "vis@example.com", "Vis", json!({}))
        .await;
    let id = app.listing(&seller, json!({})).await;
    // The ids a browse pages through, checked against its `totalCount` (counted by another
    // statement) and the category's count.
    let public_ids = |token: Option<String>| {
        let app = &app;
        async move {
            let ids = browse_all(app, token.as_deref(), json!({}), 50).await;
            let counts = app
                .gql(
                    token.as_deref(),
                    "{ listings(first: 1, filter: { category: \"script_coverage\" }) { totalCount } categories { category activeListings } }",
                    json!({}),
                )
                .await;
            assert_eq!(counts["listings"]["totalCount"], ids.len(), "{counts}");
            if token.is_none() {
                let coverage = counts["categories"]
                    .as_array()
                    .expect("categories")
                    .iter()
                    .find(|c| c["category"] == "script_coverage")
                    .expect("coverage")
                    .clone();
                assert_eq!(coverage["activeListings"], ids.len(), "{counts}");
            }
            ids
        }
    };
    assert_eq!(public_ids(None).await, vec![id.clone()]);

    let status = "mutation($input: SetListingStatusInput!) { setListingStatus(input: $input) { userErrors { code } } }";
    for (to, seen) in [("PAUSED", vec![]), ("ACTIVE", vec![id.clone()])] {
        let set = app
            .gql(
                Some(&seller.session.access_token),
                status,
                json!({ "input": { "listingId": id, "status": to } }),
            )
            .await;
        assert_eq!(set["setListingStatus"]["userErrors"], json!([]), "{set}");
        assert_eq!(public_ids(None).await, seen, "{to}");
    }

    app.set_provider_status(&admin, &seller.provider_id, "SUSPENDED")
        .await;
    assert!(public_ids(None).await.is_empty());
    assert_eq!(
        public_ids(Some(admin.access_token.clone())).await,
        vec![id.clone()],
        "admins see everything"
    );
    app.set_provider_status(&admin, &seller.provider_id, "ACTIVE")
        .await;
    assert_eq!(public_ids(None).await, vec![id.clone()]);

    let update = "mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { userErrors { code } } }";
    app.gql(
        Some(&seller.session.access_token),
        update,
        json!({ "input": { "tenantId": seller.tenant_id, "paymentMode": "DISABLED" } }),
    )
    .await;
    assert!(
        public_ids(None).await.is_empty(),
        "a DISABLED tenant takes no orders"
    );
    app.gql(
        Some(&seller.session.access_token),
        update,
        json!({ "input": { "tenantId": seller.tenant_id, "paymentMode": "MANUAL" } }),
    )
    .await;
    assert_eq!(public_ids(None).await, vec![id]);

    let categories = app
        .gql(
            None,
            "{ categories { category activeListings } }",
            json!({}),
        )
        .await;
    let list = categories["categories"].as_array().expect("list");
    assert_eq!(list.len(), 8);
    let coverage = list
        .iter()
        .find(|c| c["category"] == "script_coverage")
        .expect("coverage");
    assert_eq!(coverage["activeListings"], 1);
    let editing = list
        .iter()
        .find(|c| c["category"] == "editing")
        .expect("editing");
    assert_eq!(editing["activeListings"], 0);
}

#[tokio::test]
async fn paging_through_250_listings_has_no_gaps_or_duplicates_even_with_inserts() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "bulk@example.com", "Bulk", json!({}))
        .await;
    let mut created = Vec::new();
    for i in 0..250 {
        created.push(
            app.listing(
                &seller,
                json!({ "title": format!("Listing {i}"), "priceCents": format!("{}", 1000 + (i * 7919) % 500), "turnaroundDays": 1 + (i % 30) }),
            )
            .await,
        );
    }
    let expected: HashSet<String> = created.iter().cloned().collect();

    for sort in ["NEWEST", "PRICE", "TURNAROUND", "RATING"] {
        for reverse in [false, true] {
            let ids = browse_all(
                &app,
                None,
                json!({ "sortKey": sort, "reverse": reverse }),
                100,
            )
            .await;
            assert_eq!(ids.len(), 250, "{sort} reverse={reverse}");
            let unique: HashSet<String> = ids.iter().cloned().collect();
            assert_eq!(unique, expected, "{sort} reverse={reverse}");
        }
    }

    // Inserting while paging NEWEST: the new rows sort before the cursor, so the rest of the
    // original set still comes exactly once.
    let first = app.gql(None, LISTINGS, json!({ "first": 100 })).await;
    let mut seen: Vec<String> = first["listings"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect();
    app.listing(&seller, json!({ "title": "Late arrival" }))
        .await;
    let mut after = first["listings"]["pageInfo"]["endCursor"]
        .as_str()
        .map(str::to_owned);
    while let Some(cursor) = after {
        let page = app
            .gql(None, LISTINGS, json!({ "first": 100, "after": cursor }))
            .await;
        for node in page["listings"]["nodes"].as_array().expect("nodes") {
            seen.push(node["id"].as_str().expect("id").to_owned());
        }
        after = (page["listings"]["pageInfo"]["hasNextPage"] == true)
            .then(|| {
                page["listings"]["pageInfo"]["endCursor"]
                    .as_str()
                    .map(str::to_owned)
            })
            .flatten();
    }
    assert_eq!(seen.len(), 250);
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), expected);
}

#[tokio::test]
async fn sort_keys_order_listings_as_promised() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "sort@example.com", "Sort", json!({}))
        .await;
    let cheap = app
        .listing(
            &seller,
            json!({ "title": "Cheap slow", "priceCents": "500", "turnaroundDays": 30 }),
        )
        .await;
    let dear = app
        .listing(
            &seller,
            json!({ "title": "Dear fast", "priceCents": "90000", "turnaroundDays": 2 }),
        )
        .await;
    let contact = app.listing(&seller, json!({ "title": "Ask me", "priceType": "CONTACT", "priceCents": null, "turnaroundDays": null })).await;
    let mid = app
        .listing(
            &seller,
            json!({ "title": "Middle", "priceCents": "5000", "turnaroundDays": 10 }),
        )
        .await;

    let order = |sort: &'static str, reverse: bool| {
        browse_all(
            &app,
            None,
            json!({ "sortKey": sort, "reverse": reverse }),
            2,
        )
    };
    assert_eq!(
        order("PRICE", false).await,
        vec![cheap.clone(), mid.clone(), dear.clone(), contact.clone()]
    );
    assert_eq!(
        order("PRICE", true).await,
        vec![contact.clone(), dear.clone(), mid.clone(), cheap.clone()]
    );
    assert_eq!(
        order("TURNAROUND", false).await,
        vec![dear.clone(), mid.clone(), cheap.clone(), contact.clone()]
    );
    assert_eq!(
        order("NEWEST", false).await,
        vec![mid.clone(), contact.clone(), dear.clone(), cheap.clone()]
    );
    assert_eq!(
        order("NEWEST", true).await,
        vec![cheap.clone(), dear.clone(), contact.clone(), mid.clone()]
    );

    // A cursor of one sort is refused by another.
    let page = app
        .gql(None, LISTINGS, json!({ "first": 1, "sortKey": "PRICE" }))
        .await;
    let cursor = page["listings"]["pageInfo"]["endCursor"].clone();
    let (_, body) = app
        .post(
            None,
            LISTINGS,
            json!({ "first": 1, "sortKey": "NEWEST", "after": cursor }),
        )
        .await;
    assert_eq!(top_level_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn every_listing_filter_narrows_the_results() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let austin = app
        .seller(&admin, "a@example.com", "Austin Reads", json!({}))
        .await;
    let breeder = app
        .seller(
            &admin,
            "b@example.com",
            "Hill Kennels",
            json!({ "type": "BREEDER" }),
        )
        .await;
    let pilot = app.listing(&austin, json!({ "title": "Pilot coverage", "description": "Television pilots and spec scripts", "tier": "EARLY_DRAFT", "priceCents": "12000", "turnaroundDays": 5, "city": "Austin", "state": "TX" })).await;
    let feature = app.listing(&austin, json!({ "title": "Feature notes", "description": "Notes on structure", "tier": "POLISH_PROOFREAD", "priceCents": "30000", "turnaroundDays": 14, "city": "Austin", "state": "TX", "priceType": "STARTING_AT" })).await;
    let pups = app.listing(&breeder, json!({ "title": "Golden retriever puppies", "category": "breeding", "priceCents": "250000", "turnaroundDays": 60, "city": "Boise", "state": "ID" })).await;

    let ids = |filter: Value| {
        let app = &app;
        async move {
            let mut got = browse_all(app, None, json!({ "filter": filter }), 10).await;
            got.sort();
            got
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        ids(json!({ "category": "breeding" })).await,
        vec![pups.clone()]
    );
    assert_eq!(
        ids(json!({ "tier": "EARLY_DRAFT" })).await,
        vec![pilot.clone()]
    );
    assert_eq!(
        ids(json!({ "priceType": "STARTING_AT" })).await,
        vec![feature.clone()]
    );
    assert_eq!(
        ids(json!({ "minPriceCents": "20000" })).await,
        sorted(vec![feature.clone(), pups.clone()])
    );
    assert_eq!(
        ids(json!({ "maxPriceCents": "20000" })).await,
        vec![pilot.clone()]
    );
    assert_eq!(
        ids(json!({ "minPriceCents": "12000", "maxPriceCents": "30000" })).await,
        sorted(vec![pilot.clone(), feature.clone()])
    );
    assert_eq!(
        ids(json!({ "maxTurnaroundDays": 14 })).await,
        sorted(vec![pilot.clone(), feature.clone()])
    );
    assert_eq!(
        ids(json!({ "providerId": breeder.provider_id })).await,
        vec![pups.clone()]
    );
    assert_eq!(
        ids(json!({ "city": "austin" })).await,
        sorted(vec![pilot.clone(), feature.clone()])
    );
    assert_eq!(ids(json!({ "state": "ID" })).await, vec![pups.clone()]);
    assert!(
        ids(json!({ "minRating": 1.0 })).await.is_empty(),
        "no reviews yet"
    );
    assert_eq!(ids(json!({ "minRating": 0.0 })).await, Vec::<String>::new());

    // Full-text search: stemmed, prefix-matched, every term required.
    assert_eq!(ids(json!({ "query": "pilots" })).await, vec![pilot.clone()]);
    assert_eq!(ids(json!({ "query": "retriev" })).await, vec![pups.clone()]);
    assert_eq!(
        ids(json!({ "query": "notes structure" })).await,
        vec![feature.clone()]
    );
    assert!(ids(json!({ "query": "notes puppies" })).await.is_empty());
    assert_eq!(
        ids(json!({ "query": "\"); DROP TABLE listings; --" })).await,
        Vec::<String>::new()
    );
    // "coverage" is in the pilot's title but only in the feature's category: the title ranks first.
    let ranked = browse_all(
        &app,
        None,
        json!({ "filter": { "query": "coverage" }, "sortKey": "RELEVANCE" }),
        1,
    )
    .await;
    assert_eq!(ranked, vec![pilot.clone(), feature.clone()]);

    // BigInt filters travel as strings: 2^53 + 1 exactly, negatives, and malformed values.
    assert!(ids(json!({ "minPriceCents": "9007199254740993" }))
        .await
        .is_empty());
    assert_eq!(ids(json!({ "minPriceCents": "-5" })).await.len(), 3);
    let (_, body) = app
        .post(
            None,
            LISTINGS,
            json!({ "filter": { "minPriceCents": "12a" } }),
        )
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("BigInt"),
        "{body}"
    );
    let (_, body) = app
        .post(None, LISTINGS, json!({ "filter": { "minRating": 6.0 } }))
        .await;
    assert_eq!(top_level_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn providers_are_browsed_with_filters_and_sort_keys() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let zed = app
        .seller(
            &admin,
            "z@example.com",
            "Zed Reads",
            json!({ "specialties": ["Horror"], "city": "Austin", "bio": "Genre specialist" }),
        )
        .await;
    let amy = app
        .seller(
            &admin,
            "amy@example.com",
            "amy notes",
            json!({ "specialties": ["Drama", "Comedy"], "city": "Boise", "type": "BREEDER" }),
        )
        .await;
    let pending = app.register("pend@example.com", "Pend").await;
    app.create_provider(&pending, json!({ "displayName": "Pending Pat" }))
        .await;

    let query = "query($filter: ProviderFilter, $sortKey: ProviderSortKey, $reverse: Boolean, $first: Int, $after: String) { providers(filter: $filter, sortKey: $sortKey, reverse: $reverse, first: $first, after: $after) { totalCount nodes { id displayName } pageInfo { hasNextPage endCursor } } }";
    let names = |vars: Value, token: Option<String>| {
        let app = &app;
        async move {
            let data = app.gql(token.as_deref(), query, vars).await;
            data["providers"]["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|n| n["displayName"].as_str().expect("name").to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names(json!({ "sortKey": "NAME" }), None).await,
        vec!["amy notes", "Zed Reads"]
    );
    assert_eq!(
        names(json!({ "sortKey": "NAME", "reverse": true }), None).await,
        vec!["Zed Reads", "amy notes"]
    );
    assert_eq!(
        names(json!({ "sortKey": "NEWEST" }), None).await,
        vec!["amy notes", "Zed Reads"]
    );
    assert_eq!(
        names(json!({ "sortKey": "NAME", "first": 1 }), None).await,
        vec!["amy notes"]
    );
    assert_eq!(
        names(json!({ "filter": { "specialty": "drama" } }), None).await,
        vec!["amy notes"]
    );
    assert_eq!(
        names(json!({ "filter": { "city": "AUSTIN" } }), None).await,
        vec!["Zed Reads"]
    );
    assert_eq!(
        names(json!({ "filter": { "type": "BREEDER" } }), None).await,
        vec!["amy notes"]
    );
    assert_eq!(
        names(json!({ "filter": { "query": "genre" } }), None).await,
        vec!["Zed Reads"]
    );
    assert!(names(json!({ "filter": { "minRating": 4.5 } }), None)
        .await
        .is_empty());
    // The public never sees unverified providers; admins filter by any status.
    assert!(names(
        json!({ "filter": { "status": "PENDING_VERIFICATION" } }),
        None
    )
    .await
    .is_empty());
    assert_eq!(
        names(
            json!({ "filter": { "status": "PENDING_VERIFICATION" } }),
            Some(admin.access_token.clone())
        )
        .await,
        vec!["Pending Pat"]
    );
    let page = app
        .gql(
            None,
            query,
            json!({ "sortKey": "COMPLETED_ORDERS", "first": 1 }),
        )
        .await;
    assert_eq!(page["providers"]["totalCount"], 2);
    let after = page["providers"]["pageInfo"]["endCursor"].clone();
    let rest = app
        .gql(
            None,
            query,
            json!({ "sortKey": "COMPLETED_ORDERS", "first": 1, "after": after }),
        )
        .await;
    let both: HashSet<_> = [&page, &rest]
        .iter()
        .map(|p| {
            p["providers"]["nodes"][0]["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    assert_eq!(
        both,
        HashSet::from([zed.provider_id.clone(), amy.provider_id.clone()])
    );
}

#[tokio::test]
async fn starting_price_follows_active_fixed_and_starting_at_listings() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app.seller(&admin, "sp@example.com", "Sp", json!({})).await;
    let query = "query($id: ID!) { provider(id: $id) { startingPrice { cents amount } } }";
    let price = || {
        let app = &app;
        let id = seller.provider_id.clone();
        async move {
            app.gql(None, query, json!({ "id": id })).await["provider"]["startingPrice"].clone()
        }
    };
    assert!(price().await.is_null());
    app.listing(&seller, json!({ "priceCents": "9000" })).await;
    let hourly = app
        .listing(
            &seller,
            json!({ "priceCents": "100", "priceType": "HOURLY" }),
        )
        .await;
    let cheap = app
        .listing(
            &seller,
            json!({ "priceCents": "4500", "priceType": "STARTING_AT" }),
        )
        .await;
    app.listing(&seller, json!({ "priceCents": "10", "publish": false }))
        .await;
    assert_eq!(price().await, json!({ "cents": "4500", "amount": "45.00" }));
    app.gql(
        Some(&seller.session.access_token),
        SET_LISTING_STATUS,
        json!({ "input": { "listingId": cheap, "status": "PAUSED" } }),
    )
    .await;
    assert_eq!(price().await["cents"], "9000");
    let _ = hourly;
}

/// `sellers` approved sellers (`{name}{i}@example.com`) and `listings` listings dealt among
/// them in turn (`{name} listing {i}`).
async fn sellers_with_listings(
    app: &TestApp,
    name: &str,
    sellers: usize,
    listings: usize,
) -> Vec<Seller> {
    let admin = app.register_admin().await;
    let mut made = Vec::new();
    for i in 0..sellers {
        let seller = app
            .seller(
                &admin,
                &format!("{name}{i}@example.com"),
                &format!("{name} {i}"),
                json!({}),
            )
            .await;
        made.push(seller);
    }
    for i in 0..listings {
        app.listing(
            &made[i % sellers],
            json!({ "title": format!("{name} listing {i}") }),
        )
        .await;
    }
    made
}

#[tokio::test]
async fn a_page_of_listings_costs_the_same_statements_for_1_30_and_100() {
    let app = spawn_app_with(&["--sql-statement-count"]).await;
    sellers_with_listings(&app, "n", 5, 100).await;
    let query = "query($n: Int) { listings(first: $n) { nodes { title price { cents } provider { displayName avgRating startingPrice { cents } tenant { name } } } } }";
    let mut counts = Vec::new();
    for n in [1, 30, 100] {
        let (status, body) = app.post(None, query, json!({ "n": n })).await;
        assert_eq!(status, 200);
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(
            body["data"]["listings"]["nodes"].as_array().map(Vec::len),
            Some(n)
        );
        counts.push(
            body["extensions"]["sqlStatements"]
                .as_u64()
                .expect("sqlStatements"),
        );
    }
    assert!(
        counts.iter().all(|c| *c == counts[0]),
        "statements per page size: {counts:?}"
    );
    assert!(counts[0] <= 5, "statements: {counts:?}");
}

/// Hardening finding 7: `listing(slug: "a\u0000")` was an internal error on PostgreSQL. No
/// slug holds a control character: such a lookup finds nothing, on both backends; a search
/// with one is read as word separators.
#[tokio::test]
async fn lookups_with_control_characters_find_nothing_instead_of_failing() {
    let app = spawn_app().await;
    for slug in ["a\u{0}", "pilot\u{7}", "x\u{202e}y\u{0}"] {
        let (status, body) = app
            .post(
                None,
                "query($s: String) { listing(slug: $s) { id } }",
                json!({ "s": slug }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{slug:?}: {body}");
        assert_eq!(body["data"]["listing"], Value::Null);
    }
    let (_, body) = app
        .post(
            None,
            "query($q: String) { listings(filter: { query: $q }) { totalCount } }",
            json!({ "q": "pilot\u{0}coverage" }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // A category filter with one is refused as bad input, never an internal error.
    let (_, body) = app
        .post(
            None,
            "query($c: String) { listings(filter: { category: $c }) { totalCount } }",
            json!({ "c": "script\u{0}" }),
        )
        .await;
    assert_eq!(top_level_code(&body), "BAD_USER_INPUT", "{body}");
}

/// Hardening finding 1: `Provider.listings` inside a page was loaded provider by provider (a
/// page query and a count each). The first pages of a request's providers now load in one
/// query per (visibility, size): the statements of a page of providers with their listings do
/// not grow with the providers, and the batched pages hold the same rows, totals and cursors
/// as a provider's own page (drafts only for the owner, newest first, then `after` goes on).
#[tokio::test]
async fn providers_listings_inside_a_page_load_together_and_page_like_one_providers() {
    let app = spawn_app_with(&["--sql-statement-count"]).await;
    let admin = app.register_admin().await;
    let query = "{ providers(first: 20) { nodes { displayName listings(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { title } } } } }";
    let mut counts = Vec::new();
    let mut sellers = Vec::new();
    for round in 0..2 {
        for i in 0..3 {
            let n = round * 3 + i;
            let seller = app
                .seller(
                    &admin,
                    &format!("pl{n}@example.com"),
                    &format!("PL{n}"),
                    json!({}),
                )
                .await;
            for l in 0..3 {
                app.listing(&seller, json!({ "title": format!("PL{n} listing {l}") }))
                    .await;
            }
            app.listing(
                &seller,
                json!({ "title": format!("PL{n} draft"), "publish": false }),
            )
            .await;
            sellers.push(seller);
        }
        let (status, body) = app.post(None, query, json!({})).await;
        assert_eq!(status, 200, "{body}");
        let nodes = body["data"]["providers"]["nodes"]
            .as_array()
            .expect("nodes");
        assert_eq!(nodes.len(), 3 * (round + 1));
        for node in nodes {
            let listings = &node["listings"];
            assert_eq!(listings["totalCount"], 3, "{node}");
            assert_eq!(listings["pageInfo"]["hasNextPage"], true, "{node}");
            let name = node["displayName"].as_str().expect("name");
            let titles: Vec<&str> = listings["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .filter_map(|n| n["title"].as_str())
                .collect();
            assert_eq!(
                titles,
                vec![format!("{name} listing 2"), format!("{name} listing 1")],
                "newest first: {node}"
            );
        }
        counts.push(body["extensions"]["sqlStatements"].as_u64().expect("count"));
    }
    assert_eq!(
        counts[0], counts[1],
        "statements for 3 and 6 providers: {counts:?}"
    );

    // The cursor of a batched page goes on through the provider's own page.
    let one = "query($id: ID!, $after: String) { provider(id: $id) { listings(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { title } } } }";
    let first = app
        .gql(
            None,
            one,
            json!({ "id": sellers[0].provider_id, "after": null }),
        )
        .await;
    let cursor = first["provider"]["listings"]["pageInfo"]["endCursor"].clone();
    let rest = app
        .gql(
            None,
            one,
            json!({ "id": sellers[0].provider_id, "after": cursor }),
        )
        .await;
    assert_eq!(
        rest["provider"]["listings"]["nodes"],
        json!([{ "title": "PL0 listing 0" }]),
        "{rest}"
    );
    assert_eq!(
        rest["provider"]["listings"]["pageInfo"]["hasNextPage"],
        false
    );

    // The owner's own view counts the draft.
    let own = "query($id: ID!) { provider(id: $id) { listings(first: 10, includeInactive: true) { totalCount nodes { title } } } }";
    let mine = app
        .gql(
            Some(&sellers[0].session.access_token),
            own,
            json!({ "id": sellers[0].provider_id }),
        )
        .await;
    assert_eq!(mine["provider"]["listings"]["totalCount"], 4, "{mine}");
    assert_eq!(
        mine["provider"]["listings"]["nodes"][0]["title"], "PL0 draft",
        "{mine}"
    );
}

/// Issue 15: every browse request counted all its matching rows, whether or not `totalCount`
/// was asked for (the most expensive statement of a browse request on PostgreSQL). Now the
/// count runs only when selected, beside the page query.
#[tokio::test]
async fn the_total_is_counted_only_when_it_is_asked_for() {
    let app = spawn_app_with(&["--sql-statement-count"]).await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "count@example.com", "Counter", json!({}))
        .await;
    for i in 0..4 {
        app.listing(&seller, json!({ "title": format!("Counted {i}") }))
            .await;
    }
    let statements = |body: &Value| body["extensions"]["sqlStatements"].as_u64().expect("count");
    for (without, with) in [
        (
            "{ listings(first: 2) { nodes { title } } }",
            "{ listings(first: 2) { totalCount nodes { title } } }",
        ),
        (
            "{ providers(first: 2) { nodes { displayName } } }",
            "{ providers(first: 2) { ...Total nodes { displayName } } } fragment Total on ProviderConnection { totalCount }",
        ),
    ] {
        let (_, plain) = app.post(None, without, json!({})).await;
        let (_, counted) = app.post(None, with, json!({})).await;
        assert!(plain.get("errors").is_none(), "{plain}");
        assert!(counted.get("errors").is_none(), "{counted}");
        assert_eq!(statements(&counted), statements(&plain) + 1, "{without}");
    }
    let (_, counted) = app
        .post(None, "{ listings(first: 2) { totalCount } }", json!({}))
        .await;
    assert_eq!(counted["data"]["listings"]["totalCount"], 4, "{counted}");
}

/// Issue 15: the page query joins providers anyway (only listings of visible providers are
/// shown), so it brings their columns along when the selection reaches them: a page of
/// listings with their providers is one statement at any size (it was the page query plus a
/// provider lookup), through `listings` and through `Provider.listings` past its first page,
/// and each provider is the one `provider(id)` reads.
#[tokio::test]
async fn a_page_of_listings_with_their_providers_is_one_statement() {
    let app = spawn_app_with(&["--sql-statement-count"]).await;
    let sellers = sellers_with_listings(&app, "Joined", 3, 9).await;
    let provider_fields = "id displayName avgRating reviewCount startingPrice { cents }";
    let statements = |body: &Value| body["extensions"]["sqlStatements"].as_u64().expect("count");
    let browse = format!(
        "query($n: Int) {{ listings(first: $n) {{ nodes {{ title provider {{ {provider_fields} }} }} }} }}"
    );
    for n in [1, 9] {
        let (status, body) = app.post(None, &browse, json!({ "n": n })).await;
        assert_eq!(status, 200);
        assert!(body.get("errors").is_none(), "{body}");
        let nodes = body["data"]["listings"]["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), n);
        assert_eq!(statements(&body), 1, "first: {n}: {body}");
        for node in nodes {
            let provider = &node["provider"];
            let alone = app
                .gql(
                    None,
                    &format!("query($id: ID!) {{ provider(id: $id) {{ {provider_fields} }} }}"),
                    json!({ "id": provider["id"] }),
                )
                .await;
            assert_eq!(&alone["provider"], provider);
        }
    }

    // Past its first page, a provider's own listings page is the same single statement.
    let first = app
        .gql(
            None,
            "query($id: ID!) { provider(id: $id) { listings(first: 1) { pageInfo { endCursor } } } }",
            json!({ "id": sellers[0].provider_id }),
        )
        .await;
    let after = &first["provider"]["listings"]["pageInfo"]["endCursor"];
    let (_, parent) = app
        .post(
            None,
            "query($id: ID!) { provider(id: $id) { displayName } }",
            json!({ "id": sellers[0].provider_id }),
        )
        .await;
    let (_, body) = app
        .post(
            None,
            "query($id: ID!, $after: String) { provider(id: $id) { displayName listings(first: 5, after: $after) { nodes { title provider { displayName } } } } }",
            json!({ "id": sellers[0].provider_id, "after": after }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let nodes = body["data"]["provider"]["listings"]["nodes"]
        .as_array()
        .expect("nodes");
    assert_eq!(nodes.len(), 2, "{body}");
    assert!(nodes
        .iter()
        .all(|n| n["provider"]["displayName"] == "Joined 0"));
    assert_eq!(statements(&body), statements(&parent) + 1, "{body}");
}
