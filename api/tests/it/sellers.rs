//! Tenants and providers through the API: creation, membership, ownership, verification.
use serde_json::json;

use crate::helpers::*;

const CREATE_TENANT: &str = "mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id name slug paymentMode paymentInstructions stripeOnboardingComplete payoutsEnabled } userErrors { field message code } } }";
const UPDATE_TENANT: &str = "mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id name paymentMode paymentInstructions } userErrors { field message code } } }";

#[tokio::test]
async fn a_tenant_is_created_with_its_owner_and_only_members_see_it() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com", "Owner").await;
    let stranger = app.register("stranger@example.com", "Stranger").await;
    let data = app
        .gql(
            Some(&owner.access_token),
            CREATE_TENANT,
            json!({ "input": { "name": "Ridge Kennels", "paymentInstructions": "Zelle to 555-0100" } }),
        )
        .await;
    let tenant = &data["createTenant"]["tenant"];
    assert_eq!(data["createTenant"]["userErrors"], json!([]));
    assert_eq!(tenant["slug"], "ridge-kennels");
    assert_eq!(tenant["paymentMode"], "MANUAL");
    let id = tenant["id"].as_str().expect("id");

    let query = "query($id: ID!) { tenant(id: $id) { id name } }";
    let mine = app
        .gql(Some(&owner.access_token), query, json!({ "id": id }))
        .await;
    assert_eq!(mine["tenant"]["name"], "Ridge Kennels");
    let theirs = app
        .gql(Some(&stranger.access_token), query, json!({ "id": id }))
        .await;
    assert!(theirs["tenant"].is_null());
    let anonymous = app.gql(None, query, json!({ "id": id })).await;
    assert!(anonymous["tenant"].is_null());

    let viewer = app
        .gql(
            Some(&owner.access_token),
            "{ viewer { tenants { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(viewer["viewer"]["tenants"], json!([{ "id": id }]));

    // A second tenant of the same name gets its own slug.
    let again = app
        .gql(
            Some(&stranger.access_token),
            CREATE_TENANT,
            json!({ "input": { "name": "Ridge Kennels" } }),
        )
        .await;
    let slug = again["createTenant"]["tenant"]["slug"]
        .as_str()
        .expect("slug");
    assert!(
        slug.starts_with("ridge-kennels-") && slug.len() > "ridge-kennels-".len(),
        "{slug}"
    );
}

#[tokio::test]
async fn only_members_change_a_tenant_and_bounds_hold() {
    let app = spawn_app().await;
    let owner = app.register("o@example.com", "O").await;
    let stranger = app.register("s@example.com", "S").await;
    let created = app
        .gql(
            Some(&owner.access_token),
            CREATE_TENANT,
            json!({ "input": { "name": "Acme" } }),
        )
        .await;
    let id = created["createTenant"]["tenant"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let changed = app
        .gql(
            Some(&owner.access_token),
            UPDATE_TENANT,
            json!({ "input": { "tenantId": id, "name": "Acme Reads", "paymentMode": "STRIPE" } }),
        )
        .await;
    assert_eq!(changed["updateTenant"]["tenant"]["name"], "Acme Reads");
    assert_eq!(changed["updateTenant"]["tenant"]["paymentMode"], "STRIPE");

    // A stranger and an unknown id get the same answer: NOT_FOUND, nothing leaked.
    let ghost = api::ids::new_id(api::ids::Kind::Tenant);
    for (session, tenant) in [(&stranger, id.as_str()), (&owner, ghost.as_str())] {
        let refused = app
            .gql(
                Some(&session.access_token),
                UPDATE_TENANT,
                json!({ "input": { "tenantId": tenant, "name": "Hijacked" } }),
            )
            .await;
        assert_eq!(error_codes(&refused["updateTenant"]), vec!["NOT_FOUND"]);
        assert_eq!(
            refused["updateTenant"]["userErrors"][0]["message"],
            "no such tenant"
        );
    }

    let too_long = app
        .gql(
            Some(&owner.access_token),
            UPDATE_TENANT,
            json!({ "input": { "tenantId": id, "name": "x".repeat(201) } }),
        )
        .await;
    assert_eq!(error_codes(&too_long["updateTenant"]), vec!["INVALID"]);
    let blank = app
        .gql(
            Some(&owner.access_token),
            CREATE_TENANT,
            json!({ "input": { "name": " " } }),
        )
        .await;
    assert_eq!(error_codes(&blank["createTenant"]), vec!["INVALID"]);

    let (_, anonymous) = app
        .post(None, CREATE_TENANT, json!({ "input": { "name": "Anon" } }))
        .await;
    assert_eq!(top_level_code(&anonymous), "UNAUTHENTICATED");
}

#[tokio::test]
async fn create_provider_makes_a_personal_tenant_and_the_provider_role() {
    let app = spawn_app().await;
    let user = app.register("pro@example.com", "Pro").await;
    let payload = app
        .create_provider(
            &user,
            json!({ "displayName": "Pro Reader", "bio": "Ten years at studios", "specialties": ["Drama", "drama", "Horror"], "city": "Austin", "state": "TX" }),
        )
        .await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    let provider = &payload["provider"];
    assert_eq!(provider["status"], "PENDING_VERIFICATION");
    assert_eq!(provider["tenant"]["paymentMode"], "STRIPE");
    // Simulated payments complete onboarding at once and hand back a link.
    assert_eq!(provider["tenant"]["stripeOnboardingComplete"], true);
    assert!(payload["onboardingUrl"]
        .as_str()
        .is_some_and(|u| u.contains("simulated")));

    let viewer = app
        .gql(
            Some(&user.access_token),
            "{ viewer { roles provider { id specialties city state } tenants { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(viewer["viewer"]["roles"], json!(["BUYER", "PROVIDER"]));
    assert_eq!(viewer["viewer"]["provider"]["id"], provider["id"]);
    assert_eq!(
        viewer["viewer"]["provider"]["specialties"],
        json!(["Drama", "Horror"])
    );
    assert_eq!(
        viewer["viewer"]["tenants"][0]["id"],
        provider["tenant"]["id"]
    );

    let twice = app
        .create_provider(&user, json!({ "displayName": "Again" }))
        .await;
    assert_eq!(error_codes(&twice), vec!["ALREADY_EXISTS"]);
}

#[tokio::test]
async fn a_provider_joins_only_a_tenant_its_user_belongs_to() {
    let app = spawn_app().await;
    let owner = app.register("kennel@example.com", "Kennel").await;
    let outsider = app.register("out@example.com", "Out").await;
    let created = app
        .gql(
            Some(&owner.access_token),
            CREATE_TENANT,
            json!({ "input": { "name": "Kennel Co" } }),
        )
        .await;
    let tenant_id = created["createTenant"]["tenant"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let refused = app
        .create_provider(
            &outsider,
            json!({ "displayName": "Sneaky", "tenantId": tenant_id }),
        )
        .await;
    assert_eq!(error_codes(&refused), vec!["NOT_FOUND"]);
    assert_eq!(
        refused["userErrors"][0]["field"],
        json!(["input", "tenantId"])
    );

    let joined = app
        .create_provider(
            &owner,
            json!({ "displayName": "Kennel Breeder", "type": "BREEDER", "tenantId": tenant_id }),
        )
        .await;
    assert_eq!(joined["userErrors"], json!([]));
    assert_eq!(joined["provider"]["tenant"]["id"], tenant_id.as_str());
    assert_eq!(joined["provider"]["tenant"]["paymentMode"], "MANUAL");
    assert!(joined["onboardingUrl"].is_null());
}

#[tokio::test]
async fn provider_bounds_are_enforced_at_the_limit_and_past_it() {
    let app = spawn_app().await;
    let cases = [
        (json!({ "displayName": "n".repeat(200) }), true),
        (json!({ "displayName": "n".repeat(201) }), false),
        (json!({ "displayName": "" }), false),
        (json!({ "displayName": "B", "bio": "b".repeat(5000) }), true),
        (
            json!({ "displayName": "B", "bio": "b".repeat(5001) }),
            false,
        ),
        (
            json!({ "displayName": "S", "specialties": (0..20).map(|i| format!("s{i}")).collect::<Vec<_>>() }),
            true,
        ),
        (
            json!({ "displayName": "S", "specialties": (0..21).map(|i| format!("s{i}")).collect::<Vec<_>>() }),
            false,
        ),
        (
            json!({ "displayName": "S", "specialties": ["x".repeat(50)] }),
            true,
        ),
        (
            json!({ "displayName": "S", "specialties": ["x".repeat(51)] }),
            false,
        ),
    ];
    for (i, (input, ok)) in cases.into_iter().enumerate() {
        let user = app.register(&format!("b{i}@example.com"), "B").await;
        let payload = app.create_provider(&user, input).await;
        if ok {
            assert_eq!(payload["userErrors"], json!([]), "case {i}: {payload}");
        } else {
            assert_eq!(
                error_codes(&payload),
                vec!["INVALID"],
                "case {i}: {payload}"
            );
            assert!(payload["provider"].is_null());
        }
    }
}

const UPDATE_PROVIDER: &str = "mutation($input: UpdateProviderInput!) { updateProvider(input: $input) { provider { id displayName bio specialties } userErrors { field message code } } }";

#[tokio::test]
async fn only_the_owner_updates_a_provider() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "sel@example.com", "Sel", json!({}))
        .await;
    let other = app.register("oth@example.com", "Oth").await;

    let updated = app
        .gql(
            Some(&seller.session.access_token),
            UPDATE_PROVIDER,
            json!({ "input": { "providerId": seller.provider_id, "bio": "New bio", "specialties": ["Comedy"] } }),
        )
        .await;
    assert_eq!(updated["updateProvider"]["provider"]["bio"], "New bio");
    assert_eq!(
        updated["updateProvider"]["provider"]["specialties"],
        json!(["Comedy"])
    );

    for session in [&other, &admin] {
        let refused = app
            .gql(
                Some(&session.access_token),
                UPDATE_PROVIDER,
                json!({ "input": { "providerId": seller.provider_id, "bio": "Hacked" } }),
            )
            .await;
        assert_eq!(error_codes(&refused["updateProvider"]), vec!["NOT_FOUND"]);
    }
}

#[tokio::test]
async fn admins_verify_suspend_and_deactivate_providers_and_each_change_is_kept() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let user = app.register("v@example.com", "V").await;
    let created = app
        .create_provider(&user, json!({ "displayName": "V Reads" }))
        .await;
    let id = created["provider"]["id"].as_str().expect("id").to_owned();

    // Non-admins may not.
    let (_, body) = app
        .post(
            Some(&user.access_token),
            SET_PROVIDER_STATUS,
            json!({ "input": { "providerId": id, "status": "ACTIVE", "reason": "self" } }),
        )
        .await;
    assert_eq!(top_level_code(&body), "FORBIDDEN");

    // PENDING cannot be suspended; it can be verified; then suspended and reinstated.
    let refused = app.set_provider_status(&admin, &id, "SUSPENDED").await;
    assert_eq!(error_codes(&refused), vec!["INVALID_STATE"]);
    for status in ["ACTIVE", "SUSPENDED", "ACTIVE", "DEACTIVATED"] {
        let moved = app.set_provider_status(&admin, &id, status).await;
        assert_eq!(moved["userErrors"], json!([]), "{status}: {moved}");
        assert_eq!(moved["provider"]["status"], status);
    }
    // Deactivation is final.
    let refused = app.set_provider_status(&admin, &id, "ACTIVE").await;
    assert_eq!(error_codes(&refused), vec!["INVALID_STATE"]);

    let ghost = app
        .set_provider_status(
            &admin,
            &api::ids::new_id(api::ids::Kind::Provider),
            "ACTIVE",
        )
        .await;
    assert_eq!(error_codes(&ghost), vec!["NOT_FOUND"]);
    let no_reason = app
        .gql(
            Some(&admin.access_token),
            SET_PROVIDER_STATUS,
            json!({ "input": { "providerId": id, "status": "ACTIVE", "reason": "" } }),
        )
        .await;
    assert_eq!(
        error_codes(&no_reason["setProviderStatus"]),
        vec!["INVALID"]
    );

    // Every change is kept, with its reason and actor.
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let history = entity::provider_status_changes::Entity::find()
        .filter(entity::provider_status_changes::Column::ProviderId.eq(id.clone()))
        .order_by_asc(entity::provider_status_changes::Column::Id)
        .all(&db.reader)
        .await
        .expect("history");
    let moves: Vec<_> = history
        .iter()
        .map(|h| sea_orm::ActiveEnum::to_value(&h.to_status))
        .collect();
    assert_eq!(
        moves,
        vec![
            "PENDING_VERIFICATION",
            "ACTIVE",
            "SUSPENDED",
            "ACTIVE",
            "DEACTIVATED"
        ]
    );
    assert!(history[1..]
        .iter()
        .all(|h| h.actor_id.as_deref() == Some(admin.id.as_str())));
}

#[tokio::test]
async fn unverified_providers_are_hidden_from_everyone_but_their_user_and_admins() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let user = app.register("hid@example.com", "Hid").await;
    let created = app
        .create_provider(&user, json!({ "displayName": "Hidden" }))
        .await;
    let id = created["provider"]["id"].as_str().expect("id").to_owned();
    let query = "query($id: ID!) { provider(id: $id) { id } node(id: $id) { id } }";
    let anonymous = app.gql(None, query, json!({ "id": id })).await;
    assert!(anonymous["provider"].is_null() && anonymous["node"].is_null());
    let own = app
        .gql(Some(&user.access_token), query, json!({ "id": id }))
        .await;
    assert_eq!(own["provider"]["id"], id.as_str());
    let by_admin = app
        .gql(Some(&admin.access_token), query, json!({ "id": id }))
        .await;
    assert_eq!(by_admin["node"]["id"], id.as_str());
}

#[tokio::test]
async fn earnings_are_for_the_owner_and_admins_only() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app
        .seller(&admin, "earn@example.com", "Earn", json!({}))
        .await;
    let other = app.register("nosy2@example.com", "Nosy").await;
    let query = "query($id: ID!) { provider(id: $id) { earnings { paidOut { cents } pending { cents } platformFees { cents } refunded { cents } completedOrders } } }";
    let own = app
        .gql(
            Some(&seller.session.access_token),
            query,
            json!({ "id": seller.provider_id }),
        )
        .await;
    assert_eq!(own["provider"]["earnings"]["paidOut"]["cents"], "0");
    assert_eq!(own["provider"]["earnings"]["completedOrders"], 0);
    let by_admin = app
        .gql(
            Some(&admin.access_token),
            query,
            json!({ "id": seller.provider_id }),
        )
        .await;
    assert!(by_admin["provider"]["earnings"].is_object());
    let by_other = app
        .gql(
            Some(&other.access_token),
            query,
            json!({ "id": seller.provider_id }),
        )
        .await;
    assert!(by_other["provider"]["earnings"].is_null());
}

const START_ONBOARDING: &str = "mutation($id: ID!) { startProviderOnboarding(input: { providerId: $id }) { provider { id } onboardingUrl userErrors { field code } } }";

#[tokio::test]
async fn onboarding_links_are_for_the_owner_of_a_stripe_tenant_only() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app.seller(&admin, "ob@example.com", "Ob", json!({})).await;
    let other = app.register("ob2@example.com", "Ob2").await;

    let own = app
        .gql(
            Some(&seller.session.access_token),
            START_ONBOARDING,
            json!({ "id": seller.provider_id }),
        )
        .await;
    assert_eq!(own["startProviderOnboarding"]["userErrors"], json!([]));
    assert!(own["startProviderOnboarding"]["onboardingUrl"].is_string());

    for session in [&other, &admin] {
        let refused = app
            .gql(
                Some(&session.access_token),
                START_ONBOARDING,
                json!({ "id": seller.provider_id }),
            )
            .await;
        assert_eq!(
            error_codes(&refused["startProviderOnboarding"]),
            vec!["NOT_FOUND"]
        );
    }

    // A MANUAL tenant has nothing to onboard.
    app.gql(
        Some(&seller.session.access_token),
        "mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { userErrors { code } } }",
        json!({ "input": { "tenantId": seller.tenant_id, "paymentMode": "MANUAL" } }),
    )
    .await;
    let manual = app
        .gql(
            Some(&seller.session.access_token),
            START_ONBOARDING,
            json!({ "id": seller.provider_id }),
        )
        .await;
    assert_eq!(
        error_codes(&manual["startProviderOnboarding"]),
        vec!["INVALID_STATE"]
    );
}

#[tokio::test]
async fn listing_status_is_changed_by_its_owner_or_an_admin_only() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = app.seller(&admin, "ls@example.com", "Ls", json!({})).await;
    let other = app
        .seller(&admin, "ls2@example.com", "Ls2", json!({}))
        .await;
    let id = app.listing(&seller, json!({})).await;
    let set = "mutation($input: SetListingStatusInput!) { setListingStatus(input: $input) { listing { status } userErrors { code } } }";
    let refused = app
        .gql(
            Some(&other.session.access_token),
            set,
            json!({ "input": { "listingId": id, "status": "ARCHIVED" } }),
        )
        .await;
    assert_eq!(error_codes(&refused["setListingStatus"]), vec!["NOT_FOUND"]);
    let ghost = app
        .gql(
            Some(&seller.session.access_token),
            set,
            json!({ "input": { "listingId": api::ids::new_id(api::ids::Kind::Listing), "status": "ARCHIVED" } }),
        )
        .await;
    assert_eq!(error_codes(&ghost["setListingStatus"]), vec!["NOT_FOUND"]);
    let moderated = app
        .gql(
            Some(&admin.access_token),
            set,
            json!({ "input": { "listingId": id, "status": "PAUSED" } }),
        )
        .await;
    assert_eq!(moderated["setListingStatus"]["listing"]["status"], "PAUSED");
    let (_, anonymous) = app
        .post(
            None,
            set,
            json!({ "input": { "listingId": id, "status": "ACTIVE" } }),
        )
        .await;
    assert_eq!(top_level_code(&anonymous), "UNAUTHENTICATED");
}

/// Hardening finding 12: `provider { tenant { paymentInstructions } }` showed anyone what
/// `tenant(id)` hides. Payment instructions are for the tenant's members, admins and buyers
/// with an order of that tenant, however the tenant is reached. And a provider whose user is
/// suspended or banned leaves browsing and takes no order, like a suspended provider.
#[tokio::test]
async fn payment_instructions_follow_one_rule_and_a_suspended_users_provider_leaves_the_market() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let seller = manual_seller(&app, &admin, "instructions@example.com").await;
    let listing = app.listing(&seller, json!({ "priceCents": "5000" })).await;
    let buyer = app.register("instr-buyer@example.com", "Buyer").await;
    let stranger = app.register("instr-stranger@example.com", "Stranger").await;
    let query = "query($id: ID!) { provider(id: $id) { tenant { paymentInstructions } } }";
    let seen = |token: Option<String>| {
        let app = &app;
        let id = seller.provider_id.clone();
        async move {
            app.gql(token.as_deref(), query, json!({ "id": id })).await["provider"]["tenant"]
                ["paymentInstructions"]
                .clone()
        }
    };
    assert_eq!(seen(None).await, serde_json::Value::Null, "anonymous");
    assert_eq!(
        seen(Some(stranger.access_token.clone())).await,
        serde_json::Value::Null
    );
    assert_eq!(
        seen(Some(buyer.access_token.clone())).await,
        serde_json::Value::Null,
        "before ordering"
    );
    assert_eq!(
        seen(Some(seller.session.access_token.clone())).await,
        "Bank transfer"
    );
    assert_eq!(
        seen(Some(admin.access_token.clone())).await,
        "Bank transfer"
    );
    let place = "mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { id } userErrors { code } } }";
    let placed = app
        .gql(Some(&buyer.access_token), place, json!({ "l": listing }))
        .await;
    assert_eq!(placed["placeOrder"]["userErrors"], json!([]), "{placed}");
    assert_eq!(
        seen(Some(buyer.access_token.clone())).await,
        "Bank transfer",
        "a buyer of the tenant"
    );

    // The seller's account is suspended: the provider follows, leaves browsing and takes no
    // new order; the change is kept with its reason.
    let suspended = app
        .gql(
            Some(&admin.access_token),
            "mutation($i: SetUserStatusInput!) { setUserStatus(input: $i) { userErrors { code } } }",
            json!({ "i": { "userId": seller.session.id, "status": "SUSPENDED", "reason": "chargeback fraud" } }),
        )
        .await;
    assert_eq!(
        suspended["setUserStatus"]["userErrors"],
        json!([]),
        "{suspended}"
    );
    let public = app
        .gql(
            None,
            "query($id: ID!) { provider(id: $id) { id } listings { totalCount } }",
            json!({ "id": seller.provider_id }),
        )
        .await;
    assert_eq!(public["provider"], serde_json::Value::Null, "{public}");
    assert_eq!(public["listings"]["totalCount"], 0, "{public}");
    let refused = app
        .gql(Some(&stranger.access_token), place, json!({ "l": listing }))
        .await;
    assert_eq!(
        error_codes(&refused["placeOrder"]),
        vec!["NOT_FOUND"],
        "{refused}"
    );
    let status = app
        .gql(
            Some(&admin.access_token),
            "query($id: ID!) { provider(id: $id) { status } }",
            json!({ "id": seller.provider_id }),
        )
        .await;
    assert_eq!(status["provider"]["status"], "SUSPENDED", "{status}");
}
