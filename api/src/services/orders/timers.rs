//! The order timers (DESIGN §4): expire unpaid orders, release authorizations not claimed in
//! time, auto-complete delivered orders, record SLA lateness, retry pending ledger entries and
//! hold releases Stripe failed. Every step is a conditional transition by SYSTEM (or a call
//! Stripe makes idempotent), so replicas running them at once are safe: one wins each order,
//! the others are refused and move on.
use chrono::Duration as Span;
use entity::orders;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{apply, release_authorization, Extra};
use crate::domain::order::{Action, Actor, OrderStatus};
use crate::error::{ApiError, ApiResult};
use crate::services::ledger;
use crate::state::AppState;

/// Orders and entries one run looks at per kind, oldest first.
const BATCH: u64 = 100;

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub expired_unpaid: usize,
    pub released_unclaimed: usize,
    pub auto_completed: usize,
    pub marked_late: usize,
    pub ledger_retried: usize,
    /// holds of closed orders whose release failed before, released now
    pub holds_released: usize,
    /// STRIPE orders committed whose authorization never started (a crash after the commit)
    pub authorizations_resumed: usize,
    /// uploads never attached, removed a day after their URL expired
    pub uploads_swept: usize,
}

async fn due(
    state: &AppState,
    status: OrderStatus,
    condition: sea_orm::Condition,
) -> ApiResult<Vec<orders::Model>> {
    Ok(orders::Entity::find()
        .filter(orders::Column::Status.eq(status))
        .filter(condition)
        .order_by_asc(orders::Column::Id)
        .limit(BATCH)
        .all(&state.db.reader)
        .await?)
}

/// Applies `action` by SYSTEM to each order; counts the ones it moved.
async fn sweep(
    state: &AppState,
    orders: Vec<orders::Model>,
    action: Action,
    note: &str,
    late: bool,
) -> ApiResult<usize> {
    let mut moved = 0;
    for order in orders {
        let extra = Extra {
            late_marked_at: late.then(|| state.now()),
            ..Default::default()
        };
        match apply(
            state,
            &order.id,
            action,
            Actor::System,
            None,
            Some(note),
            extra,
        )
        .await
        {
            Ok(_) => moved += 1,
            // Another replica, or the buyer, got there first.
            Err(ApiError::Refused(_)) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(moved)
}

pub async fn run_once(state: &AppState) -> ApiResult<Report> {
    let now = state.now();
    let mut report = Report::default();
    // Placed and committed, but the process stopped before the authorization: a minute on,
    // the request that placed it is surely gone. Either no intent was stored (it is created
    // under its fixed key), or one was and the stop came before the order followed it (the
    // simulated gateway sends no webhook; a missed Stripe webhook is caught the same way):
    // the intent is read and followed, for an hour, after which the unpaid expiry decides.
    let stranded = due(
        state,
        OrderStatus::Placed,
        sea_orm::Condition::all()
            .add(orders::Column::PaymentMode.eq(entity::orders::PaymentMode::Stripe))
            .add(orders::Column::CreatedAt.lt(now - Span::minutes(1)))
            .add(
                sea_orm::Condition::any()
                    .add(orders::Column::PaymentIntentId.is_null())
                    .add(orders::Column::CreatedAt.gt(now - Span::hours(1))),
            ),
    )
    .await?;
    for order in stranded {
        match super::resume_authorization(state, &order).await {
            Ok(true) => report.authorizations_resumed += 1,
            Ok(false) => {}
            Err(ApiError::Refused(_)) => {}
            Err(err) => return Err(err),
        }
    }
    let unpaid = due(
        state,
        OrderStatus::Placed,
        sea_orm::Condition::all().add(orders::Column::CreatedAt.lt(now - Span::hours(24))),
    )
    .await?;
    report.expired_unpaid = sweep(
        state,
        unpaid,
        Action::ExpireUnpaid,
        "unpaid for 24 hours",
        false,
    )
    .await?;

    let unclaimed = due(
        state,
        OrderStatus::PaymentHeld,
        sea_orm::Condition::all().add(orders::Column::HoldExpiresAt.lt(now + Span::hours(12))),
    )
    .await?;
    report.released_unclaimed = sweep(
        state,
        unclaimed,
        Action::ReleaseUnclaimed,
        "not claimed before the payment hold expires; the authorization was released",
        false,
    )
    .await?;

    let delivered = due(
        state,
        OrderStatus::Delivered,
        sea_orm::Condition::all().add(orders::Column::AutoCompleteAt.lte(now)),
    )
    .await?;
    report.auto_completed = sweep(
        state,
        delivered,
        Action::AutoComplete,
        "completed automatically",
        false,
    )
    .await?;

    for status in [OrderStatus::Claimed, OrderStatus::InProgress] {
        let late = due(
            state,
            status,
            sea_orm::Condition::all()
                .add(orders::Column::SlaDeadline.lt(now))
                .add(orders::Column::LateMarkedAt.is_null()),
        )
        .await?;
        report.marked_late += sweep(
            state,
            late,
            Action::MarkLate,
            "past the delivery deadline",
            true,
        )
        .await?;
    }

    // Closed before the claim, the hold still on the buyer's card because releasing it failed:
    // try again while it lasts. Orders with a charge are the ledger's business, not this.
    let held = orders::Entity::find()
        .filter(orders::Column::Status.is_in([OrderStatus::Cancelled, OrderStatus::PaymentFailed]))
        .filter(orders::Column::HoldExpiresAt.gt(now))
        .filter(orders::Column::PaymentIntentId.is_not_null())
        .filter(orders::Column::ChargeId.is_null())
        .order_by_asc(orders::Column::HoldExpiresAt)
        .limit(BATCH)
        .all(&state.db.reader)
        .await?;
    let attempt = format!("retry-{}", now.timestamp());
    for order in held {
        let charged = ledger::has_charge(state, &order.id).await?;
        if !charged && release_authorization(state, &order, &attempt).await {
            report.holds_released += 1;
        }
    }

    let pending = ledger::orders_with_due_entries(state, BATCH).await?;
    for order_id in pending {
        ledger::process_ledger(state, &order_id).await?;
        report.ledger_retried += 1;
    }
    report.uploads_swept = crate::services::files::sweep_unattached(state, now).await?;
    Ok(report)
}
