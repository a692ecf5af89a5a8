//! What the payment processor reports (webhooks, or the simulated gateway at once): holds
//! authorized, payments canceled, captured, refunded or failed; each decided from the payment as
//! the processor holds it, never from arrival order.
use chrono::{DateTime, Utc};
use entity::ledger_entries::{LedgerKind, LedgerStatus};
use entity::{ledger_entries, orders};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};

use super::*;
use crate::db::is_unique_violation;
use crate::domain::order::{Action, Actor, OrderStatus};
use crate::error::{ApiError, ApiResult};
use crate::services::ledger::*;
use crate::state::AppState;

/// `payment_intent.amount_capturable_updated`: the money is held until `capture_before`.
pub async fn authorization_succeeded(
    state: &AppState,
    intent_id: &str,
    capture_before: DateTime<Utc>,
) -> ApiResult<()> {
    let Some(order) = order_by_intent(state, intent_id).await? else {
        return Ok(());
    };
    let extra = Extra {
        hold_expires_at: Some(capture_before),
        ..Default::default()
    };
    match apply(
        state,
        &order.id,
        Action::AuthorizationSucceeded,
        Actor::Processor,
        None,
        None,
        extra,
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(ApiError::Refused(_)) => {
            // An authorization for an order that closed before it arrived holds the buyer's
            // money for nothing: release it.
            let order = load(&state.db.reader, &order.id).await?;
            if matches!(
                order.status,
                OrderStatus::Cancelled | OrderStatus::PaymentFailed
            ) {
                // Remembered first, so that the timers retry a release that fails now.
                orders::Entity::update_many()
                    .col_expr(orders::Column::HoldExpiresAt, Expr::value(capture_before))
                    .filter(orders::Column::Id.eq(order.id.clone()))
                    .filter(orders::Column::ChargeId.is_null())
                    .exec(&state.db.writer)
                    .await?;
                release_authorization(state, &order, "late").await;
            }
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// `payment_intent.canceled`: the processor canceled the intent (it expired, or someone
/// canceled it outside the platform); an order still waiting for the money is cancelled.
pub async fn payment_canceled(state: &AppState, intent_id: &str) -> ApiResult<()> {
    let Some(order) = order_by_intent(state, intent_id).await? else {
        return Ok(());
    };
    match apply(
        state,
        &order.id,
        Action::PaymentCanceled,
        Actor::Processor,
        None,
        Some("the card payment was canceled by the payment processor"),
        Extra {
            cancel_reason: Some("payment canceled".to_owned()),
            ..Default::default()
        },
    )
    .await
    {
        Ok(_) | Err(ApiError::Refused(_)) => {}
        Err(err) => return Err(err),
    }
    // Whatever the order's state, a canceled intent holds nothing any more.
    orders::Entity::update_many()
        .col_expr(
            orders::Column::HoldExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(orders::Column::Id.eq(order.id.clone()))
        .exec(&state.db.writer)
        .await?;
    Ok(())
}

/// `payment_intent.succeeded`: the money was captured. A capture the platform made but did not
/// hear back from is confirmed here; a payment captured for an order that was already
/// cancelled is refunded in full.
pub async fn payment_succeeded(
    state: &AppState,
    intent_id: &str,
    charge_id: &str,
    amount_cents: i64,
) -> ApiResult<()> {
    let Some(order) = order_by_intent(state, intent_id).await? else {
        return Ok(());
    };
    let charge = ledger_entries::Entity::find()
        .filter(ledger_entries::Column::OrderId.eq(order.id.clone()))
        .filter(ledger_entries::Column::Kind.eq(LedgerKind::Charge))
        .one(&state.db.reader)
        .await?;
    let now = state.now();
    match charge {
        Some(entry) if entry.status == LedgerStatus::Pending => {
            let txn = state.db.writer.begin().await?;
            confirm_charge(&txn, &entry, charge_id, now).await?;
            txn.commit().await?;
            tracing::info!(order = %order.id, charge = charge_id, "capture confirmed by payment_intent.succeeded");
            process_ledger(state, &order.id).await
        }
        Some(_) => Ok(()),
        None if matches!(
            order.status,
            OrderStatus::Cancelled | OrderStatus::PaymentFailed
        ) =>
        {
            refund_stray_payment(state, &order, charge_id, amount_cents).await
        }
        None => {
            tracing::warn!(order = %order.id, status = ?order.status, charge = charge_id,
                "a payment was captured outside the platform for an open order; left for an admin");
            Ok(())
        }
    }
}

pub(crate) async fn order_by_intent(
    state: &AppState,
    intent_id: &str,
) -> ApiResult<Option<orders::Model>> {
    Ok(orders::Entity::find()
        .filter(orders::Column::PaymentIntentId.eq(intent_id))
        .one(&state.db.reader)
        .await?)
}

/// A PENDING charge the processor reports captured: SUCCEEDED, and the order knows its charge.
pub(crate) async fn confirm_charge(
    txn: &DatabaseTransaction,
    entry: &ledger_entries::Model,
    charge_id: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let confirmed = mark_succeeded(txn, entry, Some(charge_id), now).await?;
    if confirmed == 1 {
        orders::Entity::update_many()
            .col_expr(orders::Column::ChargeId, Expr::value(charge_id))
            .filter(orders::Column::Id.eq(entry.order_id.clone()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Money captured for a closed order goes back to the buyer: the charge and its full refund
/// enter the ledger with an event on the order, guarded by the order's version so two
/// deliveries of the news refund once.
pub(crate) async fn refund_stray_payment(
    state: &AppState,
    order: &orders::Model,
    charge_id: &str,
    amount_cents: i64,
) -> ApiResult<()> {
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let updated = orders::Entity::update_many()
        .col_expr(orders::Column::ChargeId, Expr::value(charge_id))
        .col_expr(orders::Column::RefundedCents, Expr::value(amount_cents))
        .col_expr(
            orders::Column::Version,
            Expr::col(orders::Column::Version).add(1),
        )
        .col_expr(orders::Column::UpdatedAt, Expr::value(now))
        .filter(orders::Column::Id.eq(order.id.clone()))
        .filter(orders::Column::Version.eq(order.version))
        .filter(orders::Column::ChargeId.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(());
    }
    let stray = orders::Model {
        price_cents: amount_cents,
        ..order.clone()
    };
    add_ledger_entry(
        &txn,
        &stray,
        LedgerKind::Charge,
        amount_cents,
        LedgerStatus::Succeeded,
        Some(charge_id),
        now,
    )
    .await?;
    add_ledger(&txn, &stray, LedgerKind::Refund, amount_cents, now).await?;
    let from = order.status;
    let notice = record_event(
        &txn,
        order,
        Some(from),
        from,
        "refund_stray_payment",
        Actor::Processor,
        None,
        Some("a payment arrived after the order closed; it is refunded in full"),
        now,
    )
    .await?;
    let publisher = state.events.publisher().await;
    txn.commit().await?;
    publisher.committed([notice]);
    tracing::warn!(order = %order.id, charge = charge_id, amount = amount_cents, "refunding a payment captured for a closed order");
    process_ledger(state, &order.id).await
}

/// `charge.refunded`: `amount_refunded` is the charge's refunded total, which only grows, so a
/// stale or repeated event never undoes anything.
pub async fn charge_refunded(
    state: &AppState,
    charge_id: &str,
    amount_refunded: i64,
) -> ApiResult<()> {
    let Some(order) = orders::Entity::find()
        .filter(orders::Column::ChargeId.eq(charge_id))
        .one(&state.db.reader)
        .await?
    else {
        return Ok(());
    };
    reconcile_total(state, &order, LedgerKind::Refund, amount_refunded).await
}

/// `transfer.reversed`: `amount_reversed` is the transfer's reversed total, which only grows.
pub async fn transfer_reversed(
    state: &AppState,
    transfer_id: &str,
    amount_reversed: i64,
) -> ApiResult<()> {
    let Some(payout) = ledger_entries::Entity::find()
        .filter(ledger_entries::Column::Kind.eq(LedgerKind::Transfer))
        .filter(ledger_entries::Column::ProcessorId.eq(transfer_id))
        .one(&state.db.reader)
        .await?
    else {
        return Ok(());
    };
    let order = load(&state.db.reader, &payout.order_id).await?;
    reconcile_total(state, &order, LedgerKind::TransferReversal, amount_reversed).await
}

/// The processor reports `reported` as the total of `kind` (refunds of the charge, reversals
/// of the payout). PENDING entries it covers (the platform's call went through but the answer
/// was lost) are confirmed; any rest was made outside the platform and is recorded as such,
/// once per reported total.
async fn reconcile_total(
    state: &AppState,
    order: &orders::Model,
    kind: LedgerKind,
    reported: i64,
) -> ApiResult<()> {
    let now = state.now();
    let mut notices = Vec::new();
    let txn = state.db.writer.begin().await?;
    let entries = ledger_entries::Entity::find()
        .filter(ledger_entries::Column::OrderId.eq(order.id.clone()))
        .filter(ledger_entries::Column::Kind.eq(kind))
        .order_by_asc(ledger_entries::Column::Id)
        .all(&txn)
        .await?;
    let mut known: i64 = entries
        .iter()
        .filter(|r| r.status == LedgerStatus::Succeeded)
        .map(|r| r.amount_cents)
        .sum();
    let mut still_pending = 0;
    for pending in entries.iter().filter(|r| r.status == LedgerStatus::Pending) {
        if still_pending == 0 && known + pending.amount_cents <= reported {
            mark_succeeded(&txn, pending, None, now).await?;
            known += pending.amount_cents;
        } else {
            still_pending += pending.amount_cents;
        }
    }
    let outside = reported - known - still_pending;
    if outside > 0 {
        let what = kind.to_value().to_lowercase();
        let mut entry = new_ledger_entry(order, kind, outside, LedgerStatus::Succeeded, None, now);
        entry.idempotency_key = Set(format!("{}:{what}_outside:{reported}", order.id));
        match entry.insert(&txn).await {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err, "ledger_entries_idempotency_key") => {
                txn.rollback().await?;
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        }
        if kind == LedgerKind::Refund {
            orders::Entity::update_many()
                .col_expr(
                    orders::Column::RefundedCents,
                    Expr::col(orders::Column::RefundedCents).add(outside),
                )
                .col_expr(orders::Column::UpdatedAt, Expr::value(now))
                .filter(orders::Column::Id.eq(order.id.clone()))
                .exec(&txn)
                .await?;
        }
        let at = order.status;
        let note = format!(
            "{outside} cents were {} at the payment processor, outside the platform",
            if kind == LedgerKind::Refund {
                "refunded"
            } else {
                "taken back from the payout"
            }
        );
        notices.push(
            record_event(
                &txn,
                order,
                Some(at),
                at,
                &format!("{what}_outside"),
                Actor::Processor,
                None,
                Some(&note),
                now,
            )
            .await?,
        );
        tracing::warn!(order = %order.id, kind = ?kind, amount = outside, "money moved outside the platform recorded");
    }
    let publisher = state.events.publisher().await;
    txn.commit().await?;
    publisher.committed(notices);
    Ok(())
}

/// `payment_intent.payment_failed`: the buyer may place the order again.
pub async fn payment_failed(state: &AppState, intent_id: &str) -> ApiResult<()> {
    let Some(order) = orders::Entity::find()
        .filter(orders::Column::PaymentIntentId.eq(intent_id))
        .one(&state.db.reader)
        .await?
    else {
        return Ok(());
    };
    apply(
        state,
        &order.id,
        Action::PaymentFailed,
        Actor::Processor,
        None,
        Some("the card payment failed"),
        Extra::default(),
    )
    .await
    .map(|_| ())
}

/// Releases the hold of an order that closed before its claim, under the Idempotency-Key
/// `<order>:cancel_intent:<attempt>`. When Stripe refuses, the intent as Stripe holds it says
/// why: already released, or captured outside the platform (in the Dashboard, say), in which
/// case the money is refunded as a stray payment. A release that is done clears
/// `hold_expires_at`; one that failed keeps it, and the timers try again while the hold lasts.
/// Returns whether the hold is gone.
pub(crate) async fn release_authorization(
    state: &AppState,
    order: &orders::Model,
    attempt: &str,
) -> bool {
    let Some(intent) = &order.payment_intent_id else {
        return true;
    };
    let key = format!("{}:cancel_intent:{attempt}", order.id);
    let released = match state.gateway.cancel_payment_intent(intent, &key).await {
        Ok(_) => true,
        Err(err) => match state.gateway.retrieve_payment_intent(intent).await {
            Ok(found) => match (found.status.as_str(), found.latest_charge.as_deref()) {
                ("canceled", _) => {
                    tracing::info!(order = %order.id, "the authorization was already released");
                    true
                }
                ("succeeded", Some(charge)) => {
                    let refunded = match load(&state.db.reader, &order.id).await {
                        Ok(current) => {
                            refund_stray_payment(state, &current, charge, found.amount_received)
                                .await
                        }
                        Err(e) => Err(e),
                    };
                    match refunded {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(error = ?e, order = %order.id, charge,
                                "refunding a payment captured before the release failed");
                            false
                        }
                    }
                }
                (other, _) => {
                    tracing::error!(error = ?err, order = %order.id, status = other,
                        "releasing the authorization failed; the timers retry it");
                    false
                }
            },
            Err(again) => {
                tracing::error!(error = ?err, retrieve = ?again, order = %order.id,
                    "releasing the authorization failed; the timers retry it");
                false
            }
        },
    };
    if released {
        let cleared = orders::Entity::update_many()
            .col_expr(
                orders::Column::HoldExpiresAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(orders::Column::Id.eq(order.id.clone()))
            .exec(&state.db.writer)
            .await;
        if let Err(err) = cleared {
            tracing::error!(error = ?err, order = %order.id, "recording a released hold failed");
        }
    }
    released
}
