//! Reviews through the API: the buyer's one review after the delivery, the provider's one
//! reply, who may do either, the provider's aggregates against a recomputation from the rows,
//! and the Bayesian RATING sort.
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::realtime::{deal, held_order, order_action, Deal};

const REVIEW: &str = "id rating comment providerReply createdAt author { id } provider { id }";

async fn create_review(
    app: &TestApp,
    who: &Session,
    order: &str,
    rating: i32,
    comment: &str,
) -> Value {
    let query = format!(
        "mutation($i: CreateReviewInput!) {{ createReview(input: $i) {{ review {{ {REVIEW} }} userErrors {{ field message code }} }} }}"
    );
    app.gql(
        Some(&who.access_token),
        &query,
        json!({ "i": { "orderId": order, "rating": rating, "comment": comment } }),
    )
    .await["createReview"]
        .clone()
}

async fn reply(app: &TestApp, who: &Session, review: &str, text: &str) -> Value {
    let query = format!(
        "mutation($i: ReplyToReviewInput!) {{ replyToReview(input: $i) {{ review {{ {REVIEW} }} userErrors {{ field message code }} }} }}"
    );
    app.gql(
        Some(&who.access_token),
        &query,
        json!({ "i": { "reviewId": review, "reply": text } }),
    )
    .await["replyToReview"]
        .clone()
}

/// A held order of the deal taken to DELIVERED.
async fn delivered(app: &TestApp, deal: &Deal) -> String {
    let id = held_order(app, deal).await;
    order_action(
        app,
        &deal.seller.session,
        "claimOrder",
        json!({ "orderId": id }),
    )
    .await;
    order_action(
        app,
        &deal.seller.session,
        "deliverOrder",
        json!({ "orderId": id, "summary": "Done" }),
    )
    .await;
    id
}

async fn actions(app: &TestApp, who: &Session, order: &str) -> Value {
    app.gql(
        Some(&who.access_token),
        "query($id: ID!) { order(id: $id) { availableActions review { id rating } } }",
        json!({ "id": order }),
    )
    .await["order"]
        .clone()
}

#[tokio::test]
async fn the_buyer_reviews_once_after_the_delivery_and_the_provider_replies_once() {
    let app = spawn_app().await;
    let deal = deal(&app, "rev").await;
    let stranger = app.register("stranger@example.com", "Stranger").await;

    // Before the delivery there is nothing to review.
    let early = held_order(&app, &deal).await;
    let refused = create_review(&app, &deal.buyer, &early, 5, "").await;
    assert_eq!(error_codes(&refused), vec!["INVALID_STATE"], "{refused}");

    let id = delivered(&app, &deal).await;
    let before = actions(&app, &deal.buyer, &id).await;
    assert!(
        before["availableActions"]
            .as_array()
            .expect("actions")
            .contains(&json!("REVIEW")),
        "{before}"
    );
    for (who, rating, comment, code) in [
        (&deal.seller.session, 5, "", "NOT_ALLOWED"),
        (&stranger, 5, "", "NOT_FOUND"),
        (&deal.buyer, 0, "", "INVALID"),
        (&deal.buyer, 6, "", "INVALID"),
    ] {
        let refused = create_review(&app, who, &id, rating, comment).await;
        assert_eq!(error_codes(&refused), vec![code], "{refused}");
    }
    let long = create_review(&app, &deal.buyer, &id, 4, &"x".repeat(5001)).await;
    assert_eq!(error_codes(&long), vec!["INVALID"], "{long}");
    assert_eq!(long["userErrors"][0]["field"], json!(["input", "comment"]));

    let made = create_review(&app, &deal.buyer, &id, 4, "  Clear and on time.  ").await;
    assert_eq!(made["userErrors"], json!([]), "{made}");
    let review = made["review"]["id"].as_str().expect("id").to_owned();
    assert_eq!(made["review"]["rating"], 4);
    assert_eq!(made["review"]["comment"], "Clear and on time.");
    assert_eq!(made["review"]["author"]["id"], deal.buyer.id.as_str());
    assert_eq!(
        made["review"]["provider"]["id"],
        deal.seller.provider_id.as_str()
    );

    // Once: the action is gone and a second review is refused.
    let after = actions(&app, &deal.buyer, &id).await;
    assert!(
        !after["availableActions"]
            .as_array()
            .expect("actions")
            .contains(&json!("REVIEW")),
        "{after}"
    );
    assert_eq!(after["review"]["id"], review.as_str());
    let second = create_review(&app, &deal.buyer, &id, 1, "changed my mind").await;
    assert_eq!(error_codes(&second), vec!["ALREADY_EXISTS"], "{second}");

    // The provider answers once; nobody else may.
    let by_buyer = reply(&app, &deal.buyer, &review, "me too").await;
    assert_eq!(error_codes(&by_buyer), vec!["NOT_ALLOWED"], "{by_buyer}");
    let blank = reply(&app, &deal.seller.session, &review, "   ").await;
    assert_eq!(error_codes(&blank), vec!["INVALID"], "{blank}");
    let too_long = reply(&app, &deal.seller.session, &review, &"y".repeat(2001)).await;
    assert_eq!(error_codes(&too_long), vec!["INVALID"], "{too_long}");
    let answered = reply(&app, &deal.seller.session, &review, "Thank you!").await;
    assert_eq!(answered["userErrors"], json!([]), "{answered}");
    assert_eq!(answered["review"]["providerReply"], "Thank you!");
    let again = reply(&app, &deal.seller.session, &review, "Thanks again").await;
    assert_eq!(error_codes(&again), vec!["ALREADY_EXISTS"], "{again}");

    // Public on the provider; the order behind it is not.
    let query = "query($id: ID!) { provider(id: $id) { avgRating reviewCount ratingScore reviews(first: 5) { totalCount nodes { id rating providerReply } } } }";
    let seen = app
        .gql(None, query, json!({ "id": deal.seller.provider_id }))
        .await;
    let provider = &seen["provider"];
    assert_eq!(provider["avgRating"], 4.0);
    assert_eq!(provider["reviewCount"], 1);
    assert_eq!(provider["ratingScore"], 3.583, "(5 × 3.5 + 4) / 6");
    assert_eq!(provider["reviews"]["totalCount"], 1);
    assert_eq!(
        provider["reviews"]["nodes"][0]["providerReply"],
        "Thank you!"
    );
    let (_, hidden) = app
        .post(
            Some(&stranger.access_token),
            "query($id: ID!) { node(id: $id) { ... on Review { rating order { id } } } }",
            json!({ "id": review }),
        )
        .await;
    assert_eq!(top_level_code(&hidden), "FORBIDDEN", "{hidden}");
    let mine = app
        .gql(
            Some(&deal.buyer.access_token),
            "query($id: ID!) { node(id: $id) { ... on Review { rating order { id } } } }",
            json!({ "id": review }),
        )
        .await;
    assert_eq!(mine["node"]["order"]["id"], id.as_str());
}

#[tokio::test]
async fn aggregates_after_a_hundred_concurrent_reviews_match_the_rows_and_rating_sorts_bayesian() {
    let app = spawn_app().await;
    let deal = deal(&app, "many").await;
    // Another shop with one perfect review.
    let lucky = manual_seller(&app, &deal.admin, "lucky@example.com").await;
    let lucky_listing = app
        .listing(&lucky, json!({ "priceCents": "5000", "turnaroundDays": 3 }))
        .await;
    let lucky_deal = Deal {
        buyer: app.register("lucky-buyer@example.com", "LB").await,
        seller: lucky,
        admin: deal.admin.clone(),
        listing: lucky_listing,
    };
    let one = delivered(&app, &lucky_deal).await;
    let made = create_review(&app, &lucky_deal.buyer, &one, 5, "Perfect").await;
    assert_eq!(made["userErrors"], json!([]), "{made}");

    // A hundred delivered orders, reviewed ten at a time concurrently: 4 or 5 stars.
    let mut orders = Vec::new();
    for _ in 0..100 {
        orders.push(delivered(&app, &deal).await);
    }
    for (batch, chunk) in orders.chunks(10).enumerate() {
        let reviews = chunk.iter().enumerate().map(|(i, id)| {
            let rating = if (batch * 10 + i) % 5 == 0 { 4 } else { 5 };
            let app = &app;
            let buyer = &deal.buyer;
            async move { create_review(app, buyer, id, rating, "").await }
        });
        for made in join_all(reviews).await {
            assert_eq!(made["userErrors"], json!([]), "{made}");
        }
    }

    // The provider's figures against the rows themselves.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    let rows = entity::reviews::Entity::find()
        .filter(entity::reviews::Column::ProviderId.eq(deal.seller.provider_id.clone()))
        .all(&db.reader)
        .await
        .expect("reviews");
    let sum: i64 = rows.iter().map(|r| i64::from(r.rating)).sum();
    assert_eq!(rows.len(), 100);
    assert_eq!(sum, 20 * 4 + 80 * 5);
    let provider = entity::providers::Entity::find_by_id(deal.seller.provider_id.clone())
        .one(&db.reader)
        .await
        .expect("query")
        .expect("provider");
    assert_eq!(
        (provider.rating_sum, provider.review_count),
        (sum, 100),
        "the running figures equal a recomputation"
    );
    let query = "query($id: ID!) { provider(id: $id) { avgRating reviewCount reviews(first: 3) { totalCount } } }";
    let seen = app
        .gql(None, query, json!({ "id": deal.seller.provider_id }))
        .await;
    assert_eq!(seen["provider"]["avgRating"], 4.8);
    assert_eq!(seen["provider"]["reviewCount"], 100);
    assert_eq!(seen["provider"]["reviews"]["totalCount"], 100);

    // One 5-star review does not outrank a hundred at 4.8, for providers and their listings.
    let providers = app
        .gql(
            None,
            "{ providers(first: 10, sortKey: RATING) { nodes { id ratingScore } } }",
            json!({}),
        )
        .await;
    let order: Vec<&str> = providers["providers"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        order,
        vec![
            deal.seller.provider_id.as_str(),
            lucky_deal.seller.provider_id.as_str()
        ],
        "{providers}"
    );
    let listings = app
        .gql(
            None,
            "{ listings(first: 10, sortKey: RATING) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listings["listings"]["nodes"][0]["id"],
        deal.listing.as_str(),
        "{listings}"
    );
}

#[tokio::test]
async fn a_suspended_provider_takes_no_new_orders_but_finishes_and_is_reviewed_on_open_ones() {
    let app = spawn_app().await;
    let deal = deal(&app, "mod").await;
    let open = held_order(&app, &deal).await;
    let suspended = app
        .set_provider_status(&deal.admin, &deal.seller.provider_id, "SUSPENDED")
        .await;
    assert_eq!(suspended["userErrors"], json!([]), "{suspended}");

    // Gone from browsing at once, and no new order reaches it.
    let listed = app
        .gql(None, "{ listings(first: 10) { totalCount } }", json!({}))
        .await;
    assert_eq!(listed["listings"]["totalCount"], 0, "{listed}");
    let placed = app
        .gql(
            Some(&deal.buyer.access_token),
            "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { id } userErrors { code } } }",
            json!({ "l": deal.listing }),
        )
        .await;
    assert_eq!(
        error_codes(&placed["placeOrder"]),
        vec!["NOT_FOUND"],
        "{placed}"
    );

    // The order it already held runs to its end, and the buyer may still review it.
    for mutation in ["claimOrder", "deliverOrder"] {
        let input = match mutation {
            "deliverOrder" => json!({ "orderId": open, "summary": "Done" }),
            _ => json!({ "orderId": open }),
        };
        order_action(&app, &deal.seller.session, mutation, input).await;
    }
    let done = order_action(
        &app,
        &deal.buyer,
        "completeOrder",
        json!({ "orderId": open }),
    )
    .await;
    assert_eq!(done["status"], "COMPLETED");
    let made = create_review(&app, &deal.buyer, &open, 3, "Fine").await;
    assert_eq!(made["userErrors"], json!([]), "{made}");
}
