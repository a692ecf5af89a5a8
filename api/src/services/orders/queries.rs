//! Reading orders: one order for a viewer who may read it, and the keyset-paged lists.
use entity::{deliveries, order_events, orders};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::*;
use crate::domain::order::OrderStatus;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind};
use crate::pagination::{Page, PageRequest};
use crate::services::Viewer;
use crate::state::AppState;

/// One order, if the viewer is its buyer, its provider or an admin.
pub async fn order_for_viewer(
    state: &AppState,
    viewer: &Viewer,
    order_id: &str,
) -> ApiResult<Option<orders::Model>> {
    if !ids::is_kind(order_id, Kind::Order) {
        return Ok(None);
    }
    let Some(order) = orders::Entity::find_by_id(order_id.to_owned())
        .one(&state.db.reader)
        .await?
    else {
        return Ok(None);
    };
    Ok(relation(&state.db.reader, viewer, &order)
        .await?
        .map(|_| order))
}

/// The secret that confirms the card payment in the browser: the buyer's alone, and only while
/// the order waits for that payment.
pub fn payment_client_secret<'a>(order: &'a orders::Model, viewer: &Viewer) -> Option<&'a str> {
    let buyer = viewer.id() == Some(order.buyer_id.as_str());
    (buyer && order.status == OrderStatus::Placed)
        .then_some(order.payment_client_secret.as_deref())
        .flatten()
}

/// An order event, for a viewer who may read its order.
pub async fn event_for_viewer(
    state: &AppState,
    viewer: &Viewer,
    event_id: &str,
) -> ApiResult<Option<order_events::Model>> {
    let event = order_events::Entity::find_by_id(event_id.to_owned())
        .one(&state.db.reader)
        .await?;
    visible_through_order(state, viewer, event, |e| &e.order_id).await
}

/// A delivery, for a viewer who may read its order.
pub async fn delivery_for_viewer(
    state: &AppState,
    viewer: &Viewer,
    delivery_id: &str,
) -> ApiResult<Option<deliveries::Model>> {
    let delivery = deliveries::Entity::find_by_id(delivery_id.to_owned())
        .one(&state.db.reader)
        .await?;
    visible_through_order(state, viewer, delivery, |d| &d.order_id).await
}

/// A row that belongs to an order, kept only when the viewer may read that order.
async fn visible_through_order<T>(
    state: &AppState,
    viewer: &Viewer,
    row: Option<T>,
    order_id: impl Fn(&T) -> &str,
) -> ApiResult<Option<T>> {
    let Some(row) = row else {
        return Ok(None);
    };
    let visible = order_for_viewer(state, viewer, order_id(&row)).await?;
    Ok(visible.map(|_| row))
}

#[derive(Debug, Default)]
pub struct OrderFilter {
    /// Some(true): as buyer; Some(false): as provider; None: both (admins: every order)
    pub as_buyer: Option<bool>,
    pub statuses: Vec<OrderStatus>,
    pub provider_id: Option<String>,
    pub listing_id: Option<String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct OrderCursor {
    pub id: String,
}

/// The viewer's orders, newest first.
pub async fn list_orders(
    state: &AppState,
    viewer: &Viewer,
    filter: OrderFilter,
    page: PageRequest<OrderCursor>,
) -> ApiResult<Page<orders::Model>> {
    let user = viewer.user()?;
    let conn = &state.db.reader;
    let own_provider = crate::services::sellers::own_provider_id(conn, &user.id).await?;
    let as_buyer = orders::Column::BuyerId.eq(user.id.clone());
    let as_provider = match &own_provider {
        Some(id) => orders::Column::ProviderId.eq(id.clone()),
        None => Expr::value(false),
    };
    let mut query = orders::Entity::find();
    query = match (filter.as_buyer, viewer.is_admin()) {
        (Some(true), _) => query.filter(as_buyer),
        (Some(false), _) => query.filter(as_provider),
        (None, true) => query,
        (None, false) => query.filter(Condition::any().add(as_buyer).add(as_provider)),
    };
    if filter.statuses.len() > 10 {
        return Err(ApiError::BadInput("at most 10 statuses".into()));
    }
    if !filter.statuses.is_empty() {
        query = query.filter(orders::Column::Status.is_in(filter.statuses.iter().copied()));
    }
    if let Some(id) = filter.provider_id {
        query = query.filter(orders::Column::ProviderId.eq(id));
    }
    if let Some(id) = filter.listing_id {
        query = query.filter(orders::Column::ListingId.eq(id));
    }
    let total = query.clone().count(conn).await?;
    if let Some(after) = &page.after {
        query = query.filter(orders::Column::Id.lt(after.id.clone()));
    }
    let rows = query
        .order_by_desc(orders::Column::Id)
        .limit(page.fetch_limit())
        .all(conn)
        .await?;
    Ok(Page::from_overfetch(rows, &page, total))
}
