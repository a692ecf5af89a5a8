//! Subscriptions through real websockets: each stream gets exactly its events, in order;
//! resuming with `after` loses and repeats nothing; strangers and bad `after`s are refused;
//! a user banned while subscribed stops receiving; on PostgreSQL two server processes serve
//! each other's events, also after the LISTEN connection is killed; a dispute changed on a
//! replica whose clock runs behind is not skipped by a re-read.
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ws_client::WsClient;

const ORDER_STREAM: &str = "subscription($id: ID!, $after: ID) { orderStatusChanged(orderId: $id, after: $after) { id fromStatus toStatus action order { id } } }";
const MY_STREAM: &str =
    "subscription($after: ID) { myOrderEvents(after: $after) { id toStatus order { id } } }";

/// A MANUAL order between a fresh buyer and seller.
pub struct Deal {
    pub buyer: Session,
    pub seller: Seller,
    pub admin: Session,
    pub listing: String,
}

pub async fn deal(app: &TestApp, tag: &str) -> Deal {
    let admin = app.register_admin().await;
    let seller = manual_seller(app, &admin, &format!("seller-{tag}@example.com")).await;
    let listing = app
        .listing(
            &seller,
            json!({ "priceCents": "5000", "turnaroundDays": 3 }),
        )
        .await;
    let buyer = app
        .register(&format!("buyer-{tag}@example.com"), "Buyer")
        .await;
    Deal {
        buyer,
        seller,
        admin,
        listing,
    }
}

pub async fn order_action(app: &TestApp, who: &Session, mutation: &str, input: Value) -> Value {
    let input_type = match mutation {
        "placeOrder" => "PlaceOrderInput",
        "markOrderPaid" => "MarkOrderPaidInput",
        "deliverOrder" => "DeliverOrderInput",
        _ => "OrderIdInput",
    };
    let query = format!(
        "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ order {{ id status events {{ id }} }} userErrors {{ message }} }} }}"
    );
    let payload = app
        .gql(Some(&who.access_token), &query, json!({ "input": input }))
        .await[mutation]
        .clone();
    assert_eq!(payload["userErrors"], json!([]), "{mutation}: {payload}");
    payload["order"].clone()
}

/// Places the deal's order and takes it to PAYMENT_HELD; returns its id.
pub async fn held_order(app: &TestApp, deal: &Deal) -> String {
    let order = order_action(
        app,
        &deal.buyer,
        "placeOrder",
        json!({ "listingId": deal.listing }),
    )
    .await;
    let id = order["id"].as_str().expect("id").to_owned();
    order_action(
        app,
        &deal.buyer,
        "markOrderPaid",
        json!({ "orderId": id, "method": "bank", "reference": "R1" }),
    )
    .await;
    order_action(
        app,
        &deal.seller.session,
        "confirmOrderPayment",
        json!({ "orderId": id }),
    )
    .await;
    id
}

async fn step(app: &TestApp, deal: &Deal, order: &str, mutation: &str) {
    let input = match mutation {
        "deliverOrder" => json!({ "orderId": order, "summary": "Done", "score": 80 }),
        _ => json!({ "orderId": order }),
    };
    let who = match mutation {
        "completeOrder" => &deal.buyer,
        _ => &deal.seller.session,
    };
    order_action(app, who, mutation, input).await;
}

async fn events_of(app: &TestApp, who: &Session, order: &str) -> Vec<String> {
    let body = app
        .gql(
            Some(&who.access_token),
            "query($id: ID!) { order(id: $id) { events { id } } }",
            json!({ "id": order }),
        )
        .await;
    body["order"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn an_order_stream_carries_its_events_in_order_and_nothing_of_other_orders() {
    let app = spawn_app().await;
    let deal = deal(&app, "a").await;
    let order = held_order(&app, &deal).await;
    let other = held_order(&app, &deal).await;

    let mut buyer = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    buyer
        .subscribe("o", ORDER_STREAM, json!({ "id": order }))
        .await;
    let mut provider = WsClient::authenticated(&app, &deal.seller.session.access_token).await;
    provider
        .subscribe("o", ORDER_STREAM, json!({ "id": order }))
        .await;
    let mut admin = WsClient::authenticated(&app, &deal.admin.access_token).await;
    admin
        .subscribe("o", ORDER_STREAM, json!({ "id": order }))
        .await;
    // Let the three subscriptions register before anything moves.
    tokio::time::sleep(Duration::from_millis(200)).await;

    step(&app, &deal, &other, "claimOrder").await;
    for mutation in ["claimOrder", "startOrder", "deliverOrder", "completeOrder"] {
        step(&app, &deal, &order, mutation).await;
    }
    let expected = ["CLAIMED", "IN_PROGRESS", "DELIVERED", "COMPLETED"];
    for client in [&mut buyer, &mut provider, &mut admin] {
        for status in expected {
            let data = client.next_data("o").await;
            let event = &data["data"]["orderStatusChanged"];
            assert_eq!(event["toStatus"], status, "{data}");
            assert_eq!(event["order"]["id"], order.as_str());
        }
        client.assert_quiet(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn my_order_events_follow_every_order_of_the_viewer_and_only_those() {
    let app = spawn_app().await;
    let deal = deal(&app, "m").await;
    let mine = held_order(&app, &deal).await;
    let stranger_deal = Deal {
        buyer: app.register("other-buyer@example.com", "Other").await,
        seller: manual_seller(&app, &deal.admin, "other-seller@example.com").await,
        admin: deal.admin.clone(),
        listing: String::new(),
    };
    let stranger_listing = app
        .listing(&stranger_deal.seller, json!({ "priceCents": "5000" }))
        .await;
    let stranger_deal = Deal {
        listing: stranger_listing,
        ..stranger_deal
    };
    let theirs = held_order(&app, &stranger_deal).await;

    let mut buyer = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    buyer.subscribe("m", MY_STREAM, json!({})).await;
    let mut provider = WsClient::authenticated(&app, &deal.seller.session.access_token).await;
    provider.subscribe("m", MY_STREAM, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    step(&app, &stranger_deal, &theirs, "claimOrder").await;
    step(&app, &deal, &mine, "claimOrder").await;
    let second = held_order(&app, &deal).await;
    for client in [&mut buyer, &mut provider] {
        let first = client.next_data("m").await;
        assert_eq!(first["data"]["myOrderEvents"]["order"]["id"], mine.as_str());
        assert_eq!(first["data"]["myOrderEvents"]["toStatus"], "CLAIMED");
        // The second order's placement, payment mark and confirmation, in that order.
        let mut seen = Vec::new();
        for _ in 0..3 {
            let data = client.next_data("m").await;
            assert_eq!(
                data["data"]["myOrderEvents"]["order"]["id"],
                second.as_str()
            );
            seen.push(data["data"]["myOrderEvents"]["toStatus"].clone());
        }
        assert_eq!(seen, vec!["PLACED", "PLACED", "PAYMENT_HELD"]);
        client.assert_quiet(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_dropped_subscriber_resumes_with_after_and_gets_every_missed_event_once() {
    let app = spawn_app().await;
    let deal = deal(&app, "r").await;
    let order = held_order(&app, &deal).await;
    let mut ws = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    ws.subscribe("o", ORDER_STREAM, json!({ "id": order }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    step(&app, &deal, &order, "claimOrder").await;
    let claimed = ws.next_data("o").await;
    let last_seen = claimed["data"]["orderStatusChanged"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    drop(ws);

    // Missed while away.
    step(&app, &deal, &order, "startOrder").await;
    step(&app, &deal, &order, "deliverOrder").await;

    let mut ws = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    ws.subscribe(
        "o",
        ORDER_STREAM,
        json!({ "id": order, "after": last_seen }),
    )
    .await;
    let first = ws.next_data("o").await;
    assert_eq!(
        first["data"]["orderStatusChanged"]["toStatus"],
        "IN_PROGRESS"
    );
    let second = ws.next_data("o").await;
    assert_eq!(
        second["data"]["orderStatusChanged"]["toStatus"],
        "DELIVERED"
    );
    // Then live, with no repeat at the seam.
    step(&app, &deal, &order, "completeOrder").await;
    let live = ws.next_data("o").await;
    assert_eq!(live["data"]["orderStatusChanged"]["toStatus"], "COMPLETED");
    ws.assert_quiet(Duration::from_millis(300)).await;

    // The ids sent are exactly the stored ones after the resume point.
    let stored = events_of(&app, &deal.buyer, &order).await;
    let at = stored
        .iter()
        .position(|id| *id == last_seen)
        .expect("stored");
    let sent: Vec<String> = [&first, &second, &live]
        .iter()
        .map(|d| {
            d["data"]["orderStatusChanged"]["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    assert_eq!(sent, stored[at + 1..].to_vec());
}

/// A stream started without `after` sends only what commits after it started, also when the
/// last event before it is still waiting for its position (PostgreSQL; a fault hook pauses the
/// background sequencer so the claim stays pending while the subscriber starts). Before the
/// start numbered pending events itself, the claim got a position above the start's mark
/// once the pause ended and reached the subscriber as if it were new.
#[tokio::test]
async fn a_stream_without_after_starts_after_every_committed_event() {
    let app = spawn_app_with(&["--fault-injection"]).await;
    let deal = deal(&app, "n").await;
    let order = held_order(&app, &deal).await;
    app.arm_fault("pause-sequencer?ms=2000").await;
    step(&app, &deal, &order, "claimOrder").await;
    let mut ws = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    ws.subscribe("o", ORDER_STREAM, json!({ "id": order }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    step(&app, &deal, &order, "startOrder").await;
    assert_eq!(
        ws.next_data("o").await["data"]["orderStatusChanged"]["toStatus"],
        "IN_PROGRESS"
    );
    ws.assert_quiet(Duration::from_millis(300)).await;
}

/// Two orders move at once and the one that writes its event first commits last (a fault hook
/// holds it 1.5 s before its commit). On PostgreSQL the other transition does not wait for it
/// (events are numbered after they commit, not under a lock held to the commit); on SQLite it
/// waits for the one writer. Either way, resuming after the first event a `myOrderEvents`
/// subscriber received sends exactly the other: "after" is commit order, not id order (the id
/// of the held event is the smaller one).
#[tokio::test]
async fn resuming_after_an_event_follows_commit_order_across_orders() {
    let app = spawn_app_with(&["--fault-injection"]).await;
    let deal = deal(&app, "q").await;
    let slow = held_order(&app, &deal).await;
    let fast = held_order(&app, &deal).await;
    let mut ws = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    ws.subscribe("m", MY_STREAM, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    app.arm_fault("hold-before-commit?ms=1500").await;
    let slow_done = std::sync::atomic::AtomicBool::new(false);
    let (_, (first, slow_done_then)) = tokio::join!(
        async {
            step(&app, &deal, &slow, "claimOrder").await;
            slow_done.store(true, std::sync::atomic::Ordering::SeqCst);
        },
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            step(&app, &deal, &fast, "claimOrder").await;
            let first = ws.next_data("m").await;
            (first, slow_done.load(std::sync::atomic::Ordering::SeqCst))
        }
    );
    let received: Vec<Value> = [first, ws.next_data("m").await]
        .iter()
        .map(|d| d["data"]["myOrderEvents"].clone())
        .collect();
    let orders: Vec<&str> = received
        .iter()
        .map(|e| e["order"]["id"].as_str().expect("order"))
        .collect();
    if app.uses_postgres() {
        // Transitions commit side by side: the fast order's event commits, and arrives,
        // while the slow one is still held before its commit (it once waited for it).
        assert_eq!(orders, [fast.as_str(), slow.as_str()], "{received:?}");
        assert!(!slow_done_then, "the slow transition was still held");
    } else {
        // SQLite's one writer: the fast transition waits for the slow one's commit.
        assert_eq!(orders, [slow.as_str(), fast.as_str()], "{received:?}");
    }
    drop(ws);

    let id = |e: &Value| e["id"].as_str().expect("id").to_owned();
    let mut ws = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    ws.subscribe("m", MY_STREAM, json!({ "after": id(&received[0]) }))
        .await;
    let resumed = ws.next_data("m").await;
    assert_eq!(id(&resumed["data"]["myOrderEvents"]), id(&received[1]));
    ws.assert_quiet(Duration::from_millis(300)).await;
    ws.subscribe("n", MY_STREAM, json!({ "after": id(&received[1]) }))
        .await;
    ws.assert_quiet(Duration::from_millis(300)).await;
}

/// A transition that committed first reaches subscribers first, even when it is slow to hand
/// its notices over (a fault hook holds it 1.5 s between its commit and the hand-off) while
/// another order's transition commits behind it. A live stream therefore sends events in the
/// order a replay would, and resuming after the last one received sends nothing twice. On
/// SQLite the hand-off once raced: the second commit reached the bus first, and resuming after
/// the held event sent the other again. On PostgreSQL notices come from the sequencer, after
/// both commits, in position order.
#[tokio::test]
async fn live_events_arrive_in_commit_order_and_a_resume_repeats_none() {
    let app = spawn_app_with(&["--fault-injection"]).await;
    let deal = deal(&app, "r").await;
    let first = held_order(&app, &deal).await;
    let second = held_order(&app, &deal).await;
    let mut ws = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    ws.subscribe("m", MY_STREAM, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    app.arm_fault("hold-after-commit?ms=1500").await;
    let (_, received) = tokio::join!(step(&app, &deal, &first, "claimOrder"), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        step(&app, &deal, &second, "claimOrder").await;
        let a = ws.next_data("m").await;
        let b = ws.next_data("m").await;
        [a, b].map(|d| d["data"]["myOrderEvents"].clone())
    });
    let orders: Vec<&str> = received
        .iter()
        .map(|e| e["order"]["id"].as_str().expect("order"))
        .collect();
    assert_eq!(orders, [first.as_str(), second.as_str()], "{received:?}");
    drop(ws);

    let mut ws = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    ws.subscribe(
        "m",
        MY_STREAM,
        json!({ "after": received[1]["id"].as_str().expect("id") }),
    )
    .await;
    ws.assert_quiet(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn strangers_and_foreign_after_ids_are_refused() {
    let app = spawn_app().await;
    let deal = deal(&app, "s").await;
    let order = held_order(&app, &deal).await;
    let other = held_order(&app, &deal).await;
    let other_event = events_of(&app, &deal.buyer, &other).await[0].clone();
    let stranger = app.register("stranger@example.com", "Str").await;

    let mut ws = WsClient::authenticated(&app, &stranger.access_token).await;
    ws.subscribe("o", ORDER_STREAM, json!({ "id": order }))
        .await;
    let refused = ws.next_data("o").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    assert_eq!(ws.next().await["type"], "complete");

    // A stranger cannot resume from someone else's event either.
    ws.subscribe("m", MY_STREAM, json!({ "after": other_event }))
        .await;
    let refused = ws.next_data("m").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );

    // The buyer may not resume one order's stream from another order's event.
    let mut ws = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    ws.subscribe(
        "o",
        ORDER_STREAM,
        json!({ "id": order, "after": other_event }),
    )
    .await;
    let refused = ws.next_data("o").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
}

#[tokio::test]
async fn a_user_banned_while_subscribed_stops_receiving_and_the_stream_ends() {
    let app = spawn_app().await;
    let deal = deal(&app, "b").await;
    let order = held_order(&app, &deal).await;
    let mut ws = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    ws.subscribe("o", ORDER_STREAM, json!({ "id": order }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    step(&app, &deal, &order, "claimOrder").await;
    assert_eq!(
        ws.next_data("o").await["data"]["orderStatusChanged"]["toStatus"],
        "CLAIMED"
    );

    let banned = app
        .gql(
            Some(&deal.admin.access_token),
            "mutation($input: SetUserStatusInput!) { setUserStatus(input: $input) { userErrors { message } } }",
            json!({ "input": { "userId": deal.buyer.id, "status": "BANNED", "reason": "fraud" } }),
        )
        .await;
    assert_eq!(banned["setUserStatus"]["userErrors"], json!([]), "{banned}");
    let ended = ws.next_data("o").await;
    assert_eq!(
        ended["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{ended}"
    );
    assert_eq!(ws.next().await["type"], "complete");
    step(&app, &deal, &order, "startOrder").await;
    ws.assert_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_its_buffer_is_closed_with_a_reason() {
    let app = spawn_app_with(&["--subscriber-buffer", "2"]).await;
    let deal = deal(&app, "l").await;
    let mut ws = WsClient::authenticated(&app, &deal.admin.access_token).await;
    ws.subscribe("m", MY_STREAM, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let order = held_order(&app, &deal).await;
    let events = events_of(&app, &deal.buyer, &order).await;
    // The order's events arrive live, one by one, in order.
    for expected in &events {
        let live = ws.next_data("m").await;
        assert_eq!(
            live["data"]["myOrderEvents"]["id"],
            expected.as_str(),
            "{live}"
        );
    }
    // A burst the subscriber cannot drain: the test runtime is single-threaded, so nothing
    // runs between these synchronous hand-offs to the server's bus.
    for n in 0..10 {
        app.state.events.dispatch(api::events::Notice::OrderEvent {
            id: events[n % events.len()].clone(),
            order_id: order.clone(),
            buyer_id: deal.buyer.id.clone(),
            provider_id: deal.seller.provider_id.clone(),
        });
    }
    assert_eq!(app.state.events.stats().dropped_lagging, 1);
    // What was buffered repeats events already sent: none is sent again, then the reason.
    let ended = ws.next_data("m").await;
    assert_eq!(
        ended["errors"][0]["extensions"]["code"], "SUBSCRIBER_LAGGED",
        "{ended}"
    );
    assert_eq!(ws.next().await["type"], "complete");
}

/// Starts a second server process (the real binary) on the same database.
struct SecondServer {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for SecondServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn second_server(app: &TestApp) -> SecondServer {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        listener.local_addr().expect("addr").port()
    };
    let dir = tempfile::tempdir().expect("dir");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .arg("serve")
        .args(["--bind-addr", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &app.settings.database_url])
        .args(["--data-dir", &dir.path().display().to_string()])
        .args(["--jwt-secret", JWT_SECRET])
        .args(["--admin-emails", ADMIN_EMAIL])
        .args(["--jobs-interval-secs", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the second server");
    let server = SecondServer {
        child,
        port,
        _dir: dir,
    };
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/health/ready"))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the second server did not become ready");
}

#[tokio::test]
async fn on_postgres_two_processes_serve_each_others_events_also_after_listen_is_killed() {
    let app = spawn_app().await;
    if !app.uses_postgres() {
        eprintln!("skipped: LISTEN/NOTIFY needs TEST_DATABASE_URL (PostgreSQL)");
        return;
    }
    let deal = deal(&app, "pg").await;
    let order = held_order(&app, &deal).await;
    let second = second_server(&app).await;
    let mut second_app = app.clone();
    second_app.addr = format!("http://127.0.0.1:{}", second.port);
    second_app.port = second.port;

    // Subscribed on the first; the mutation runs on the second.
    let mut ws = WsClient::authenticated(&app, &deal.buyer.access_token).await;
    ws.subscribe("o", ORDER_STREAM, json!({ "id": order }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    step(&second_app, &deal, &order, "claimOrder").await;
    let data = ws.next_within(Duration::from_secs(1)).await;
    assert_eq!(
        data["payload"]["data"]["orderStatusChanged"]["toStatus"], "CLAIMED",
        "within 1 s: {data}"
    );

    // Kill the first process's LISTEN connection; events keep arriving once it reconnects.
    let db = api::db::Db::connect(&app.settings.database_url)
        .await
        .expect("db");
    use sea_orm::ConnectionTrait;
    let killed = db
        .writer
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
        )
        .await
        .expect("terminate");
    assert!(killed.rows_affected() >= 1, "a LISTEN connection was found");
    // An event committed while the first process is reconnecting is not lost either.
    step(&second_app, &deal, &order, "startOrder").await;
    step(&second_app, &deal, &order, "deliverOrder").await;
    let mut statuses = Vec::new();
    while statuses.len() < 2 {
        let data = ws.next_data("o").await;
        statuses.push(data["data"]["orderStatusChanged"]["toStatus"].clone());
    }
    assert_eq!(statuses, vec!["IN_PROGRESS", "DELIVERED"]);
    ws.assert_quiet(Duration::from_millis(300)).await;
}

/// `disputeUpdated` re-reads the store when the bus may have missed notices (a LISTEN
/// connection that dropped), after the last change it sent in commit order. It once re-read
/// "changed after the last sent change's time": a change made later on a replica whose clock
/// runs behind (or one that took its time first and committed last) sorted before it and was
/// skipped. On SQLite the second process's notice never reaches the first (they share no
/// bus), so the re-read is the only way it arrives; on PostgreSQL it also comes live, and is
/// sent once.
#[tokio::test]
async fn a_dispute_changed_on_a_replica_with_a_slower_clock_is_not_skipped_by_a_re_read() {
    let app = spawn_app().await;
    let deal = deal(&app, "skew").await;
    let mut orders = Vec::new();
    for _ in 0..2 {
        let order = held_order(&app, &deal).await;
        step(&app, &deal, &order, "claimOrder").await;
        step(&app, &deal, &order, "deliverOrder").await;
        orders.push(order);
    }
    let second = second_server(&app).await;
    let mut second_app = app.clone();
    second_app.addr = format!("http://127.0.0.1:{}", second.port);
    second_app.port = second.port;
    let mut admin = WsClient::authenticated(&app, &deal.admin.access_token).await;
    admin
        .subscribe(
            "d",
            "subscription { disputeUpdated { id status } }",
            json!({}),
        )
        .await;
    admin.assert_quiet(Duration::from_millis(300)).await;

    // This replica's clock runs ten minutes ahead of the other's.
    app.clock.advance(chrono::Duration::minutes(10));
    let here = crate::disputes::open(&app, &deal.buyer, &orders[0], "QUALITY", "Thin").await;
    let got = admin.next_data("d").await;
    assert_eq!(
        got["data"]["disputeUpdated"]["id"],
        crate::disputes::dispute_id(&here).as_str(),
        "{got}"
    );
    let there = crate::disputes::open(&second_app, &deal.buyer, &orders[1], "OTHER", "Late").await;
    app.state.events.dispatch(api::events::Notice::Resync);
    let got = admin.next_data("d").await;
    assert_eq!(
        got["data"]["disputeUpdated"]["id"],
        crate::disputes::dispute_id(&there).as_str(),
        "{got}"
    );
    assert_eq!(got["data"]["disputeUpdated"]["status"], "OPEN");
    admin.assert_quiet(Duration::from_millis(500)).await;
}
