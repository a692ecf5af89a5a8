//! Introspection as real clients send it: the documents of graphql-js, GraphiQL, GraphQL Code
//! Generator and Apollo are answered with the whole schema (rebuilt here and compared with the
//! exported SDL), while abusive introspection and over-deep operations are refused with a code.
use std::collections::{BTreeMap, BTreeSet};

use async_graphql::Name;
use async_graphql_parser::types::{
    BaseType, FieldDefinition, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql_parser::Positioned;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, top_level_code, TestApp};

const FIXTURES: [(&str, &str); 4] = [
    (
        "graphql-js-16-default",
        include_str!("fixtures/introspection/graphql-js-16-default.graphql"),
    ),
    (
        "graphql-js-16-all-options",
        include_str!("fixtures/introspection/graphql-js-16-all-options.graphql"),
    ),
    (
        "graphql-codegen-url-loader",
        include_str!("fixtures/introspection/graphql-codegen-url-loader.graphql"),
    ),
    (
        "apollo-android-2",
        include_str!("fixtures/introspection/apollo-android-2.graphql"),
    ),
];

const BUILT_IN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

fn sdl_type(ty: &Type) -> String {
    let base = match &ty.base {
        BaseType::Named(name) => name.to_string(),
        BaseType::List(inner) => format!("[{}]", sdl_type(inner)),
    };
    if ty.nullable {
        base
    } else {
        format!("{base}!")
    }
}

/// The field lines (with argument types) and `implements` lines of an object or interface.
fn add_fields(
    members: &mut BTreeSet<String>,
    fields: &[Positioned<FieldDefinition>],
    implements: &[Positioned<Name>],
) {
    for field in fields {
        let f = &field.node;
        let args: Vec<String> = f
            .arguments
            .iter()
            .map(|a| format!("{}: {}", a.node.name.node, sdl_type(&a.node.ty.node)))
            .collect();
        members.insert(format!(
            "field {}({}): {}",
            f.name.node,
            args.join(", "),
            sdl_type(&f.ty.node)
        ));
    }
    for i in implements {
        members.insert(format!("implements {}", i.node));
    }
}

/// Every named type of an SDL document as `kind` → sorted member lines.
fn from_sdl(sdl: &str) -> BTreeMap<String, BTreeSet<String>> {
    let doc = async_graphql_parser::parse_schema(sdl).expect("SDL parses");
    let mut out = BTreeMap::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else {
            continue;
        };
        let ty = ty.node;
        let name = ty.name.node.to_string();
        let mut members = BTreeSet::new();
        let kind = match &ty.kind {
            TypeKind::Scalar => "SCALAR",
            TypeKind::Object(o) => {
                add_fields(&mut members, &o.fields, &o.implements);
                "OBJECT"
            }
            TypeKind::Interface(o) => {
                add_fields(&mut members, &o.fields, &o.implements);
                "INTERFACE"
            }
            TypeKind::Union(u) => {
                for m in &u.members {
                    members.insert(format!("member {}", m.node));
                }
                "UNION"
            }
            TypeKind::Enum(e) => {
                for v in &e.values {
                    members.insert(format!("value {}", v.node.value.node));
                }
                "ENUM"
            }
            TypeKind::InputObject(i) => {
                for f in &i.fields {
                    members.insert(format!(
                        "input {}: {}",
                        f.node.name.node,
                        sdl_type(&f.node.ty.node)
                    ));
                }
                "INPUT_OBJECT"
            }
        };
        members.insert(format!("kind {kind}"));
        out.insert(name, members);
    }
    out
}

fn type_ref(t: &Value) -> String {
    match t["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_ref(&t["ofType"])),
        Some("LIST") => format!("[{}]", type_ref(&t["ofType"])),
        _ => t["name"]
            .as_str()
            .expect("a named type ends every TypeRef")
            .to_owned(),
    }
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The same view rebuilt from an introspection answer, as a client's `buildClientSchema` would.
fn from_introspection(schema: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for ty in schema["types"].as_array().expect("types") {
        let name = ty["name"].as_str().expect("name").to_owned();
        if name.starts_with("__") || BUILT_IN_SCALARS.contains(&name.as_str()) {
            continue;
        }
        let kind = ty["kind"].as_str().expect("kind");
        let mut members = BTreeSet::from([format!("kind {kind}")]);
        for f in ty["fields"].as_array().into_iter().flatten() {
            let args: Vec<String> = f["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| {
                    format!(
                        "{}: {}",
                        a["name"].as_str().unwrap_or_default(),
                        type_ref(&a["type"])
                    )
                })
                .collect();
            members.insert(format!(
                "field {}({}): {}",
                f["name"].as_str().unwrap_or_default(),
                args.join(", "),
                type_ref(&f["type"])
            ));
        }
        for i in names(&ty["interfaces"]) {
            members.insert(format!("implements {i}"));
        }
        if kind == "UNION" {
            for m in names(&ty["possibleTypes"]) {
                members.insert(format!("member {m}"));
            }
        }
        for v in names(&ty["enumValues"]) {
            members.insert(format!("value {v}"));
        }
        for f in ty["inputFields"].as_array().into_iter().flatten() {
            members.insert(format!(
                "input {}: {}",
                f["name"].as_str().unwrap_or_default(),
                type_ref(&f["type"])
            ));
        }
        out.insert(name, members);
    }
    out
}

async fn introspect(app: &TestApp, query: &str) -> Value {
    let response = app
        .client
        .post(app.graphql_url())
        .json(&json!({ "query": query, "operationName": "IntrospectionQuery" }))
        .send()
        .await
        .expect("introspection request");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("json")
}

#[tokio::test]
async fn every_standard_client_introspection_gets_the_whole_schema() {
    let app = spawn_app().await;
    let mut exported = from_sdl(&api::graphql::sdl());
    exported.retain(|name, _| !BUILT_IN_SCALARS.contains(&name.as_str()));
    assert!(exported.len() > 50, "the SDL view is not empty");
    for (client, query) in FIXTURES {
        let body = introspect(&app, query).await;
        assert!(body.get("errors").is_none(), "{client}: {body}");
        let schema = &body["data"]["__schema"];
        assert_eq!(schema["queryType"]["name"], "Query", "{client}");
        assert_eq!(schema["mutationType"]["name"], "Mutation", "{client}");
        let rebuilt = from_introspection(schema);
        let only_sdl: Vec<_> = exported
            .keys()
            .filter(|k| !rebuilt.contains_key(*k))
            .collect();
        let only_rebuilt: Vec<_> = rebuilt
            .keys()
            .filter(|k| !exported.contains_key(*k))
            .collect();
        assert!(
            only_sdl.is_empty() && only_rebuilt.is_empty(),
            "{client}: types only in the SDL {only_sdl:?}, only in the answer {only_rebuilt:?}"
        );
        for (name, members) in &exported {
            assert_eq!(
                Some(members),
                rebuilt.get(name),
                "{client}: type {name} differs"
            );
        }
    }
}

#[tokio::test]
async fn graphiql_gets_the_schema_with_its_own_request() {
    // GraphiQL 5 posts graphql-js's default document under the operation name
    // IntrospectionQuery, then builds its explorer from `data.__schema`.
    let app = spawn_app().await;
    let body = introspect(&app, FIXTURES[0].1).await;
    assert!(body.get("errors").is_none(), "{body}");
    let types = names(&body["data"]["__schema"]["types"]);
    for wanted in [
        "Query", "Mutation", "Order", "Listing", "Provider", "BigInt",
    ] {
        assert!(types.iter().any(|t| t == wanted), "{wanted} in {types:?}");
    }
}

/// async-graphql describes `__Schema` itself where the schema's own description belongs; this
/// schema has none, so a client rebuilding it (graphql-js `schemaDescription: true`) must read
/// null, whether the field is aliased or reached through a fragment.
#[tokio::test]
async fn the_schema_has_no_description_however_it_is_asked_for() {
    let app = spawn_app().await;
    let body = introspect(
        &app,
        "query IntrospectionQuery { __schema { description about: description ...S } s2: __schema { ... on __Schema { description } } }
         fragment S on __Schema { d: description queryType { name description } }",
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let data = &body["data"];
    for value in [
        &data["__schema"]["description"],
        &data["__schema"]["about"],
        &data["__schema"]["d"],
        &data["s2"]["description"],
    ] {
        assert!(value.is_null(), "{body}");
    }
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn introspection_is_refused_with_a_code_in_production() {
    let app = spawn_app_with(&["--app-env", "production", "--allow-sqlite-in-production"]).await;
    for (client, query) in FIXTURES {
        let body = introspect(&app, query).await;
        assert!(
            body["data"].is_null() || body["data"]["__schema"].is_null(),
            "{client}: production answered with a schema: {body}"
        );
        assert_eq!(
            top_level_code(&body),
            "GRAPHQL_VALIDATION_FAILED",
            "{client}: {body}"
        );
    }
    // The API itself still answers.
    let (_, ok) = app
        .post(None, "{ categories { category } }", json!({}))
        .await;
    assert!(ok.get("errors").is_none(), "{ok}");
}

fn of_type_chain(depth: usize) -> String {
    // `__type` is depth 1 and `name` the last level.
    let mut q = String::from("name");
    for _ in 0..depth.saturating_sub(2) {
        q = format!("ofType {{ {q} }}");
    }
    format!("{{ __type(name: \"User\") {{ {q} }} }}")
}

#[tokio::test]
async fn introspection_deeper_than_any_client_sends_is_refused_with_a_code() {
    let app = spawn_app().await;
    let limit = api::graphql::limits::MAX_INTROSPECTION_DEPTH;
    assert!(limit >= 15, "graphql-js sends depth 15");
    let (_, ok) = app.post(None, &of_type_chain(limit), json!({})).await;
    assert!(ok.get("errors").is_none(), "{ok}");
    let (status, deep) = app.post(None, &of_type_chain(limit + 1), json!({})).await;
    assert_eq!(status, 400, "a limit answers 400");
    assert!(deep["data"].is_null(), "{deep}");
    assert_eq!(top_level_code(&deep), "GRAPHQL_VALIDATION_FAILED", "{deep}");
    assert_eq!(
        deep["errors"][0]["extensions"]["limit"],
        "introspectionDepth"
    );
    assert_eq!(deep["errors"][0]["extensions"]["max"], json!(limit));

    // Lists that multiply each other: types × fields × fields × fields.
    let (_, lists) = app
        .post(
            None,
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        top_level_code(&lists),
        "GRAPHQL_VALIDATION_FAILED",
        "{lists}"
    );
    assert_eq!(
        lists["errors"][0]["extensions"]["limit"],
        "introspectionLists"
    );
}

/// `listings(first: 1) { nodes { provider { listings(first: 1) { nodes { provider … } } } } }`
/// to `depth` levels of the operation's own fields (pages of one keep it within the cost limit).
fn own_fields(depth: usize) -> String {
    let path = ["listings(first: 1)", "nodes", "provider"];
    let mut q = String::from("id");
    for level in (1..depth).rev() {
        q = format!("{} {{ {q} }}", path[(level - 1) % 3]);
    }
    format!("{{ {q} }}")
}

#[tokio::test]
async fn operations_deeper_than_twelve_are_refused_with_a_code() {
    let app = spawn_app().await;
    let (_, ok) = app.post(None, &own_fields(12), json!({})).await;
    assert!(ok.get("errors").is_none(), "{ok}");
    let (_, deep) = app.post(None, &own_fields(13), json!({})).await;
    assert!(deep["data"].is_null(), "{deep}");
    assert_eq!(top_level_code(&deep), "GRAPHQL_VALIDATION_FAILED", "{deep}");
    assert_eq!(deep["errors"][0]["extensions"]["limit"], "depth");
    assert_eq!(deep["errors"][0]["extensions"]["actual"], 13);
    // Introspection beside the operation does not count towards its depth.
    let with_introspection = own_fields(12).replacen(
        '{',
        "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } }",
        1,
    );
    let (_, both) = app.post(None, &with_introspection, json!({})).await;
    assert!(both.get("errors").is_none(), "{both}");
}

#[tokio::test]
async fn more_than_fifteen_aliases_are_refused_with_a_code() {
    let app = spawn_app().await;
    let aliased = |n: usize| {
        let fields: Vec<String> = (0..n)
            .map(|i| format!("c{i}: categories {{ category }}"))
            .collect();
        format!("{{ {} }}", fields.join(" "))
    };
    let (_, ok) = app.post(None, &aliased(15), json!({})).await;
    assert!(ok.get("errors").is_none(), "{ok}");
    let (_, many) = app.post(None, &aliased(16), json!({})).await;
    assert_eq!(top_level_code(&many), "GRAPHQL_VALIDATION_FAILED", "{many}");
    assert_eq!(many["errors"][0]["extensions"]["limit"], "aliases");
}

#[tokio::test]
async fn every_refusal_before_execution_carries_a_code() {
    let app = spawn_app().await;
    let cases: [(&str, &str, Value, &str); 6] = [
        (
            "a syntax error",
            "{ categories { category ",
            json!({}),
            "GRAPHQL_PARSE_FAILED",
        ),
        (
            "an unknown field",
            "{ nosuchfield }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "an argument of the wrong type",
            "{ listings(first: \"ten\") { totalCount } }",
            json!({}),
            "BAD_USER_INPUT",
        ),
        (
            "an Int literal out of range",
            "{ listings(first: 2147483648) { totalCount } }",
            json!({}),
            "BAD_USER_INPUT",
        ),
        (
            "an Int variable out of range",
            "query($n: Int) { listings(first: $n) { totalCount } }",
            json!({ "n": 2147483648u64 }),
            "BAD_USER_INPUT",
        ),
        (
            "two operations and no name",
            "query A { categories { category } } query B { categories { category } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for (what, query, variables, code) in cases {
        let (status, body) = app.post(None, query, variables).await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(top_level_code(&body), code, "{what}: {body}");
        for error in body["errors"].as_array().expect("errors") {
            assert!(error["extensions"]["code"].is_string(), "{what}: {error}");
        }
    }
    // A page size past the maximum is a limit: refused with its name and HTTP 400.
    let (status, body) = app
        .post(None, "{ listings(first: 101) { totalCount } }", json!({}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(top_level_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["limit"], "pageSize",
        "{body}"
    );
    let unknown_operation = app
        .client
        .post(app.graphql_url())
        .json(&json!({ "query": "query A { categories { category } }", "operationName": "B" }))
        .send()
        .await
        .expect("request");
    let body: Value = unknown_operation.json().await.expect("json");
    assert_eq!(top_level_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
}

/// Finding 1 of the hardening issue: 243 bytes of nested pages took 9.4 s, 10 CPU-s and 485 MB.
/// Its cost (50,402 by hand) is refused before anything runs; an operation costing exactly the
/// limit runs and reports its cost, one point more is refused.
#[tokio::test]
async fn operations_are_costed_before_they_run_and_refused_past_a_thousand() {
    let app = spawn_app_with(&["--sql-statement-count"]).await;
    let finding = "{ listings(first:100){ nodes{ provider{ listings(first:100){ nodes{ provider{ listings(first:1){ nodes { id } } } } } } } } }";
    let (status, refused) = app.post(None, finding, json!({})).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(top_level_code(&refused), "GRAPHQL_VALIDATION_FAILED");
    let ext = &refused["errors"][0]["extensions"];
    assert_eq!(
        (
            ext["limit"].clone(),
            ext["actual"].clone(),
            ext["max"].clone()
        ),
        (json!("cost"), json!(50_402), json!(1000))
    );
    assert!(
        matches!(
            refused["extensions"]["sqlStatements"].as_u64(),
            None | Some(0)
        ),
        "no statement ran: {refused}"
    );

    // 4 × (2 + 100 × 2) + (2 + 95 × 2) = 1,000.
    let page = |alias: &str, n: u32| {
        format!("{alias}: listings(first: {n}) {{ nodes {{ provider {{ id }} }} }}")
    };
    let at_limit = format!(
        "{{ {} {} {} {} {} }}",
        page("a", 100),
        page("b", 100),
        page("c", 100),
        page("d", 100),
        page("e", 95)
    );
    let (status, ok) = app.post(None, &at_limit, json!({})).await;
    assert_eq!(status, 200, "{ok}");
    assert!(ok.get("errors").is_none(), "{ok}");
    assert_eq!(ok["extensions"]["cost"]["requestedQueryCost"], 1000);
    assert_eq!(ok["extensions"]["cost"]["maxCost"], 1000);
    let past = at_limit.replacen('{', "{ viewer { id } ", 1);
    let (status, over) = app.post(None, &past, json!({})).await;
    assert_eq!(status, 400, "{over}");
    assert_eq!(over["errors"][0]["extensions"]["actual"], 1001, "{over}");

    // Page sizes given as variables count, and `nodes(ids:)` costs one object per id.
    let query = "query($n: Int, $ids: [ID!]!) { listings(first: $n) { nodes { id } } nodes(ids: $ids) { id } }";
    let (_, ok) = app
        .post(None, query, json!({ "n": 7, "ids": ["a", "b", "c"] }))
        .await;
    assert_eq!(
        ok["extensions"]["cost"]["requestedQueryCost"],
        2 + 7 + 3,
        "{ok}"
    );
}
