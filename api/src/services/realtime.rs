//! The streams behind subscriptions. Each one is authorized when it starts and again for
//! every event: the token must still be valid, the user still active, and the object still
//! readable by them; otherwise the stream ends with the reason.
//!
//! Resuming: with `after`, the stored rows after it are sent first, then live ones. The live
//! side is registered on the bus before the store is read, and what the backlog sent is
//! remembered, so nothing falls in the seam and nothing comes twice.
use std::collections::{HashSet, VecDeque};

use entity::{messages, order_events, orders, providers};
use futures_util::Stream;
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{accounts, messaging, orders as order_service, Viewer};
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
    let viewer = auth.viewer(&state).await?;
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
            match &*notice {
                Notice::OrderEvent { id, .. } => {
                    if sent.set.contains(id) {
                        continue;
                    }
                    let viewer = match auth.viewer(&state).await {
                        Ok(viewer) => viewer,
                        Err(err) => {
                            yield Err(err);
                            return;
                        }
                    };
                    match order_service::event_for_viewer(&state, &viewer, id).await {
                        Ok(Some(event)) => {
                            let in_scope = match &scope {
                                OrderScope::One(order_id) => &event.order_id == order_id,
                                OrderScope::Mine => true,
                            };
                            if in_scope && sent.insert(&event.id) {
                                if event.id > cursor {
                                    cursor = event.id.clone();
                                }
                                yield Ok(event);
                            }
                        }
                        // No longer theirs to read (a provider moved off the order, say).
                        Ok(None) => {}
                        Err(err) => {
                            yield Err(err);
                            return;
                        }
                    }
                }
                Notice::User { .. } => {
                    if let Err(err) = auth.viewer(&state).await {
                        yield Err(err);
                        return;
                    }
                }
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
    let viewer = auth.viewer(&state).await?;
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
            match &*notice {
                Notice::Message { id, .. } => {
                    if sent.set.contains(id) {
                        continue;
                    }
                    let viewer = match auth.viewer(&state).await {
                        Ok(viewer) => viewer,
                        Err(err) => {
                            yield Err(err);
                            return;
                        }
                    };
                    match messaging::message_for_viewer(&state, &viewer, id).await {
                        Ok(Some(message)) if message.thread_id == thread_id => {
                            if sent.insert(&message.id) {
                                if message.id > cursor {
                                    cursor = message.id.clone();
                                }
                                yield Ok(message);
                            }
                        }
                        Ok(_) => {}
                        Err(err) => {
                            yield Err(err);
                            return;
                        }
                    }
                }
                Notice::User { .. } => {
                    if let Err(err) = auth.viewer(&state).await {
                        yield Err(err);
                        return;
                    }
                }
                Notice::Resync => replay = true,
                Notice::OrderEvent { .. } | Notice::Dispute { .. } => {}
            }
        }
        if rx.lagged() {
            yield Err(ApiError::Lagged);
        }
    })
}
