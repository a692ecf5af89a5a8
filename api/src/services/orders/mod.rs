//! Orders: placement with a frozen price and policy, and every move of the state machine
//! (`domain::order`) persisted as one conditional update plus its event in one transaction,
//! then the money effects run against the payment gateway.
mod commands;
mod place;
mod processor_events;
mod queries;
pub mod sequencer;
pub mod timers;

pub use commands::*;
pub use place::*;
pub use processor_events::*;
pub use queries::*;

use chrono::{DateTime, Utc};
use entity::order_events::ActorKind;
use entity::{order_events, orders, providers};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};

use super::Viewer;
use crate::domain::order::{self as machine, Actor, Facts, OrderStatus};
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::events::{self, Notice};
use crate::ids::{self, Kind};
use crate::state::AppState;

const PLACE_ORDER: &str = "placeOrder";

fn not_found() -> ApiError {
    ApiError::refused(Refusal::on_input(
        "orderId",
        RefusalCode::NotFound,
        "no such order",
    ))
}

/// Past the SLA deadline while the provider still owes the work.
pub fn is_late(order: &orders::Model, now: DateTime<Utc>) -> bool {
    matches!(order.status, OrderStatus::Claimed | OrderStatus::InProgress)
        && order.sla_deadline.is_some_and(|d| d < now)
}

pub fn facts(order: &orders::Model, now: DateTime<Utc>) -> Facts {
    Facts {
        payment_mode: order.payment_mode,
        price_cents: order.price_cents,
        commission_bps: u32::try_from(order.commission_bps).unwrap_or(0),
        revisions_used: order.revisions_used,
        revisions_included: order.revisions_included,
        is_late: order.sla_deadline.is_some_and(|d| d < now),
        chargeback_open: order.chargeback_open,
    }
}

/// The order and the viewer's roles on it; NOT_FOUND when it does not exist or the viewer
/// is none of its parties, so strangers learn nothing.
pub async fn order_with_roles(
    state: &AppState,
    viewer: &Viewer,
    order_id: &str,
) -> ApiResult<(orders::Model, machine::ViewerRoles)> {
    if !ids::is_kind(order_id, Kind::Order) {
        return Err(not_found());
    }
    let order = orders::Entity::find_by_id(order_id.to_owned())
        .one(&state.db.reader)
        .await?
        .ok_or_else(not_found)?;
    let roles = relation(&state.db.reader, viewer, &order)
        .await?
        .ok_or_else(not_found)?;
    Ok((order, roles))
}

/// How the viewer stands to an order: buyer, provider, admin; `None` when it may not read it.
pub async fn relation(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    order: &orders::Model,
) -> ApiResult<Option<machine::ViewerRoles>> {
    if viewer.id().is_none() {
        return Ok(None);
    }
    let provider = providers::Entity::find_by_id(order.provider_id.clone())
        .one(conn)
        .await?;
    Ok(roles_of(viewer, order, provider.as_ref()))
}

/// The viewer's roles on an order whose provider row is `provider`; `None` when it is none of
/// its parties. The one place that decides who stands where.
pub fn roles_of(
    viewer: &Viewer,
    order: &orders::Model,
    provider: Option<&providers::Model>,
) -> Option<machine::ViewerRoles> {
    let user_id = viewer.id()?;
    let roles = machine::ViewerRoles {
        buyer: order.buyer_id == user_id,
        provider: provider.is_some_and(|p| p.id == order.provider_id && p.user_id == user_id),
        admin: viewer.is_admin(),
    };
    (roles.buyer || roles.provider || roles.admin).then_some(roles)
}

/// What the viewer may do next with the order, from the state machine itself.
pub fn available_actions(
    order: &orders::Model,
    viewer: &Viewer,
    provider: Option<&providers::Model>,
    has_review: bool,
    now: DateTime<Utc>,
) -> Vec<machine::OrderAction> {
    let Some(roles) = roles_of(viewer, order, provider) else {
        return Vec::new();
    };
    machine::available_actions(order.status, roles, &facts(order, now), has_review)
}

/// Stores one event of the order's timeline; the caller hands the returned notice to
/// its [`crate::events::Publisher`] after the commit (one node). On PostgreSQL the event is stored
/// pending and the transaction wakes the sequencers, which number it after its commit and
/// announce it then (`sequencer`); no other transaction waits for this one.
#[allow(clippy::too_many_arguments)]
async fn record_event(
    conn: &impl ConnectionTrait,
    order: &orders::Model,
    from: Option<OrderStatus>,
    to: OrderStatus,
    action: &str,
    actor: Actor,
    actor_user: Option<&str>,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<Notice> {
    let id = ids::new_id(Kind::OrderEvent);
    let seq = sequencer::seq_at_insert(conn).await?;
    order_events::ActiveModel {
        id: Set(id.clone()),
        seq: Set(seq),
        order_id: Set(order.id.clone()),
        from_status: Set(from),
        to_status: Set(to),
        action: Set(action.to_owned()),
        actor_kind: Set(actor_kind(actor)),
        actor_id: Set(actor_user.map(str::to_owned)),
        note: Set(note.map(str::to_owned)),
        occurred_at: Set(now),
    }
    .insert(conn)
    .await?;
    let notice = Notice::OrderEvent {
        id,
        order_id: order.id.clone(),
        buyer_id: order.buyer_id.clone(),
        provider_id: order.provider_id.clone(),
    };
    // PostgreSQL announces the event once it has its position: this only wakes the sequencers.
    events::notify_in(conn, &Notice::OrderEventsPending).await?;
    Ok(notice)
}

/// The position of the newest numbered order event: a stream started now sends the ones
/// after it (pending events, not numbered yet, come after it too).
pub async fn latest_event_seq(conn: &impl ConnectionTrait) -> ApiResult<i64> {
    let all = order_events::Entity::find();
    Ok(crate::db::highest(conn, all, order_events::Column::Seq).await?)
}

pub fn actor_kind(actor: Actor) -> ActorKind {
    match actor {
        Actor::Buyer => ActorKind::Buyer,
        Actor::Provider => ActorKind::Provider,
        Actor::Admin => ActorKind::Admin,
        Actor::System => ActorKind::System,
        Actor::Processor => ActorKind::PaymentProcessor,
    }
}

pub async fn load(conn: &impl ConnectionTrait, order_id: &str) -> ApiResult<orders::Model> {
    orders::Entity::find_by_id(order_id.to_owned())
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("order {order_id} vanished")))
}
