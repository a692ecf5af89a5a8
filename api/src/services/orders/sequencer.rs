//! Commit-ordered positions (`seq`) of order events, which `myOrderEvents` and
//! `orderStatusChanged` resume from: a stream that sent the event at position p replays the
//! events after p, so a position must never be given to an event that committed before one
//! with a lower position was read.
//!
//! - SQLite has one writer: the recording transaction takes the highest position plus one,
//!   and commits before the next writer reads it.
//! - PostgreSQL commits transactions side by side (and flushes their WAL together), so the
//!   recording transaction does not take a position at all: it stores its event as pending,
//!   `seq = -nextval('order_event_pending')` (a negative `seq` is after no cursor: no stream
//!   reads it), and announces only that something is pending. The sequencer, one task per
//!   replica, then numbers committed pending events in one statement under an advisory lock,
//!   above every position given before, in the order their numbers were taken (within one
//!   order that is commit order: its transitions hold the order's row lock), and announces
//!   the numbered events, in position order, in that same transaction. The replicas' LISTEN
//!   connections receive those announcements in commit order, which is position order, so a
//!   live stream also sends its events in the order it would replay them.
//!
//! An event not yet numbered when a stream is asked to resume after it is numbered first
//! ([`position_of`]); a replica that stopped between an event's commit and its numbering
//! leaves it pending until any sequencer's next round (one runs every second besides the
//! announcements).
use std::sync::Arc;
use std::time::Duration;

use entity::order_events;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, Statement,
};
use sqlx::Row;

use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventBus, Notice};
use crate::faults::Faults;

/// Advisory-lock key of the numbering (PostgreSQL; advisory locks are per database).
const SEQUENCER_LOCK: i64 = 0x6f72_6465_7273; // "orders"
/// Events numbered per round at most (a longer backlog takes several rounds).
const BATCH: i64 = 1000;
/// A round runs this often even without an announcement (events a stopped replica left).
const SWEEP: Duration = Duration::from_secs(1);

/// Numbers the committed pending events after the highest position, first taken first, and
/// returns them with their order's parties for the announcement, in position order.
const NUMBER_PENDING: &str = "\
WITH top AS (SELECT COALESCE(MAX(seq), 0) AS seq FROM order_events WHERE seq > 0), \
pending AS (SELECT id, ROW_NUMBER() OVER (ORDER BY seq DESC) AS n FROM order_events \
            WHERE seq < 0 ORDER BY seq DESC LIMIT $1), \
numbered AS (UPDATE order_events SET seq = top.seq + pending.n FROM top, pending \
             WHERE order_events.id = pending.id \
             RETURNING order_events.id, order_events.seq, order_events.order_id) \
SELECT numbered.id, numbered.seq, numbered.order_id, orders.buyer_id, orders.provider_id \
FROM numbered JOIN orders ON orders.id = numbered.order_id ORDER BY numbered.seq";

/// The `seq` an event is stored with: SQLite its position, PostgreSQL a pending mark.
pub(super) async fn seq_at_insert(conn: &impl ConnectionTrait) -> ApiResult<i64> {
    match conn.get_database_backend() {
        DbBackend::Postgres => {
            let row = conn
                .query_one(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT -nextval('order_event_pending') AS mark",
                ))
                .await?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("nextval returned no row")))?;
            Ok(row.try_get("", "mark")?)
        }
        _ => Ok(super::latest_event_seq(conn).await? + 1),
    }
}

/// One round: numbers up to [`BATCH`] committed pending events and announces them. Returns how
/// many it numbered. Rounds of several replicas take turns on the advisory lock; each reads
/// the highest position after the previous one committed. It runs on the pool underneath
/// SeaORM: its statements are the replica's own, not any request's (`--sql-statement-count`
/// counts a request's statements by what SeaORM runs meanwhile).
pub async fn number_pending(db: &DatabaseConnection) -> ApiResult<usize> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(0);
    }
    let mut txn = db.get_postgres_connection_pool().begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEQUENCER_LOCK)
        .execute(&mut *txn)
        .await?;
    let rows = sqlx::query(NUMBER_PENDING)
        .bind(BATCH)
        .fetch_all(&mut *txn)
        .await?;
    let mut notices = Vec::with_capacity(rows.len());
    for row in &rows {
        notices.push(Notice::OrderEvent {
            id: row.try_get("id")?,
            order_id: row.try_get("order_id")?,
            buyer_id: row.try_get("buyer_id")?,
            provider_id: row.try_get("provider_id")?,
        });
    }
    for payload in events::payloads(&notices)? {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(events::CHANNEL)
            .bind(payload)
            .execute(&mut *txn)
            .await?;
    }
    txn.commit().await?;
    Ok(notices.len())
}

/// The position of a stored event for a stream resuming after it: a pending one is numbered
/// first (it committed: the caller read it).
pub async fn position_of(db: &DatabaseConnection, event: &order_events::Model) -> ApiResult<i64> {
    let mut seq = event.seq;
    for _ in 0..3 {
        if seq > 0 {
            return Ok(seq);
        }
        number_pending(db).await?;
        seq = order_events::Entity::find_by_id(event.id.clone())
            .one(db)
            .await?
            .map_or(seq, |e| e.seq);
    }
    if seq > 0 {
        Ok(seq)
    } else {
        Err(ApiError::Internal(anyhow::anyhow!(
            "event {} has no position after three rounds",
            event.id
        )))
    }
}

/// The position that marks "now" for a stream started without `after`: every event committed
/// before the call is at or below it, so the stream sends none of them. On PostgreSQL an event
/// committed but still pending would otherwise be numbered above the mark and reach a
/// subscriber that started after it, so pending events are numbered first (only when there are
/// any: most starts find none and run no round).
pub async fn newest_position(db: &DatabaseConnection) -> ApiResult<i64> {
    if db.get_database_backend() == DbBackend::Postgres {
        for _ in 0..3 {
            let pending: Option<String> = order_events::Entity::find()
                .select_only()
                .column(order_events::Column::Id)
                .filter(order_events::Column::Seq.lt(0))
                .into_tuple()
                .one(db)
                .await?;
            if pending.is_none() {
                break;
            }
            number_pending(db).await?;
        }
    }
    super::latest_event_seq(db).await
}

/// The replica's sequencer (PostgreSQL): a round whenever the bus hears that events are
/// pending, and every [`SWEEP`] besides.
pub fn spawn(db: &DatabaseConnection, bus: EventBus, faults: Arc<Faults>) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let db = db.clone();
    tokio::spawn(async move {
        loop {
            let paused = faults.sequencer_pause();
            if !paused.is_zero() {
                tokio::time::sleep(paused).await;
                continue;
            }
            loop {
                match number_pending(&db).await {
                    // A full batch: more may be waiting.
                    Ok(n) if n as i64 == BATCH => {}
                    Ok(_) => break,
                    Err(err) => {
                        tracing::warn!(error = ?err, "numbering order events failed; retrying");
                        tokio::time::sleep(SWEEP).await;
                        break;
                    }
                }
            }
            tokio::select! {
                () = bus.order_events_pending() => {}
                () = tokio::time::sleep(SWEEP) => {}
            }
        }
    });
}
