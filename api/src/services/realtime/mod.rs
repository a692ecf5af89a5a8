//! The streams behind subscriptions. Each one is authorized when it starts and again for
//! every event: the token must still be valid and the object still readable by the viewer;
//! the user's status and roles are read again whenever a `User` notice says they changed
//! (every status change publishes one), and a user who may no longer sign in ends the stream
//! with the reason.
//!
//! Resuming: with `after`, the stored rows after it are sent first, then live ones. The live
//! side is registered on the bus before the store is read, and what the backlog sent is
//! remembered, so nothing falls in the seam and nothing comes twice. "After" is by commit
//! order (`seq` of order events and of a thread's messages), not by id: an id is made before
//! its transaction commits and can sort before a row that committed first.
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use entity::{message_threads, messages, order_events, orders, providers};
use futures_util::Stream;
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{accounts, messaging, orders as order_service, sellers, Viewer};
use crate::domain::message;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::events::{Delivery, Notice, Receiver, Topic};
use crate::state::AppState;

mod disputes;

pub use disputes::{dispute_changes, StreamedDispute};

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
    /// When the token stops being valid (its signature is checked once, here): every event
    /// compares the clock with it, without a query. The user's status is read again when a
    /// `User` notice says it changed: every status change publishes one.
    fn expires_at(&self, state: &AppState) -> ApiResult<i64> {
        match &self.token {
            Some(token) => state
                .jwt
                .verify(token)
                .map(|claims| claims.exp)
                .ok_or(ApiError::Unauthenticated),
            None => Err(ApiError::Unauthenticated),
        }
    }

    async fn viewer(&self, state: &AppState) -> ApiResult<Viewer> {
        match &self.token {
            Some(token) => accounts::authenticate(state, token).await,
            None => Err(ApiError::Unauthenticated),
        }
    }
}

/// Ids the store replay sent, bounded: a live notice for one of them is dropped.
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

    /// False when `id` was sent already. Only rows read from the store are remembered: a
    /// live row is announced once, and a later replay starts after it.
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
    event: Arc<order_events::Model>,
    order: Arc<orders::Model>,
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
        event: Arc::new(event),
        order: Arc::new(order),
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

/// Stored events of the scope after `cursor`, oldest first.
async fn events_after(
    state: &AppState,
    viewer: &Viewer,
    scope: &OrderScope,
    cursor: i64,
) -> ApiResult<Vec<order_events::Model>> {
    let mut query = order_events::Entity::find().filter(order_events::Column::Seq.gt(cursor));
    match scope {
        OrderScope::One(order_id) => {
            query = query.filter(order_events::Column::OrderId.eq(order_id.clone()));
        }
        OrderScope::Mine if viewer.is_admin() => {}
        OrderScope::Mine => {
            let user_id = viewer.user()?.id.clone();
            let mut parties = Condition::any().add(orders::Column::BuyerId.eq(user_id.clone()));
            if let Some(provider_id) = sellers::own_provider_id(&state.db.reader, &user_id).await? {
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
        .order_by_asc(order_events::Column::Seq)
        .limit(BACKLOG_PAGE)
        .all(&state.db.reader)
        .await?)
}

/// What a resumable stream follows: the stored rows after a cursor, and the row a notice
/// announces when this viewer may read it. [`follow`] does the rest, the same for every kind.
trait Source: Send + Sync + 'static {
    type Row: Send + 'static;
    /// Where a row stands in commit order: a replay reads the rows after it.
    type Cursor: Ord + Clone + Send + Sync + 'static;

    /// Whether live rows are remembered too: for rows that are states of a changing object,
    /// where two notices can load the same state.
    const REMEMBER_LIVE: bool = false;

    /// Whether a live row at or before the cursor is dropped: for rows positioned in commit
    /// order and announced in that order, where such a row was either replayed already or
    /// committed before the stream began (a stream's start numbers pending order events, and
    /// their announcements reach it after it took its mark).
    const LIVE_AFTER_CURSOR_ONLY: bool = false;

    fn row_id(row: &Self::Row) -> &str;

    fn cursor_of(row: &Self::Row) -> Self::Cursor;

    /// The id a notice announces, when it is of this source's kind.
    fn announced(notice: &Notice) -> Option<&str>;

    /// Stored rows after `cursor`, oldest first, at most [`BACKLOG_PAGE`].
    fn after(
        &self,
        state: &AppState,
        viewer: &Viewer,
        cursor: &Self::Cursor,
    ) -> impl std::future::Future<Output = ApiResult<Vec<Self::Row>>> + Send;

    /// The announced row, loaded once per replica and shared; `None` when it is not in this
    /// stream or the viewer may no longer read it.
    fn live(
        &self,
        state: &AppState,
        viewer: &Viewer,
        delivery: &Delivery,
        id: &str,
    ) -> impl std::future::Future<Output = ApiResult<Option<Self::Row>>> + Send;
}

/// The stream lives as long as its subscription, so it is kept small: the queries it awaits
/// (replay, account re-read, live load) are boxed while they run instead of sizing the
/// stream's own state for the largest of them (10,000 subscribers each pay for it).
///
/// Replays the store after `cursor`, then follows `rx`: live rows already sent are dropped,
/// the token is checked for every row, the viewer is read again when its account changes,
/// the store is read again when the bus may have missed notices, and a lagging subscriber
/// ends with the reason.
fn follow<S: Source>(
    state: AppState,
    auth: StreamAuth,
    mut viewer: Viewer,
    mut rx: Receiver,
    mut cursor: S::Cursor,
    replay_first: bool,
    source: S,
) -> impl Stream<Item = ApiResult<S::Row>> + Send + 'static {
    async_stream::stream! {
        let expires_at = match auth.expires_at(&state) {
            Ok(at) => at,
            Err(err) => {
                yield Err(err);
                return;
            }
        };
        let mut sent = Sent::new();
        // At the start when resuming (the backlog after `after`; without it everything
        // that commits from now on reaches `rx`, registered before the marker was taken),
        // then again whenever the bus says it may have missed notices.
        let mut replay = replay_first;
        loop {
            if replay {
                replay = false;
                loop {
                    let rows = match Box::pin(source.after(&state, &viewer, &cursor)).await {
                        Ok(rows) => rows,
                        Err(err) => {
                            yield Err(err);
                            return;
                        }
                    };
                    let full = rows.len() as u64 == BACKLOG_PAGE;
                    for row in rows {
                        let at = S::cursor_of(&row);
                        if at > cursor {
                            cursor = at;
                        }
                        if sent.insert(S::row_id(&row)) {
                            yield Ok(row);
                        }
                    }
                    if !full {
                        break;
                    }
                }
            }
            let Some(delivery) = rx.recv().await else {
                break;
            };
            match &delivery.notice {
                Notice::User { .. } => match Box::pin(auth.viewer(&state)).await {
                    // Status and roles as they are now.
                    Ok(fresh) => viewer = fresh,
                    Err(err) => {
                        yield Err(err);
                        return;
                    }
                },
                Notice::Resync => replay = true,
                notice => {
                    let Some(id) = S::announced(notice) else {
                        continue;
                    };
                    if sent.set.contains(id) {
                        continue;
                    }
                    if chrono::Utc::now().timestamp() >= expires_at {
                        yield Err(ApiError::Unauthenticated);
                        return;
                    }
                    match Box::pin(source.live(&state, &viewer, &delivery, id)).await {
                        Ok(Some(row)) => {
                            if S::REMEMBER_LIVE && !sent.insert(S::row_id(&row)) {
                                continue;
                            }
                            let at = S::cursor_of(&row);
                            if S::LIVE_AFTER_CURSOR_ONLY && at <= cursor {
                                continue;
                            }
                            if at > cursor {
                                cursor = at;
                            }
                            yield Ok(row);
                        }
                        Ok(None) => {}
                        Err(err) => {
                            yield Err(err);
                            return;
                        }
                    }
                }
            }
        }
        if rx.lagged() {
            yield Err(ApiError::Lagged);
        }
    }
}

struct OrderSource {
    scope: OrderScope,
}

/// An order event as a stream sends it: live ones come with the order the replica loaded
/// for every subscriber, so a selection of `order` costs no query per subscriber.
pub struct StreamedEvent {
    pub event: Arc<order_events::Model>,
    pub order: Option<Arc<orders::Model>>,
}

impl Source for OrderSource {
    type Row = StreamedEvent;
    type Cursor = i64;

    const LIVE_AFTER_CURSOR_ONLY: bool = true;

    fn row_id(row: &Self::Row) -> &str {
        &row.event.id
    }

    fn cursor_of(row: &Self::Row) -> i64 {
        row.event.seq
    }

    fn announced(notice: &Notice) -> Option<&str> {
        match notice {
            Notice::OrderEvent { id, .. } => Some(id),
            _ => None,
        }
    }

    async fn after(
        &self,
        state: &AppState,
        viewer: &Viewer,
        cursor: &i64,
    ) -> ApiResult<Vec<Self::Row>> {
        Ok(events_after(state, viewer, &self.scope, *cursor)
            .await?
            .into_iter()
            .map(|event| StreamedEvent {
                event: Arc::new(event),
                order: None,
            })
            .collect())
    }

    async fn live(
        &self,
        state: &AppState,
        viewer: &Viewer,
        delivery: &Delivery,
        id: &str,
    ) -> ApiResult<Option<Self::Row>> {
        let loaded = delivery.shared(|| event_with_parties(state, id)).await?;
        let Some(found) = loaded.as_ref() else {
            return Ok(None);
        };
        // Who may read it is decided now, for this viewer: a provider moved off the order
        // stops seeing it.
        let readable =
            order_service::roles_of(viewer, &found.order, found.provider.as_ref()).is_some();
        let in_scope = match &self.scope {
            OrderScope::One(order_id) => &found.order.id == order_id,
            OrderScope::Mine => true,
        };
        Ok((readable && in_scope).then(|| StreamedEvent {
            event: found.event.clone(),
            order: Some(found.order.clone()),
        }))
    }
}

struct ThreadSource {
    thread_id: String,
}

impl Source for ThreadSource {
    type Row = messages::Model;
    type Cursor = i64;

    const LIVE_AFTER_CURSOR_ONLY: bool = true;

    fn row_id(row: &Self::Row) -> &str {
        &row.id
    }

    fn cursor_of(row: &Self::Row) -> i64 {
        row.seq
    }

    fn announced(notice: &Notice) -> Option<&str> {
        match notice {
            Notice::Message { id, .. } => Some(id),
            _ => None,
        }
    }

    async fn after(
        &self,
        state: &AppState,
        _viewer: &Viewer,
        cursor: &i64,
    ) -> ApiResult<Vec<Self::Row>> {
        messaging::messages_after(&state.db.reader, &self.thread_id, *cursor, BACKLOG_PAGE).await
    }

    async fn live(
        &self,
        state: &AppState,
        viewer: &Viewer,
        delivery: &Delivery,
        id: &str,
    ) -> ApiResult<Option<Self::Row>> {
        let loaded = delivery.shared(|| message_with_parties(state, id)).await?;
        let Some(found) = loaded.as_ref() else {
            return Ok(None);
        };
        let party = viewer
            .id()
            .and_then(|user| message::party(user, &found.client_id, &found.provider_user_id));
        Ok(
            (found.message.thread_id == self.thread_id && party.is_some())
                .then(|| found.message.clone()),
        )
    }
}

/// Checks the subscription may start and registers it on the bus; the stream replays from
/// `after` (when given) and then follows live events.
pub async fn order_events(
    state: AppState,
    auth: StreamAuth,
    scope: OrderScope,
    after: Option<String>,
) -> ApiResult<impl Stream<Item = ApiResult<StreamedEvent>> + Send + 'static> {
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
            if let Some(provider_id) = sellers::own_provider_id(&state.db.reader, &user.id).await? {
                topics.push(Topic::Provider(provider_id));
            }
        }
    }
    let mut resume_at = None;
    if let Some(after) = &after {
        let event = order_service::event_for_viewer(&state, &viewer, after).await?;
        let event = match (&scope, event) {
            (OrderScope::One(order_id), Some(event)) if &event.order_id == order_id => event,
            (OrderScope::One(_), _) => {
                return Err(bad_after("after is not an event of this order"))
            }
            (OrderScope::Mine, Some(event)) => event,
            (OrderScope::Mine, None) => {
                return Err(bad_after("after is not an event of one of your orders"))
            }
        };
        // An event read by a query may still be waiting for its position (PostgreSQL).
        resume_at = Some(order_service::sequencer::position_of(&state.db.writer, &event).await?);
    }
    // Live first, then the store: whatever commits in between arrives on `rx`.
    let rx = state.events.subscribe(topics);
    // Without `after`, the newest committed event marks "now": only later ones are sent.
    let resume = resume_at.is_some();
    let cursor = match resume_at {
        Some(seq) => seq,
        None => order_service::sequencer::newest_position(&state.db.writer).await?,
    };
    Ok(follow(
        state,
        auth,
        viewer,
        rx,
        cursor,
        resume,
        OrderSource { scope },
    ))
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
    let mut resume_at = None;
    if let Some(after) = &after {
        match messaging::message_for_viewer(&state, &viewer, after).await? {
            Some(message) if message.thread_id == thread_id => resume_at = Some(message.seq),
            _ => return Err(bad_after("after is not a message of this thread")),
        }
    }
    let rx = state.events.subscribe(vec![
        Topic::Thread(thread_id.clone()),
        Topic::User(user.id.clone()),
    ]);
    let resume = resume_at.is_some();
    let cursor = match resume_at {
        Some(seq) => seq,
        None => messaging::latest_seq(&state.db.reader, &thread_id).await?,
    };
    Ok(follow(
        state,
        auth,
        viewer,
        rx,
        cursor,
        resume,
        ThreadSource { thread_id },
    ))
}
