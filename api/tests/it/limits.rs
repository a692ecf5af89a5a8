//! Every limit of DESIGN §8 is a setting: for each, a server started with a small value runs a
//! document at the limit and refuses one just past it with HTTP 400, GRAPHQL_VALIDATION_FAILED
//! and the limit's name, before anything runs. Batches and the execution timeout answer their
//! own codes.
use serde_json::{json, Value};

use crate::helpers::*;

struct Case {
    setting: &'static str,
    value: String,
    at_limit: (&'static str, Value),
    past_limit: (&'static str, Value),
    limit: &'static str,
}

fn case(
    setting: &'static str,
    value: impl ToString,
    at_limit: &'static str,
    past_limit: &'static str,
    limit: &'static str,
) -> Case {
    Case {
        setting,
        value: value.to_string(),
        at_limit: (at_limit, json!({})),
        past_limit: (past_limit, json!({})),
        limit,
    }
}

fn limit_of(body: &Value) -> Option<&str> {
    body["errors"]
        .as_array()?
        .iter()
        .find_map(|e| e["extensions"]["limit"].as_str())
}

#[tokio::test]
async fn each_limit_is_a_setting_passed_at_its_value_and_refused_one_past() {
    const COUNT: &str = "{ listings(first: 1) { totalCount } }";
    let cases = vec![
        case(
            "--max-query-depth",
            3,
            "{ listings(first: 1) { nodes { id } } }",
            "{ listings(first: 1) { nodes { provider { id } } } }",
            "depth",
        ),
        case(
            "--max-aliases",
            2,
            "{ a: listings(first: 1) { totalCount } b: listings(first: 1) { totalCount } }",
            "{ a: listings(first: 1) { totalCount } b: listings(first: 1) { totalCount } c: listings(first: 1) { totalCount } }",
            "aliases",
        ),
        case(
            "--max-directives",
            2,
            "{ __typename @include(if: true) @skip(if: false) }",
            "{ __typename @include(if: true) @skip(if: false) @skip(if: false) }",
            "directives",
        ),
        // `{ listings ( first : 1 ) { totalCount } }`: 11 tokens.
        case(
            "--max-tokens",
            11,
            COUNT,
            "{ listings(first: 1) { totalCount __typename } }",
            "tokens",
        ),
        case(
            "--max-query-chars",
            COUNT.chars().count(),
            COUNT,
            "{ listings(first: 1) { totalCount } } ",
            "queryCharacters",
        ),
        case(
            "--max-root-fields",
            3,
            "{ __typename __typename __typename }",
            "{ __typename __typename __typename __typename }",
            "rootFields",
        ),
        case(
            "--max-page-size",
            5,
            "{ listings(first: 5) { totalCount } }",
            "{ listings(first: 6) { totalCount } }",
            "pageSize",
        ),
        Case {
            setting: "--max-page-size",
            value: "5".to_owned(),
            at_limit: (
                "query($n: Int) { listings(first: $n) { totalCount } }",
                json!({ "n": 5 }),
            ),
            past_limit: (
                "query($n: Int) { listings(first: $n) { totalCount } }",
                json!({ "n": 6 }),
            ),
            limit: "pageSize",
        },
        case(
            "--max-input-list",
            2,
            r#"{ nodes(ids: ["usr_1", "usr_2"]) { id } }"#,
            r#"{ nodes(ids: ["usr_1", "usr_2", "usr_3"]) { id } }"#,
            "inputList",
        ),
        Case {
            setting: "--max-input-list",
            value: "2".to_owned(),
            at_limit: (
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": ["usr_1", "usr_2"] }),
            ),
            past_limit: (
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": ["usr_1", "usr_2", "usr_3"] }),
            ),
            limit: "inputList",
        },
    ];
    for case in cases {
        let app = spawn_app_with(&[case.setting, &case.value]).await;
        let (query, variables) = &case.at_limit;
        let (status, body) = app.post(None, query, variables.clone()).await;
        assert_eq!(
            (status, limit_of(&body)),
            (200, None),
            "{} {}: at the limit: {body}",
            case.setting,
            case.value
        );
        let (query, variables) = &case.past_limit;
        let (status, body) = app.post(None, query, variables.clone()).await;
        assert_eq!(
            (status, limit_of(&body)),
            (400, Some(case.limit)),
            "{} {}: one past: {body}",
            case.setting,
            case.value
        );
        assert_eq!(top_level_code(&body), "GRAPHQL_VALIDATION_FAILED");
        assert_eq!(body["data"], Value::Null, "{body}");
    }
}

#[tokio::test]
async fn the_batch_size_is_a_setting() {
    let app = spawn_app_with(&["--max-batch", "2"]).await;
    let op = json!({ "query": "{ __typename }" });
    for (n, expected) in [(2, 200), (3, 400)] {
        let batch: Vec<Value> = std::iter::repeat_n(op.clone(), n).collect();
        let response = app
            .client
            .post(app.graphql_url())
            .json(&batch)
            .send()
            .await
            .expect("batch");
        assert_eq!(response.status().as_u16(), expected, "{n} operations");
    }
}

/// An operation past the execution timeout is stopped where it stands: TIMEOUT, and what it
/// had not committed is not kept (the account of a register stopped while its password hashes
/// never appears).
#[tokio::test]
async fn an_operation_past_the_execution_timeout_is_stopped_and_keeps_nothing() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app_with(&["--execution-timeout-ms", "1"]).await;
    let (status, body) = app
        .post(
            None,
            REGISTER,
            json!({ "input": { "email": "slow@example.com", "password": "correct horse", "displayName": "Slow" } }),
        )
        .await;
    assert_eq!(
        (status, top_level_code(&body)),
        (503, "TIMEOUT".to_owned()),
        "{body}"
    );
    assert!(
        body["errors"][0]["extensions"]["requestId"].is_string(),
        "{body}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let kept = entity::users::Entity::find()
        .filter(entity::users::Column::Email.eq("slow@example.com"))
        .one(&app.state.db.reader)
        .await
        .expect("query");
    assert!(kept.is_none(), "{kept:?}");
}

/// The execution timeout holds over a websocket too: a query or mutation sent on a socket past
/// it answers TIMEOUT on its id and completes (subscriptions are not bounded by it).
#[tokio::test]
async fn a_socket_operation_past_the_execution_timeout_answers_timeout() {
    let app = spawn_app_with(&["--execution-timeout-ms", "1"]).await;
    let mut socket = crate::ws_client::WsClient::connect(&app, "graphql-transport-ws").await;
    socket.send(json!({ "type": "connection_init" })).await;
    assert_eq!(socket.next().await["type"], "connection_ack");
    socket
        .subscribe(
            "1",
            REGISTER,
            json!({ "input": { "email": "slowws@example.com", "password": "correct horse", "displayName": "Slow" } }),
        )
        .await;
    let answer = socket.next_data("1").await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "TIMEOUT",
        "{answer}"
    );
    let done = socket.next().await;
    assert_eq!(
        (done["id"].as_str(), done["type"].as_str()),
        (Some("1"), Some("complete")),
        "{done}"
    );
}
