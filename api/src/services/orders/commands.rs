//! The commands of the state machine: who may do what (`domain::order`), one conditional update
//! with its event and database effects in one transaction, then the money effects.
use chrono::{DateTime, Duration, Utc};
use entity::ledger_entries::{LedgerKind, LedgerStatus};
use entity::{deliveries, orders, providers};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, TransactionTrait,
};

use super::*;
use crate::domain::bounded_text;
use crate::domain::order::{self as machine, Action, Actor, Effect, OrderStatus, PaymentMode};
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::ids::{self, Kind};
use crate::services::ledger::*;
use crate::services::{chargebacks, invoicing, Viewer};
use crate::state::AppState;

/// What a command adds to its transition.
#[derive(Default)]
pub struct Extra<'a> {
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub late_marked_at: Option<DateTime<Utc>>,
    pub delivery: Option<DeliveryInput>,
    pub payment: Option<(&'a str, &'a str)>,
    pub cancel_reason: Option<String>,
    /// the dispute this move opens or resolves
    pub dispute: Option<crate::services::disputes::DisputeWrite>,
    /// the chargeback this move opens or closes
    pub chargeback: Option<crate::services::chargebacks::ChargebackWrite>,
}

pub struct DeliveryInput {
    /// a key from createUpload (DELIVERY_REPORT); checked against the stored object
    pub file_key: Option<String>,
    /// what `file_key` names, once checked
    pub file: Option<crate::services::files::StoredFile>,
    pub summary: String,
    pub strengths: String,
    pub weaknesses: String,
    pub recommendations: String,
    pub score: Option<i32>,
}

pub enum Command<'a> {
    MarkPaid { method: &'a str, reference: &'a str },
    ConfirmPayment,
    Claim,
    Decline,
    Start,
    Deliver(DeliveryInput),
    RequestRevision { message: &'a str },
    Complete,
    Cancel { reason: &'a str },
}

/// A viewer's command on an order: checks the viewer's part, then applies the transition.
#[tracing::instrument(skip(state, viewer, command))]
pub async fn command(
    state: &AppState,
    viewer: &Viewer,
    order_id: &str,
    command: Command<'_>,
    note: Option<&str>,
) -> ApiResult<orders::Model> {
    viewer.user()?;
    let note = optional_text(note, "note", "note", 2000)?;
    let (order, roles) = order_with_roles(state, viewer, order_id).await?;
    let text = |raw: &str, field: &str, what: &str, min: usize, max: usize| {
        bounded_text(raw, what, min, max)
            .map_err(|e| ApiError::refused(Refusal::invalid(field, e.0)))
    };
    let (action, actor, extra, note) = match command {
        Command::MarkPaid { method, reference } => {
            text(method, "method", "method", 1, 100)?;
            text(reference, "reference", "reference", 1, 200)?;
            (
                Action::MarkPaid,
                Actor::Buyer,
                Extra {
                    payment: Some((method.trim(), reference.trim())),
                    ..Default::default()
                },
                note,
            )
        }
        Command::ConfirmPayment => (
            Action::ConfirmPayment,
            Actor::Provider,
            Extra::default(),
            note,
        ),
        Command::Claim => (Action::Claim, Actor::Provider, Extra::default(), note),
        Command::Decline => (Action::Decline, Actor::Provider, Extra::default(), note),
        Command::Start => (Action::Start, Actor::Provider, Extra::default(), note),
        Command::Deliver(mut delivery) => {
            // Only the provider's own key is looked at; anyone else is refused below.
            if let (Some(key), true) = (delivery.file_key.as_deref(), roles.provider) {
                if !matches!(order.status, OrderStatus::Claimed | OrderStatus::InProgress) {
                    return Err(refusal(machine::Refusal::InvalidState {
                        from: order.status,
                        action: Action::Deliver.name(),
                    }));
                }
                delivery.file = Some(
                    crate::services::files::check_upload(
                        state,
                        &order,
                        crate::domain::file::Purpose::DeliveryReport,
                        key,
                    )
                    .await?,
                );
            }
            delivery.summary = text(&delivery.summary, "summary", "summary", 1, 10_000)?;
            delivery.strengths = text(&delivery.strengths, "strengths", "strengths", 0, 10_000)?;
            delivery.weaknesses =
                text(&delivery.weaknesses, "weaknesses", "weaknesses", 0, 10_000)?;
            delivery.recommendations = text(
                &delivery.recommendations,
                "recommendations",
                "recommendations",
                0,
                10_000,
            )?;
            if delivery.score.is_some_and(|s| !(1..=100).contains(&s)) {
                return Err(ApiError::refused(Refusal::invalid(
                    "score",
                    "score must be 1 to 100",
                )));
            }
            (
                Action::Deliver,
                Actor::Provider,
                Extra {
                    delivery: Some(delivery),
                    ..Default::default()
                },
                note,
            )
        }
        Command::RequestRevision { message } => {
            let message = text(message, "message", "message", 1, 5000)?;
            (
                Action::RequestRevision,
                Actor::Buyer,
                Extra::default(),
                Some(message),
            )
        }
        Command::Complete => (Action::Complete, Actor::Buyer, Extra::default(), note),
        Command::Cancel { reason } => {
            let reason = text(reason, "reason", "reason", 1, 1000)?;
            (
                Action::Cancel,
                Actor::Buyer,
                Extra {
                    cancel_reason: Some(reason.clone()),
                    ..Default::default()
                },
                Some(reason),
            )
        }
    };
    let allowed = match actor {
        Actor::Buyer => roles.buyer,
        Actor::Provider => roles.provider,
        _ => false,
    };
    if !allowed {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::NotAllowed,
            format!(
                "only the order's {} may do this",
                if actor == Actor::Buyer {
                    "buyer"
                } else {
                    "provider"
                }
            ),
        )));
    }
    if let (Action::MarkPaid, Some(payment)) = (action, extra.payment) {
        if already_marked_paid(state, &order, payment).await? {
            return Ok(order);
        }
    }
    let user_id = viewer.id().map(str::to_owned);
    apply(
        state,
        order_id,
        action,
        actor,
        user_id.as_deref(),
        note.as_deref(),
        extra,
    )
    .await
}

/// True when the buyer already said they paid this PLACED order with the same method and
/// reference: saying it again (a retry, a double click) changes nothing and records nothing.
async fn already_marked_paid(
    state: &AppState,
    order: &orders::Model,
    (method, reference): (&str, &str),
) -> ApiResult<bool> {
    if order.status != OrderStatus::Placed {
        return Ok(false);
    }
    let invoice = invoicing::order_invoice(&state.db.reader, &order.id).await?;
    Ok(invoice.is_some_and(|i| {
        i.status == entity::invoices::InvoiceStatus::PendingConfirmation
            && i.buyer_payment_method.as_deref() == Some(method)
            && i.buyer_payment_reference.as_deref() == Some(reference)
    }))
}

pub(crate) fn refusal(refusal: machine::Refusal) -> ApiError {
    let code = match refusal {
        machine::Refusal::InvalidState { .. }
        | machine::Refusal::WrongPaymentMode
        | machine::Refusal::NotLate
        | machine::Refusal::NotDeliveredYet
        | machine::Refusal::ChargebackOpen => RefusalCode::InvalidState,
        machine::Refusal::NotAllowed { .. } => RefusalCode::NotAllowed,
        machine::Refusal::RevisionsExhausted => RefusalCode::LimitExceeded,
        machine::Refusal::InvalidRefund => RefusalCode::Invalid,
    };
    ApiError::refused(Refusal::new(code, refusal.message()))
}

/// Applies one transition: the domain decides, one conditional update (`status` and `version`
/// as read) persists it with its event and database effects in one transaction, and the
/// payment effects run after the commit. The loser of a race gets INVALID_STATE or CONFLICT
/// and changes nothing.
pub async fn apply(
    state: &AppState,
    order_id: &str,
    action: Action,
    actor: Actor,
    actor_user: Option<&str>,
    note: Option<&str>,
    extra: Extra<'_>,
) -> ApiResult<orders::Model> {
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let order = orders::Entity::find_by_id(order_id.to_owned())
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let from = order.status;
    let outcome = machine::transition(from, action, actor, &facts(&order, now)).map_err(refusal)?;

    let mut sets: Vec<(orders::Column, SimpleExpr)> = vec![
        (orders::Column::Status, Expr::value(outcome.to)),
        (
            orders::Column::Version,
            Expr::col(orders::Column::Version).add(1),
        ),
        (orders::Column::UpdatedAt, Expr::value(now)),
    ];
    let mut set = |col: orders::Column, value: SimpleExpr| sets.push((col, value));
    if let Some(hold) = extra.hold_expires_at {
        set(orders::Column::HoldExpiresAt, Expr::value(hold));
    }
    if let Some(at) = extra.late_marked_at {
        set(orders::Column::LateMarkedAt, Expr::value(at));
    }
    for effect in &outcome.effects {
        match effect {
            Effect::StartSla => set(
                orders::Column::SlaDeadline,
                Expr::value(
                    order
                        .turnaround_days
                        .map(|d| now + Duration::days(i64::from(d))),
                ),
            ),
            Effect::StartAutoComplete => {
                set(orders::Column::DeliveredAt, Expr::value(now));
                set(
                    orders::Column::AutoCompleteAt,
                    Expr::value(now + Duration::days(i64::from(order.auto_complete_days))),
                );
            }
            Effect::CountRevision => {
                set(
                    orders::Column::RevisionsUsed,
                    Expr::col(orders::Column::RevisionsUsed).add(1),
                );
                set(
                    orders::Column::AutoCompleteAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                );
            }
            Effect::StopTimers => set(
                orders::Column::AutoCompleteAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            ),
            Effect::Settle(s) => set(orders::Column::RefundedCents, Expr::value(s.refund)),
            Effect::OpenChargeback => set(orders::Column::ChargebackOpen, Expr::value(true)),
            Effect::CloseChargeback => set(orders::Column::ChargebackOpen, Expr::value(false)),
            Effect::RestartAutoComplete => set(
                orders::Column::AutoCompleteAt,
                Expr::value(now + Duration::days(i64::from(order.auto_complete_days))),
            ),
            _ => {}
        }
    }
    // A won chargeback returns a completed order to where it was: completed then, counted once.
    let resumed = matches!(action, Action::ChargebackWon(_));
    match outcome.to {
        OrderStatus::Completed if resumed => {}
        OrderStatus::Completed => set(orders::Column::CompletedAt, Expr::value(now)),
        OrderStatus::Cancelled | OrderStatus::Refunded if from != outcome.to => {
            set(orders::Column::CancelledAt, Expr::value(now));
            set(
                orders::Column::CancelReason,
                Expr::value(extra.cancel_reason.clone()),
            );
        }
        _ => {}
    }
    let mut update = orders::Entity::update_many();
    for (col, value) in sets {
        update = update.col_expr(col, value);
    }
    let updated = update
        .filter(orders::Column::Id.eq(order.id.clone()))
        .filter(orders::Column::Status.eq(from))
        .filter(orders::Column::Version.eq(order.version))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::Conflict,
            "the order changed meanwhile; read it again",
        )));
    }
    let stripe = order.payment_mode == PaymentMode::Stripe;
    let mut notices = Vec::new();
    for effect in &outcome.effects {
        match effect {
            Effect::InvoicePendingConfirmation => {
                let (method, reference) = extra.payment.unwrap_or(("", ""));
                invoicing::mark_pending_confirmation(
                    &txn, &order.id, method, reference, actor_user, now,
                )
                .await?;
            }
            Effect::InvoicePaid => {
                let (method, confirmed_by) = if stripe {
                    ("card", None)
                } else {
                    ("manual", actor_user)
                };
                invoicing::mark_paid(&txn, &order, method, None, confirmed_by, now).await?;
            }
            Effect::InvoiceVoid => invoicing::mark_void(&txn, &order.id, actor_user, now).await?,
            Effect::Capture => {
                add_ledger(&txn, &order, LedgerKind::Charge, order.price_cents, now).await?
            }
            Effect::Settle(s) => {
                if s.refund > 0 {
                    invoicing::mark_refunded(&txn, &order.id, s.refund, actor_user, now).await?;
                }
                if stripe {
                    add_ledger(&txn, &order, LedgerKind::Refund, s.refund, now).await?;
                    add_ledger(&txn, &order, LedgerKind::Fee, s.fee, now).await?;
                    add_ledger(&txn, &order, LedgerKind::Transfer, s.transfer, now).await?;
                } else {
                    // MANUAL orders move no money through the platform: the commission is
                    // owed by the seller's tenant (DESIGN §4), never sent to a processor.
                    add_ledger_entry(
                        &txn,
                        &order,
                        LedgerKind::Fee,
                        s.fee,
                        LedgerStatus::Owed,
                        None,
                        now,
                    )
                    .await?;
                }
            }
            Effect::ReverseTransfer => chargebacks::hold_and_recover(&txn, &order, now).await?,
            Effect::RepayTransfer => chargebacks::release_and_repay(&txn, &order, now).await?,
            Effect::ChargebackLoss => {
                let (dispute, taken) = chargebacks::record_loss(&txn, &order, now).await?;
                orders::Entity::update_many()
                    .col_expr(
                        orders::Column::RefundedCents,
                        Expr::col(orders::Column::RefundedCents).add(taken),
                    )
                    .filter(orders::Column::Id.eq(order.id.clone()))
                    .exec(&txn)
                    .await?;
                notices.extend(dispute);
            }
            _ => {}
        }
    }
    if let Some(write) = extra.chargeback {
        chargebacks::write_in(&txn, &order, write, now).await?;
    }
    let mut spent_upload = None;
    if let Some(delivery) = extra.delivery {
        if let (Some(original), Some(file)) = (delivery.file_key.as_deref(), &delivery.file) {
            crate::services::files::spend_upload(&txn, original, &file.key, now).await?;
            spent_upload = Some(original.to_owned());
        }
        let revision = deliveries::Entity::find()
            .filter(deliveries::Column::OrderId.eq(order.id.clone()))
            .count(&txn)
            .await? as i32
            + 1;
        deliveries::ActiveModel {
            id: Set(ids::new_id(Kind::Delivery)),
            order_id: Set(order.id.clone()),
            revision: Set(revision),
            summary: Set(delivery.summary),
            strengths: Set(delivery.strengths),
            weaknesses: Set(delivery.weaknesses),
            recommendations: Set(delivery.recommendations),
            score: Set(delivery.score),
            file_key: Set(delivery.file.as_ref().map(|f| f.key.clone())),
            file_name: Set(delivery.file.as_ref().map(|f| f.file_name.clone())),
            file_content_type: Set(delivery.file.as_ref().map(|f| f.content_type.clone())),
            file_byte_size: Set(delivery.file.as_ref().map(|f| f.byte_size)),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    if let Some(write) = extra.dispute {
        notices.push(crate::services::disputes::write_in(&txn, &order, write, now).await?);
    }
    if outcome.to == OrderStatus::Completed && from != OrderStatus::Completed && !resumed {
        providers::Entity::update_many()
            .col_expr(
                providers::Column::TotalOrdersCompleted,
                Expr::col(providers::Column::TotalOrdersCompleted).add(1),
            )
            .filter(providers::Column::Id.eq(order.provider_id.clone()))
            .exec(&txn)
            .await?;
    }
    let notice = record_event(
        &txn,
        &order,
        Some(from),
        outcome.to,
        action.name(),
        actor,
        actor_user,
        note,
        now,
    )
    .await?;
    notices.insert(0, notice);
    state.faults.hold_before_commit.take().await;
    let publisher = state.events.publisher().await;
    txn.commit().await?;
    state.faults.hold_after_commit.take().await;
    publisher.committed(notices);
    if let Some(original) = spent_upload {
        crate::services::files::discard_original(state, &original).await;
    }
    tracing::info!(order = %order.id, from = ?from, to = ?outcome.to, action = action.name(), "order moved");

    if stripe {
        if outcome.effects.contains(&Effect::ReleaseAuthorization) {
            release_authorization(state, &order, "1").await;
        }
        process_ledger(state, &order.id).await?;
    }
    load(&state.db.reader, &order.id).await
}
