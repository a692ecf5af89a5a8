//! One operation's way in and out of the executor, done by the transports (HTTP and websocket)
//! around async-graphql rather than as async-graphql extensions: with any extension installed,
//! async-graphql resolves every field and every list item through the extension chain (a
//! `ResolveInfo` with formatted type names, a boxed future per extension), which its fast path
//! skips.
//!
//! In: the query text's size before it is parsed; once parsed (here, once; the executor takes
//! the document), the operation's measure, introspection, cost and budget. Out: a stable
//! `extensions.code` on every error, the cost report (requested and actual) on the answer, and
//! the operation's metrics (labelled `type:firstRootField`, or `invalid`).
use std::time::Instant;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, Name, Request, Response, ServerError, Value};

use super::limits::{
    check, code_for_parse_error, code_for_uncoded_error, code_for_validation_error, coded_error,
    count_tokens, has_code, longest_variable_list, measure_with, select_operation, set_code,
    Exceeded, Limits, PARSE_FAILED, VALIDATION_FAILED,
};
use crate::services::Viewer;
use crate::state::AppState;

/// One operation, from its text to its answer.
pub struct Admission {
    started: Instant,
    /// `type:firstRootField` once the operation passed every check before execution.
    label: Option<String>,
    kind: Option<OperationType>,
    introspects: bool,
    operation_name: Option<String>,
    /// The parsed document, kept to weigh the answer (the actual cost). A subscription has no
    /// single answer and lives as long as its client: it keeps no copy.
    document: Option<ExecutableDocument>,
    /// The static cost, once measured.
    cost: Option<u64>,
    /// Whose budget paid, and what it had left after paying.
    charged: Option<(String, i64)>,
    /// Why the operation is not executed, when it is not.
    refusal: Option<ServerError>,
}

/// Who pays for an operation: the signed-in user, else the client's address.
pub fn payer(viewer: &Viewer, ip: std::net::IpAddr) -> String {
    match viewer {
        Viewer::User(user) => format!("user:{}", user.id),
        _ => format!("ip:{ip}"),
    }
}

/// Checks the request's text and variables, parses it (handing the document to the request, so
/// the executor does not parse it again), and measures the operation against the limits.
pub fn admit(request: &mut Request, limits: &Limits, introspection: bool) -> Admission {
    let mut admission = Admission {
        started: Instant::now(),
        label: None,
        kind: None,
        introspects: false,
        operation_name: request.operation_name.clone(),
        document: None,
        cost: None,
        charged: None,
        refusal: None,
    };
    if let Err(error) = admission.parse(request, limits, introspection) {
        admission.refusal = Some(error);
    }
    admission
}

impl Admission {
    /// The operation's type, when its text parses and names one.
    pub fn kind(&self) -> Option<OperationType> {
        self.kind
    }

    /// The error that stops the operation before execution, taken out to answer it.
    pub fn take_refusal(&mut self) -> Option<ServerError> {
        self.refusal.take()
    }

    /// The span the operation's logs belong to.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "graphql",
            operation = self.label.as_deref().unwrap_or("invalid")
        )
    }

    fn parse(
        &mut self,
        request: &mut Request,
        limits: &Limits,
        introspection: bool,
    ) -> Result<(), ServerError> {
        let chars = request.query.chars().count();
        if chars > limits.query_chars {
            return Err(Exceeded {
                limit: "queryCharacters",
                max: limits.query_chars,
                actual: chars,
                message: format!(
                    "query text is {chars} characters, at most {}",
                    limits.query_chars
                ),
            }
            .into_error());
        }
        let tokens = count_tokens(&request.query, limits.tokens);
        if tokens > limits.tokens {
            return Err(Exceeded {
                limit: "tokens",
                max: limits.tokens,
                actual: tokens,
                message: format!("query text has more than {} tokens", limits.tokens),
            }
            .into_error());
        }
        let longest = request
            .variables
            .values()
            .map(longest_variable_list)
            .max()
            .unwrap_or(0);
        if longest > limits.input_list {
            return Err(Exceeded {
                limit: "inputList",
                max: limits.input_list,
                actual: longest,
                message: format!(
                    "a variable's list has {longest} items, at most {}",
                    limits.input_list
                ),
            }
            .into_error());
        }
        let doc = async_graphql::parser::parse_query(&request.query).map_err(|error| {
            let mut error = ServerError::from(error);
            let code = code_for_parse_error(&error);
            set_code(&mut error, code);
            error
        })?;
        // An unknown operation name is left to the executor, which names it.
        if let Some(operation) = select_operation(&doc, self.operation_name.as_deref()) {
            let m = measure_with(&doc, operation, Some(&request.variables));
            if m.introspects && !introspection {
                return Err(coded_error(
                    "introspection is disabled on this server",
                    None,
                    VALIDATION_FAILED,
                ));
            }
            check(&m, limits).map_err(Exceeded::into_error)?;
            let cost = super::cost::cost(&doc, &operation.selection_set.node, &request.variables);
            self.cost = Some(cost);
            if cost > super::cost::MAX_COST {
                return Err(Exceeded {
                    limit: "cost",
                    max: super::cost::MAX_COST as usize,
                    actual: usize::try_from(cost).unwrap_or(usize::MAX),
                    message: format!(
                        "query costs {cost}, at most {}: ask for smaller pages (`first`) or fewer nested connections",
                        super::cost::MAX_COST
                    ),
                }
                .into_error());
            }
            self.kind = Some(operation.ty);
            self.introspects = m.introspects;
            self.label = Some(label(&doc, operation.ty, &operation.selection_set.node));
        }
        if self.kind != Some(OperationType::Subscription) {
            self.document = Some(doc.clone());
        }
        request.set_parsed_query(doc);
        Ok(())
    }

    /// Takes the operation's cost (at least 1) from its payer's budget, or refuses it as
    /// THROTTLED with the wait. Nothing to do for an operation already refused.
    pub fn charge(&mut self, state: &AppState, payer: String) {
        let Some(cost) = self.cost.filter(|_| self.refusal.is_none()) else {
            return;
        };
        let charge = i64::try_from(cost.max(1)).unwrap_or(i64::MAX);
        let now = state.now().timestamp_millis();
        let budgets = &state.query_budgets;
        match budgets.take(&payer, charge, now) {
            crate::throttle::Take::Taken { remaining } => {
                self.charged = Some((payer, remaining));
            }
            crate::throttle::Take::Wait { ms } => {
                let mut error = coded_error(
                    format!(
                        "query budget spent: this operation costs {charge}; retry in {ms} ms \
                         (points come back at {} per second)",
                        budgets.restore_rate()
                    ),
                    None,
                    super::cost::THROTTLED,
                );
                let ext = error
                    .extensions
                    .get_or_insert_with(ErrorExtensionValues::default);
                ext.set("retryAfterMs", Value::from(ms));
                ext.set("cost", Value::from(charge));
                ext.set(
                    "currentlyAvailable",
                    Value::from(budgets.available(&payer, now)),
                );
                // Refused before execution, as a limit is: no label.
                self.label = None;
                self.refusal = Some(error);
            }
        }
    }

    /// Finishes the answer: codes, the cost report (giving back what the answer did not need),
    /// the schema description, and the operation's metrics.
    pub fn finish(self, state: &AppState, response: &mut Response) {
        code_errors(response);
        if self.introspects {
            if let Some(doc) = &self.document {
                null_schema_description(doc, self.operation_name.as_deref(), &mut response.data);
            }
        }
        if let Some(cost) = self.cost {
            let mut report = async_graphql::indexmap::IndexMap::new();
            report.insert(Name::new("requestedQueryCost"), Value::from(cost));
            let mut remaining = self.charged.as_ref().map(|(_, left)| *left);
            let ran = response.data != Value::Null;
            let operation = self.document.as_ref().and_then(|doc| {
                Some((doc, select_operation(doc, self.operation_name.as_deref())?))
            });
            if let (Some((doc, operation)), true) = (operation, ran) {
                let actual =
                    super::cost::actual(doc, &operation.selection_set.node, &response.data)
                        .min(cost);
                report.insert(Name::new("actualQueryCost"), Value::from(actual));
                // Charged the static cost up front; what the answer did not need goes back.
                let refund = i64::try_from(cost.max(1) - actual.max(1)).unwrap_or(0);
                if let (Some((payer, _)), true) = (&self.charged, refund > 0) {
                    let now = state.now().timestamp_millis();
                    remaining = Some(state.query_budgets.give_back(payer, refund, now));
                }
            }
            report.insert(Name::new("maxCost"), Value::from(super::cost::MAX_COST));
            if let Some(remaining) = remaining {
                let budgets = &state.query_budgets;
                let mut status = async_graphql::indexmap::IndexMap::new();
                status.insert(
                    Name::new("maximumAvailable"),
                    Value::from(budgets.capacity()),
                );
                status.insert(Name::new("currentlyAvailable"), Value::from(remaining));
                status.insert(
                    Name::new("restoreRate"),
                    Value::from(budgets.restore_rate()),
                );
                report.insert(Name::new("throttleStatus"), Value::Object(status));
            }
            response
                .extensions
                .insert("cost".to_owned(), Value::Object(report));
        }
        let codes: Vec<String> = response.errors.iter().map(code_of).collect();
        let invalid = codes
            .iter()
            .any(|c| c == PARSE_FAILED || c == VALIDATION_FAILED);
        let label = match self.label {
            Some(label) if !invalid => label,
            _ => "invalid".to_owned(),
        };
        crate::observability::operation(&label, self.started, &codes);
    }
}

/// Gives every error the executor raised without a code the code of where it was raised. An
/// answer with no data and no error on a path did not execute: its errors are the document's
/// (recursion, directives, validation rules).
pub fn code_errors(response: &mut Response) {
    if response.errors.iter().all(has_code) {
        return;
    }
    let before_execution =
        response.data == Value::Null && response.errors.iter().all(|e| e.path.is_empty());
    for error in response.errors.iter_mut().filter(|e| !has_code(e)) {
        let code = if !before_execution {
            code_for_uncoded_error(error)
        } else if code_for_parse_error(error) == VALIDATION_FAILED
            || error.message.starts_with("Unknown operation named")
            || error.message.starts_with("Operation name required")
        {
            VALIDATION_FAILED
        } else {
            code_for_validation_error(error)
        };
        set_code(error, code);
    }
}

fn code_of(error: &ServerError) -> String {
    match error.extensions.as_ref().and_then(|ext| ext.get("code")) {
        Some(Value::String(code)) => code.clone(),
        _ => "NONE".to_owned(),
    }
}

/// `type:firstRootField` of an operation.
fn label(doc: &ExecutableDocument, kind: OperationType, set: &SelectionSet) -> String {
    let kind = match kind {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let first = fields(doc, set, 0)
        .next()
        .map_or_else(|| "fragment".to_owned(), |f| f.name.node.to_string());
    format!("{kind}:{first}")
}

/// The fields of a selection set, fragments looked through (a few levels: the validation
/// rules refuse cycles).
fn fields<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    spreads: usize,
) -> Box<dyn Iterator<Item = &'a async_graphql::parser::types::Field> + 'a> {
    Box::new(set.items.iter().flat_map(move |item| match &item.node {
        Selection::Field(field) => {
            Box::new(std::iter::once(&field.node)) as Box<dyn Iterator<Item = _>>
        }
        Selection::InlineFragment(fragment) => {
            fields(doc, &fragment.node.selection_set.node, spreads)
        }
        Selection::FragmentSpread(spread) if spreads < 8 => {
            match doc.fragments.get(&spread.node.fragment_name.node) {
                Some(fragment) => fields(doc, &fragment.node.selection_set.node, spreads + 1),
                None => Box::new(std::iter::empty()),
            }
        }
        Selection::FragmentSpread(_) => Box::new(std::iter::empty()),
    }))
}

/// async-graphql answers `__schema { description }` with the text that describes the
/// `__Schema` type itself, so a client asking for the schema's description (graphql-js
/// `schemaDescription: true`) would rebuild a schema with a description this one does not
/// have. The schema has none: null, as the spec's nullable `description` allows.
fn null_schema_description(doc: &ExecutableDocument, name: Option<&str>, data: &mut Value) {
    let (Some(operation), Value::Object(root)) = (select_operation(doc, name), data) else {
        return;
    };
    for schema in
        fields(doc, &operation.selection_set.node, 0).filter(|f| f.name.node == "__schema")
    {
        let Some(Value::Object(answer)) = root.get_mut(schema.response_key().node.as_str()) else {
            continue;
        };
        for description in
            fields(doc, &schema.selection_set.node, 0).filter(|f| f.name.node == "description")
        {
            if let Some(value) = answer.get_mut(description.response_key().node.as_str()) {
                *value = Value::Null;
            }
        }
    }
}
