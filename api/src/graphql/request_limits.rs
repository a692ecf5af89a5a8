//! The extension that applies [`super::limits`] to every request: the query text's size before
//! it is parsed, the operation's measure, cost and budget once it is, a stable
//! `extensions.code` on every refusal before execution, and the cost report (requested and
//! actual) on the answer.
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
    NextResolve, NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensionValues, Name, Request, Response, ServerError, ServerResult, ValidationResult,
    Value, Variables,
};

use super::limits::{
    check, code_for_parse_error, code_for_uncoded_error, code_for_validation_error, coded_error,
    count_tokens, has_code, longest_variable_list, measure_with, select_operation, set_code,
    Exceeded, Limits, VALIDATION_FAILED,
};

/// Enforces the limits above and codes every pre-execution refusal. One instance per request.
pub struct RequestLimits {
    /// Refuse `__schema`/`__type` with a coded error (production), rather than leaving them to
    /// async-graphql's disabled introspection.
    pub introspection: bool,
    pub limits: Limits,
}

impl ExtensionFactory for RequestLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension {
            introspection: self.introspection,
            limits: self.limits,
            operation_name: Mutex::new(None),
            cost: Mutex::new(None),
            document: Mutex::new(None),
            payer: Mutex::new(None),
        })
    }
}

struct LimitsExtension {
    introspection: bool,
    limits: Limits,
    operation_name: Mutex<Option<String>>,
    /// The operation's static cost once it is parsed, and the points its caller has left.
    cost: Mutex<Option<(u64, Option<i64>)>>,
    /// The parsed document, to weigh the answer against once it is known (the actual cost).
    document: Mutex<Option<ExecutableDocument>>,
    /// Whose budget paid, for the refund (the request hook sees no request data).
    payer: Mutex<Option<String>>,
}

/// Who pays for an operation: the signed-in user, else the client's address.
fn budget_key(ctx: &ExtensionContext<'_>) -> Option<String> {
    match (
        ctx.data_opt::<crate::services::Viewer>(),
        ctx.data_opt::<crate::app::ClientIp>(),
    ) {
        (Some(crate::services::Viewer::User(user)), _) => Some(format!("user:{}", user.id)),
        (_, Some(ip)) => Some(format!("ip:{}", ip.0)),
        _ => None,
    }
}

impl LimitsExtension {
    /// Takes the operation's cost (at least 1) from its caller's budget, or refuses it as
    /// THROTTLED with the wait.
    fn charge(&self, ctx: &ExtensionContext<'_>, cost: u64) -> ServerResult<()> {
        let (Some(state), Some(key)) = (ctx.data_opt::<crate::state::AppState>(), budget_key(ctx))
        else {
            return Ok(());
        };
        let charge = i64::try_from(cost.max(1)).unwrap_or(i64::MAX);
        let now = state.now().timestamp_millis();
        match state.query_budgets.take(&key, charge, now) {
            crate::throttle::Take::Taken { remaining } => {
                if let Ok(mut slot) = self.cost.lock() {
                    *slot = Some((cost, Some(remaining)));
                }
                if let Ok(mut slot) = self.payer.lock() {
                    *slot = Some(key);
                }
                Ok(())
            }
            crate::throttle::Take::Wait { ms } => {
                let mut error = coded_error(
                    format!(
                        "query budget spent: this operation costs {charge}; retry in {ms} ms \
                         (points come back at {} per second)",
                        state.query_budgets.restore_rate()
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
                    Value::from(state.query_budgets.available(&key, now)),
                );
                Err(error)
            }
        }
    }
}

#[async_trait::async_trait]
impl Extension for LimitsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in response.errors.iter_mut().filter(|e| !has_code(e)) {
            set_code(error, code_for_uncoded_error(error));
        }
        if let Some((cost, mut remaining)) = self.cost.lock().ok().and_then(|c| *c) {
            let mut report = async_graphql::indexmap::IndexMap::new();
            report.insert(Name::new("requestedQueryCost"), Value::from(cost));
            let document = self.document.lock().ok().and_then(|mut d| d.take());
            let name = self.operation_name.lock().ok().and_then(|n| n.clone());
            let ran = response.data != Value::Null;
            if let (Some(doc), true) = (document, ran) {
                if let Some(operation) = select_operation(&doc, name.as_deref()) {
                    let actual =
                        super::cost::actual(&doc, &operation.selection_set.node, &response.data)
                            .min(cost);
                    report.insert(Name::new("actualQueryCost"), Value::from(actual));
                    // Charged the static cost up front; what the answer did not need goes back.
                    let refund = i64::try_from(cost.max(1) - actual.max(1)).unwrap_or(0);
                    if let (Some(_), Some(state), Some(key), true) = (
                        remaining,
                        ctx.data_opt::<crate::state::AppState>(),
                        self.payer.lock().ok().and_then(|p| p.clone()),
                        refund > 0,
                    ) {
                        let now = state.now().timestamp_millis();
                        remaining = Some(state.query_budgets.give_back(&key, refund, now));
                    }
                }
            }
            report.insert(Name::new("maxCost"), Value::from(super::cost::MAX_COST));
            if let (Some(remaining), Some(state)) =
                (remaining, ctx.data_opt::<crate::state::AppState>())
            {
                let mut status = async_graphql::indexmap::IndexMap::new();
                let budgets = &state.query_budgets;
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
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut name) = self.operation_name.lock() {
            name.clone_from(&request.operation_name);
        }
        let limits = &self.limits;
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
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await.map_err(|mut error| {
            if !has_code(&error) {
                let code = code_for_parse_error(&error);
                set_code(&mut error, code);
            }
            error
        })?;
        let name = self.operation_name.lock().ok().and_then(|n| n.clone());
        if let Some(operation) = select_operation(&doc, name.as_deref()) {
            let m = measure_with(&doc, operation, Some(variables));
            if m.introspects && !self.introspection {
                return Err(coded_error(
                    "introspection is disabled on this server",
                    None,
                    VALIDATION_FAILED,
                ));
            }
            check(&m, &self.limits).map_err(Exceeded::into_error)?;
            let cost = super::cost::cost(&doc, &operation.selection_set.node, variables);
            if let Ok(mut slot) = self.cost.lock() {
                *slot = Some((cost, None));
            }
            // Kept to weigh the answer (the actual cost). A subscription has no single answer
            // and lives as long as its client: it keeps no copy.
            if operation.ty != async_graphql::parser::types::OperationType::Subscription {
                if let Ok(mut slot) = self.document.lock() {
                    *slot = Some(doc.clone());
                }
            }
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
            self.charge(ctx, cost)?;
        }
        Ok(doc)
    }

    /// async-graphql answers `__schema { description }` with the text that describes the
    /// `__Schema` type itself, so a client asking for the schema's description (graphql-js
    /// `schemaDescription: true`) would rebuild a schema with a description this one does not
    /// have. The schema has none: null, as the spec's nullable `description` allows.
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.is_for_introspection && info.parent_type == "__Schema" && info.name == "description"
        {
            return Ok(Some(Value::Null));
        }
        next.run(ctx, info).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for error in errors.iter_mut().filter(|e| !has_code(e)) {
                let code = code_for_validation_error(error);
                set_code(error, code);
            }
            errors
        })
    }
}
