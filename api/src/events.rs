//! The event bus behind subscriptions. A change (an order event, a message, a dispute change,
//! a user's status) is announced with ids only; every subscriber loads and re-authorizes what
//! it sends.
//!
//! - One node (SQLite): the service takes a [`Publisher`] before it commits and hands it its
//!   notices right after, and they fan out in process. The publisher holds the bus's commit
//!   order lock from before the commit to the hand-off, so notices reach subscribers in the
//!   order their transactions committed (the order stored events are numbered in and replayed
//!   in): a stream never sends a later event first, which a resume would then send again.
//! - PostgreSQL: [`notify_in`] runs `pg_notify` inside the transaction, so the notice exists
//!   exactly when the change commits, and every replica's one LISTEN connection
//!   ([`spawn_pg_listener`]) fans it out to that replica's subscribers, its own included.
//!   When that connection drops it reconnects, then tells every subscriber to re-read the
//!   store ([`Notice::Resync`]), so nothing committed meanwhile is lost.
//!
//! Subscribers never block each other: each has a bounded buffer, and one that falls behind
//! it is dropped from the bus and told so ([`Receiver::lagged`]); the client resumes with
//! `after`.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::error::ApiResult;

/// The PostgreSQL channel every replica listens on.
pub const CHANNEL: &str = "marketplace_events";

/// What changed, by id. Routing ids (the order's buyer and provider) ride along so a replica
/// can pick the subscribers without a query; what is sent is always loaded fresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Notice {
    OrderEvent {
        id: String,
        order_id: String,
        buyer_id: String,
        provider_id: String,
    },
    Message {
        id: String,
        thread_id: String,
    },
    Dispute {
        id: String,
        order_id: String,
    },
    /// A user's status or roles changed: their open streams re-check at once.
    User {
        user_id: String,
    },
    /// The bus may have missed notices (the LISTEN connection dropped): re-read the store.
    Resync,
    /// PostgreSQL: order events committed without their position; the replica's sequencer
    /// numbers them and announces each (`services::orders::sequencer`).
    OrderEventsPending,
}

/// What a subscriber listens to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    Order(String),
    /// Orders where this user is the buyer.
    Buyer(String),
    /// Orders of this provider.
    Provider(String),
    /// Every order (admins).
    AllOrders,
    Thread(String),
    Disputes,
    /// Changes to this user's own account.
    User(String),
}

impl Notice {
    fn topics(&self) -> Vec<Topic> {
        match self {
            Notice::OrderEvent {
                order_id,
                buyer_id,
                provider_id,
                ..
            } => vec![
                Topic::Order(order_id.clone()),
                Topic::Buyer(buyer_id.clone()),
                Topic::Provider(provider_id.clone()),
                Topic::AllOrders,
            ],
            Notice::Message { thread_id, .. } => vec![Topic::Thread(thread_id.clone())],
            Notice::Dispute { .. } => vec![Topic::Disputes],
            Notice::User { user_id } => vec![Topic::User(user_id.clone())],
            Notice::Resync | Notice::OrderEventsPending => Vec::new(),
        }
    }
}

/// Writes the notice into the transaction when the database is PostgreSQL: it is delivered to
/// every listening replica when (and only if) the transaction commits. On SQLite it does
/// nothing; the caller hands the notice to [`EventBus::committed`] after the commit.
pub async fn notify_in(conn: &impl ConnectionTrait, notice: &Notice) -> ApiResult<()> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let payload = serde_json::to_string(notice)
        .map_err(|e| crate::error::ApiError::Internal(anyhow::Error::new(e)))?;
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
    .await?;
    Ok(())
}

/// Bytes of one batched payload at most.
const PAYLOAD_BYTES: usize = 7000;

/// The notices as JSON arrays of at most [`PAYLOAD_BYTES`] each (a notice is a few hundred
/// bytes), under PostgreSQL's 8000-byte limit on one payload; sent in order, the listener
/// delivers them in that order.
pub fn payloads(notices: &[Notice]) -> ApiResult<Vec<String>> {
    let mut out = Vec::new();
    let mut current = String::from("[");
    for notice in notices {
        let text = serde_json::to_string(notice)
            .map_err(|e| crate::error::ApiError::Internal(anyhow::Error::new(e)))?;
        if current.len() > 1 && current.len() + text.len() + 2 > PAYLOAD_BYTES {
            current.push(']');
            out.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&text);
    }
    if current.len() > 1 {
        current.push(']');
        out.push(current);
    }
    Ok(out)
}

/// A LISTEN payload: one notice, or an array of them in order.
fn parse_payload(payload: &str) -> serde_json::Result<Vec<Notice>> {
    if payload.trim_start().starts_with('[') {
        serde_json::from_str(payload)
    } else {
        serde_json::from_str(payload).map(|notice| vec![notice])
    }
}

/// A notice as subscribers receive it, with a slot for what the first of them loads, so a
/// replica reads each changed row once however many subscribers it has.
#[derive(Debug)]
pub struct Delivery {
    pub notice: Notice,
    shared: tokio::sync::OnceCell<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Delivery {
    fn new(notice: Notice) -> Delivery {
        Delivery {
            notice,
            shared: tokio::sync::OnceCell::new(),
        }
    }

    /// What `load` returns, loaded by the first subscriber that asks and shared with the
    /// rest. A failed load is not kept: the next subscriber tries again.
    pub async fn shared<T, F, Fut>(&self, load: F) -> ApiResult<Arc<T>>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ApiResult<T>>,
    {
        let value = self
            .shared
            .get_or_try_init(|| async {
                load()
                    .await
                    .map(|v| Arc::new(v) as Arc<dyn std::any::Any + Send + Sync>)
            })
            .await?;
        value.clone().downcast::<T>().map_err(|_| {
            crate::error::ApiError::Internal(anyhow::anyhow!(
                "a notice's shared value has another type"
            ))
        })
    }
}

struct Slot {
    tx: mpsc::Sender<Arc<Delivery>>,
    lagged: Arc<AtomicBool>,
    topics: Vec<Topic>,
}

#[derive(Default)]
struct Registry {
    by_topic: HashMap<Topic, HashSet<u64>>,
    slots: HashMap<u64, Slot>,
}

impl Registry {
    fn remove(&mut self, id: u64) -> Option<Slot> {
        let slot = self.slots.remove(&id)?;
        for topic in &slot.topics {
            if let Some(ids) = self.by_topic.get_mut(topic) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.by_topic.remove(topic);
                }
            }
        }
        Some(slot)
    }
}

struct Inner {
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    buffer: usize,
    /// PostgreSQL delivers through LISTEN; only SQLite dispatches on commit.
    local: bool,
    dispatched: AtomicU64,
    dropped_lagging: AtomicU64,
    /// Wakes the sequencer: order events are waiting for their positions.
    pending_order_events: tokio::sync::Notify,
    /// Held by a [`Publisher`] from before its commit to its hand-off (SQLite).
    commit_order: tokio::sync::Mutex<()>,
}

/// Hands a transaction's notices to the bus once it committed: take it before the commit,
/// then call [`Publisher::committed`]. Dropped without that (the commit failed), it publishes
/// nothing.
pub struct Publisher<'a> {
    bus: &'a EventBus,
    _order: Option<tokio::sync::MutexGuard<'a, ()>>,
}

impl Publisher<'_> {
    /// Notices of the transaction that just committed. On PostgreSQL they were sent by
    /// `pg_notify` and come back through LISTEN, so this does nothing there.
    pub fn committed(self, notices: impl IntoIterator<Item = Notice>) {
        if self.bus.inner.local {
            for notice in notices {
                self.bus.dispatch(notice);
            }
        }
    }
}

/// The replica's fan-out of notices to its subscribers.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

/// Counters for readiness and the benchmark.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BusStats {
    pub subscribers: usize,
    pub dispatched: u64,
    pub dropped_lagging: u64,
}

impl EventBus {
    /// `buffer` notices may wait per subscriber before it counts as lagging.
    pub fn new(backend: DbBackend, buffer: usize) -> EventBus {
        EventBus {
            inner: Arc::new(Inner {
                registry: Mutex::new(Registry::default()),
                next_id: AtomicU64::new(1),
                buffer: buffer.max(1),
                local: backend != DbBackend::Postgres,
                dispatched: AtomicU64::new(0),
                dropped_lagging: AtomicU64::new(0),
                pending_order_events: tokio::sync::Notify::new(),
                commit_order: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Registers a subscriber on `topics`. Register before reading the backlog, so that
    /// nothing committed in between is missed.
    pub fn subscribe(&self, topics: Vec<Topic>) -> Receiver {
        let (tx, rx) = mpsc::channel(self.inner.buffer);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let lagged = Arc::new(AtomicBool::new(false));
        let mut registry = self.lock();
        for topic in &topics {
            registry
                .by_topic
                .entry(topic.clone())
                .or_default()
                .insert(id);
        }
        registry.slots.insert(
            id,
            Slot {
                tx,
                lagged: lagged.clone(),
                topics,
            },
        );
        Receiver {
            id,
            rx,
            lagged,
            bus: self.clone(),
        }
    }

    /// Takes the commit order (SQLite) for a transaction about to commit: see [`Publisher`].
    pub async fn publisher(&self) -> Publisher<'_> {
        let order = if self.inner.local {
            Some(self.inner.commit_order.lock().await)
        } else {
            None
        };
        Publisher {
            bus: self,
            _order: order,
        }
    }

    /// Hands the notice to every subscriber of one of its topics, each at most once. A
    /// subscriber whose buffer is full is dropped and marked lagging; nobody waits.
    pub fn dispatch(&self, notice: Notice) {
        match notice {
            // For the sequencer, not for subscribers; several wake it once.
            Notice::OrderEventsPending => {
                self.inner.pending_order_events.notify_one();
                return;
            }
            // Nothing missed is lost, but events may be waiting for their positions too.
            Notice::Resync => self.inner.pending_order_events.notify_one(),
            _ => {}
        }
        self.inner.dispatched.fetch_add(1, Ordering::Relaxed);
        let notice = Arc::new(Delivery::new(notice));
        let mut registry = self.lock();
        let targets: Vec<u64> = if matches!(notice.notice, Notice::Resync) {
            registry.slots.keys().copied().collect()
        } else {
            let mut seen = HashSet::new();
            notice
                .notice
                .topics()
                .iter()
                .filter_map(|t| registry.by_topic.get(t))
                .flatten()
                .copied()
                .filter(|id| seen.insert(*id))
                .collect()
        };
        let mut lagging = Vec::new();
        for id in targets {
            if let Some(slot) = registry.slots.get(&id) {
                match slot.tx.try_send(notice.clone()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        slot.lagged.store(true, Ordering::SeqCst);
                        lagging.push(id);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => lagging.push(id),
                }
            }
        }
        for id in lagging {
            if registry.remove(id).is_some() {
                self.inner.dropped_lagging.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Returns when an [`Notice::OrderEventsPending`] arrived since the last call returned.
    pub async fn order_events_pending(&self) {
        self.inner.pending_order_events.notified().await;
    }

    pub fn stats(&self) -> BusStats {
        BusStats {
            subscribers: self.lock().slots.len(),
            dispatched: self.inner.dispatched.load(Ordering::Relaxed),
            dropped_lagging: self.inner.dropped_lagging.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves plain maps behind; keep serving.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One subscriber's end of the bus; dropping it unsubscribes.
pub struct Receiver {
    id: u64,
    rx: mpsc::Receiver<Arc<Delivery>>,
    lagged: Arc<AtomicBool>,
    bus: EventBus,
}

impl Receiver {
    /// The next notice; `None` once the bus dropped this subscriber (see [`Self::lagged`]).
    pub async fn recv(&mut self) -> Option<Arc<Delivery>> {
        self.rx.recv().await
    }

    /// True when the bus dropped this subscriber for falling behind its buffer.
    pub fn lagged(&self) -> bool {
        self.lagged.load(Ordering::SeqCst)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.bus.lock().remove(self.id);
    }
}

/// Listens on [`CHANNEL`] for this replica, for as long as the process lives. On a lost
/// connection sqlx reconnects and listens again; then every subscriber re-reads the store.
pub fn spawn_pg_listener(db: &DatabaseConnection, bus: EventBus) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let pool = db.get_postgres_connection_pool().clone();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::warn!(error = %err, "event listener cannot connect; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            if let Err(err) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %err, "LISTEN failed; retrying");
                tokio::time::sleep(backoff).await;
                continue;
            }
            backoff = Duration::from_millis(100);
            // Anything committed before this LISTEN and after the last one is in the store.
            bus.dispatch(Notice::Resync);
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => match parse_payload(notification.payload()) {
                        Ok(notices) => {
                            for notice in notices {
                                bus.dispatch(notice);
                            }
                        }
                        Err(err) => tracing::error!(error = %err, "unreadable notice"),
                    },
                    Ok(None) => {
                        // Lost and (eagerly) re-established: notices in between are gone.
                        tracing::warn!("event listener reconnected; subscribers re-read");
                        bus.dispatch(Notice::Resync);
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "event listener failed; reconnecting");
                        tokio::time::sleep(backoff).await;
                        break;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_event(id: &str, order: &str) -> Notice {
        Notice::OrderEvent {
            id: id.to_owned(),
            order_id: order.to_owned(),
            buyer_id: "usr_b".to_owned(),
            provider_id: "prov_p".to_owned(),
        }
    }

    #[tokio::test]
    async fn a_notice_reaches_each_subscriber_of_its_topics_once() {
        let bus = EventBus::new(DbBackend::Sqlite, 8);
        let mut both = bus.subscribe(vec![
            Topic::Buyer("usr_b".to_owned()),
            Topic::Provider("prov_p".to_owned()),
        ]);
        let mut other = bus.subscribe(vec![Topic::Order("ord_2".to_owned())]);
        bus.publisher()
            .await
            .committed([order_event("oev_1", "ord_1")]);
        let got = both.recv().await.expect("one");
        assert_eq!(got.notice, order_event("oev_1", "ord_1"));
        assert!(both.rx.try_recv().is_err(), "delivered once, not per topic");
        assert!(
            other.rx.try_recv().is_err(),
            "another order's subscriber hears nothing"
        );
    }

    #[tokio::test]
    async fn a_subscriber_past_its_buffer_is_dropped_and_marked_lagging_without_blocking() {
        let bus = EventBus::new(DbBackend::Sqlite, 2);
        let mut slow = bus.subscribe(vec![Topic::AllOrders]);
        let mut fast = bus.subscribe(vec![Topic::Order("ord_1".to_owned())]);
        for n in 0..5 {
            bus.dispatch(order_event(&format!("oev_{n}"), "ord_1"));
            fast.recv().await.expect("the fast one keeps up");
        }
        assert!(slow.lagged());
        assert_eq!(bus.stats().subscribers, 1);
        // What was buffered drains, then the end.
        assert!(slow.recv().await.is_some());
        assert!(slow.recv().await.is_some());
        assert!(slow.recv().await.is_none());
    }

    #[tokio::test]
    async fn dropping_a_receiver_unsubscribes_and_postgres_commits_do_not_dispatch_locally() {
        let bus = EventBus::new(DbBackend::Sqlite, 4);
        drop(bus.subscribe(vec![Topic::Disputes]));
        assert_eq!(bus.stats().subscribers, 0);
        let pg = EventBus::new(DbBackend::Postgres, 4);
        let mut rx = pg.subscribe(vec![Topic::AllOrders]);
        pg.publisher()
            .await
            .committed([order_event("oev_1", "ord_1")]);
        assert!(
            rx.rx.try_recv().is_err(),
            "PostgreSQL delivers through LISTEN only"
        );
    }

    #[tokio::test]
    async fn the_first_subscriber_loads_and_the_others_share_it() {
        let bus = EventBus::new(DbBackend::Sqlite, 4);
        let mut a = bus.subscribe(vec![Topic::AllOrders]);
        let mut b = bus.subscribe(vec![Topic::AllOrders]);
        bus.dispatch(order_event("oev_1", "ord_1"));
        let loads = std::sync::atomic::AtomicUsize::new(0);
        for rx in [&mut a, &mut b] {
            let delivery = rx.recv().await.expect("delivered");
            let value = delivery
                .shared(|| async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    Ok(42_u32)
                })
                .await
                .expect("loaded");
            assert_eq!(*value, 42);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn batched_notices_stay_under_the_payload_limit_and_come_back_in_order() {
        let notices: Vec<Notice> = (0..200)
            .map(|n| order_event(&format!("oev_{n:04}"), "ord_1"))
            .collect();
        let texts = payloads(&notices).expect("payloads");
        assert!(texts.len() > 1, "200 notices need several payloads");
        assert!(texts.iter().all(|t| t.len() <= PAYLOAD_BYTES));
        let back: Vec<Notice> = texts
            .iter()
            .flat_map(|t| parse_payload(t).expect("parse"))
            .collect();
        assert_eq!(back, notices);
        assert_eq!(
            parse_payload(&serde_json::to_string(&notices[0]).expect("one")).expect("parse"),
            vec![notices[0].clone()],
            "a single notice is read as before"
        );
        assert!(payloads(&[]).expect("none").is_empty());
    }

    #[tokio::test]
    async fn pending_order_events_wake_the_sequencer_and_reach_no_subscriber() {
        let bus = EventBus::new(DbBackend::Postgres, 4);
        let mut rx = bus.subscribe(vec![Topic::AllOrders]);
        bus.dispatch(Notice::OrderEventsPending);
        bus.dispatch(Notice::OrderEventsPending);
        tokio::time::timeout(Duration::from_secs(1), bus.order_events_pending())
            .await
            .expect("woken");
        assert!(rx.rx.try_recv().is_err());
        assert_eq!(bus.stats().dispatched, 0);
    }

    #[test]
    fn notices_travel_as_small_json() {
        let text = serde_json::to_string(&order_event("oev_1", "ord_1")).expect("json");
        assert!(text.contains("\"k\":\"order_event\""), "{text}");
        assert_eq!(
            serde_json::from_str::<Notice>(&text).expect("back"),
            order_event("oev_1", "ord_1")
        );
    }
}
