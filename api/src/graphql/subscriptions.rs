//! The subscription root. Streams come from `services::realtime`, which authorizes them at
//! the start and for every event; a stream that must end yields one error (with its code)
//! and completes.
use async_graphql::{Context, Subscription, ID};
use futures_util::{Stream, StreamExt};

use super::disputes::Dispute;
use super::messaging::Message;
use super::orders::OrderEvent;
use super::ContextExt;
use crate::error::{ApiError, RefusalCode};
use crate::services::realtime::{self, OrderScope, StreamAuth};
use crate::state::AppState;

/// A refusal to start a subscription is a top-level error (there is no payload): NOT_FOUND
/// keeps its code, so a stranger cannot tell a hidden order from a missing one.
fn start_error(err: ApiError) -> async_graphql::Error {
    match err {
        ApiError::Refused(refusals) if refusals.iter().all(|r| r.code == RefusalCode::NotFound) => {
            let message = refusals
                .into_iter()
                .map(|r| r.message)
                .collect::<Vec<_>>()
                .join("; ");
            ApiError::NotFound(message).into()
        }
        other => other.into(),
    }
}

/// One of the [`crate::state::Shared::STREAM_STARTS`] permits, held while a stream starts; the
/// start's state is allocated only once it holds one.
async fn start_permit(state: &AppState) -> async_graphql::Result<tokio::sync::SemaphorePermit<'_>> {
    state.stream_starts.acquire().await.map_err(|_| {
        ApiError::Internal(anyhow::anyhow!("the stream starts semaphore closed")).into()
    })
}

fn auth(ctx: &Context<'_>) -> StreamAuth {
    ctx.data_opt::<StreamAuth>()
        .cloned()
        .unwrap_or(StreamAuth { token: None })
}

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// events of one order; its buyer, its provider and admins only.
    /// With `after` (an OrderEvent id), the events stored since then are sent first, then live ones:
    /// a client that reconnects misses nothing.
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<OrderEvent>>> {
        let state = ctx.state()?;
        let _permit = start_permit(state).await?;
        let stream = Box::pin(realtime::order_events(
            state.clone(),
            auth(ctx),
            OrderScope::One(order_id.to_string()),
            after.map(|a| a.to_string()),
        ))
        .await
        .map_err(start_error)?;
        Ok(Box::pin(stream).map(|item| {
            item.map(|row| OrderEvent::with_order(row.event, row.order))
                .map_err(Into::into)
        }))
    }

    /// events of every order where the viewer is buyer or provider (admins: all); `after` as above
    async fn my_order_events(
        &self,
        ctx: &Context<'_>,
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<OrderEvent>>> {
        let state = ctx.state()?;
        let _permit = start_permit(state).await?;
        let stream = Box::pin(realtime::order_events(
            state.clone(),
            auth(ctx),
            OrderScope::Mine,
            after.map(|a| a.to_string()),
        ))
        .await
        .map_err(start_error)?;
        Ok(Box::pin(stream).map(|item| {
            item.map(|row| OrderEvent::with_order(row.event, row.order))
                .map_err(Into::into)
        }))
    }

    /// every change of every dispute (opened, taken under review, resolved); admins only
    async fn dispute_updated(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Dispute>>> {
        let state = ctx.state()?;
        let _permit = start_permit(state).await?;
        let stream = Box::pin(realtime::dispute_changes(state.clone(), auth(ctx)))
            .await
            .map_err(start_error)?;
        Ok(Box::pin(stream).map(|item| item.map(|row| Dispute(row.dispute)).map_err(Into::into)))
    }

    /// new messages in one thread; its two parties only. With `after` (a Message id of the
    /// thread), the messages stored since then are sent first.
    async fn message_added(
        &self,
        ctx: &Context<'_>,
        thread_id: ID,
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Message>>> {
        let state = ctx.state()?;
        let _permit = start_permit(state).await?;
        let stream = Box::pin(realtime::thread_messages(
            state.clone(),
            auth(ctx),
            thread_id.to_string(),
            after.map(|a| a.to_string()),
        ))
        .await
        .map_err(start_error)?;
        Ok(Box::pin(stream).map(|item| item.map(Message).map_err(Into::into)))
    }
}
