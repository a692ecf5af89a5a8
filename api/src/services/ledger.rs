//! The money ledger of orders: entries recorded PENDING in the transaction that causes them,
//! run against the processor after the commit under per-attempt idempotency keys, retried with
//! backoff while they fail, marked SUCCEEDED when the processor confirms them.
use chrono::{DateTime, Duration, Utc};
use entity::ledger_entries::{LedgerKind, LedgerStatus};
use entity::{ledger_entries, orders, tenants};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::orders::*;
use crate::error::ApiResult;
use crate::ids::{self, Kind};
use crate::state::AppState;

/// PENDING → SUCCEEDED for one entry, with the processor's id when known; the number of rows
/// moved (0 when another path confirmed it first).
pub(crate) async fn mark_succeeded(
    txn: &DatabaseTransaction,
    entry: &ledger_entries::Model,
    processor_id: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<u64> {
    let mut update = ledger_entries::Entity::update_many()
        .col_expr(
            ledger_entries::Column::Status,
            Expr::value(LedgerStatus::Succeeded),
        )
        .col_expr(
            ledger_entries::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            ledger_entries::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(ledger_entries::Column::UpdatedAt, Expr::value(now));
    if let Some(id) = processor_id {
        update = update.col_expr(ledger_entries::Column::ProcessorId, Expr::value(id));
    }
    Ok(update
        .filter(ledger_entries::Column::Id.eq(entry.id.clone()))
        .filter(ledger_entries::Column::Status.eq(LedgerStatus::Pending))
        .exec(txn)
        .await?
        .rows_affected)
}

/// A ledger entry of `kind` for the order, PENDING until the processor confirms it (a FEE is
/// kept by the platform and succeeds at once). Nothing is recorded for zero amounts.
pub(crate) async fn add_ledger(
    conn: &DatabaseTransaction,
    order: &orders::Model,
    kind: LedgerKind,
    amount: i64,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let status = if kind == LedgerKind::Fee {
        LedgerStatus::Succeeded
    } else {
        LedgerStatus::Pending
    };
    add_ledger_entry(conn, order, kind, amount, status, None, now).await
}

pub(crate) async fn add_ledger_entry(
    conn: &DatabaseTransaction,
    order: &orders::Model,
    kind: LedgerKind,
    amount: i64,
    status: LedgerStatus,
    processor_id: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if amount <= 0 {
        return Ok(());
    }
    new_ledger_entry(order, kind, amount, status, processor_id, now)
        .insert(conn)
        .await?;
    Ok(())
}

pub(crate) fn new_ledger_entry(
    order: &orders::Model,
    kind: LedgerKind,
    amount: i64,
    status: LedgerStatus,
    processor_id: Option<&str>,
    now: DateTime<Utc>,
) -> ledger_entries::ActiveModel {
    let pending = status == LedgerStatus::Pending;
    ledger_entries::ActiveModel {
        id: Set(ids::new_id(Kind::LedgerEntry)),
        order_id: Set(order.id.clone()),
        kind: Set(kind),
        status: Set(status),
        amount_cents: Set(amount),
        currency: Set(order.currency.clone()),
        processor_id: Set(processor_id.map(str::to_owned)),
        // (order, action); each call adds its attempt number (DESIGN §4).
        idempotency_key: Set(format!("{}:{}", order.id, kind.to_value().to_lowercase())),
        attempts: Set(0),
        last_error: Set(None),
        next_attempt_at: Set(pending.then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Runs the order's PENDING ledger entries against the processor, oldest first: the charge is
/// captured before anything is refunded or transferred from it. A failure stays PENDING with
/// its error, to be retried.
pub async fn process_ledger(state: &AppState, order_id: &str) -> ApiResult<()> {
    let pending = ledger_entries::Entity::find()
        .filter(ledger_entries::Column::OrderId.eq(order_id))
        .filter(ledger_entries::Column::Status.eq(LedgerStatus::Pending))
        .order_by_asc(ledger_entries::Column::Id)
        .all(&state.db.reader)
        .await?;
    for entry in pending {
        let order = load(&state.db.reader, order_id).await?;
        // While a chargeback is open no payout leaves: it waits, without using up an attempt.
        if entry.kind == LedgerKind::Transfer && order.chargeback_open {
            continue;
        }
        let key = format!("{}:{}", entry.idempotency_key, entry.attempts + 1);
        // A retry asks first: the lost answer of an earlier attempt may have been a success.
        let meanwhile = if entry.attempts > 0 {
            made_meanwhile(state, &order, &entry).await
        } else {
            Ok(None)
        };
        let result = match meanwhile {
            Err(err) => Err(err),
            Ok(Some(made)) => {
                tracing::warn!(entry = %entry.id, kind = ?entry.kind,
                    "an earlier attempt went through though its answer was lost; not made again");
                Ok(made)
            }
            Ok(None) => run_entry(state, &order, &entry, &key).await,
        };
        let now = state.now();
        let mut active: ledger_entries::ActiveModel = entry.clone().into();
        active.attempts = Set(entry.attempts + 1);
        active.updated_at = Set(now);
        match result {
            Ok(processor_id) => {
                active.status = Set(LedgerStatus::Succeeded);
                if processor_id.is_some() {
                    active.processor_id = Set(processor_id.clone());
                }
                active.last_error = Set(None);
                active.next_attempt_at = Set(None);
                let txn = state.db.writer.begin().await?;
                active.update(&txn).await?;
                if let (LedgerKind::Charge, Some(charge)) = (entry.kind, processor_id) {
                    orders::Entity::update_many()
                        .col_expr(orders::Column::ChargeId, Expr::value(charge))
                        .filter(orders::Column::Id.eq(order.id.clone()))
                        .exec(&txn)
                        .await?;
                }
                txn.commit().await?;
            }
            Err(err) => {
                tracing::error!(error = ?err, entry = %entry.id, kind = ?entry.kind, "ledger entry failed; will retry");
                // Backoff doubles per attempt, from one minute up to a day.
                let delay = Duration::minutes(1i64 << entry.attempts.clamp(0, 10));
                active.last_error = Set(Some(format!("{err:#}").chars().take(1000).collect()));
                active.next_attempt_at = Set(Some(now + delay));
                active.update(&state.db.writer).await?;
                if entry.kind == LedgerKind::Charge {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Runs one PENDING entry against the processor; the processor's id of what it made.
async fn run_entry(
    state: &AppState,
    order: &orders::Model,
    entry: &ledger_entries::Model,
    key: &str,
) -> anyhow::Result<Option<String>> {
    let made = match entry.kind {
        LedgerKind::Charge => match &order.payment_intent_id {
            Some(intent) => capture(state, intent, entry.attempts, key).await,
            None => Err(anyhow::anyhow!("no payment intent to capture")),
        },
        LedgerKind::Refund => match &order.charge_id {
            Some(charge) => state.gateway.refund(charge, entry.amount_cents, key).await,
            None => Err(anyhow::anyhow!("no captured charge to refund yet")),
        },
        LedgerKind::Transfer => {
            let tenant = tenants::Entity::find_by_id(order.tenant_id.clone())
                .one(&state.db.reader)
                .await?;
            match (tenant.and_then(|t| t.stripe_account_id), &order.charge_id) {
                (Some(account), Some(charge)) => {
                    state
                        .gateway
                        .transfer(crate::payments::NewTransfer {
                            order_id: &order.id,
                            amount_cents: entry.amount_cents,
                            currency: &order.currency,
                            destination_account: &account,
                            source_transaction: charge,
                            idempotency_key: key,
                        })
                        .await
                }
                _ => Err(anyhow::anyhow!(
                    "no connected account or charge to transfer from"
                )),
            }
        }
        LedgerKind::TransferReversal => match paid_transfer(state, &order.id).await? {
            Some(transfer) => {
                state
                    .gateway
                    .reverse_transfer(&transfer, entry.amount_cents, key)
                    .await
            }
            None => Err(anyhow::anyhow!("no transfer to reverse")),
        },
        // Commission stays with the platform, and what the card network took is taken:
        // nothing to run.
        LedgerKind::Fee | LedgerKind::FeeReversal | LedgerKind::Chargeback => Err(anyhow::anyhow!(
            "{:?} is not run against the processor",
            entry.kind
        )),
    };
    made.map(Some)
}

/// A retry asks the processor first: an earlier attempt whose answer was lost may have gone
/// through, and making it again would move the money twice (a second partial refund, a second
/// payout). `Some` when the processor holds more of the entry's kind for the order than the
/// ledger knows of, by at least the entry's amount, with the processor's id of it when it can
/// tell. (A capture asks in `capture`.)
async fn made_meanwhile(
    state: &AppState,
    order: &orders::Model,
    entry: &ledger_entries::Model,
) -> anyhow::Result<Option<Option<String>>> {
    let mut made_id = None;
    let reported = match entry.kind {
        LedgerKind::Refund => match &order.payment_intent_id {
            Some(intent) => {
                state
                    .gateway
                    .retrieve_payment_intent(intent)
                    .await?
                    .amount_refunded
            }
            None => return Ok(None),
        },
        LedgerKind::Transfer => {
            let transfers = state.gateway.transfers_in_group(&order.id).await?;
            // The newest is the one the lost answer would have named.
            made_id = transfers.last().map(|(id, _)| id.clone());
            transfers.iter().map(|(_, amount)| amount).sum()
        }
        LedgerKind::TransferReversal => match paid_transfer(state, &order.id).await? {
            Some(transfer) => state.gateway.reversed_total(&transfer).await?,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let known = total(&state.db.reader, &order.id, entry.kind, SETTLED).await?;
    Ok((reported - known >= entry.amount_cents).then_some(made_id))
}

/// Entries that happened.
pub(crate) const SETTLED: &[LedgerStatus] = &[LedgerStatus::Succeeded];
/// Entries that happened or will: what still counts.
pub(crate) const LIVE: &[LedgerStatus] = &[LedgerStatus::Pending, LedgerStatus::Succeeded];

/// The order's total of one kind of entry in these statuses (an order has a handful).
pub(crate) async fn total(
    conn: &impl sea_orm::ConnectionTrait,
    order_id: &str,
    kind: LedgerKind,
    statuses: &[LedgerStatus],
) -> Result<i64, sea_orm::DbErr> {
    Ok(ledger_entries::Entity::find()
        .filter(ledger_entries::Column::OrderId.eq(order_id))
        .filter(ledger_entries::Column::Kind.eq(kind))
        .filter(ledger_entries::Column::Status.is_in(statuses.iter().copied()))
        .all(conn)
        .await?
        .iter()
        .map(|e| e.amount_cents)
        .sum())
}

/// The processor id of the order's first payout that was made (the one a chargeback reverses).
async fn paid_transfer(state: &AppState, order_id: &str) -> anyhow::Result<Option<String>> {
    Ok(ledger_entries::Entity::find()
        .filter(ledger_entries::Column::OrderId.eq(order_id))
        .filter(ledger_entries::Column::Kind.eq(LedgerKind::Transfer))
        .filter(ledger_entries::Column::Status.eq(LedgerStatus::Succeeded))
        .filter(ledger_entries::Column::ProcessorId.is_not_null())
        .order_by_asc(ledger_entries::Column::Id)
        .one(&state.db.reader)
        .await?
        .and_then(|e| e.processor_id))
}

/// Captures an intent. A retry first asks the processor: a capture whose answer was lost may
/// have gone through, and capturing twice is an error, not a second charge.
pub(crate) async fn capture(
    state: &AppState,
    intent_id: &str,
    attempts: i32,
    key: &str,
) -> anyhow::Result<String> {
    // A retry asks first: the lost answer of an earlier attempt may have been a capture.
    if attempts > 0 {
        if let Some(charge) = captured_charge(state, intent_id).await? {
            return Ok(charge);
        }
    }
    match state.gateway.capture_payment_intent(intent_id, key).await {
        Ok(charge) => Ok(charge),
        // Refused because it was captured already (in the Dashboard, before the claim): the
        // capture the platform wanted has happened.
        Err(err) => match captured_charge(state, intent_id).await {
            Ok(Some(charge)) => Ok(charge),
            _ => Err(err),
        },
    }
}

/// The charge of an intent Stripe holds as `succeeded`, if it is.
pub(crate) async fn captured_charge(
    state: &AppState,
    intent_id: &str,
) -> anyhow::Result<Option<String>> {
    let intent = state.gateway.retrieve_payment_intent(intent_id).await?;
    Ok(intent
        .latest_charge
        .filter(|_| intent.status == "succeeded"))
}

/// True when the order has a CHARGE entry (the money was, or is being, captured).
pub async fn has_charge(state: &AppState, order_id: &str) -> ApiResult<bool> {
    let charges = ledger_entries::Entity::find()
        .filter(ledger_entries::Column::OrderId.eq(order_id))
        .filter(ledger_entries::Column::Kind.eq(LedgerKind::Charge))
        .count(&state.db.reader)
        .await?;
    Ok(charges > 0)
}

/// Orders with a PENDING entry whose next attempt is due, at most `limit`.
pub async fn orders_with_due_entries(state: &AppState, limit: u64) -> ApiResult<Vec<String>> {
    Ok(ledger_entries::Entity::find()
        .select_only()
        .column(ledger_entries::Column::OrderId)
        .filter(ledger_entries::Column::Status.eq(LedgerStatus::Pending))
        .filter(ledger_entries::Column::NextAttemptAt.lte(state.now()))
        .distinct()
        .limit(limit)
        .into_tuple()
        .all(&state.db.reader)
        .await?)
}
