//! Disputes. The buyer opens one on an order (the order moves to DISPUTED and its timers
//! stop); an admin takes it under review and resolves it, and the order's money moves as the
//! outcome says, through the same transition code as every other order move
//! (`orders::apply`). Every change of a dispute announces a `Dispute` notice, inside its
//! transaction, for the `disputeUpdated` stream.
use chrono::{DateTime, Utc};
use entity::{disputes, orders};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::orders::{self as order_service, Extra};
use super::Viewer;
use crate::domain::dispute::{self as rules, DisputeReason, DisputeStatus, Outcome, OutcomeKind};
use crate::domain::order::{Action, Actor};
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::events::{self, Notice};
use crate::ids::{self, Kind};
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;

fn not_found() -> ApiError {
    ApiError::refused(Refusal::on_input(
        "disputeId",
        RefusalCode::NotFound,
        "no such dispute",
    ))
}

fn invalid(field: &str, err: crate::domain::Invalid) -> ApiError {
    ApiError::refused(Refusal::invalid(field, err.0))
}

/// What a transition of the order writes to its dispute, in the order's transaction.
pub enum DisputeWrite {
    Open {
        reason: DisputeReason,
        description: String,
        opened_by: String,
    },
    Resolve {
        dispute_id: String,
        from: DisputeStatus,
        outcome: Outcome,
        admin_notes: String,
        resolved_by: String,
    },
}

/// Writes `write` inside the order's transaction and announces it there; the caller hands the
/// notice to its [`crate::events::Publisher`] after the commit.
pub(crate) async fn write_in(
    txn: &impl ConnectionTrait,
    order: &orders::Model,
    write: DisputeWrite,
    now: DateTime<Utc>,
) -> ApiResult<Notice> {
    let id = match write {
        DisputeWrite::Open {
            reason,
            description,
            opened_by,
        } => {
            let id = ids::new_id(Kind::Dispute);
            let change_seq = next_change(txn).await?;
            let inserted = disputes::ActiveModel {
                id: Set(id.clone()),
                order_id: Set(order.id.clone()),
                opened_by: Set(opened_by),
                reason: Set(reason),
                description: Set(description),
                status: Set(DisputeStatus::Open),
                admin_notes: Set(None),
                refund_cents: Set(None),
                currency: Set(order.currency.clone()),
                resolved_by: Set(None),
                resolved_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                change_seq: Set(change_seq),
            }
            .insert(txn)
            .await;
            match inserted {
                Ok(_) => id,
                Err(err) if crate::db::is_unique_violation(&err, "disputes_order_open_key") => {
                    return Err(ApiError::refused(Refusal::new(
                        RefusalCode::Conflict,
                        "the order already has an open dispute",
                    )))
                }
                Err(err) => return Err(err.into()),
            }
        }
        DisputeWrite::Resolve {
            dispute_id,
            from,
            outcome,
            admin_notes,
            resolved_by,
        } => {
            let status = rules::resolve(from, outcome).map_err(moved)?;
            let change_seq = next_change(txn).await?;
            let updated = disputes::Entity::update_many()
                .col_expr(disputes::Column::Status, Expr::value(status))
                .col_expr(disputes::Column::AdminNotes, Expr::value(Some(admin_notes)))
                .col_expr(
                    disputes::Column::RefundCents,
                    Expr::value(Some(outcome.refund_cents(order.price_cents))),
                )
                .col_expr(disputes::Column::ResolvedBy, Expr::value(Some(resolved_by)))
                .col_expr(disputes::Column::ResolvedAt, Expr::value(Some(now)))
                .col_expr(disputes::Column::UpdatedAt, Expr::value(now))
                .col_expr(disputes::Column::ChangeSeq, Expr::value(change_seq))
                .filter(disputes::Column::Id.eq(dispute_id.clone()))
                .filter(disputes::Column::Status.eq(from))
                .exec(txn)
                .await?;
            if updated.rows_affected != 1 {
                return Err(changed_meanwhile());
            }
            dispute_id
        }
    };
    let notice = Notice::Dispute {
        id,
        order_id: order.id.clone(),
    };
    events::notify_in(txn, &notice).await?;
    Ok(notice)
}

fn moved(err: rules::Unmovable) -> ApiError {
    ApiError::refused(Refusal::new(RefusalCode::InvalidState, err.0))
}

fn changed_meanwhile() -> ApiError {
    ApiError::refused(Refusal::new(
        RefusalCode::Conflict,
        "the dispute changed meanwhile; read it again",
    ))
}

/// The buyer disputes an order: after the delivery for any reason, before it only for
/// NON_DELIVERY once the order is late (the order machine decides). The order becomes
/// DISPUTED and the dispute OPEN, in one transaction.
pub async fn open(
    state: &AppState,
    viewer: &Viewer,
    order_id: &str,
    reason: DisputeReason,
    description: &str,
) -> ApiResult<(disputes::Model, orders::Model)> {
    let user = viewer.user()?.clone();
    let description = rules::description(description).map_err(|e| invalid("description", e))?;
    let (_, roles) = order_service::order_with_roles(state, viewer, order_id).await?;
    if !roles.buyer {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::NotAllowed,
            "only the order's buyer may open a dispute",
        )));
    }
    let order = order_service::apply(
        state,
        order_id,
        Action::OpenDispute(reason),
        Actor::Buyer,
        Some(&user.id),
        None,
        Extra {
            dispute: Some(DisputeWrite::Open {
                reason,
                description,
                opened_by: user.id.clone(),
            }),
            ..Default::default()
        },
    )
    .await?;
    let dispute = latest_of_order(&state.db.reader, &order.id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("an opened dispute is missing")))?;
    Ok((dispute, order))
}

/// An admin takes an OPEN dispute under review.
pub async fn review(
    state: &AppState,
    viewer: &Viewer,
    dispute_id: &str,
) -> ApiResult<(disputes::Model, orders::Model)> {
    viewer.admin()?;
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let dispute = find(&txn, dispute_id).await?;
    let status = rules::review(dispute.status).map_err(moved)?;
    let change_seq = next_change(&txn).await?;
    let updated = disputes::Entity::update_many()
        .col_expr(disputes::Column::Status, Expr::value(status))
        .col_expr(disputes::Column::UpdatedAt, Expr::value(now))
        .col_expr(disputes::Column::ChangeSeq, Expr::value(change_seq))
        .filter(disputes::Column::Id.eq(dispute.id.clone()))
        .filter(disputes::Column::Status.eq(dispute.status))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(changed_meanwhile());
    }
    let notice = Notice::Dispute {
        id: dispute.id.clone(),
        order_id: dispute.order_id.clone(),
    };
    events::notify_in(&txn, &notice).await?;
    let publisher = state.events.publisher().await;
    txn.commit().await?;
    publisher.committed([notice]);
    let dispute = find(&state.db.reader, dispute_id).await?;
    let order = order_service::load(&state.db.reader, &dispute.order_id).await?;
    Ok((dispute, order))
}

/// What an admin decided.
pub struct Resolution<'a> {
    pub outcome: OutcomeKind,
    pub admin_notes: &'a str,
    pub refund_cents: Option<i64>,
}

/// An admin resolves an open dispute: REFUND returns the whole price (order REFUNDED),
/// NO_REFUND pays the provider as on completion, PARTIAL(r) returns r and pays out the rest
/// less the order's frozen commission (both COMPLETED). The money moves through the ledger
/// after the commit, as for every order move.
pub async fn resolve(
    state: &AppState,
    viewer: &Viewer,
    dispute_id: &str,
    resolution: Resolution<'_>,
) -> ApiResult<(disputes::Model, orders::Model)> {
    let admin = viewer.admin()?.clone();
    let notes = rules::admin_notes(resolution.admin_notes).map_err(|e| invalid("adminNotes", e))?;
    let dispute = find(&state.db.reader, dispute_id).await?;
    let order = order_service::load(&state.db.reader, &dispute.order_id).await?;
    let outcome = Outcome::parse(
        resolution.outcome,
        resolution.refund_cents,
        order.price_cents,
    )
    .map_err(|e| invalid("refundCents", e))?;
    rules::resolve(dispute.status, outcome).map_err(moved)?;
    let order = order_service::apply(
        state,
        &order.id,
        outcome.order_action(),
        Actor::Admin,
        Some(&admin.id),
        Some(&notes),
        Extra {
            dispute: Some(DisputeWrite::Resolve {
                dispute_id: dispute.id.clone(),
                from: dispute.status,
                outcome,
                admin_notes: notes.clone(),
                resolved_by: admin.id.clone(),
            }),
            ..Default::default()
        },
    )
    .await?;
    let dispute = find(&state.db.reader, dispute_id).await?;
    Ok((dispute, order))
}

async fn find(conn: &impl ConnectionTrait, dispute_id: &str) -> ApiResult<disputes::Model> {
    if !ids::is_kind(dispute_id, Kind::Dispute) {
        return Err(not_found());
    }
    disputes::Entity::find_by_id(dispute_id.to_owned())
        .one(conn)
        .await?
        .ok_or_else(not_found)
}

/// The order's newest dispute (open or not).
pub async fn latest_of_order(
    conn: &impl ConnectionTrait,
    order_id: &str,
) -> ApiResult<Option<disputes::Model>> {
    Ok(disputes::Entity::find()
        .filter(disputes::Column::OrderId.eq(order_id.to_owned()))
        .order_by_desc(disputes::Column::CreatedAt)
        .order_by_desc(disputes::Column::Id)
        .one(conn)
        .await?)
}

/// A dispute the viewer may read: the order's buyer and provider, and admins; `None` for
/// anyone else, as for a dispute that does not exist.
pub async fn for_viewer(
    state: &AppState,
    viewer: &Viewer,
    dispute_id: &str,
) -> ApiResult<Option<disputes::Model>> {
    if viewer.id().is_none() || !ids::is_kind(dispute_id, Kind::Dispute) {
        return Ok(None);
    }
    let Some(dispute) = disputes::Entity::find_by_id(dispute_id.to_owned())
        .one(&state.db.reader)
        .await?
    else {
        return Ok(None);
    };
    // Whoever may read the order may read its disputes.
    Ok(
        order_service::order_for_viewer(state, viewer, &dispute.order_id)
            .await?
            .map(|_| dispute),
    )
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DisputeCursor {
    pub id: String,
}

/// Every dispute, oldest first (the queue an admin works through), optionally of some
/// statuses. Admins only.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    statuses: &[DisputeStatus],
    page: PageRequest<DisputeCursor>,
) -> ApiResult<Page<disputes::Model>> {
    viewer.admin()?;
    let conn = &state.db.reader;
    let mut query = disputes::Entity::find();
    if !statuses.is_empty() {
        query = query.filter(disputes::Column::Status.is_in(statuses.iter().copied()));
    }
    let total = query.clone().count(conn).await?;
    if let Some(after) = &page.after {
        query = query.filter(disputes::Column::Id.gt(after.id.clone()));
    }
    let rows = query
        .order_by_asc(disputes::Column::Id)
        .limit(page.fetch_limit())
        .all(conn)
        .await?;
    Ok(Page::from_overfetch(rows, &page, total))
}

/// Disputes whose latest change comes after position `after`, oldest change first: what a
/// `disputeUpdated` stream re-reads when the bus may have missed notices.
pub async fn changed_after(
    conn: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> ApiResult<Vec<disputes::Model>> {
    Ok(disputes::Entity::find()
        .filter(disputes::Column::ChangeSeq.gt(after))
        .order_by_asc(disputes::Column::ChangeSeq)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The position of the latest dispute change that has committed (0 before the first).
pub async fn latest_change(conn: &impl ConnectionTrait) -> ApiResult<i64> {
    let all = disputes::Entity::find();
    Ok(crate::db::highest(conn, all, disputes::Column::ChangeSeq).await?)
}

/// The position of a change of a dispute, drawn in its transaction as late as the write
/// allows: the counter's row stays locked until the commit, so positions follow commit order
/// (a time taken before the commit does not: a change that took its time first can commit
/// last).
pub(crate) async fn next_change(conn: &impl ConnectionTrait) -> ApiResult<i64> {
    super::invoicing::next_counter(conn, "dispute_change").await
}
