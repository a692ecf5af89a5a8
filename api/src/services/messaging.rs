//! Message threads between a buyer (the thread's client) and a provider: starting one (about a
//! listing or one of the buyer's orders), sending, read receipts, archiving, and the reads.
//! Only the two parties see a thread; anyone else gets NOT_FOUND. Every message is announced
//! to subscribers after its transaction commits.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{listings, message_threads, messages, orders, providers, users};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{invoicing, not_found_on as not_found, refused_on as invalid, Viewer};
use crate::domain::message::{self, ThreadStatus};
use crate::domain::seller::ProviderStatus;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::events::{self, Notice};
use crate::ids::{self, Kind};
use crate::pagination::{decode_cursor, Page, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::state::AppState;

pub struct StartThread {
    pub provider_id: String,
    pub listing_id: Option<String>,
    pub order_id: Option<String>,
    pub subject: Option<String>,
    pub body: String,
}

/// A buyer writes to a provider. About one of the buyer's orders, the order's one thread is
/// used (made on first use); otherwise a new thread starts. The provider's tenant gets a
/// contact for the buyer.
#[tracing::instrument(skip(state, viewer, input))]
pub async fn start_thread(
    state: &AppState,
    viewer: &Viewer,
    input: StartThread,
) -> ApiResult<(message_threads::Model, messages::Model)> {
    let user = viewer.user()?;
    let body = message::body(&input.body).map_err(invalid("body"))?;
    let subject = message::subject(input.subject.as_deref()).map_err(invalid("subject"))?;
    let conn = &state.db.reader;
    let provider = match ids::is_kind(&input.provider_id, Kind::Provider) {
        true => providers::Entity::find_by_id(input.provider_id.clone())
            .one(conn)
            .await?
            .filter(|p| p.status == ProviderStatus::Active || p.user_id == user.id),
        false => None,
    }
    .ok_or_else(|| not_found("providerId", "provider"))?;
    if provider.user_id == user.id {
        return Err(ApiError::refused(Refusal::on_input(
            "providerId",
            RefusalCode::NotAllowed,
            "you cannot start a thread with your own provider",
        )));
    }
    if let Some(listing_id) = &input.listing_id {
        let listing = match ids::is_kind(listing_id, Kind::Listing) {
            true => {
                listings::Entity::find_by_id(listing_id.clone())
                    .one(conn)
                    .await?
            }
            false => None,
        };
        if listing.is_none_or(|l| l.provider_id != provider.id) {
            return Err(not_found("listingId", "listing of this provider"));
        }
    }
    if let Some(order_id) = &input.order_id {
        let order = match ids::is_kind(order_id, Kind::Order) {
            true => {
                orders::Entity::find_by_id(order_id.clone())
                    .one(conn)
                    .await?
            }
            false => None,
        };
        if order.is_none_or(|o| o.buyer_id != user.id || o.provider_id != provider.id) {
            return Err(not_found("orderId", "order of yours with this provider"));
        }
    }
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let existing = match &input.order_id {
        Some(order_id) => {
            message_threads::Entity::find()
                .filter(message_threads::Column::OrderId.eq(order_id.clone()))
                .one(&txn)
                .await?
        }
        None => None,
    };
    let thread = match existing {
        Some(thread) if !message::accepts_messages(thread.status) => {
            return Err(closed());
        }
        Some(thread) => thread,
        None => {
            message_threads::ActiveModel {
                id: Set(ids::new_id(Kind::Thread)),
                client_id: Set(user.id.clone()),
                provider_id: Set(provider.id.clone()),
                listing_id: Set(input.listing_id.clone()),
                order_id: Set(input.order_id.clone()),
                subject: Set(subject),
                status: Set(ThreadStatus::Active),
                last_message_at: Set(now),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?
        }
    };
    let buyer = users::Entity::find_by_id(user.id.clone())
        .one(&txn)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    invoicing::ensure_contact(&txn, &provider.tenant_id, &buyer, now).await?;
    let (thread, message, notice) = append(&txn, thread, &user.id, body, now).await?;
    let publisher = state.events.publisher().await;
    txn.commit().await?;
    publisher.committed([notice]);
    Ok((thread, message))
}

fn closed() -> ApiError {
    ApiError::refused(Refusal::on_input(
        "threadId",
        RefusalCode::InvalidState,
        "this thread is closed",
    ))
}

/// Adds a message, brings an archived thread back, moves `last_message_at`, and announces it.
async fn append(
    conn: &impl ConnectionTrait,
    thread: message_threads::Model,
    sender_id: &str,
    body: String,
    now: DateTime<Utc>,
) -> ApiResult<(message_threads::Model, messages::Model, Notice)> {
    // The thread's row first: on PostgreSQL its lock, held until the commit, makes a second
    // message of the thread wait here, so positions follow commit order.
    let mut active: message_threads::ActiveModel = thread.into();
    active.status = Set(ThreadStatus::Active);
    active.last_message_at = Set(now);
    active.updated_at = Set(now);
    let thread = active.update(conn).await?;
    let seq = latest_seq(conn, &thread.id).await? + 1;
    let message = messages::ActiveModel {
        id: Set(ids::new_id(Kind::Message)),
        thread_id: Set(thread.id.clone()),
        sender_id: Set(sender_id.to_owned()),
        body: Set(body),
        read_at: Set(None),
        created_at: Set(now),
        seq: Set(seq),
    }
    .insert(conn)
    .await?;
    let notice = Notice::Message {
        id: message.id.clone(),
        thread_id: thread.id.clone(),
    };
    events::notify_in(conn, &notice).await?;
    Ok((thread, message, notice))
}

/// The thread when the viewer is one of its two parties.
pub async fn thread_for_viewer(
    state: &AppState,
    viewer: &Viewer,
    thread_id: &str,
) -> ApiResult<Option<message_threads::Model>> {
    let Some(user_id) = viewer.id() else {
        return Ok(None);
    };
    if !ids::is_kind(thread_id, Kind::Thread) {
        return Ok(None);
    }
    let conn = &state.db.reader;
    let Some(thread) = message_threads::Entity::find_by_id(thread_id.to_owned())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let provider = providers::Entity::find_by_id(thread.provider_id.clone())
        .one(conn)
        .await?;
    let party = provider.and_then(|p| message::party(user_id, &thread.client_id, &p.user_id));
    Ok(party.map(|_| thread))
}

async fn own_thread(
    state: &AppState,
    viewer: &Viewer,
    thread_id: &str,
) -> ApiResult<message_threads::Model> {
    viewer.user()?;
    thread_for_viewer(state, viewer, thread_id)
        .await?
        .ok_or_else(|| not_found("threadId", "thread"))
}

/// One of the two parties writes.
#[tracing::instrument(skip(state, viewer, body))]
pub async fn send_message(
    state: &AppState,
    viewer: &Viewer,
    thread_id: &str,
    body: &str,
) -> ApiResult<(message_threads::Model, messages::Model)> {
    let body = message::body(body).map_err(invalid("body"))?;
    let thread = own_thread(state, viewer, thread_id).await?;
    let user = viewer.user()?;
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    // Read again inside the transaction: a thread closed meanwhile takes nothing.
    let thread = message_threads::Entity::find_by_id(thread.id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("threadId", "thread"))?;
    if !message::accepts_messages(thread.status) {
        return Err(closed());
    }
    let (thread, message, notice) = append(&txn, thread, &user.id, body, now).await?;
    let publisher = state.events.publisher().await;
    txn.commit().await?;
    publisher.committed([notice]);
    Ok((thread, message))
}

/// The other party's unread messages become read now.
pub async fn mark_read(
    state: &AppState,
    viewer: &Viewer,
    thread_id: &str,
) -> ApiResult<message_threads::Model> {
    let thread = own_thread(state, viewer, thread_id).await?;
    let user = viewer.user()?;
    messages::Entity::update_many()
        .col_expr(messages::Column::ReadAt, Expr::value(state.now()))
        .filter(messages::Column::ThreadId.eq(thread.id.clone()))
        .filter(messages::Column::SenderId.ne(user.id.clone()))
        .filter(messages::Column::ReadAt.is_null())
        .exec(&state.db.writer)
        .await?;
    Ok(thread)
}

/// Puts the thread away; a new message brings it back.
pub async fn archive(
    state: &AppState,
    viewer: &Viewer,
    thread_id: &str,
) -> ApiResult<message_threads::Model> {
    let thread = own_thread(state, viewer, thread_id).await?;
    if thread.status == ThreadStatus::Closed {
        return Err(closed());
    }
    let mut active: message_threads::ActiveModel = thread.into();
    active.status = Set(ThreadStatus::Archived);
    active.updated_at = Set(state.now());
    Ok(active.update(&state.db.writer).await?)
}

/// The order's thread, for a viewer who is one of its parties.
pub async fn thread_of_order(
    state: &AppState,
    viewer: &Viewer,
    order_id: &str,
) -> ApiResult<Option<message_threads::Model>> {
    let thread = message_threads::Entity::find()
        .filter(message_threads::Column::OrderId.eq(order_id.to_owned()))
        .one(&state.db.reader)
        .await?;
    match thread {
        Some(thread) => thread_for_viewer(state, viewer, &thread.id).await,
        None => Ok(None),
    }
}

/// Unread messages per thread for `user_id`: those the other party sent and nobody read.
pub async fn unread_counts(
    conn: &impl ConnectionTrait,
    user_id: &str,
    thread_ids: &[String],
) -> ApiResult<HashMap<String, i64>> {
    if thread_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, i64)> = messages::Entity::find()
        .select_only()
        .column(messages::Column::ThreadId)
        .column_as(messages::Column::Id.count(), "unread")
        .filter(crate::db::one_of(
            conn.get_database_backend(),
            messages::Column::ThreadId,
            thread_ids.iter().cloned(),
        ))
        .filter(messages::Column::SenderId.ne(user_id.to_owned()))
        .filter(messages::Column::ReadAt.is_null())
        .group_by(messages::Column::ThreadId)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Every unread message addressed to the viewer, over all its threads.
pub async fn unread_total(state: &AppState, viewer: &Viewer) -> ApiResult<i64> {
    let user = viewer.user()?;
    let conn = &state.db.reader;
    let count = messages::Entity::find()
        .filter(messages::Column::ThreadId.in_subquery(viewer_threads(conn, &user.id).await?))
        .filter(messages::Column::SenderId.ne(user.id.clone()))
        .filter(messages::Column::ReadAt.is_null())
        .count(conn)
        .await?;
    Ok(i64::try_from(count).unwrap_or(i64::MAX))
}

/// `SELECT id FROM message_threads WHERE` the user is the client or the provider's user.
async fn viewer_threads(
    conn: &impl ConnectionTrait,
    user_id: &str,
) -> ApiResult<sea_orm::sea_query::SelectStatement> {
    let own_provider = super::sellers::own_provider_id(conn, user_id).await?;
    let mut parties = Condition::any().add(message_threads::Column::ClientId.eq(user_id));
    if let Some(provider_id) = own_provider {
        parties = parties.add(message_threads::Column::ProviderId.eq(provider_id));
    }
    Ok(Query::select()
        .column(message_threads::Column::Id)
        .from(message_threads::Entity)
        .cond_where(parties)
        .to_owned())
}

#[derive(Debug, Default)]
pub struct ThreadFilter {
    pub status: Option<ThreadStatus>,
    pub unread_only: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ThreadCursor {
    /// last_message_at in microseconds
    pub at: i64,
    pub id: String,
}

pub fn thread_cursor(thread: &message_threads::Model) -> ThreadCursor {
    ThreadCursor {
        at: thread.last_message_at.timestamp_micros(),
        id: thread.id.clone(),
    }
}

/// The viewer's threads, newest activity first.
pub async fn list_threads(
    state: &AppState,
    viewer: &Viewer,
    filter: ThreadFilter,
    page: crate::pagination::PageRequest<ThreadCursor>,
) -> ApiResult<Page<message_threads::Model>> {
    let user = viewer.user()?;
    let conn = &state.db.reader;
    let mut query = message_threads::Entity::find()
        .filter(message_threads::Column::Id.in_subquery(viewer_threads(conn, &user.id).await?));
    if let Some(status) = filter.status {
        query = query.filter(message_threads::Column::Status.eq(status));
    }
    if filter.unread_only {
        query = query.filter(
            message_threads::Column::Id.in_subquery(
                Query::select()
                    .column(messages::Column::ThreadId)
                    .from(messages::Entity)
                    .and_where(messages::Column::SenderId.ne(user.id.clone()))
                    .and_where(messages::Column::ReadAt.is_null())
                    .to_owned(),
            ),
        );
    }
    let total = query.clone().count(conn).await?;
    if let Some(after) = &page.after {
        let at = DateTime::<Utc>::from_timestamp_micros(after.at)
            .ok_or_else(|| ApiError::BadInput("the cursor is not valid for this list".into()))?;
        query = query.filter(
            Condition::any()
                .add(message_threads::Column::LastMessageAt.lt(at))
                .add(
                    Condition::all()
                        .add(message_threads::Column::LastMessageAt.eq(at))
                        .add(message_threads::Column::Id.lt(after.id.clone())),
                ),
        );
    }
    let rows = query
        .order_by_desc(message_threads::Column::LastMessageAt)
        .order_by_desc(message_threads::Column::Id)
        .limit(page.fetch_limit())
        .all(conn)
        .await?;
    Ok(Page::from_overfetch(rows, &page, total))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct MessageCursor {
    pub id: String,
}

/// Which messages: the first n after a cursor, or the last n before one (the default: the
/// newest 30). Either way they come oldest first.
#[derive(Debug)]
pub enum MessageWindow {
    First { n: u64, after: Option<String> },
    Last { n: u64, before: Option<String> },
}

impl MessageWindow {
    pub fn parse(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> ApiResult<MessageWindow> {
        let size = |name: &str, n: i32| match u64::try_from(n) {
            Ok(n) if n <= MAX_PAGE_SIZE => Ok(n),
            _ => Err(ApiError::BadInput(format!(
                "{name} must be between 0 and {MAX_PAGE_SIZE}, got {n}"
            ))),
        };
        let cursor = |c: Option<&str>| {
            c.map(|c| decode_cursor::<MessageCursor>(c).map(|k| k.id))
                .transpose()
        };
        match (first, last) {
            (Some(_), Some(_)) => Err(ApiError::BadInput(
                "give first (with after) or last (with before), not both".into(),
            )),
            (Some(n), None) if before.is_none() => Ok(MessageWindow::First {
                n: size("first", n)?,
                after: cursor(after)?,
            }),
            (None, _) if after.is_none() => Ok(MessageWindow::Last {
                n: last
                    .map(|n| size("last", n))
                    .transpose()?
                    .unwrap_or(DEFAULT_PAGE_SIZE),
                before: cursor(before)?,
            }),
            _ => Err(ApiError::BadInput(
                "after goes with first, before with last".into(),
            )),
        }
    }
}

/// A page of the thread's messages, oldest first.
pub async fn list_messages(
    conn: &impl ConnectionTrait,
    thread_id: &str,
    window: MessageWindow,
) -> ApiResult<Page<messages::Model>> {
    let base = messages::Entity::find().filter(messages::Column::ThreadId.eq(thread_id.to_owned()));
    let total = base.clone().count(conn).await?;
    match window {
        MessageWindow::First { n, after } => {
            let mut query = base;
            if let Some(after) = &after {
                query = query.filter(messages::Column::Id.gt(after.clone()));
            }
            let mut rows = query
                .order_by_asc(messages::Column::Id)
                .limit(n + 1)
                .all(conn)
                .await?;
            let has_next_page = rows.len() as u64 > n;
            rows.truncate(n as usize);
            Ok(Page {
                items: rows,
                has_next_page,
                has_previous_page: after.is_some(),
                total_count: total,
            })
        }
        MessageWindow::Last { n, before } => {
            let mut query = base;
            if let Some(before) = &before {
                query = query.filter(messages::Column::Id.lt(before.clone()));
            }
            let mut rows = query
                .order_by_desc(messages::Column::Id)
                .limit(n + 1)
                .all(conn)
                .await?;
            let has_previous_page = rows.len() as u64 > n;
            rows.truncate(n as usize);
            rows.reverse();
            Ok(Page {
                items: rows,
                has_next_page: before.is_some(),
                has_previous_page,
                total_count: total,
            })
        }
    }
}

/// A message, for a viewer who is a party to its thread.
pub async fn message_for_viewer(
    state: &AppState,
    viewer: &Viewer,
    message_id: &str,
) -> ApiResult<Option<messages::Model>> {
    if !ids::is_kind(message_id, Kind::Message) {
        return Ok(None);
    }
    let Some(message) = messages::Entity::find_by_id(message_id.to_owned())
        .one(&state.db.reader)
        .await?
    else {
        return Ok(None);
    };
    Ok(thread_for_viewer(state, viewer, &message.thread_id)
        .await?
        .map(|_| message))
}

/// Messages of a thread after `after_id` (exclusive), oldest first, at most `limit`.
pub async fn messages_after(
    conn: &impl ConnectionTrait,
    thread_id: &str,
    after_seq: i64,
    limit: u64,
) -> ApiResult<Vec<messages::Model>> {
    Ok(messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(thread_id.to_owned()))
        .filter(messages::Column::Seq.gt(after_seq))
        .order_by_asc(messages::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The position of the thread's newest message (0 when it has none).
pub async fn latest_seq(conn: &impl ConnectionTrait, thread_id: &str) -> ApiResult<i64> {
    let thread =
        messages::Entity::find().filter(messages::Column::ThreadId.eq(thread_id.to_owned()));
    Ok(crate::db::highest(conn, thread, messages::Column::Seq).await?)
}
