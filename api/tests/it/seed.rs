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
