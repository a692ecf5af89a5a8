//! Chargebacks: disputes the card network opens on an order's charge at the payment processor
//! (Stripe's `charge.dispute.*`). One freezes the order as DISPUTED whatever it was doing and
//! holds its payouts, taking back one that already left (a transfer reversal); its close decides:
//! won, the order returns where it stood and the payout leaves again; lost, the order is
//! REFUNDED, the commission given up and the money recorded as taken by the network.
//!
//! Webhooks only say that something changed: `converge` brings the order to the dispute as the
//! processor holds it now, so duplicate and out-of-order deliveries change nothing twice.
use chrono::{DateTime, Utc};
use entity::chargebacks::{self, ChargebackStatus};
use entity::disputes::{self, DisputeStatus};
use entity::ledger_entries::{self, LedgerKind, LedgerStatus};
use entity::orders::{self, OrderStatus};
use entity::providers;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    Set,
};

use crate::domain::order::{Action, Actor};
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::events::{self, Notice};
use crate::payments::ProcessorDispute;
use crate::services::ledger::{add_ledger_entry, new_ledger_entry, total, LIVE, SETTLED};
use crate::services::orders::{apply, Extra};
use crate::state::AppState;

/// How a processor's dispute stands for the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Open,
    Won,
    Lost,
}

/// Stripe's dispute statuses: `won`, and inquiries closed or disputes prevented without a
/// chargeback, leave the money with the platform; `lost` gives it back; the rest wait.
pub fn verdict(status: &str) -> Verdict {
    match status {
        "won" | "warning_closed" | "prevented" => Verdict::Won,
        "lost" => Verdict::Lost,
        _ => Verdict::Open,
    }
}

/// What an order move writes about its chargeback.
pub enum ChargebackWrite {
    Open(ProcessorDispute),
    Close {
        id: String,
        status: ChargebackStatus,
    },
}

/// Brings the order of the dispute's charge to the dispute as the processor holds it now:
/// frozen while it is open, resumed or refunded once it is decided. Each step is one order move
/// guarded by the order's version, so two deliveries racing apply it once.
pub async fn converge(state: &AppState, dispute: ProcessorDispute) -> ApiResult<()> {
    let Some(order) = orders::Entity::find()
        .filter(orders::Column::ChargeId.eq(dispute.charge_id.as_str()))
        .one(&state.db.reader)
        .await?
    else {
        tracing::warn!(dispute = %dispute.id, charge = %dispute.charge_id,
            "a dispute on a charge no order knows; acknowledged");
        return Ok(());
    };
    let verdict = verdict(&dispute.status);
    let id = dispute.id.clone();
    let mut row = find(&state.db.reader, &id).await?;
    if row.is_none() {
        let note = format!(
            "the card network disputes the charge ({}); payouts wait for its decision",
            dispute.reason
        );
        let extra = Extra {
            chargeback: Some(ChargebackWrite::Open(dispute)),
            ..Default::default()
        };
        match apply(
            state,
            &order.id,
            Action::Chargeback,
            Actor::Processor,
            None,
            Some(&note),
            extra,
        )
        .await
        {
            Ok(_) => {}
            // Another delivery froze it first, or the order cannot take a chargeback (nothing
            // was captured, or it already had one): read what is there.
            Err(ApiError::Refused(refusals)) => {
                tracing::info!(order = %order.id, dispute = %id, ?refusals, "chargeback not applied")
            }
            Err(err) => return Err(err),
        }
        row = find(&state.db.reader, &id).await?;
    }
    let Some(row) = row else {
        tracing::warn!(order = %order.id, dispute = %id,
            "the order could not take this chargeback; acknowledged for an admin to look at");
        return Ok(());
    };
    if row.status != ChargebackStatus::Open || verdict == Verdict::Open {
        return Ok(());
    }
    let (action, status, note) = match verdict {
        Verdict::Won => (
            Action::ChargebackWon(row.prior_status),
            ChargebackStatus::Won,
            "the chargeback was won; the order resumes",
        ),
        _ => (
            Action::ChargebackLost,
            ChargebackStatus::Lost,
            "the chargeback was lost; the card network returned the money to the buyer",
        ),
    };
    let extra = Extra {
        chargeback: Some(ChargebackWrite::Close {
            id: row.id.clone(),
            status,
        }),
        cancel_reason: (status == ChargebackStatus::Lost).then(|| "chargeback lost".to_owned()),
        ..Default::default()
    };
    match apply(
        state,
        &order.id,
        action,
        Actor::Processor,
        None,
        Some(note),
        extra,
    )
    .await
    {
        Ok(_) | Err(ApiError::Refused(_)) => Ok(()),
        Err(err) => Err(err),
    }
}

async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<chargebacks::Model>> {
    Ok(chargebacks::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?)
}

/// Writes the chargeback row inside the order move's transaction (`from` is the order's status
/// before the move).
pub(crate) async fn write_in(
    txn: &impl ConnectionTrait,
    order: &orders::Model,
    write: ChargebackWrite,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    match write {
        ChargebackWrite::Open(dispute) => {
            let inserted = chargebacks::ActiveModel {
                id: Set(dispute.id.chars().take(255).collect()),
                order_id: Set(order.id.clone()),
                charge_id: Set(dispute.charge_id.chars().take(255).collect()),
                amount_cents: Set(dispute.amount_cents.max(0)),
                currency: Set(order.currency.clone()),
                reason: Set(dispute.reason.chars().take(64).collect()),
                status: Set(ChargebackStatus::Open),
                prior_status: Set(order.status),
                opened_at: Set(now),
                closed_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn)
            .await;
            match inserted {
                Ok(_) => Ok(()),
                Err(err)
                    if crate::db::is_unique_violation(&err, "chargebacks_order_key")
                        || crate::db::is_unique_violation(&err, "chargebacks_pkey") =>
                {
                    Err(ApiError::refused(Refusal::new(
                        RefusalCode::Conflict,
                        "the order already has a chargeback",
                    )))
                }
                Err(err) => Err(err.into()),
            }
        }
        ChargebackWrite::Close { id, status } => {
            let row = find(txn, &id).await?;
            let updated = chargebacks::Entity::update_many()
                .col_expr(chargebacks::Column::Status, Expr::value(status))
                .col_expr(chargebacks::Column::ClosedAt, Expr::value(now))
                .col_expr(chargebacks::Column::UpdatedAt, Expr::value(now))
                .filter(chargebacks::Column::Id.eq(id))
                .filter(chargebacks::Column::Status.eq(ChargebackStatus::Open))
                .exec(txn)
                .await?;
            if updated.rows_affected != 1 {
                return Err(ApiError::refused(Refusal::new(
                    RefusalCode::Conflict,
                    "the chargeback changed meanwhile",
                )));
            }
            // A completed order whose money the network took back no longer counts as one.
            let was_completed = row.is_some_and(|r| r.prior_status == OrderStatus::Completed);
            if status == ChargebackStatus::Lost && was_completed {
                providers::Entity::update_many()
                    .col_expr(
                        providers::Column::TotalOrdersCompleted,
                        Expr::col(providers::Column::TotalOrdersCompleted).sub(1),
                    )
                    .filter(providers::Column::Id.eq(order.provider_id.clone()))
                    .filter(providers::Column::TotalOrdersCompleted.gt(0))
                    .exec(txn)
                    .await?;
            }
            Ok(())
        }
    }
}

/// Payouts not yet made wait (no retry is due while the chargeback is open), and whatever
/// already left is taken back: one TRANSFER_REVERSAL, run after the commit.
pub(crate) async fn hold_and_recover(
    txn: &DatabaseTransaction,
    order: &orders::Model,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    ledger_entries::Entity::update_many()
        .col_expr(
            ledger_entries::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(ledger_entries::Column::OrderId.eq(order.id.clone()))
        .filter(ledger_entries::Column::Kind.eq(LedgerKind::Transfer))
        .filter(ledger_entries::Column::Status.eq(LedgerStatus::Pending))
        .exec(txn)
        .await?;
    let paid = total(txn, &order.id, LedgerKind::Transfer, SETTLED).await?;
    let recovered = total(txn, &order.id, LedgerKind::TransferReversal, LIVE).await?;
    add_ledger_entry(
        txn,
        order,
        LedgerKind::TransferReversal,
        paid - recovered,
        LedgerStatus::Pending,
        None,
        now,
    )
    .await
}

/// A won chargeback: held payouts are due again, and what was taken back is paid out again
/// under its own key (after the reversal, which runs first as the older entry).
pub(crate) async fn release_and_repay(
    txn: &DatabaseTransaction,
    order: &orders::Model,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    ledger_entries::Entity::update_many()
        .col_expr(ledger_entries::Column::NextAttemptAt, Expr::value(now))
        .filter(ledger_entries::Column::OrderId.eq(order.id.clone()))
        .filter(ledger_entries::Column::Kind.eq(LedgerKind::Transfer))
        .filter(ledger_entries::Column::Status.eq(LedgerStatus::Pending))
        .exec(txn)
        .await?;
    // Only what the chargeback took back: a reversal made outside the platform stays taken.
    let own_key = format!("{}:transfer_reversal", order.id);
    let recovered = ledger_entries::Entity::find()
        .filter(ledger_entries::Column::IdempotencyKey.eq(own_key))
        .filter(ledger_entries::Column::Status.is_in(LIVE.iter().copied()))
        .one(txn)
        .await?
        .map_or(0, |e| e.amount_cents);
    if recovered > 0 {
        let mut entry = new_ledger_entry(
            order,
            LedgerKind::Transfer,
            recovered,
            LedgerStatus::Pending,
            None,
            now,
        );
        entry.idempotency_key = Set(format!("{}:transfer_repaid", order.id));
        entry.insert(txn).await?;
    }
    Ok(())
}

/// A lost chargeback: payouts still held are never made, the platform gives up its commission,
/// and what was left of the charge after refunds is recorded as taken by the card network. The
/// buyer's own dispute, if one was open, is closed as refunded. Returns the notice of that
/// dispute change and the amount taken.
pub(crate) async fn record_loss(
    txn: &DatabaseTransaction,
    order: &orders::Model,
    now: DateTime<Utc>,
) -> ApiResult<(Option<Notice>, i64)> {
    ledger_entries::Entity::update_many()
        .col_expr(
            ledger_entries::Column::Status,
            Expr::value(LedgerStatus::Failed),
        )
        .col_expr(
            ledger_entries::Column::LastError,
            Expr::value("not paid: the chargeback was lost"),
        )
        .col_expr(
            ledger_entries::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(ledger_entries::Column::UpdatedAt, Expr::value(now))
        .filter(ledger_entries::Column::OrderId.eq(order.id.clone()))
        .filter(ledger_entries::Column::Kind.eq(LedgerKind::Transfer))
        .filter(ledger_entries::Column::Status.eq(LedgerStatus::Pending))
        .exec(txn)
        .await?;
    let fees = total(txn, &order.id, LedgerKind::Fee, SETTLED).await?;
    let given_up = total(txn, &order.id, LedgerKind::FeeReversal, LIVE).await?;
    add_ledger_entry(
        txn,
        order,
        LedgerKind::FeeReversal,
        fees - given_up,
        LedgerStatus::Succeeded,
        None,
        now,
    )
    .await?;
    let charged = total(txn, &order.id, LedgerKind::Charge, LIVE).await?;
    let refunded = total(txn, &order.id, LedgerKind::Refund, LIVE).await?;
    let taken = (charged - refunded).max(0);
    add_ledger_entry(
        txn,
        order,
        LedgerKind::Chargeback,
        taken,
        LedgerStatus::Succeeded,
        None,
        now,
    )
    .await?;
    if taken > 0 {
        crate::services::invoicing::mark_refunded(txn, &order.id, taken, None, now).await?;
    }
    let open = disputes::Entity::find()
        .filter(disputes::Column::OrderId.eq(order.id.clone()))
        .filter(disputes::Column::Status.is_in([DisputeStatus::Open, DisputeStatus::UnderReview]))
        .one(txn)
        .await?;
    let Some(open) = open else {
        return Ok((None, taken));
    };
    let mut closed: disputes::ActiveModel = open.clone().into();
    closed.status = Set(DisputeStatus::ResolvedRefund);
    closed.admin_notes = Set(Some(
        "closed by the payment processor: the card network returned the money to the buyer"
            .to_owned(),
    ));
    closed.refund_cents = Set(Some(taken));
    closed.resolved_at = Set(Some(now));
    closed.updated_at = Set(now);
    closed.change_seq = Set(crate::services::disputes::next_change(txn).await?);
    closed.update(txn).await?;
    let notice = Notice::Dispute {
        id: open.id,
        order_id: order.id.clone(),
    };
    events::notify_in(txn, &notice).await?;
    Ok((Some(notice), taken))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_final_statuses_decide() {
        for open in [
            "warning_needs_response",
            "warning_under_review",
            "needs_response",
            "under_review",
            "something_new",
        ] {
            assert_eq!(verdict(open), Verdict::Open, "{open}");
        }
        assert_eq!(verdict("won"), Verdict::Won);
        assert_eq!(verdict("warning_closed"), Verdict::Won);
        assert_eq!(verdict("lost"), Verdict::Lost);
    }
}
