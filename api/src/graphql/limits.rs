//! Limits on what one operation may ask for, and stable `extensions.code`s on every refusal that
//! happens before execution (parse errors, validation rules, limits).
//!
//! async-graphql's own depth and complexity limits count every field, introspection included,
//! so the introspection document every standard client sends (graphql-js `getIntrospectionQuery`
//! nests `ofType` to depth 15) was refused by a depth limit of 12. Here the operation's own
//! fields are measured apart from the subtrees under `__schema` and `__type`, which have a bound
//! of their own: a depth no standard client comes near, and at most [`INTROSPECTION_LIST_DEPTH`]
//! nested `fields`/`interfaces`/`possibleTypes`/`inputFields` (the rule graphql-js 16.9 added
//! as `MaxIntrospectionDepthRule`), since those lists multiply each other's size.
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{ErrorExtensionValues, Name, Pos, ServerError, Value, Variables};

use crate::error::INTERNAL_CODE;

/// Deepest nesting of the operation's own fields (DESIGN §8).
pub const MAX_DEPTH: usize = 12;
/// Most fields one operation selects, fragments counted where they are spread. Stands in for the
/// cost analysis of the hardening work; introspection fields are not counted.
pub const MAX_FIELDS: usize = 1000;
/// Most aliases in one operation (DESIGN §8), introspection included.
pub const MAX_ALIASES: usize = 15;
/// Deepest nesting under `__schema`/`__type`, counted from the root. graphql-js 16 and every
/// loader built on it reach 15 (`types → fields → type → ofType ×9 … → name`).
pub const MAX_INTROSPECTION_DEPTH: usize = 20;
/// Nested introspection lists that multiply each other (`fields`, `interfaces`,
/// `possibleTypes`, `inputFields`): reaching this many is refused, as graphql-js does.
pub const INTROSPECTION_LIST_DEPTH: usize = 3;
/// Selections visited while measuring, fragments expanded. Fragments that spread each other
/// twice per level would otherwise cost 2^n to walk; past this the operation is refused.
const MAX_VISITS: usize = 10_000;

/// The limits of DESIGN §8 that settings can change, with its defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// deepest nesting of the operation's own fields
    pub depth: usize,
    pub aliases: usize,
    /// directives on one field
    pub directives: usize,
    /// lexical tokens of the query text
    pub tokens: usize,
    /// characters of the query text
    pub query_chars: usize,
    /// operations in one batched request
    pub batch: usize,
    /// fields at the root of one operation (fragments looked through)
    pub root_fields: usize,
    /// largest `first`/`last` (never above the hard bound of 100 the lists themselves keep)
    pub page_size: usize,
    /// items of any list in the arguments or variables
    pub input_list: usize,
    pub execution_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth: MAX_DEPTH,
            aliases: MAX_ALIASES,
            directives: 5,
            tokens: 5_000,
            query_chars: 15_000,
            batch: 10,
            root_fields: 20,
            page_size: 100,
            input_list: 100,
            execution_timeout: std::time::Duration::from_secs(10),
        }
    }
}

pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";

/// What an operation asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Measure {
    /// Deepest nesting of fields outside introspection.
    pub depth: usize,
    /// Fields outside introspection.
    pub fields: usize,
    pub aliases: usize,
    /// Deepest nesting inside `__schema`/`__type`, from the root.
    pub introspection_depth: usize,
    /// Deepest nesting of multiplying introspection lists.
    pub introspection_lists: usize,
    /// True when the operation selects `__schema` or `__type`.
    pub introspects: bool,
    /// True when measuring stopped at [`MAX_VISITS`].
    pub exhausted: bool,
    /// Root `login`/`register` fields.
    pub password_fields: usize,
    /// Fields at the root, fragments looked through.
    pub root_fields: usize,
    /// The largest `first`/`last` asked for (literal or variable).
    pub page_size: usize,
    /// The longest list written in an argument.
    pub input_list: usize,
    /// The most directives on one field, inline fragment or fragment spread.
    pub directives: usize,
}

/// A refused operation: which limit, the bound and what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub limit: &'static str,
    pub max: usize,
    pub actual: usize,
    pub message: String,
}

const INTROSPECTION_LISTS: [&str; 4] = ["fields", "interfaces", "possibleTypes", "inputFields"];

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    variables: Option<&'a Variables>,
    measure: Measure,
    visits: usize,
    spreading: Vec<&'a Name>,
}

/// Where a selection stands: depth from the root, and inside introspection the list nesting.
#[derive(Clone, Copy)]
struct At {
    depth: usize,
    introspection: Option<usize>,
}

impl<'a> Walker<'a> {
    fn walk(&mut self, set: &'a SelectionSet, at: At) {
        for selection in &set.items {
            self.visits += 1;
            if self.visits > MAX_VISITS {
                self.measure.exhausted = true;
                return;
            }
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if field.alias.is_some() {
                        self.measure.aliases += 1;
                    }
                    if at.depth == 0 {
                        self.measure.root_fields += 1;
                    }
                    self.measure.directives = self.measure.directives.max(field.directives.len());
                    for (name, value) in &field.arguments {
                        // Variables put in place; one that is missing leaves the argument to
                        // the validation rules.
                        let variables = self.variables;
                        let Ok(value) = value.node.clone().into_const_with(|var| {
                            variables.and_then(|v| v.get(&var).cloned()).ok_or(())
                        }) else {
                            continue;
                        };
                        let m = &mut self.measure;
                        m.input_list = m.input_list.max(longest_variable_list(&value));
                        if matches!(name.node.as_str(), "first" | "last") {
                            // Beyond a GraphQL Int, the validation rules refuse it.
                            let asked = match &value {
                                Value::Number(n) => n.as_u64().filter(|n| *n <= i32::MAX as u64),
                                _ => None,
                            };
                            if let Some(asked) = asked {
                                m.page_size = m.page_size.max(asked as usize);
                            }
                        }
                    }
                    let name = field.name.node.as_str();
                    let depth = at.depth + 1;
                    let introspection = match at.introspection {
                        Some(lists) => {
                            Some(lists + usize::from(INTROSPECTION_LISTS.contains(&name)))
                        }
                        None if at.depth == 0 && (name == "__schema" || name == "__type") => {
                            self.measure.introspects = true;
                            Some(0)
                        }
                        None => None,
                    };
                    match introspection {
                        Some(lists) => {
                            let m = &mut self.measure;
                            m.introspection_depth = m.introspection_depth.max(depth);
                            m.introspection_lists = m.introspection_lists.max(lists);
                        }
                        None => {
                            self.measure.fields += 1;
                            self.measure.depth = self.measure.depth.max(depth);
                        }
                    }
                    self.walk(
                        &field.selection_set.node,
                        At {
                            depth,
                            introspection,
                        },
                    );
                }
                Selection::InlineFragment(fragment) => {
                    let m = &mut self.measure;
                    m.directives = m.directives.max(fragment.node.directives.len());
                    self.walk(&fragment.node.selection_set.node, at);
                }
                Selection::FragmentSpread(spread) => {
                    let m = &mut self.measure;
                    m.directives = m.directives.max(spread.node.directives.len());
                    let name = &spread.node.fragment_name.node;
                    // A cycle or an unknown fragment is the validation rules' to report.
                    if self.spreading.contains(&name) {
                        continue;
                    }
                    let Some(fragment) = self.doc.fragments.get(name) else {
                        continue;
                    };
                    self.spreading.push(name);
                    self.walk(&fragment.node.selection_set.node, at);
                    self.spreading.pop();
                }
            }
        }
    }
}

/// Root fields that hash a password: at most one per operation.
const PASSWORD_FIELDS: [&str; 2] = ["login", "register"];

/// How many of the operation's root fields (fragments looked through) are `login`/`register`.
fn password_fields(doc: &ExecutableDocument, set: &SelectionSet, spreads: usize) -> usize {
    set.items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(PASSWORD_FIELDS.contains(&field.node.name.node.as_str()))
            }
            Selection::InlineFragment(fragment) => {
                password_fields(doc, &fragment.node.selection_set.node, spreads)
            }
            Selection::FragmentSpread(spread) if spreads < 8 => doc
                .fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |f| {
                    password_fields(doc, &f.node.selection_set.node, spreads + 1)
                }),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// The longest list in a value (an argument's, variables put in place, or a variable's).
pub fn longest_variable_list(value: &Value) -> usize {
    match value {
        Value::List(items) => items
            .iter()
            .map(longest_variable_list)
            .max()
            .unwrap_or(0)
            .max(items.len()),
        Value::Object(fields) => fields
            .values()
            .map(longest_variable_list)
            .max()
            .unwrap_or(0),
        _ => 0,
    }
}

/// Lexical tokens of a GraphQL text (punctuators, names, numbers, strings; whitespace, commas
/// and comments are not tokens), counted up to `stop_after + 1` so a huge text costs no more
/// than the limit to refuse.
pub fn count_tokens(text: &str, stop_after: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut tokens = 0;
    while i < bytes.len() && tokens <= stop_after {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            0xEF if bytes[i..].starts_with(&[0xEF, 0xBB, 0xBF]) => i += 3,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 3;
                tokens += 1;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                tokens += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                i += 3;
                tokens += 1;
            }
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'.' | b'+' | b'-'))
                {
                    // a number's `.5`/`e+3` parts, or a name's characters
                    if matches!(bytes[i], b'.' | b'+' | b'-') && !b.is_ascii_digit() && b != b'-' {
                        break;
                    }
                    i += 1;
                }
                tokens += 1;
            }
            _ => {
                // punctuators and anything else (which the parser refuses) count one each
                i += text[i..].chars().next().map_or(1, char::len_utf8);
                tokens += 1;
            }
        }
    }
    tokens
}

/// Measures one operation of a parsed document.
pub fn measure(doc: &ExecutableDocument, operation: &OperationDefinition) -> Measure {
    measure_with(doc, operation, None)
}

/// Measures one operation, reading `first`/`last` given as variables from `variables`.
pub fn measure_with(
    doc: &ExecutableDocument,
    operation: &OperationDefinition,
    variables: Option<&Variables>,
) -> Measure {
    let mut walker = Walker {
        doc,
        variables,
        measure: Measure::default(),
        visits: 0,
        spreading: Vec::new(),
    };
    walker.walk(
        &operation.selection_set.node,
        At {
            depth: 0,
            introspection: None,
        },
    );
    walker.measure.password_fields = password_fields(doc, &operation.selection_set.node, 0);
    walker.measure
}

/// The operation a request would run: the named one, or the only one. `None` leaves the choice
/// (and its error) to the executor.
pub fn select_operation<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The first limit a measured operation exceeds.
pub fn check(m: &Measure, limits: &Limits) -> Result<(), Exceeded> {
    let over = |limit: &'static str, max: usize, actual: usize, what: &str| {
        (actual > max).then(|| Exceeded {
            limit,
            max,
            actual,
            message: format!("{what}: {actual}, at most {max}"),
        })
    };
    if m.exhausted {
        return Err(Exceeded {
            limit: "fields",
            max: MAX_VISITS,
            actual: MAX_VISITS + 1,
            message: format!(
                "query is too complex: more than {MAX_VISITS} selections with fragments expanded"
            ),
        });
    }
    let introspection_lists =
        (m.introspection_lists >= INTROSPECTION_LIST_DEPTH).then(|| Exceeded {
            limit: "introspectionLists",
            max: INTROSPECTION_LIST_DEPTH - 1,
            actual: m.introspection_lists,
            message: format!(
            "introspection nests fields/interfaces/possibleTypes/inputFields {} deep, at most {}",
            m.introspection_lists,
            INTROSPECTION_LIST_DEPTH - 1
        ),
        });
    let refusal = over("depth", limits.depth, m.depth, "query is nested too deep")
        .or_else(|| {
            over(
                "fields",
                MAX_FIELDS,
                m.fields,
                "query selects too many fields",
            )
        })
        .or_else(|| {
            over(
                "aliases",
                limits.aliases,
                m.aliases,
                "query uses too many aliases",
            )
        })
        .or_else(|| {
            over(
                "directives",
                limits.directives,
                m.directives,
                "too many directives on one field or fragment",
            )
        })
        .or_else(|| {
            over(
                "rootFields",
                limits.root_fields,
                m.root_fields,
                "operation selects too many root fields",
            )
        })
        .or_else(|| {
            over(
                "pageSize",
                limits.page_size,
                m.page_size,
                "first/last asks for too many items",
            )
        })
        .or_else(|| {
            over(
                "inputList",
                limits.input_list,
                m.input_list,
                "an argument's list has too many items",
            )
        })
        .or_else(|| {
            over(
                "introspectionDepth",
                MAX_INTROSPECTION_DEPTH,
                m.introspection_depth,
                "introspection is nested too deep",
            )
        })
        .or(introspection_lists)
        .or_else(|| {
            over(
                "passwordFields",
                1,
                m.password_fields,
                "login and register: at most one per request",
            )
        });
    match refusal {
        Some(exceeded) => Err(exceeded),
        None => Ok(()),
    }
}

/// A server error with `extensions.code`.
pub fn coded_error(message: impl Into<String>, pos: Option<Pos>, code: &str) -> ServerError {
    let mut error = ServerError::new(message, pos);
    set_code(&mut error, code);
    error
}

pub(super) fn set_code(error: &mut ServerError, code: &str) {
    error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set("code", code);
}

pub(super) fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some())
}

impl Exceeded {
    pub(super) fn into_error(self) -> ServerError {
        let mut error = coded_error(self.message, None, VALIDATION_FAILED);
        let ext = error
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        ext.set("limit", self.limit);
        ext.set("max", Value::from(self.max as u64));
        ext.set("actual", Value::from(self.actual as u64));
        error
    }
}

/// The code of an error async-graphql raised without one, from where it was raised. Matching
/// its message text is the only way to tell its rules apart; an unknown message still gets the
/// stage's code.
pub(super) fn code_for_parse_error(error: &ServerError) -> &'static str {
    // Raised inside the parse step, but limits on a well-formed document.
    if error.message.starts_with("The recursion depth")
        || error.message.starts_with("The number of directives")
    {
        VALIDATION_FAILED
    } else {
        PARSE_FAILED
    }
}

pub(super) fn code_for_validation_error(error: &ServerError) -> &'static str {
    // ArgumentsOfCorrectType: a value the client sent (e.g. `first: 2147483648` for an Int).
    if error.message.starts_with("Invalid value for argument") {
        BAD_USER_INPUT
    } else {
        VALIDATION_FAILED
    }
}

pub(super) fn code_for_uncoded_error(error: &ServerError) -> &'static str {
    let m = error.message.as_str();
    if m.starts_with("Unknown operation named") || m.starts_with("Operation name required") {
        VALIDATION_FAILED
    } else if m.starts_with("Failed to parse") || m.starts_with("Invalid value") {
        // Input coercion of variables and arguments at execution.
        BAD_USER_INPUT
    } else {
        tracing::error!(message = %m, "an error without extensions.code reached the client");
        INTERNAL_CODE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn check_default(m: &Measure) -> Result<(), Exceeded> {
        check(m, &Limits::default())
    }

    fn measured(query: &str) -> Measure {
        let doc = parse_query(query).expect("parses");
        let op = select_operation(&doc, None).expect("one operation");
        measure(&doc, op)
    }

    #[test]
    fn introspection_fields_are_measured_apart_from_the_operations_own() {
        let m = measured(
            "{ viewer { id } __schema { types { fields { type { ofType { ofType { name } } } } } } }",
        );
        assert_eq!(m.depth, 2);
        assert_eq!(m.fields, 2);
        assert_eq!(m.introspection_depth, 7);
        assert_eq!(m.introspection_lists, 1);
        assert!(m.introspects);
        assert_eq!(check_default(&m), Ok(()));
    }

    #[test]
    fn fragments_count_where_they_are_spread() {
        let m = measured("query Q { a { ...F } b { ...F } } fragment F on T { x { y } z: w }");
        assert_eq!(m.depth, 3);
        assert_eq!(m.fields, 2 + 2 * 3);
        assert_eq!(m.aliases, 2);
    }

    #[test]
    fn a_thirteen_deep_query_is_refused_and_twelve_is_not() {
        let nest = |depth: usize| {
            let mut q = String::from("leaf");
            for i in 1..depth {
                q = format!("f{i} {{ {q} }}");
            }
            format!("{{ {q} }}")
        };
        assert_eq!(check_default(&measured(&nest(12))), Ok(()));
        let refused = check_default(&measured(&nest(13))).expect_err("13 deep");
        assert_eq!(
            (refused.limit, refused.max, refused.actual),
            ("depth", 12, 13)
        );
    }

    #[test]
    fn nested_introspection_lists_are_refused_at_three() {
        let two = measured("{ __schema { types { fields { type { fields { name } } } } } }");
        assert_eq!(check_default(&two), Ok(()));
        let three = measured(
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        );
        assert_eq!(
            check_default(&three).expect_err("three").limit,
            "introspectionLists"
        );
    }

    #[test]
    fn introspection_below_anything_but_the_root_is_an_ordinary_field() {
        let m = measured("{ a { __type { name } } }");
        assert!(!m.introspects);
        assert_eq!(m.depth, 3);
    }

    #[test]
    fn fragments_that_double_at_every_level_stop_at_the_visit_budget() {
        let mut doc = String::from("{ ...F0 }");
        for i in 0..30 {
            doc.push_str(&format!(
                " fragment F{i} on Query {{ ...F{n} ...F{n} }}",
                n = i + 1
            ));
        }
        doc.push_str(" fragment F30 on Query { a }");
        let m = measured(&doc);
        assert!(m.exhausted);
        assert_eq!(check_default(&m).expect_err("exhausted").limit, "fields");
    }

    #[test]
    fn a_fragment_cycle_does_not_loop() {
        let m = measured("{ ...A } fragment A on Q { a ...B } fragment B on Q { b ...A }");
        assert_eq!(m.fields, 2);
    }

    #[test]
    fn sixteen_aliases_are_refused_and_fifteen_are_not() {
        let aliased = |n: usize| {
            let fields: Vec<String> = (0..n).map(|i| format!("a{i}: id")).collect();
            format!("{{ {} }}", fields.join(" "))
        };
        assert_eq!(check_default(&measured(&aliased(15))), Ok(()));
        assert_eq!(
            check_default(&measured(&aliased(16)))
                .expect_err("16")
                .limit,
            "aliases"
        );
    }
}
