//! Message threads through the API: who may start, read and write; unread counts and read
//! receipts; paging backwards; the order's one thread; the live `messageAdded` stream.
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::realtime::{deal, held_order};
use crate::ws_client::WsClient;

const THREAD: &str = "id subject status unreadCount lastMessageAt client { id } provider { id } listing { id } order { id }";

async fn start(app: &TestApp, who: &Session, input: Value) -> Value {
    let query = format!(
        "mutation($input: StartThreadInput!) {{ startThread(input: $input) {{ message {{ id body sender {{ id }} readAt }} thread {{ {THREAD} }} userErrors {{ field code message }} }} }}"
    );
    app.gql(Some(&who.access_token), &query, json!({ "input": input }))
        .await["startThread"]
        .clone()
}

async fn send(app: &TestApp, who: &Session, thread: &str, body: &str) -> Value {
    app.gql(
        Some(&who.access_token),
        "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id body sender { id } } thread { id status } userErrors { field code message } } }",
        json!({ "input": { "threadId": thread, "body": body } }),
    )
    .await["sendMessage"]
        .clone()
}

async fn thread_of(app: &TestApp, who: &Session, thread: &str, messages: &str) -> Value {
    let query = format!(
        "query($id: ID!) {{ messageThread(id: $id) {{ {THREAD} messages{messages} {{ totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} nodes {{ id body readAt sender {{ id }} }} }} }} }}"
    );
    app.gql(Some(&who.access_token), &query, json!({ "id": thread }))
        .await["messageThread"]
        .clone()
}

async fn unread_total(app: &TestApp, who: &Session) -> i64 {
    app.gql(Some(&who.access_token), "{ unreadMessageCount }", json!({}))
        .await["unreadMessageCount"]
        .as_i64()
        .expect("count")
}

#[tokio::test]
async fn a_buyer_and_a_provider_talk_with_unread_counts_and_read_receipts() {
    let app = spawn_app().await;
    let deal = deal(&app, "t").await;
    let provider = &deal.seller.session;
    let started = start(
        &app,
        &deal.buyer,
        json!({ "providerId": deal.seller.provider_id, "listingId": deal.listing, "subject": "  Question ", "body": "  Can you start Monday?\nThanks " }),
    )
    .await;
    assert_eq!(started["userErrors"], json!([]), "{started}");
    let thread = started["thread"]["id"].as_str().expect("id").to_owned();
    assert_eq!(started["thread"]["subject"], "Question");
    assert_eq!(started["thread"]["status"], "ACTIVE");
    assert_eq!(started["thread"]["listing"]["id"], deal.listing.as_str());
    assert_eq!(started["message"]["body"], "Can you start Monday?\nThanks");
    assert_eq!(
        started["thread"]["unreadCount"], 0,
        "one's own message is read"
    );

    // The provider's tenant now has the buyer as a contact.
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let contacts = entity::contacts::Entity::find()
        .filter(entity::contacts::Column::TenantId.eq(deal.seller.tenant_id.clone()))
        .filter(entity::contacts::Column::UserId.eq(deal.buyer.id.clone()))
        .count(&db.reader)
        .await
        .expect("count");
    assert_eq!(contacts, 1);

    assert_eq!(unread_total(&app, provider).await, 1);
    let seen = thread_of(&app, provider, &thread, "").await;
    assert_eq!(seen["unreadCount"], 1);
    assert_eq!(seen["messages"]["nodes"][0]["readAt"], Value::Null);

    let reply = send(&app, provider, &thread, "Yes, Monday works.").await;
    assert_eq!(reply["userErrors"], json!([]), "{reply}");
    let read = app
        .gql(
            Some(&provider.access_token),
            "mutation($input: ThreadIdInput!) { markThreadRead(input: $input) { thread { unreadCount } userErrors { message } } }",
            json!({ "input": { "threadId": thread } }),
        )
        .await;
    assert_eq!(read["markThreadRead"]["thread"]["unreadCount"], 0, "{read}");
    assert_eq!(unread_total(&app, provider).await, 0);

    // The buyer sees the receipt on its message and has the reply unread.
    let buyer_view = thread_of(&app, &deal.buyer, &thread, "").await;
    let nodes = buyer_view["messages"]["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 2);
    assert!(nodes[0]["readAt"].is_string(), "read receipt: {buyer_view}");
    assert_eq!(nodes[1]["readAt"], Value::Null);
    assert_eq!(buyer_view["unreadCount"], 1);
    assert_eq!(unread_total(&app, &deal.buyer).await, 1);

    // Both list it; unreadOnly keeps it for the buyer only.
    let list = |who: &Session, filter: Value| {
        let app = &app;
        let token = who.access_token.clone();
        async move {
            app.gql(
                Some(&token),
                "query($f: MessageThreadFilter) { messageThreads(filter: $f) { totalCount nodes { id unreadCount } } }",
                json!({ "f": filter }),
            )
            .await["messageThreads"]
                .clone()
        }
    };
    assert_eq!(
        list(&deal.buyer, json!({ "unreadOnly": true })).await["totalCount"],
        1
    );
    assert_eq!(
        list(provider, json!({ "unreadOnly": true })).await["totalCount"],
        0
    );
    assert_eq!(
        list(provider, json!({})).await["nodes"][0]["id"],
        thread.as_str()
    );

    // Archived, then brought back by a new message.
    let archived = app
        .gql(
            Some(&deal.buyer.access_token),
            "mutation($input: ThreadIdInput!) { archiveThread(input: $input) { thread { status } userErrors { message } } }",
            json!({ "input": { "threadId": thread } }),
        )
        .await;
    assert_eq!(archived["archiveThread"]["thread"]["status"], "ARCHIVED");
    assert_eq!(
        list(&deal.buyer, json!({ "status": "ARCHIVED" })).await["totalCount"],
        1
    );
    let back = send(&app, provider, &thread, "Still there?").await;
    assert_eq!(back["thread"]["status"], "ACTIVE");
}

#[tokio::test]
async fn only_the_two_parties_see_or_write_and_bad_input_is_refused() {
    let app = spawn_app().await;
    let deal = deal(&app, "p").await;
    let started = start(
        &app,
        &deal.buyer,
        json!({ "providerId": deal.seller.provider_id, "body": "Hello" }),
    )
    .await;
    let thread = started["thread"]["id"].as_str().expect("id").to_owned();
    let message = started["message"]["id"].as_str().expect("id").to_owned();
    let stranger = app.register("nosy@example.com", "Nosy").await;

    assert_eq!(thread_of(&app, &stranger, &thread, "").await, Value::Null);
    assert_eq!(thread_of(&app, &deal.admin, &thread, "").await, Value::Null);
    let node = app
        .gql(
            Some(&stranger.access_token),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [thread, message] }),
        )
        .await;
    assert_eq!(node["nodes"], json!([null, null]));
    let written = send(&app, &stranger, &thread, "let me in").await;
    assert_eq!(written["userErrors"][0]["code"], "NOT_FOUND", "{written}");
    let listed = app
        .gql(
            Some(&stranger.access_token),
            "{ messageThreads { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["messageThreads"]["totalCount"], 0);

    for (body, field) in [
        ("   ", "body"),
        (&"x".repeat(5001)[..], "body"),
        ("nul \u{0} byte", "body"),
    ] {
        let refused = send(&app, &deal.buyer, &thread, body).await;
        assert_eq!(
            refused["userErrors"][0]["field"],
            json!(["input", field]),
            "{refused}"
        );
        assert_eq!(refused["userErrors"][0]["code"], "INVALID");
    }
    let own = start(
        &app,
        &deal.seller.session,
        json!({ "providerId": deal.seller.provider_id, "body": "me to me" }),
    )
    .await;
    assert_eq!(own["userErrors"][0]["code"], "NOT_ALLOWED", "{own}");
    let foreign_order = start(
        &app,
        &stranger,
        json!({ "providerId": deal.seller.provider_id, "orderId": "ord_0190aaaaaaaa7aaa8aaaaaaaaaaaaaaa", "body": "x" }),
    )
    .await;
    assert_eq!(foreign_order["userErrors"][0]["code"], "NOT_FOUND");
    let (_, anonymous) = app
        .post(None, "{ messageThreads { totalCount } }", json!({}))
        .await;
    assert_eq!(top_level_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
}

#[tokio::test]
async fn an_order_has_one_thread_reachable_from_the_order() {
    let app = spawn_app().await;
    let deal = deal(&app, "o").await;
    let order = held_order(&app, &deal).await;
    let first = start(
        &app,
        &deal.buyer,
        json!({ "providerId": deal.seller.provider_id, "orderId": order, "body": "About my order" }),
    )
    .await;
    assert_eq!(first["userErrors"], json!([]), "{first}");
    let again = start(
        &app,
        &deal.buyer,
        json!({ "providerId": deal.seller.provider_id, "orderId": order, "body": "And again" }),
    )
    .await;
    assert_eq!(again["thread"]["id"], first["thread"]["id"]);
    let via_order = app
        .gql(
            Some(&deal.seller.session.access_token),
            "query($id: ID!) { order(id: $id) { thread { id order { id } messages { totalCount } } } }",
            json!({ "id": order }),
        )
        .await;
    assert_eq!(via_order["order"]["thread"]["id"], first["thread"]["id"]);
    assert_eq!(via_order["order"]["thread"]["messages"]["totalCount"], 2);
}

#[tokio::test]
async fn messages_page_backwards_with_last_and_before() {
    let app = spawn_app().await;
    let deal = deal(&app, "g").await;
    let started = start(
        &app,
        &deal.buyer,
        json!({ "providerId": deal.seller.provider_id, "body": "m1" }),
    )
    .await;
    let thread = started["thread"]["id"].as_str().expect("id").to_owned();
    for n in 2..=7 {
        let who = if n % 2 == 0 {
            &deal.seller.session
        } else {
            &deal.buyer
        };
        send(&app, who, &thread, &format!("m{n}")).await;
    }
    let bodies = |page: &Value| -> Vec<String> {
        page["messages"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|m| m["body"].as_str().expect("body").to_owned())
            .collect()
    };
    let newest = thread_of(&app, &deal.buyer, &thread, "(last: 3)").await;
    assert_eq!(bodies(&newest), ["m5", "m6", "m7"]);
    assert_eq!(newest["messages"]["totalCount"], 7);
    assert_eq!(newest["messages"]["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(newest["messages"]["pageInfo"]["hasNextPage"], false);
    let cursor = newest["messages"]["pageInfo"]["startCursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let older = thread_of(
        &app,
        &deal.buyer,
        &thread,
        &format!("(last: 3, before: \"{cursor}\")"),
    )
    .await;
    assert_eq!(bodies(&older), ["m2", "m3", "m4"]);
    let cursor = older["messages"]["pageInfo"]["startCursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let oldest = thread_of(
        &app,
        &deal.buyer,
        &thread,
        &format!("(last: 3, before: \"{cursor}\")"),
    )
    .await;
    assert_eq!(bodies(&oldest), ["m1"]);
    assert_eq!(oldest["messages"]["pageInfo"]["hasPreviousPage"], false);
    // Forward paging still works, and mixing directions is refused.
    let forward = thread_of(&app, &deal.buyer, &thread, "(first: 2)").await;
    assert_eq!(bodies(&forward), ["m1", "m2"]);
    let (_, mixed) = app
        .post(
            Some(&deal.buyer.access_token),
            "query($id: ID!) { messageThread(id: $id) { messages(first: 2, last: 2) { totalCount } } }",
            json!({ "id": thread }),
        )
        .await;
    assert_eq!(top_level_code(&mixed), "BAD_USER_INPUT", "{mixed}");
    let (status, too_many) = app
        .post(
            Some(&deal.buyer.access_token),
            "query($id: ID!) { messageThread(id: $id) { messages(last: 101) { totalCount } } }",
            json!({ "id": thread }),
        )
        .await;
    assert_eq!(status, 400, "{too_many}");
    assert_eq!(
        too_many["errors"][0]["extensions"]["limit"], "pageSize",
        "{too_many}"
    );
}

#[tokio::test]
async fn message_added_streams_a_threads_new_messages_to_its_parties_only() {
    let app = spawn_app().await;
    let deal = deal(&app, "w").await;
    let started = start(
        &app,
        &deal.buyer,
        json!({ "providerId": deal.seller.provider_id, "body": "first" }),
    )
    .await;
    let thread = started["thread"]["id"].as_str().expect("id").to_owned();
    let first_id = started["message"]["id"].as_str().expect("id").to_owned();
    let other = start(
        &app,
        &deal.buyer,
        json!({ "providerId": deal.seller.provider_id, "body": "another thread" }),
    )
    .await["thread"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    const ADDED: &str = "subscription($id: ID!, $after: ID) { messageAdded(threadId: $id, after: $after) { id body sender { id } } }";

    let mut provider = WsClient::authenticated(&app, &deal.seller.session.access_token).await;
    provider
        .subscribe("t", ADDED, json!({ "id": thread }))
        .await;
    let stranger = app.register("eaves@example.com", "Eaves").await;
    let mut eaves = WsClient::authenticated(&app, &stranger.access_token).await;
    eaves.subscribe("t", ADDED, json!({ "id": thread })).await;
    let refused = eaves.next_data("t").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    send(&app, &deal.buyer, &other, "not this one").await;
    send(&app, &deal.buyer, &thread, "second").await;
    send(&app, &deal.seller.session, &thread, "third").await;
    for body in ["second", "third"] {
        let data = provider.next_data("t").await;
        assert_eq!(data["data"]["messageAdded"]["body"], body, "{data}");
    }
    provider.assert_quiet(Duration::from_millis(300)).await;

    // Resuming from the first message replays the two others, once.
    let mut buyer = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    buyer
        .subscribe("t", ADDED, json!({ "id": thread, "after": first_id }))
        .await;
    for body in ["second", "third"] {
        let data = buyer.next_data("t").await;
        assert_eq!(data["data"]["messageAdded"]["body"], body, "{data}");
    }
    buyer.assert_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_page_of_threads_or_messages_loads_orders_and_threads_in_one_query_each() {
    let app = spawn_app_with(&["--sql-statement-count"]).await;
    let deal = deal(&app, "n1").await;
    let mut threads = Vec::new();
    for n in 0..3 {
        let order = held_order(&app, &deal).await;
        let started = start(
            &app,
            &deal.buyer,
            json!({ "providerId": deal.seller.provider_id, "orderId": order, "body": format!("About order {n}") }),
        )
        .await;
        assert_eq!(started["userErrors"], json!([]), "{started}");
        threads.push(started["thread"]["id"].as_str().expect("id").to_owned());
    }
    for n in 0..4 {
        send(
            &app,
            &deal.seller.session,
            &threads[0],
            &format!("Reply {n}"),
        )
        .await;
    }
    let statements = |body: &Value| {
        assert!(body.get("errors").is_none(), "{body}");
        body["extensions"]["sqlStatements"]
            .as_u64()
            .expect("sqlStatements")
    };

    let list = "query($n: Int) { messageThreads(first: $n) { nodes { id order { id status } } } }";
    let mut counts = Vec::new();
    for n in [1, 3] {
        let (_, body) = app
            .post(Some(&deal.buyer.access_token), list, json!({ "n": n }))
            .await;
        let nodes = body["data"]["messageThreads"]["nodes"]
            .as_array()
            .expect("nodes");
        assert_eq!(nodes.len(), n);
        assert!(nodes.iter().all(|t| t["order"]["id"].is_string()), "{body}");
        counts.push(statements(&body));
    }
    assert_eq!(counts[0], counts[1], "threads 1 and 3: {counts:?}");

    let messages = "query($id: ID!, $n: Int) { messageThread(id: $id) { messages(last: $n) { nodes { id thread { id } } } } }";
    let mut counts = Vec::new();
    for n in [1, 5] {
        let (_, body) = app
            .post(
                Some(&deal.buyer.access_token),
                messages,
                json!({ "id": threads[0], "n": n }),
            )
            .await;
        let nodes = body["data"]["messageThread"]["messages"]["nodes"]
            .as_array()
            .expect("nodes");
        assert_eq!(nodes.len(), n);
        assert!(nodes
            .iter()
            .all(|m| m["thread"]["id"] == threads[0].as_str()));
        counts.push(statements(&body));
    }
    assert_eq!(counts[0], counts[1], "messages 1 and 5: {counts:?}");

    // A stranger still reads nothing through a message.
    let stranger = app.register("n1-stranger@example.com", "S").await;
    let (_, hidden) = app
        .post(
            Some(&stranger.access_token),
            "query($id: ID!) { messageThread(id: $id) { id } }",
            json!({ "id": threads[0] }),
        )
        .await;
    assert_eq!(hidden["data"]["messageThread"], Value::Null, "{hidden}");
}
