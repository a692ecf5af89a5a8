//! Message threads and messages: the types, the viewer's threads, and the four mutations.
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use entity::{message_threads, messages};

use super::accounts::User;
use super::connection::connection;
use super::errors::{into_payload, Payload, UserError};
use super::listings::Listing;
use super::loaders::loader_error;
use super::orders::Order;
use super::scalars::DateTime;
use super::sellers::{mirror_enum, Provider};
use super::ContextExt;
use crate::error::ApiError;
use crate::pagination::{encode_cursor, PageRequest};
use crate::services::messaging::{self as service, MessageCursor, MessageWindow, ThreadCursor};

mirror_enum!(ThreadStatusGql, "ThreadStatus", crate::domain::message::ThreadStatus, {
    Active, Archived, Closed,
});

#[derive(Clone)]
pub struct Message(pub messages::Model);

#[Object]
impl Message {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    // Through the loaders: a page of messages costs one query for their threads.
    async fn thread(&self, ctx: &Context<'_>) -> async_graphql::Result<MessageThread> {
        let loaders = ctx.loaders()?;
        let thread = loaders
            .threads
            .load_one(self.0.thread_id.clone())
            .await
            .map_err(loader_error)?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("message without its thread")))?;
        let provider = loaders
            .providers
            .load_one(thread.provider_id.clone())
            .await
            .map_err(loader_error)?;
        let party = ctx
            .viewer()
            .id()
            .zip(provider)
            .and_then(|(user, provider)| {
                crate::domain::message::party(user, &thread.client_id, &provider.user_id)
            });
        party
            .map(|_| MessageThread::new(thread))
            .ok_or_else(|| ApiError::NotFound("no such thread".into()).into())
    }
    async fn sender(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        User::load_referenced(ctx, &self.0.sender_id, "message").await
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// when the other party read it
    async fn read_at(&self) -> Option<DateTime> {
        self.0.read_at.map(DateTime)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

#[derive(Clone)]
pub struct MessageThread {
    pub model: message_threads::Model,
    /// Known when the list computed it for the whole page.
    unread: Option<i64>,
}

impl MessageThread {
    pub fn new(model: message_threads::Model) -> Self {
        MessageThread {
            model,
            unread: None,
        }
    }
}

#[Object]
impl MessageThread {
    pub async fn id(&self) -> ID {
        ID(self.model.id.clone())
    }
    async fn subject(&self) -> Option<&str> {
        self.model.subject.as_deref()
    }
    async fn status(&self) -> ThreadStatusGql {
        self.model.status.into()
    }
    async fn client(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        User::load_referenced(ctx, &self.model.client_id, "thread").await
    }
    async fn provider(&self, ctx: &Context<'_>) -> async_graphql::Result<Provider> {
        Provider::load_referenced(ctx, &self.model.provider_id, "thread").await
    }
    async fn listing(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Listing>> {
        let Some(id) = &self.model.listing_id else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()?
            .listings
            .load_one(id.clone())
            .await
            .map_err(loader_error)?
            .map(Listing))
    }
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Order>> {
        match &self.model.order_id {
            Some(id) => Order::load_for_viewer(ctx, id).await,
            None => Ok(None),
        }
    }
    async fn last_message_at(&self) -> DateTime {
        DateTime(self.model.last_message_at)
    }
    /// messages the viewer has not read
    async fn unread_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let count = match self.unread {
            Some(count) => count,
            None => {
                let Some(user_id) = ctx.viewer().id() else {
                    return Ok(0);
                };
                let ids = [self.model.id.clone()];
                service::unread_counts(&ctx.state()?.db.reader, user_id, &ids)
                    .await?
                    .get(&self.model.id)
                    .copied()
                    .unwrap_or(0)
            }
        };
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
    /// newest last; page backwards with last/before
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<MessageConnection> {
        let window = MessageWindow::parse(first, after.as_deref(), last, before.as_deref())?;
        let page = service::list_messages(&ctx.state()?.db.reader, &self.model.id, window).await?;
        Ok(MessageConnection::build(
            page,
            |m| encode_cursor(&MessageCursor { id: m.id.clone() }),
            Message,
        ))
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.model.created_at)
    }
}

connection!(MessageConnection, MessageEdge, Message);
connection!(MessageThreadConnection, MessageThreadEdge, MessageThread);

#[derive(InputObject, Default)]
pub struct MessageThreadFilter {
    pub status: Option<ThreadStatusGql>,
    #[graphql(default_with = "Some(false)")]
    pub unread_only: Option<bool>,
}

#[derive(InputObject)]
pub struct StartThreadInput {
    pub provider_id: ID,
    pub listing_id: Option<ID>,
    pub order_id: Option<ID>,
    pub subject: Option<String>,
    pub body: String,
}

#[derive(InputObject)]
pub struct SendMessageInput {
    pub thread_id: ID,
    pub body: String,
}

#[derive(InputObject)]
pub struct ThreadIdInput {
    pub thread_id: ID,
}

#[derive(SimpleObject)]
pub struct MessagePayload {
    pub message: Option<Message>,
    pub thread: Option<MessageThread>,
    pub user_errors: Vec<UserError>,
}

impl Payload for MessagePayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        MessagePayload {
            message: None,
            thread: None,
            user_errors,
        }
    }
}

fn message_payload((thread, message): (message_threads::Model, messages::Model)) -> MessagePayload {
    MessagePayload {
        message: Some(Message(message)),
        thread: Some(MessageThread::new(thread)),
        user_errors: Vec::new(),
    }
}

#[derive(SimpleObject)]
pub struct MessageThreadPayload {
    pub thread: Option<MessageThread>,
    pub user_errors: Vec<UserError>,
}

impl Payload for MessageThreadPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        MessageThreadPayload {
            thread: None,
            user_errors,
        }
    }
}

fn thread_payload(thread: message_threads::Model) -> MessageThreadPayload {
    MessageThreadPayload {
        thread: Some(MessageThread::new(thread)),
        user_errors: Vec::new(),
    }
}

#[derive(Default)]
pub struct MessagingQuery;

#[Object]
impl MessagingQuery {
    /// A thread, for its two parties only.
    async fn message_thread(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<MessageThread>> {
        Ok(service::thread_for_viewer(ctx.state()?, ctx.viewer(), &id)
            .await?
            .map(MessageThread::new))
    }

    /// The viewer's threads, newest activity first.
    async fn message_threads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<MessageThreadFilter>,
    ) -> async_graphql::Result<MessageThreadConnection> {
        let page = PageRequest::<ThreadCursor>::parse(first, after.as_deref())?;
        let filter = filter.unwrap_or_default();
        let state = ctx.state()?;
        let page = service::list_threads(
            state,
            ctx.viewer(),
            service::ThreadFilter {
                status: filter.status.map(Into::into),
                unread_only: filter.unread_only.unwrap_or(false),
            },
            page,
        )
        .await?;
        // One grouped query gives the whole page its unread counts.
        let ids: Vec<String> = page.items.iter().map(|t| t.id.clone()).collect();
        let user_id = ctx.viewer().id().unwrap_or_default();
        let unread = service::unread_counts(&state.db.reader, user_id, &ids).await?;
        Ok(MessageThreadConnection::build(
            page,
            |t| encode_cursor(&service::thread_cursor(t)),
            |t| MessageThread {
                unread: Some(unread.get(&t.id).copied().unwrap_or(0)),
                model: t,
            },
        ))
    }

    /// Messages addressed to the viewer and not yet read, over all its threads.
    async fn unread_message_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let count = service::unread_total(ctx.state()?, ctx.viewer()).await?;
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}

#[derive(Default)]
pub struct MessagingMutation;

#[Object]
impl MessagingMutation {
    /// A buyer writes to a provider, optionally about a listing or one of its orders (an
    /// order has one thread: writing about it again adds to that thread).
    async fn start_thread(
        &self,
        ctx: &Context<'_>,
        input: StartThreadInput,
    ) -> async_graphql::Result<MessagePayload> {
        let result = service::start_thread(
            ctx.state()?,
            ctx.viewer(),
            service::StartThread {
                provider_id: input.provider_id.to_string(),
                listing_id: input.listing_id.map(|id| id.to_string()),
                order_id: input.order_id.map(|id| id.to_string()),
                subject: input.subject,
                body: input.body,
            },
        )
        .await;
        into_payload(result, message_payload)
    }

    /// One of the thread's two parties writes (1–5000 characters, trimmed).
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        input: SendMessageInput,
    ) -> async_graphql::Result<MessagePayload> {
        let result =
            service::send_message(ctx.state()?, ctx.viewer(), &input.thread_id, &input.body).await;
        into_payload(result, message_payload)
    }

    /// The other party's messages become read (readAt is set).
    async fn mark_thread_read(
        &self,
        ctx: &Context<'_>,
        input: ThreadIdInput,
    ) -> async_graphql::Result<MessageThreadPayload> {
        let result = service::mark_read(ctx.state()?, ctx.viewer(), &input.thread_id).await;
        into_payload(result, thread_payload)
    }

    /// Puts the thread away; a new message brings it back.
    async fn archive_thread(
        &self,
        ctx: &Context<'_>,
        input: ThreadIdInput,
    ) -> async_graphql::Result<MessageThreadPayload> {
        let result = service::archive(ctx.state()?, ctx.viewer(), &input.thread_id).await;
        into_payload(result, thread_payload)
    }
}
