//! Accounts through the API: register, login, refresh rotation and reuse detection, logout,
//! moderation, token expiry and refusal of bad tokens.
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn register_returns_a_session_and_the_private_profile() {
    let app = spawn_app().await;
    let data = app
        .gql(
            None,
            REGISTER,
            json!({ "input": { "email": "  Ada@Example.COM ", "password": PASSWORD, "displayName": " Ada " } }),
        )
        .await;
    let payload = &data["register"];
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["user"]["email"], "ada@example.com");
    assert_eq!(payload["user"]["displayName"], "Ada");
    assert_eq!(payload["user"]["roles"], json!(["BUYER"]));
    assert_eq!(payload["user"]["status"], "ACTIVE");
    assert!(payload["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .starts_with("usr_"));
    assert!(payload["refreshToken"]
        .as_str()
        .unwrap_or_default()
        .starts_with("rt_"));
    let expires = payload["expiresAt"].as_str().expect("expiresAt");
    assert!(expires.ends_with('Z'), "{expires}");

    // The access token works at once.
    let token = payload["accessToken"].as_str().expect("token");
    let viewer = app.gql(Some(token), VIEWER, json!({})).await;
    assert_eq!(viewer["viewer"]["id"], payload["user"]["id"]);
    assert_eq!(viewer["viewer"]["email"], "ada@example.com");
}

#[tokio::test]
async fn register_refuses_each_bad_field_with_its_path() {
    let app = spawn_app().await;
    let data = app
        .gql(
            None,
            REGISTER,
            json!({ "input": { "email": "not-an-email", "password": "short", "displayName": "" } }),
        )
        .await;
    let payload = &data["register"];
    assert!(payload["user"].is_null());
    assert!(payload["accessToken"].is_null());
    let errors = payload["userErrors"].as_array().expect("errors");
    let fields: Vec<_> = errors
        .iter()
        .map(|e| e["field"][1].as_str().unwrap_or_default())
        .collect();
    assert_eq!(fields, vec!["email", "password", "displayName"]);
    assert!(errors.iter().all(|e| e["code"] == "INVALID"));
}

#[tokio::test]
async fn register_enforces_password_and_name_bounds_at_the_limit_and_past_it() {
    let app = spawn_app().await;
    let cases = [
        ("a1@example.com", "x".repeat(7), "Name".to_owned(), false),
        ("a2@example.com", "x".repeat(8), "Name".to_owned(), true),
        ("a3@example.com", "x".repeat(128), "Name".to_owned(), true),
        ("a4@example.com", "x".repeat(129), "Name".to_owned(), false),
        ("a5@example.com", PASSWORD.to_owned(), "n".repeat(100), true),
        (
            "a6@example.com",
            PASSWORD.to_owned(),
            "n".repeat(101),
            false,
        ),
    ];
    for (email, password, name, ok) in cases {
        let data = app
            .gql(
                None,
                REGISTER,
                json!({ "input": { "email": email, "password": password, "displayName": name } }),
            )
            .await;
        let payload = &data["register"];
        if ok {
            assert_eq!(payload["userErrors"], json!([]), "{email}: {payload}");
        } else {
            assert_eq!(error_codes(payload), vec!["INVALID"], "{email}: {payload}");
        }
    }
}

#[tokio::test]
async fn a_duplicate_email_is_refused_whatever_its_case() {
    let app = spawn_app().await;
    app.register("dup@example.com", "First").await;
    let data = app
        .gql(
            None,
            REGISTER,
            json!({ "input": { "email": "DUP@example.com", "password": PASSWORD, "displayName": "Second" } }),
        )
        .await;
    let payload = &data["register"];
    assert_eq!(error_codes(payload), vec!["ALREADY_EXISTS"]);
    assert_eq!(payload["userErrors"][0]["field"], json!(["input", "email"]));
}

#[tokio::test]
async fn racing_registrations_of_one_email_make_one_account() {
    let app = spawn_app().await;
    let attempts = (0..5).map(|i| {
        app.post(
            None,
            REGISTER,
            json!({ "input": { "email": "race@example.com", "password": PASSWORD, "displayName": format!("R{i}") } }),
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut created = 0;
    for (status, body) in results {
        assert_eq!(status, 200, "{body}");
        let payload = &body["data"]["register"];
        if payload["userErrors"] == json!([]) {
            created += 1;
        } else {
            assert_eq!(error_codes(payload), vec!["ALREADY_EXISTS"], "{body}");
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn login_succeeds_with_any_email_case() {
    let app = spawn_app().await;
    let registered = app.register("login@example.com", "Lee").await;
    let payload = app.login("LOGIN@example.com", PASSWORD).await;
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["user"]["id"], registered.id.as_str());
    assert_ne!(payload["refreshToken"], registered.refresh_token.as_str());
}

#[tokio::test]
async fn login_failures_say_the_same_thing() {
    let app = spawn_app().await;
    app.register("known@example.com", "Known").await;
    let wrong_password = app.login("known@example.com", "wrong password").await;
    let unknown_email = app.login("unknown@example.com", PASSWORD).await;
    let malformed = app.login("nonsense", PASSWORD).await;
    for payload in [&wrong_password, &unknown_email, &malformed] {
        assert!(payload["accessToken"].is_null());
        assert_eq!(payload["userErrors"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            payload["userErrors"][0]["message"],
            "invalid email or password"
        );
        assert_eq!(payload["userErrors"][0]["code"], "INVALID");
    }
    assert_eq!(wrong_password["userErrors"], unknown_email["userErrors"]);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let app = spawn_app().await;
    let first = app.register("rot@example.com", "Rot").await;

    let rotated = app
        .gql(
            None,
            REFRESH,
            json!({ "input": { "refreshToken": first.refresh_token } }),
        )
        .await["refreshSession"]
        .clone();
    assert_eq!(rotated["userErrors"], json!([]));
    let second = session_of(&rotated);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.id, first.id);
    let viewer = app.gql(Some(&second.access_token), VIEWER, json!({})).await;
    assert_eq!(viewer["viewer"]["id"], first.id.as_str());

    // The spent token presented again at once (a second tab): the same new refresh token.
    let twin = app
        .gql(
            None,
            REFRESH,
            json!({ "input": { "refreshToken": first.refresh_token } }),
        )
        .await["refreshSession"]
        .clone();
    assert_eq!(twin["userErrors"], json!([]), "{twin}");
    assert_eq!(session_of(&twin).refresh_token, second.refresh_token);

    // Past the grace window it is reuse: refused, and the whole family is revoked.
    app.clock.advance(chrono::Duration::seconds(21));
    let reused = app
        .gql(
            None,
            REFRESH,
            json!({ "input": { "refreshToken": first.refresh_token } }),
        )
        .await["refreshSession"]
        .clone();
    assert_eq!(error_codes(&reused), vec!["INVALID"]);
    let after_theft = app
        .gql(
            None,
            REFRESH,
            json!({ "input": { "refreshToken": second.refresh_token } }),
        )
        .await["refreshSession"]
        .clone();
    assert_eq!(error_codes(&after_theft), vec!["INVALID"]);

    // Another login is a different family and keeps working.
    let other = session_of(&app.login("rot@example.com", PASSWORD).await);
    let ok = app
        .gql(
            None,
            REFRESH,
            json!({ "input": { "refreshToken": other.refresh_token } }),
        )
        .await["refreshSession"]
        .clone();
    assert_eq!(ok["userErrors"], json!([]));
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_share_one_successor() {
    let app = spawn_app().await;
    let session = app.register("twice@example.com", "Twice").await;
    let attempts = (0..4).map(|_| {
        app.post(
            None,
            REFRESH,
            json!({ "input": { "refreshToken": session.refresh_token } }),
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    // Two tabs refreshing at once: whoever wins the rotation, every answer that succeeds
    // carries the same new refresh token (one session, not four), and it works.
    let successors: std::collections::BTreeSet<String> = results
        .iter()
        .filter(|(_, body)| body["data"]["refreshSession"]["userErrors"] == json!([]))
        .filter_map(|(_, body)| body["data"]["refreshSession"]["refreshToken"].as_str())
        .map(str::to_owned)
        .collect();
    assert_eq!(successors.len(), 1, "{results:?}");
    let next = successors.into_iter().next().unwrap_or_default();
    let rotated = app
        .gql(None, REFRESH, json!({ "input": { "refreshToken": next } }))
        .await["refreshSession"]
        .clone();
    assert_eq!(rotated["userErrors"], json!([]), "{rotated}");
}

#[tokio::test]
async fn an_unknown_refresh_token_is_refused() {
    let app = spawn_app().await;
    let payload = app
        .gql(
            None,
            REFRESH,
            json!({ "input": { "refreshToken": "rt_made_up" } }),
        )
        .await["refreshSession"]
        .clone();
    assert_eq!(error_codes(&payload), vec!["INVALID"]);
    assert!(payload["accessToken"].is_null());
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let app = spawn_app_with(&["--refresh-token-ttl-days", "0"]).await;
    let session = app.register("old@example.com", "Old").await;
    let payload = app
        .gql(
            None,
            REFRESH,
            json!({ "input": { "refreshToken": session.refresh_token } }),
        )
        .await["refreshSession"]
        .clone();
    assert_eq!(error_codes(&payload), vec!["INVALID"]);
}

#[tokio::test]
async fn logout_ends_the_session_and_is_refused_for_unknown_tokens() {
    let app = spawn_app().await;
    let session = app.register("bye@example.com", "Bye").await;
    let logout = "mutation($t: String!) { logout(input: { refreshToken: $t }) { ok userErrors { code field } } }";
    let data = app
        .gql(None, logout, json!({ "t": session.refresh_token }))
        .await;
    assert_eq!(data["logout"]["ok"], true);
    let refresh = app
        .gql(
            None,
            REFRESH,
            json!({ "input": { "refreshToken": session.refresh_token } }),
        )
        .await["refreshSession"]
        .clone();
    assert_eq!(error_codes(&refresh), vec!["INVALID"]);

    let unknown = app.gql(None, logout, json!({ "t": "rt_nope" })).await;
    assert_eq!(unknown["logout"]["ok"], false);
    assert_eq!(error_codes(&unknown["logout"]), vec!["INVALID"]);
}

const SET_STATUS: &str = "mutation($input: SetUserStatusInput!) { setUserStatus(input: $input) { user { id status statusReason } userErrors { field message code } } }";

/// Hardening finding 4: whoever registered an ADMIN_EMAILS address first (any case, trailing
/// space) became an admin. Registering grants nothing now; ADMIN goes to accounts that exist
/// when the server starts, or to the one `marketplace admin grant EMAIL` names.
#[tokio::test]
async fn admins_are_granted_to_existing_accounts_never_by_registering() {
    let app = spawn_app().await;
    let squatter = app.register(" Admin@Example.COM ", "First Comer").await;
    let viewer = app
        .gql(Some(&squatter.access_token), VIEWER, json!({}))
        .await;
    assert_eq!(
        viewer["viewer"]["roles"],
        json!(["BUYER"]),
        "registering grants nothing"
    );
    let (_, listing) = app
        .post(
            Some(&squatter.access_token),
            "{ users(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(top_level_code(&listing), "FORBIDDEN", "{listing}");

    // At the next start the listed account, which exists now, is an admin (the operator's
    // choice of address); the same token sees it, since roles are read on every request.
    api::services::accounts::bootstrap_admins(&app.state)
        .await
        .expect("bootstrap");
    let viewer = app
        .gql(Some(&squatter.access_token), VIEWER, json!({}))
        .await;
    assert_eq!(viewer["viewer"]["roles"], json!(["BUYER", "ADMIN"]));

    // `admin grant` names an existing account; an unknown address is refused.
    let other = app.register("second-admin@example.com", "Second").await;
    api::services::accounts::grant_admin(&app.state, "Second-Admin@example.com")
        .await
        .expect("grant");
    let viewer = app.gql(Some(&other.access_token), VIEWER, json!({})).await;
    assert_eq!(viewer["viewer"]["roles"], json!(["BUYER", "ADMIN"]));
    assert!(
        api::services::accounts::grant_admin(&app.state, "nobody@example.com")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_suspended_user_loses_every_session_at_once() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let user = app.register("bad@example.com", "Bad").await;

    let data = app
        .gql(
            Some(&admin.access_token),
            SET_STATUS,
            json!({ "input": { "userId": user.id, "status": "SUSPENDED", "reason": "spam" } }),
        )
        .await;
    let payload = &data["setUserStatus"];
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["user"]["status"], "SUSPENDED");
    assert_eq!(payload["user"]["statusReason"], "spam");

    // The access token, still unexpired, is refused at once.
    let (status, body) = app.post(Some(&user.access_token), VIEWER, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(top_level_code(&body), "UNAUTHENTICATED");
    // Refresh and login are refused too.
    let refresh = app
        .gql(
            None,
            REFRESH,
            json!({ "input": { "refreshToken": user.refresh_token } }),
        )
        .await["refreshSession"]
        .clone();
    assert!(refresh["accessToken"].is_null());
    let login = app.login("bad@example.com", PASSWORD).await;
    assert_eq!(error_codes(&login), vec!["NOT_ALLOWED"]);

    // Reactivated, the user can log in again.
    let data = app
        .gql(
            Some(&admin.access_token),
            SET_STATUS,
            json!({ "input": { "userId": user.id, "status": "ACTIVE", "reason": "appeal granted" } }),
        )
        .await;
    assert_eq!(data["setUserStatus"]["user"]["status"], "ACTIVE");
    let login = app.login("bad@example.com", PASSWORD).await;
    assert_eq!(login["userErrors"], json!([]));
}

#[tokio::test]
async fn a_banned_user_cannot_log_in() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let user = app.register("ban@example.com", "Ban").await;
    app.gql(
        Some(&admin.access_token),
        SET_STATUS,
        json!({ "input": { "userId": user.id, "status": "BANNED", "reason": "fraud" } }),
    )
    .await;
    let login = app.login("ban@example.com", PASSWORD).await;
    assert_eq!(error_codes(&login), vec!["NOT_ALLOWED"]);
}

#[tokio::test]
async fn set_user_status_is_for_admins_only() {
    let app = spawn_app().await;
    let user = app.register("plain@example.com", "Plain").await;
    let other = app.register("other@example.com", "Other").await;
    let input = json!({ "input": { "userId": other.id, "status": "BANNED", "reason": "because" } });

    let (status, body) = app
        .post(Some(&user.access_token), SET_STATUS, input.clone())
        .await;
    assert_eq!(status, 200);
    assert_eq!(top_level_code(&body), "FORBIDDEN");

    let (_, body) = app.post(None, SET_STATUS, input).await;
    assert_eq!(top_level_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn set_user_status_refuses_unknown_users_self_and_empty_reasons() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let user = app.register("target@example.com", "Target").await;
    let ghost = api::ids::new_id(api::ids::Kind::User);
    let cases = [
        (ghost.as_str(), "gone", "NOT_FOUND"),
        ("not-an-id", "gone", "NOT_FOUND"),
        (admin.id.as_str(), "oops", "NOT_ALLOWED"),
        (user.id.as_str(), "   ", "INVALID"),
    ];
    for (id, reason, code) in cases {
        let data = app
            .gql(
                Some(&admin.access_token),
                SET_STATUS,
                json!({ "input": { "userId": id, "status": "SUSPENDED", "reason": reason } }),
            )
            .await;
        assert_eq!(error_codes(&data["setUserStatus"]), vec![code], "{id}");
        assert!(data["setUserStatus"]["user"].is_null());
    }
}

#[tokio::test]
async fn an_expired_access_token_is_unauthenticated() {
    let app = spawn_app().await;
    let user = app.register("exp@example.com", "Exp").await;
    let keys = api::auth::JwtKeys::new(
        &app.settings.jwt_secret,
        std::time::Duration::from_secs(900),
    );
    let issued = chrono::Utc::now() - chrono::Duration::minutes(16);
    let (expired, _) = keys
        .issue(&user.id, vec!["BUYER".into()], issued)
        .expect("token");
    let (status, body) = app.post(Some(&expired), VIEWER, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(top_level_code(&body), "UNAUTHENTICATED");
    assert!(body.get("data").is_none(), "{body}");

    // The same user with a fresh token is fine.
    let (fresh, _) = keys
        .issue(&user.id, vec!["BUYER".into()], chrono::Utc::now())
        .expect("token");
    let data = app.gql(Some(&fresh), VIEWER, json!({})).await;
    assert_eq!(data["viewer"]["id"], user.id.as_str());
}

#[tokio::test]
async fn a_short_access_token_ttl_is_honoured() {
    let app = spawn_app_with(&["--access-token-ttl-secs", "60"]).await;
    let payload = app
        .gql(
            None,
            REGISTER,
            json!({ "input": { "email": "ttl@example.com", "password": PASSWORD, "displayName": "T" } }),
        )
        .await["register"]
        .clone();
    let expires =
        chrono::DateTime::parse_from_rfc3339(payload["expiresAt"].as_str().expect("expiresAt"))
            .expect("rfc3339");
    let left = expires
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!((50..=60).contains(&left), "{left}");
}

#[tokio::test]
async fn bad_tokens_are_refused_never_anonymous() {
    let app = spawn_app().await;
    let other_keys = api::auth::JwtKeys::new(
        &secrecy::SecretString::from("some-other-secret-that-is-long-enough!".to_owned()),
        std::time::Duration::from_secs(900),
    );
    let user = app.register("forge@example.com", "Forge").await;
    let (forged, _) = other_keys
        .issue(&user.id, vec!["ADMIN".into()], chrono::Utc::now())
        .expect("token");
    for token in ["garbage", "", forged.as_str()] {
        let response = app
            .client
            .post(app.graphql_url())
            .header("authorization", format!("Bearer {token}"))
            .json(&json!({ "query": VIEWER }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 401, "{token}");
        assert!(response.headers().contains_key("www-authenticate"));
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(top_level_code(&body), "UNAUTHENTICATED", "{token}");
    }
    // A scheme other than Bearer is refused as well.
    let response = app
        .client
        .post(app.graphql_url())
        .header("authorization", format!("Basic {}", user.access_token))
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn a_token_of_a_deleted_user_is_refused() {
    // A token whose subject does not exist (e.g. an id from another environment).
    let app = spawn_app().await;
    let keys = api::auth::JwtKeys::new(
        &app.settings.jwt_secret,
        std::time::Duration::from_secs(900),
    );
    let ghost = api::ids::new_id(api::ids::Kind::User);
    let (token, _) = keys
        .issue(&ghost, vec![], chrono::Utc::now())
        .expect("token");
    let (status, body) = app.post(Some(&token), VIEWER, json!({})).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn anonymous_viewer_is_null() {
    let app = spawn_app().await;
    let data = app.gql(None, VIEWER, json!({})).await;
    assert!(data["viewer"].is_null());
}

#[tokio::test]
async fn email_is_private_to_its_owner_and_admins() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let ann = app.register("ann@example.com", "Ann").await;
    let bob = app.register("bob@example.com", "Bob").await;
    let query = "query($id: ID!) { node(id: $id) { id ... on User { email displayName } } }";
    let vars = json!({ "id": ann.id });
    let by_bob = app.gql(Some(&bob.access_token), query, vars.clone()).await;
    assert!(by_bob["node"]["email"].is_null());
    assert_eq!(by_bob["node"]["displayName"], "Ann");
    let anonymous = app.gql(None, query, vars.clone()).await;
    assert!(anonymous["node"]["email"].is_null());
    let by_ann = app.gql(Some(&ann.access_token), query, vars.clone()).await;
    assert_eq!(by_ann["node"]["email"], "ann@example.com");
    let by_admin = app.gql(Some(&admin.access_token), query, vars).await;
    assert_eq!(by_admin["node"]["email"], "ann@example.com");
}

const USERS: &str = "query($first: Int, $after: String, $filter: UserFilter) { users(first: $first, after: $after, filter: $filter) { totalCount nodes { id displayName } edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

#[tokio::test]
async fn admins_page_through_users_without_gaps_or_duplicates() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let mut expected = vec![admin.id.clone()];
    for i in 0..7 {
        expected.push(
            app.register(&format!("u{i}@example.com"), &format!("User {i}"))
                .await
                .id,
        );
    }
    expected.reverse(); // newest first

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app
            .gql(
                Some(&admin.access_token),
                USERS,
                json!({ "first": 3, "after": after }),
            )
            .await;
        let users = &data["users"];
        assert_eq!(users["totalCount"], 8);
        for node in users["nodes"].as_array().expect("nodes") {
            seen.push(node["id"].as_str().expect("id").to_owned());
        }
        assert_eq!(users["pageInfo"]["hasPreviousPage"], after.is_some());
        if users["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = users["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, expected);

    let filtered = app
        .gql(
            Some(&admin.access_token),
            USERS,
            json!({ "filter": { "query": "user 3" } }),
        )
        .await;
    assert_eq!(filtered["users"]["totalCount"], 1);
    let admins = app
        .gql(
            Some(&admin.access_token),
            USERS,
            json!({ "filter": { "role": "ADMIN" } }),
        )
        .await;
    assert_eq!(admins["users"]["nodes"][0]["id"], admin.id.as_str());
    assert_eq!(admins["users"]["totalCount"], 1);
}

#[tokio::test]
async fn the_user_list_is_bounded_and_admin_only() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    let user = app.register("nosy@example.com", "Nosy").await;

    let (_, body) = app.post(Some(&user.access_token), USERS, json!({})).await;
    assert_eq!(top_level_code(&body), "FORBIDDEN");

    let (_, body) = app
        .post(Some(&admin.access_token), USERS, json!({ "first": 100 }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // Past the page size: refused before anything runs (MAX_PAGE_SIZE).
    let (status, body) = app
        .post(Some(&admin.access_token), USERS, json!({ "first": 101 }))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["limit"], "pageSize",
        "{body}"
    );
    let (_, body) = app
        .post(
            Some(&admin.access_token),
            USERS,
            json!({ "after": "forged-cursor" }),
        )
        .await;
    assert_eq!(top_level_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn the_user_search_takes_wildcards_literally() {
    let app = spawn_app().await;
    let admin = app.register_admin().await;
    app.register("snake_case@example.com", "Snake").await;
    app.register("plain@example.com", "Plain").await;
    let count = |q: &'static str| {
        let app = &app;
        let token = admin.access_token.clone();
        async move {
            app.gql(Some(&token), USERS, json!({ "filter": { "query": q } }))
                .await["users"]["totalCount"]
                .clone()
        }
    };
    assert_eq!(count("_").await, 1, "only the email with an underscore");
    assert_eq!(count("%").await, 0);
    assert_eq!(count("e_c").await, 1);
}
