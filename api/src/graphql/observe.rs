//! Per-operation observability: a tracing span named by the operation for everything it logs,
//! and the operation's metrics (count by outcome, latency, errors by code). The operation's
//! label is its type and first root field (`query:listings`), bounded by the schema; anything
//! that does not parse or validate is `invalid`.
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use async_graphql::{Response, ServerResult, Value, Variables};
use tracing::Instrument;

use super::limits::{select_operation, PARSE_FAILED, VALIDATION_FAILED};

pub struct Observe;

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveExtension {
            label: Mutex::new(None),
            operation_name: Mutex::new(None),
        })
    }
}

struct ObserveExtension {
    label: Mutex<Option<String>>,
    operation_name: Mutex<Option<String>>,
}

/// `type:firstRootField` of the operation the request runs.
fn label(doc: &ExecutableDocument, name: Option<&str>) -> Option<String> {
    let operation = select_operation(doc, name)?;
    let kind = match operation.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let first = operation
        .selection_set
        .node
        .items
        .iter()
        .find_map(|item| match &item.node {
            Selection::Field(field) => Some(field.node.name.node.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "fragment".to_owned());
    Some(format!("{kind}:{first}"))
}

fn code_of(error: &async_graphql::ServerError) -> String {
    match error.extensions.as_ref().and_then(|ext| ext.get("code")) {
        Some(Value::String(code)) => code.clone(),
        _ => "NONE".to_owned(),
    }
}

#[async_trait::async_trait]
impl Extension for ObserveExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let span = tracing::info_span!("graphql", operation = tracing::field::Empty);
        let response = next.run(ctx).instrument(span.clone()).await;
        let codes: Vec<String> = response.errors.iter().map(code_of).collect();
        let invalid = codes
            .iter()
            .any(|c| c == PARSE_FAILED || c == VALIDATION_FAILED);
        let label = match self.label.lock().ok().and_then(|l| l.clone()) {
            Some(label) if !invalid => label,
            _ => "invalid".to_owned(),
        };
        span.record("operation", label.as_str());
        crate::observability::operation(&label, started, &codes);
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: async_graphql::Request,
        next: async_graphql::extensions::NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        if let Ok(mut name) = self.operation_name.lock() {
            name.clone_from(&request.operation_name);
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
        let doc = next.run(ctx, query, variables).await?;
        let name = self.operation_name.lock().ok().and_then(|n| n.clone());
        if let Some(label) = label(&doc, name.as_deref()) {
            tracing::Span::current().record("operation", label.as_str());
            if let Ok(mut slot) = self.label.lock() {
                *slot = Some(label);
            }
        }
        Ok(doc)
    }
}
