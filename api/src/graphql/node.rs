//! The `Node` interface: any object by its type-prefixed id.
use async_graphql::{Context, Interface, Object, ID};

use super::accounts::User;
use super::loaders::loader_error;
use super::ContextExt;
use crate::error::ApiError;
use crate::ids::{self, Kind};

/// Every addressable object.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    User(User),
}

/// Most ids one `nodes` call resolves.
pub const MAX_NODES: usize = 100;

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by id; null when it does not exist or the viewer may not read it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        resolve(ctx, &id).await
    }

    /// Objects by id, in the order asked (at most 100); null where `node` would be null.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(ApiError::BadInput(format!("at most {MAX_NODES} ids per call")).into());
        }
        let mut out = Vec::with_capacity(ids.len());
        // The loaders batch these into one query per type.
        let futures = ids.iter().map(|id| resolve(ctx, id));
        for node in futures_util::future::join_all(futures).await {
            out.push(node?);
        }
        Ok(out)
    }
}

async fn resolve(ctx: &Context<'_>, id: &str) -> async_graphql::Result<Option<Node>> {
    match ids::kind_of(id) {
        Some(Kind::User) => Ok(ctx
            .loaders()?
            .users
            .load_one(id.to_owned())
            .await
            .map_err(loader_error)?
            .map(|u| Node::User(User::new(u)))),
        _ => Ok(None),
    }
}
