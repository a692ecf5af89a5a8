//! `marketplace seed --demo` makes a browsable marketplace, and running it twice changes nothing.
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_demo_seed_is_browsable_and_idempotent() {
    let app = spawn_app().await;
    for _ in 0..2 {
        let db = api::db::Db::connect(&app.settings.database_url)
            .await
            .expect("db");
        let gateway = api::payments::from_settings(&app.settings).expect("gateway");
        api::seed::demo(
            api::state::AppState::new(app.settings.clone(), db, gateway).expect("state"),
        )
        .await
        .expect("seed");
    }
    // 30 listings in all statuses; 16 are ACTIVE listings of the 6 ACTIVE providers.
    let data = app.gql(None, "{ listings { totalCount } providers { totalCount } categories { category activeListings } }", json!({})).await;
    assert_eq!(data["listings"]["totalCount"], 16);
    assert_eq!(data["providers"]["totalCount"], 6);
    let coverage = data["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .find(|c| c["category"] == "script_coverage")
        .cloned()
        .expect("script_coverage");
    assert_eq!(coverage["activeListings"], 4);

    let admin = app.login("admin@demo.test", api::seed::DEMO_PASSWORD).await;
    assert_eq!(admin["userErrors"], json!([]));
    assert_eq!(admin["user"]["roles"], json!(["BUYER", "ADMIN"]));
    let token = admin["accessToken"].as_str().expect("token");
    let all = app
        .gql(
            Some(token),
            "{ listings { totalCount } users { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(all["listings"]["totalCount"], 30);
    assert_eq!(all["users"]["totalCount"], 12);
}

/// `marketplace seed --scale N` (issue 15): bulk data the API reads as its own. Twice in a
/// row (numbers and slugs do not collide); then the seeded accounts sign in, browse sees the
/// seeded listings, a seeded buyer's orders carry their events, the ledgers balance, and a new
/// order is numbered after the seeded ones.
#[tokio::test]
async fn the_scale_seed_makes_data_the_api_reads_as_its_own() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app().await;
    let db = &app.state.db;
    let first = api::bulk_seed::scale(db, 20, 1500).await.expect("seed");
    let second = api::bulk_seed::scale(db, 20, 1500)
        .await
        .expect("seed again");
    assert_eq!(first.rows, second.rows);
    assert!(first.rows > 20 * 50, "{first:?}");

    let one = |sql: &str| {
        let sql = sql.to_owned();
        async move {
            let row = db
                .writer
                .query_one(Statement::from_string(db.backend, sql.clone()))
                .await
                .expect("query")
                .expect("a row");
            row.try_get_by_index::<i64>(0).expect(&sql)
        }
    };
    assert_eq!(one("SELECT count(*) FROM listings").await, 2 * 20 * 50);
    assert_eq!(one("SELECT count(*) FROM orders").await, 2 * 5 * 20);
    assert_eq!(
        one("SELECT count(DISTINCT number) FROM orders").await,
        2 * 5 * 20
    );
    // Every order's last event is its status.
    assert_eq!(
        one("SELECT count(*) FROM orders o WHERE o.status <> (SELECT e.to_status FROM order_events e WHERE e.order_id = o.id ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1)").await,
        0
    );
    // Completed card orders balance: charge = transfer + fee.
    assert_eq!(
        one("SELECT count(*) FROM (SELECT order_id FROM ledger_entries GROUP BY order_id HAVING sum(CASE kind WHEN 'CHARGE' THEN amount_cents ELSE -amount_cents END) <> 0) unbalanced").await,
        0
    );
    assert!(one("SELECT count(*) FROM ledger_entries").await > 0);
    // Every disputed order has its one open dispute, opened by its buyer.
    assert!(one("SELECT count(*) FROM orders WHERE status = 'DISPUTED'").await > 0);
    assert_eq!(
        one("SELECT count(*) FROM orders o WHERE o.status = 'DISPUTED' AND 1 <> (SELECT count(*) FROM disputes d WHERE d.order_id = o.id AND d.status = 'OPEN' AND d.opened_by = o.buyer_id)").await,
        0
    );
    assert_eq!(
        one("SELECT count(*) FROM disputes").await,
        one("SELECT count(*) FROM orders WHERE status = 'DISPUTED'").await
    );
    // Providers' figures match their orders and reviews.
    assert_eq!(
        one("SELECT count(*) FROM providers p WHERE p.total_orders_completed <> (SELECT count(*) FROM orders o WHERE o.provider_id = p.id AND o.status = 'COMPLETED') OR p.review_count <> (SELECT count(*) FROM reviews r WHERE r.provider_id = p.id)").await,
        0
    );

    // Invoice books: four invoices per tenant, numbered per tenant; a paid one has its payment;
    // contacts' figures follow their paid invoices.
    assert_eq!(
        one("SELECT count(*) FROM invoices").await,
        4 * one("SELECT count(*) FROM tenants").await
    );
    assert_eq!(
        one("SELECT count(*) FROM (SELECT tenant_id, number FROM invoices GROUP BY tenant_id, number HAVING count(*) > 1) twice").await,
        0
    );
    assert_eq!(
        one("SELECT count(*) FROM invoices i WHERE i.status = 'PAID' AND i.paid_cents <> (SELECT coalesce(sum(p.amount_cents), 0) FROM payments p WHERE p.invoice_id = i.id)").await,
        0
    );
    assert_eq!(
        one("SELECT count(*) FROM contacts c WHERE c.total_spent_cents <> (SELECT coalesce(sum(i.paid_cents), 0) FROM invoices i WHERE i.contact_id = c.id AND i.status = 'PAID')").await,
        0
    );

    // Through the API: browsing, a seeded buyer signing in and placing an order.
    let browse = app
        .gql(
            None,
            "{ listings(first: 5) { totalCount nodes { title provider { displayName } } } }",
            json!({}),
        )
        .await;
    assert!(
        browse["listings"]["totalCount"].as_i64().unwrap_or(0) > 500,
        "{browse}"
    );
    let email: String = {
        let row = db
            .writer
            .query_one(Statement::from_string(
                db.backend,
                "SELECT email FROM users WHERE email LIKE 'buyer0.%' LIMIT 1".to_owned(),
            ))
            .await
            .expect("query")
            .expect("a buyer");
        row.try_get_by_index(0).expect("email")
    };
    let login = app.login(&email, api::bulk_seed::PASSWORD).await;
    let token = login["accessToken"].as_str().expect("signed in").to_owned();
    let any = app
        .gql(
            None,
            "{ listings(first: 1, filter: { category: \"editing\" }) { nodes { id } } }",
            json!({}),
        )
        .await["listings"]["nodes"][0]["id"]
        .as_str()
        .expect("a listing")
        .to_owned();
    let placed = app
        .gql(
            Some(&token),
            "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { number } userErrors { code message } } }",
            json!({ "l": any }),
        )
        .await;
    assert_eq!(placed["placeOrder"]["userErrors"], json!([]), "{placed}");
    assert_eq!(
        placed["placeOrder"]["order"]["number"],
        format!("ORD-{:06}", 2 * 5 * 20 + 1),
        "{placed}"
    );
}
