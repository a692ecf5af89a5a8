//! The static cost of an operation, computed from the document and its variables before
//! anything runs (DESIGN §8, like Shopify's calculated query cost): an object costs 1, a scalar
//! 0, a connection 2 plus its page size times what one of its items costs, and `nodes(ids:)` as
//! many objects as ids. Fragments count where they are spread; introspection is bounded apart
//! (see `limits`) and costs nothing here.
//!
//! A connection is a field with a `first` or `last` argument or whose selection reads `nodes`
//! or `edges`; without a page size it is charged the default one. Lists that are not paginated
//! (an invoice's lines, an order's events) are charged as one object: their size is bounded by
//! what the server stores, not by the client.
use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Name, Value, Variables};

use crate::pagination::DEFAULT_PAGE_SIZE;

/// Most cost one operation may ask for.
pub const MAX_COST: u64 = 1000;

/// The code of an operation refused because its caller's budget is spent for now.
pub const THROTTLED: &str = "THROTTLED";

/// Selections visited while costing, fragments expanded (the limits walker refuses anything
/// bigger before the cost is computed; this only guards the walk itself).
const MAX_VISITS: usize = 20_000;

struct Coster<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    visits: usize,
    spreading: Vec<&'a Name>,
}

/// The value of an argument, variables resolved; `None` when absent or not resolvable.
fn argument(field: &Field, name: &str, variables: &Variables) -> Option<Value> {
    let (_, value) = field.arguments.iter().find(|(n, _)| n.node == name)?;
    value
        .node
        .clone()
        .into_const_with(|var| variables.get(&var).cloned().ok_or(()))
        .ok()
}

fn count(value: Option<Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

impl<'a> Coster<'a> {
    /// The cost of a selection set: the sum of its fields' costs.
    fn set(&mut self, set: &'a SelectionSet) -> u64 {
        let mut total: u64 = 0;
        for selection in &set.items {
            self.visits += 1;
            if self.visits > MAX_VISITS {
                return u64::MAX;
            }
            let cost = match &selection.node {
                Selection::Field(field) => self.field(&field.node),
                Selection::InlineFragment(fragment) => self.set(&fragment.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    match self.doc.fragments.get(name) {
                        Some(fragment) if !self.spreading.contains(&name) => {
                            self.spreading.push(name);
                            let cost = self.set(&fragment.node.selection_set.node);
                            self.spreading.pop();
                            cost
                        }
                        _ => 0,
                    }
                }
            };
            total = total.saturating_add(cost);
        }
        total
    }

    fn field(&mut self, field: &'a Field) -> u64 {
        let name = field.name.node.as_str();
        if name.starts_with("__") {
            return 0;
        }
        let children = &field.selection_set.node;
        if children.items.is_empty() {
            return 0;
        }
        if name == "nodes" {
            if let Some(Value::List(ids)) = argument(field, "ids", self.variables) {
                let each = 1u64.saturating_add(self.set(children));
                return (ids.len() as u64).saturating_mul(each);
            }
        }
        let first = count(argument(field, "first", self.variables));
        let last = count(argument(field, "last", self.variables));
        let paginated = first.is_some()
            || last.is_some()
            || children.items.iter().any(|s| {
                matches!(&s.node, Selection::Field(f)
                    if matches!(f.node.name.node.as_str(), "nodes" | "edges"))
            });
        if !paginated {
            return 1u64.saturating_add(self.set(children));
        }
        let size = first.or(last).unwrap_or(DEFAULT_PAGE_SIZE);
        2u64.saturating_add(self.connection(children, size))
    }

    /// Inside a connection: its page size times each of `nodes`/`edges`, plus what is read
    /// once (pageInfo, totalCount); fragments are looked through.
    fn connection(&mut self, set: &'a SelectionSet, size: u64) -> u64 {
        let mut total: u64 = 0;
        for selection in &set.items {
            self.visits += 1;
            if self.visits > MAX_VISITS {
                return u64::MAX;
            }
            let cost = match &selection.node {
                Selection::Field(f)
                    if matches!(f.node.name.node.as_str(), "nodes" | "edges")
                        && !f.node.selection_set.node.items.is_empty() =>
                {
                    let each = 1u64.saturating_add(self.set(&f.node.selection_set.node));
                    size.saturating_mul(each)
                }
                Selection::Field(f) => self.field(&f.node),
                Selection::InlineFragment(fragment) => {
                    self.connection(&fragment.node.selection_set.node, size)
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    match self.doc.fragments.get(name) {
                        Some(fragment) if !self.spreading.contains(&name) => {
                            self.spreading.push(name);
                            let cost = self.connection(&fragment.node.selection_set.node, size);
                            self.spreading.pop();
                            cost
                        }
                        _ => 0,
                    }
                }
            };
            total = total.saturating_add(cost);
        }
        total
    }
}

/// What an operation turned out to cost, from the data it answered: the same rules as the
/// static cost, with each page's real number of items instead of its `first`, and nothing
/// for what came back null. At most the static cost.
pub fn actual(doc: &ExecutableDocument, selection_set: &SelectionSet, data: &Value) -> u64 {
    let mut actual = Actual {
        doc,
        visits: 0,
        spreading: Vec::new(),
    };
    actual.set(selection_set, data)
}

struct Actual<'a> {
    doc: &'a ExecutableDocument,
    visits: usize,
    spreading: Vec<&'a Name>,
}

/// The value a field answered inside `data` (an object), under its alias or name.
fn answered<'v>(field: &Field, data: &'v Value) -> Option<&'v Value> {
    let Value::Object(object) = data else {
        return None;
    };
    let key = field.alias.as_ref().unwrap_or(&field.name);
    object.get(&key.node).filter(|v| !matches!(v, Value::Null))
}

impl<'a> Actual<'a> {
    fn spread<F>(&mut self, name: &'a Name, mut each: F) -> u64
    where
        F: FnMut(&mut Self, &'a SelectionSet) -> u64,
    {
        match self.doc.fragments.get(name) {
            Some(fragment) if !self.spreading.contains(&name) => {
                self.spreading.push(name);
                let cost = each(self, &fragment.node.selection_set.node);
                self.spreading.pop();
                cost
            }
            _ => 0,
        }
    }

    fn set(&mut self, set: &'a SelectionSet, data: &Value) -> u64 {
        let mut total: u64 = 0;
        for selection in &set.items {
            self.visits += 1;
            if self.visits > MAX_VISITS {
                return total;
            }
            let cost = match &selection.node {
                Selection::Field(field) => self.field(&field.node, data),
                Selection::InlineFragment(fragment) => {
                    self.set(&fragment.node.selection_set.node, data)
                }
                Selection::FragmentSpread(spread) => {
                    self.spread(&spread.node.fragment_name.node, |me, set| me.set(set, data))
                }
            };
            total = total.saturating_add(cost);
        }
        total
    }

    fn field(&mut self, field: &'a Field, data: &Value) -> u64 {
        let name = field.name.node.as_str();
        let children = &field.selection_set.node;
        if name.starts_with("__") || children.items.is_empty() {
            return 0;
        }
        let Some(value) = answered(field, data) else {
            return 0;
        };
        let has = |arg: &str| field.arguments.iter().any(|(n, _)| n.node == arg);
        if name == "nodes" && has("ids") {
            let Value::List(items) = value else {
                return 0;
            };
            return items
                .iter()
                .filter(|item| !matches!(item, Value::Null))
                .map(|item| 1u64.saturating_add(self.set(children, item)))
                .fold(0, u64::saturating_add);
        }
        let paginated = has("first")
            || has("last")
            || children.items.iter().any(|s| {
                matches!(&s.node, Selection::Field(f)
                    if matches!(f.node.name.node.as_str(), "nodes" | "edges"))
            });
        if paginated {
            return 2u64.saturating_add(self.connection(children, value));
        }
        match value {
            Value::List(items) => {
                1u64.saturating_add(items.first().map_or(0, |item| self.set(children, item)))
            }
            _ => 1u64.saturating_add(self.set(children, value)),
        }
    }

    fn connection(&mut self, set: &'a SelectionSet, data: &Value) -> u64 {
        let mut total: u64 = 0;
        for selection in &set.items {
            self.visits += 1;
            if self.visits > MAX_VISITS {
                return total;
            }
            let cost = match &selection.node {
                Selection::Field(f)
                    if matches!(f.node.name.node.as_str(), "nodes" | "edges")
                        && !f.node.selection_set.node.items.is_empty() =>
                {
                    match answered(&f.node, data) {
                        Some(Value::List(items)) => items
                            .iter()
                            .map(|item| {
                                1u64.saturating_add(self.set(&f.node.selection_set.node, item))
                            })
                            .fold(0, u64::saturating_add),
                        _ => 0,
                    }
                }
                Selection::Field(f) => self.field(&f.node, data),
                Selection::InlineFragment(fragment) => {
                    self.connection(&fragment.node.selection_set.node, data)
                }
                Selection::FragmentSpread(spread) => self
                    .spread(&spread.node.fragment_name.node, |me, set| {
                        me.connection(set, data)
                    }),
            };
            total = total.saturating_add(cost);
        }
        total
    }
}

/// The cost of `selection_set` (an operation's) in `doc` with `variables`.
pub fn cost(doc: &ExecutableDocument, selection_set: &SelectionSet, variables: &Variables) -> u64 {
    let mut coster = Coster {
        doc,
        variables,
        visits: 0,
        spreading: Vec::new(),
    };
    coster.set(selection_set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn cost_of(query: &str, variables: serde_json::Value) -> u64 {
        let doc = parse_query(query).expect("parses");
        let op = crate::graphql::limits::select_operation(&doc, None).expect("one operation");
        cost(
            &doc,
            &op.selection_set.node,
            &Variables::from_json(variables),
        )
    }

    #[test]
    fn the_finding_query_costs_what_the_hand_count_says() {
        // listings(first:1){nodes{id}} = 2 + 1 × (1 + 0) = 3; provider{…} = 1 + 3 = 4;
        // one item {provider} = 1 + 4 = 5; listings(first:100) = 2 + 100 × 5 = 502;
        // provider = 503; one item = 504; the outer listings = 2 + 100 × 504 = 50,402.
        let q = "{ listings(first:100){ nodes{ provider{ listings(first:100){ nodes{ provider{ listings(first:1){ nodes { id } } } } } } } } }";
        assert_eq!(cost_of(q, serde_json::json!({})), 50_402);
    }

    #[test]
    fn objects_cost_one_scalars_nothing_and_pages_multiply() {
        let q =
            "{ listings(first: 10) { totalCount pageInfo { hasNextPage } nodes { id title } } }";
        assert_eq!(cost_of(q, serde_json::json!({})), 2 + 1 + 10);
        let q = "query($n: Int) { listings(first: $n) { nodes { id provider { id } } } }";
        assert_eq!(cost_of(q, serde_json::json!({ "n": 5 })), 2 + 5 * 2);
        // No page size: the default one.
        assert_eq!(
            cost_of("{ listings { nodes { id } } }", serde_json::json!({})),
            2 + DEFAULT_PAGE_SIZE
        );
        // `last` counts like `first`, edges like nodes.
        let q = "{ myOrders(last: 3) { edges { node { id listing { id } } } } }";
        assert_eq!(cost_of(q, serde_json::json!({})), 2 + 3 * (1 + 1 + 1));
        assert_eq!(cost_of("{ viewer { id email } }", serde_json::json!({})), 1);
    }

    fn actual_of(query: &str, data: serde_json::Value) -> u64 {
        let doc = parse_query(query).expect("parses");
        let op = crate::graphql::limits::select_operation(&doc, None).expect("one operation");
        actual(
            &doc,
            &op.selection_set.node,
            &Value::from_json(data).expect("value"),
        )
    }

    #[test]
    fn the_actual_cost_counts_the_items_that_came_back() {
        // Asked 10 items with a provider each (2 + 10 × 2 = 22); 3 came back, one of them
        // without a provider: 2 + (1 + 1) + (1 + 1) + (1 + 0) = 7.
        let q = "{ listings(first: 10) { totalCount nodes { id provider { id } } } }";
        let data = serde_json::json!({ "listings": { "totalCount": 3, "nodes": [
            { "id": "a", "provider": { "id": "p" } },
            { "id": "b", "provider": { "id": "p" } },
            { "id": "c", "provider": null } ] } });
        assert_eq!(cost_of(q, serde_json::json!({})), 22);
        assert_eq!(actual_of(q, data), 7);
        // Aliases are read under their alias; a null field costs nothing.
        let q = "{ me: viewer { id } other: listings(first: 2) { nodes { id } } }";
        let data = serde_json::json!({ "me": null, "other": { "nodes": [{ "id": "x" }] } });
        assert_eq!(actual_of(q, data), 2 + 1);
        // nodes(ids:) counts the ids found.
        let q = r#"{ nodes(ids: ["a", "b", "c"]) { id } }"#;
        let data = serde_json::json!({ "nodes": [{ "id": "a" }, null, null] });
        assert_eq!(actual_of(q, data), 1);
    }

    #[test]
    fn nodes_cost_one_object_per_id_and_fragments_count_where_spread() {
        let q =
            "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Listing { provider { id } } } }";
        assert_eq!(
            cost_of(q, serde_json::json!({ "ids": ["a", "b", "c"] })),
            3 * 2
        );
        let q = "{ a: listings(first: 4) { ...L } b: listings(first: 4) { ...L } } fragment L on ListingConnection { nodes { id provider { ...P } } } fragment P on Provider { id tenant { id } }";
        assert_eq!(cost_of(q, serde_json::json!({})), 2 * (2 + 4 * (1 + 1 + 1)));
        // Introspection is bounded elsewhere and costs nothing here.
        assert_eq!(
            cost_of(
                "{ __schema { types { name fields { name } } } }",
                serde_json::json!({})
            ),
            0
        );
    }
}
