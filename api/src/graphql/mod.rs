//! The GraphQL schema: roots merged from one module per aggregate, scalars, connections,
//! dataloaders and the request context (viewer, loaders, state).
pub mod accounts;
pub mod connection;
pub mod contacts;
pub mod cost;
pub mod disputes;
pub mod errors;
pub mod files;
pub mod gate;
pub mod invoicing;
pub mod limits;
pub mod listings;
pub mod loaders;
pub mod messaging;
pub mod money;
pub mod node;
pub mod orders;
pub mod reviews;
pub mod scalars;
pub mod sellers;
pub mod subscriptions;

use std::sync::Arc;

use async_graphql::{Context, MergedObject, Schema, SchemaBuilder};

use crate::config::Settings;
use crate::services::Viewer;
use crate::state::AppState;
use loaders::Loaders;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    node::NodeQuery,
    accounts::AccountsQuery,
    sellers::SellersQuery,
    listings::ListingsQuery,
    orders::OrdersQuery,
    messaging::MessagingQuery,
    disputes::DisputesQuery,
    invoicing::InvoicingQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    accounts::AccountsMutation,
    sellers::SellersMutation,
    listings::ListingsMutation,
    orders::OrdersMutation,
    files::FilesMutation,
    messaging::MessagingMutation,
    disputes::DisputesMutation,
    reviews::ReviewsMutation,
    contacts::ContactsMutation,
    invoicing::InvoicesMutation,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, subscriptions::SubscriptionRoot>;

/// async-graphql's own bound on directives per field: a backstop above the MAX_DIRECTIVES
/// setting (at most 100), which `gate` enforces with a named limit.
pub const MAX_DIRECTIVES: usize = 101;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, subscriptions::SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        subscriptions::SubscriptionRoot,
    )
    .limit_directives(MAX_DIRECTIVES)
}

/// The schema that serves requests, holding the shared state.
pub fn build_schema(state: AppState) -> AppSchema {
    let settings: &Settings = &state.settings;
    // Limits, cost, codes and metrics are applied around execution by the transports
    // (`gate`), not as extensions: any extension sends every field down async-graphql's slow
    // path. async-graphql's own count of directives stays as a backstop well above any
    // setting's default.
    let mut builder = builder();
    if !settings.graphql_introspection {
        builder = builder.disable_introspection();
    }
    if settings.is_production() {
        builder = builder.disable_suggestions();
    }
    builder.data(state).finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// Typed access to what the handler attaches to every request.
pub trait ContextExt {
    fn state(&self) -> async_graphql::Result<&AppState>;
    fn viewer(&self) -> &Viewer;
    fn loaders(&self) -> async_graphql::Result<&Loaders>;
}

static ANONYMOUS: Viewer = Viewer::Anonymous;

impl ContextExt for Context<'_> {
    fn state(&self) -> async_graphql::Result<&AppState> {
        self.data::<AppState>()
    }

    fn viewer(&self) -> &Viewer {
        self.data_opt::<Viewer>().unwrap_or(&ANONYMOUS)
    }

    fn loaders(&self) -> async_graphql::Result<&Loaders> {
        self.data::<Arc<Loaders>>().map(|l| l.as_ref())
    }
}
