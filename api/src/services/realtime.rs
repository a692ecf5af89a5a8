//! The streams behind subscriptions. Each one is authorized when it starts and again for
//! every event: the token must still be valid and the object still readable by the viewer;
//! the user's status and roles are read again whenever a `User` notice says they changed
//! (every status change publishes one), and a user who may no longer sign in ends the stream
//! with the reason.
//!
//! Resuming: with `after`, the stored rows after it are sent first, then live ones. The live
//! side is registered on the bus before the store is read, and what the backlog sent is
//! remembered, so nothing falls in the seam and nothing comes twice.
use std::collections::{HashSet, VecDeque};

use entity::{message_threads, messages, order_events, orders, providers};
use futures_util::Stream;
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{accounts, messaging, orders as order_service, Viewer};
use crate::domain::message;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::events::{Notice, Topic};
use crate::ids::{self, Kind};
use crate::state::AppState;

/// Rows read from the store per round while replaying.
const BACKLOG_PAGE: u64 = 100;
/// Ids remembered to drop live duplicates of what the backlog already sent.
const REMEMBERED: usize = 4096;

/// Which order events a stream carries.
#[derive(Debug, Clone)]
pub enum OrderScope {
    One(String),
    /// Every order where the viewer is buyer or provider; all orders for admins.
    Mine,
}

/// The credentials a socket opened with; every event is checked against them again.
#[derive(Clone)]
pub struct StreamAuth {
    pub token: Option<String>,
}

impl StreamAuth {
    /// The token has not expired (a signature check, no query). The user's status is read
    /// again when a `User` notice says it changed: every status change publishes one.
    fn token_valid(&self, state: &AppState) -> ApiResult<()> {
        match &self.token {
            Some(token) if state.jwt.verify(token).is_some() => Ok(()),
            _ => Err(ApiError::Unauthenticated),
        }
    }

    async fn viewer(&self, state: &AppState) -> ApiResult<Viewer> {
        match &self.token {
            Some(token) => accounts::authenticate(state, token).await,
            None => Err(ApiError::Unauthenticated),
        }
    }
}

/// Ids already sent, bounded.
struct Sent {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl Sent {
    fn new() -> Sent {
        Sent {
            order: VecDeque::new(),
            set: HashSet::new(),
        }
    }

    /// False when `id` was sent already.
    fn insert(&mut self, id: &str) -> bool {
        if !self.set.insert(id.to_owned()) {
            return false;
        }
        self.order.push_back(id.to_owned());
        if self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

fn bad_after(message: &str) -> ApiError {
    ApiError::refused(Refusal::new(RefusalCode::NotFound, message))
}

/// A changed event with what decides who may read it, loaded once per replica and shared by
/// every subscriber that receives the notice.
struct EventWithParties {
    event: order_events::Model,
    order: orders::Model,
    provider: Option<providers::Model>,
}

async fn event_with_parties(state: &AppState, id: &str) -> ApiResult<Option<EventWithParties>> {
    let conn = &state.db.reader;
    let Some(event) = order_events::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let Some(order) = orders::Entity::find_by_id(event.order_id.clone())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let provider = providers::Entity::find_by_id(order.provider_id.clone())
        .one(conn)
        .await?;
    Ok(Some(EventWithParties {
        event,
        order,
        provider,
    }))
}

/// A changed message with its thread and the thread's provider, shared the same way.
struct MessageWithParties {
    message: messages::Model,
    client_id: String,
    provider_user_id: String,
}

async fn message_with_parties(state: &AppState, id: &str) -> ApiResult<Option<MessageWithParties>> {
    let conn = &state.db.reader;
    let Some(message) = messages::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let Some(thread) = message_threads::Entity::find_by_id(message.thread_id.clone())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let Some(provider) = providers::Entity::find_by_id(thread.provider_id.clone())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(MessageWithParties {
        message,
        client_id: thread.client_id,
        provider_user_id: provider.user_id,
    }))
}

/// The viewer's provider, if it has one.
async fn own_provider(state: &AppState, user_id: &str) -> ApiResult<Option<String>> {
    Ok(providers::Entity::find()
        .filter(providers::Column::UserId.eq(user_id.to_owned()))
        .one(&state.db.reader)
        .await?
        .map(|p| p.id))
}

/// Stored events of the scope after `cursor`, oldest first.
async fn events_after(
    state: &AppState,
    viewer: &Viewer,
    scope: &OrderScope,
    cursor: &str,
) -> ApiResult<Vec<order_events::Model>> {
    let mut query = order_events::Entity::find().filter(order_events::Column::Id.gt(cursor));
    match scope {
        OrderScope::One(order_id) => {
            query = query.filter(order_events::Column::OrderId.eq(order_id.clone()));
        }
        OrderScope::Mine if viewer.is_admin() => {}
        OrderScope::Mine => {
            let user_id = viewer.user()?.id.clone();
            let mut parties = Condition::any().add(orders::Column::BuyerId.eq(user_id.clone()));
            if let Some(provider_id) = own_provider(state, &user_id).await? {
                parties = parties.add(orders::Column::ProviderId.eq(provider_id));
            }
            query = query.filter(
                order_events::Column::OrderId.in_subquery(
                    Query::select()
                        .column(orders::Column::Id)
                        .from(orders::Entity)
                        .cond_where(parties)
                        .to_owned(),
                ),
            );
        }
    }
    Ok(query
        .order_by_asc(order_events::Column::Id)
        .limit(BACKLOG_PAGE)
        .all(&state.db.reader)
        .await?)
}

/// Checks the subscription may start and registers it on the bus; the stream replays from
/// `after` (when given) and then follows live events.
pub async fn order_events(
    state: AppState,
    auth: StreamAuth,
    scope: OrderScope,
    after: Option<String>,
) -> ApiResult<impl Stream<Item = ApiResult<order_events::Model>> + Send + 'static> {
    let mut viewer = auth.viewer(&state).await?;
    let user = viewer.user()?.clone();
    let mut topics = vec![Topic::User(user.id.clone())];
    match &scope {
        OrderScope::One(order_id) => {
            order_service::order_with_roles(&state, &viewer, order_id).await?;
            topics.push(Topic::Order(order_id.clone()));
        }
        OrderScope::Mine if viewer.is_admin() => topics.push(Topic::AllOrders),
        OrderScope::Mine => {
            topics.push(Topic::Buyer(user.id.clone()));
            if let Some(provider_id) = own_provider(&state, &user.id).await? {
                topics.push(Topic::Provider(provider_id));
            }
        }
    }
    if let Some(after) = &after {
        let event = order_service::event_for_viewer(&state, &viewer, after).await?;
        match (&scope, event) {
            (OrderScope::One(order_id), Some(event)) if &event.order_id == order_id => {}
            (OrderScope::One(_), _) => {
                return Err(bad_after("after is not an event of this order"))
            }
            (OrderScope::Mine, Some(_)) => {}
            (OrderScope::Mine, None) => {
                return Err(bad_after("after is not an event of one of your orders"))
            }
        }
    }
    // Live first, then the store: whatever commits in between arrives on `rx`.
    let mut rx = state.events.subscribe(topics);
    // Without `after`, a fresh id marks "now": only later events are sent.
    let mut cursor = after.unwrap_or_else(|| ids::new_id(Kind::OrderEvent));
    Ok(async_stream::stream! {
        let mut sent = Sent::new();
        // Once at the start (the backlog after `after`, or whatever committed since the
        // marker), then again whenever the bus says it may have missed notices.
        let mut replay = true;
        loop {
            if replay {
                replay = false;
                loop {
                    let rows = match events_after(&state, &viewer, &scope, &cursor).await {
                        Ok(rows) => rows,
                        Err(err) => {
                            yield Err(err);
                            return;
                        }
                    };
                    let full = rows.len() as u64 == BACKLOG_PAGE;
                    for row in rows {
                        if row.id > cursor {
                            cursor = row.id.clone();
                        }
                        if sent.insert(&row.id) {
                            yield Ok(row);
                        }
                    }
                    if !full {
                        break;
                    }
                }
            }
            let Some(notice) = rx.recv().await else {
                break;
            };
            match &notice.notice {
                Notice::OrderEvent { id, .. } => {
                    if sent.set.contains(id) {
                        continue;
                    }
                    if let Err(err) = auth.token_valid(&state) {
                        yield Err(err);
                        return;
                    }
                    let loaded = notice.shared(|| event_with_parties(&state, id)).await;
                    match loaded.as_deref() {
                        Ok(Some(found)) => {
                            // Who may read it is decided now, for this viewer: a provider
                            // moved off the order stops seeing it.
                            let readable = order_service::roles_of(
                                &viewer,
                                &found.order,
                                found.provider.as_ref(),
                            )
                            .is_some();
                            let in_scope = match &scope {
                                OrderScope::One(order_id) => &found.order.id == order_id,
                                OrderScope::Mine => true,
                            };
                            if readable && in_scope && sent.insert(&found.event.id) {
                                if found.event.id > cursor {
                                    cursor = found.event.id.clone();
                                }
                                yield Ok(found.event.clone());
                            }
                        }
                        Ok(None) => {}
                        Err(err) => {
                            tracing::error!(error = ?err, "loading a order event for subscribers failed");
                            yield Err(ApiError::Internal(anyhow::anyhow!(
                                "loading order event {id} for a subscriber failed"
                            )));
                            return;
                        }
                    }
                }
                Notice::User { .. } => match auth.viewer(&state).await {
                    // Status and roles as they are now.
                    Ok(fresh) => viewer = fresh,
                    Err(err) => {
                        yield Err(err);
                        return;
                    }
                },
                Notice::Resync => replay = true,
                Notice::Message { .. } | Notice::Dispute { .. } => {}
            }
        }
        if rx.lagged() {
            yield Err(ApiError::Lagged);
        }
    })
}

/// New messages of one thread, for its two parties; with `after` (a message id of the
/// thread), the stored ones after it first.
pub async fn thread_messages(
    state: AppState,
    auth: StreamAuth,
    thread_id: String,
    after: Option<String>,
) -> ApiResult<impl Stream<Item = ApiResult<messages::Model>> + Send + 'static> {
    let mut viewer = auth.viewer(&state).await?;
    let user = viewer.user()?.clone();
    if messaging::thread_for_viewer(&state, &viewer, &thread_id)
        .await?
        .is_none()
    {
        return Err(ApiError::refused(Refusal::on_input(
            "threadId",
            RefusalCode::NotFound,
            "no such thread",
        )));
    }
    if let Some(after) = &after {
        let message = messaging::message_for_viewer(&state, &viewer, after).await?;
        if message.is_none_or(|m| m.thread_id != thread_id) {
            return Err(bad_after("after is not a message of this thread"));
        }
    }
    let mut rx = state.events.subscribe(vec![
        Topic::Thread(thread_id.clone()),
        Topic::User(user.id.clone()),
    ]);
    let mut cursor = after.unwrap_or_else(|| ids::new_id(Kind::Message));
    Ok(async_stream::stream! {
        let mut sent = Sent::new();
        let mut replay = true;
        loop {
            if replay {
                replay = false;
                loop {
                    let rows = match messaging::messages_after(
                        &state.db.reader, &thread_id, &cursor, BACKLOG_PAGE,
                    )
                    .await
                    {
                        Ok(rows) => rows,
                        Err(err) => {
                            yield Err(err);
                            return;
                        }
                    };
                    let full = rows.len() as u64 == BACKLOG_PAGE;
                    for row in rows {
                        if row.id > cursor {
                            cursor = row.id.clone();
                        }
                        if sent.insert(&row.id) {
                            yield Ok(row);
                        }
                    }
                    if !full {
                        break;
                    }
                }
            }
            let Some(notice) = rx.recv().await else {
                break;
            };
            match &notice.notice {
                Notice::Message { id, .. } => {
                    if sent.set.contains(id) {
                        continue;
                    }
                    if let Err(err) = auth.token_valid(&state) {
                        yield Err(err);
                        return;
                    }
                    let loaded = notice.shared(|| message_with_parties(&state, id)).await;
                    match loaded.as_deref() {
                        Ok(Some(found)) if found.message.thread_id == thread_id => {
                            let party = viewer.id().and_then(|user| {
                                message::party(user, &found.client_id, &found.provider_user_id)
                            });
                            if party.is_some() && sent.insert(&found.message.id) {
                                if found.message.id > cursor {
                                    cursor = found.message.id.clone();
                                }
                                yield Ok(found.message.clone());
                            }
                        }
                        Ok(_) => {}
                        Err(err) => {
                            tracing::error!(error = ?err, "loading a message for subscribers failed");
                            yield Err(ApiError::Internal(anyhow::anyhow!(
                                "loading message {id} for a subscriber failed"
                            )));
                            return;
                        }
                    }
                }
                Notice::User { .. } => match auth.viewer(&state).await {
                    // Status and roles as they are now.
                    Ok(fresh) => viewer = fresh,
                    Err(err) => {
                        yield Err(err);
                        return;
                    }
                },
                Notice::Resync => replay = true,
                Notice::OrderEvent { .. } | Notice::Dispute { .. } => {}
            }
        }
        if rx.lagged() {
            yield Err(ApiError::Lagged);
        }
    })
}
