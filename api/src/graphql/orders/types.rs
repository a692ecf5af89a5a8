//! The `Order` type with its timeline, deliveries and available actions.
use std::sync::Arc;

use async_graphql::{Context, Object, ID};
use entity::{deliveries, order_events, orders};

use super::*;
use crate::error::ApiError;
use crate::graphql::accounts::User;
use crate::graphql::connection::connection;
use crate::graphql::listings::Listing;
use crate::graphql::loaders::loader_error;
use crate::graphql::money::Money;
use crate::graphql::scalars::DateTime;
use crate::graphql::sellers::Provider;
use crate::graphql::ContextExt;
use crate::services::orders::{self as service};

/// One step of an order's timeline.
#[derive(Clone)]
pub struct OrderEvent {
    pub event: Arc<order_events::Model>,
    /// The order, when whoever made this already holds it (a subscription's shared load, an
    /// order's own timeline): `order` then costs no query and no copy.
    pub order: Option<Arc<orders::Model>>,
}

impl OrderEvent {
    pub fn new(event: order_events::Model) -> OrderEvent {
        OrderEvent {
            event: Arc::new(event),
            order: None,
        }
    }

    pub fn with_order(
        event: Arc<order_events::Model>,
        order: Option<Arc<orders::Model>>,
    ) -> OrderEvent {
        OrderEvent { event, order }
    }
}

#[Object]
impl OrderEvent {
    pub async fn id(&self) -> ID {
        ID(self.event.id.clone())
    }
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Order> {
        if let Some(order) = &self.order {
            return Ok(Order(order.clone()));
        }
        Ok(Order::from(
            service::load(&ctx.state()?.db.reader, &self.event.order_id).await?,
        ))
    }
    async fn from_status(&self) -> Option<OrderStatusGql> {
        self.event.from_status.map(Into::into)
    }
    async fn to_status(&self) -> OrderStatusGql {
        self.event.to_status.into()
    }
    /// the machine's name of the action, e.g. "claim"
    async fn action(&self) -> &str {
        &self.event.action
    }
    async fn actor_kind(&self) -> ActorKindGql {
        self.event.actor_kind.into()
    }
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = &self.event.actor_id else {
            return Ok(None);
        };
        User::load(ctx, id).await
    }
    async fn note(&self) -> Option<&str> {
        self.event.note.as_deref()
    }
    async fn occurred_at(&self) -> DateTime {
        self.event.occurred_at.into()
    }
}

/// A delivery: the provider's structured report (one per revision).
#[derive(Clone)]
pub struct Delivery(pub deliveries::Model);

#[Object]
impl Delivery {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Order> {
        Ok(Order::from(
            service::load(&ctx.state()?.db.reader, &self.0.order_id).await?,
        ))
    }
    async fn revision(&self) -> i32 {
        self.0.revision
    }
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    async fn strengths(&self) -> &str {
        &self.0.strengths
    }
    async fn weaknesses(&self) -> &str {
        &self.0.weaknesses
    }
    async fn recommendations(&self) -> &str {
        &self.0.recommendations
    }
    async fn file(&self) -> Option<crate::graphql::files::FileAttachment> {
        crate::graphql::files::FileAttachment::from_columns(
            self.0.file_key.as_ref(),
            self.0.file_name.as_ref(),
            self.0.file_content_type.as_ref(),
            self.0.file_byte_size,
        )
    }
    async fn score(&self) -> Option<i32> {
        self.0.score
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

/// An order of a listing by a buyer, with its price, fee and payout frozen at placement.
#[derive(Clone)]
pub struct Order(pub Arc<orders::Model>);

impl From<orders::Model> for Order {
    fn from(model: orders::Model) -> Order {
        Order(Arc::new(model))
    }
}

impl Order {
    /// The order `id` when the viewer is one of its parties, through the loaders (a page of
    /// rows pointing at orders costs one query for the orders and one for their providers).
    pub async fn load_for_viewer(
        ctx: &Context<'_>,
        id: &str,
    ) -> async_graphql::Result<Option<Order>> {
        let loaders = ctx.loaders()?;
        let Some(order) = loaders
            .orders
            .load_one(id.to_owned())
            .await
            .map_err(loader_error)?
        else {
            return Ok(None);
        };
        let provider = loaders
            .providers
            .load_one(order.provider_id.clone())
            .await
            .map_err(loader_error)?;
        Ok(service::roles_of(ctx.viewer(), &order, provider.as_ref()).map(|_| Order::from(order)))
    }

    fn money(&self, cents: i64) -> Money {
        Money::new(cents, &self.0.currency)
    }

    async fn deliveries_of(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<deliveries::Model>> {
        Ok(ctx
            .loaders()?
            .deliveries
            .load_one(self.0.id.clone())
            .await
            .map_err(loader_error)?
            .unwrap_or_default())
    }
}

#[Object]
impl Order {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// human-readable, e.g. ORD-000123
    async fn number(&self) -> String {
        format!("ORD-{:06}", self.0.number)
    }
    async fn status(&self) -> OrderStatusGql {
        self.0.status.into()
    }
    async fn buyer(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        User::load_referenced(ctx, &self.0.buyer_id, "order").await
    }
    async fn provider(&self, ctx: &Context<'_>) -> async_graphql::Result<Provider> {
        Provider::load_referenced(ctx, &self.0.provider_id, "order").await
    }
    async fn listing(&self, ctx: &Context<'_>) -> async_graphql::Result<Listing> {
        ctx.loaders()?
            .listings
            .load_one(self.0.listing_id.clone())
            .await
            .map_err(loader_error)?
            .map(Listing)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("order without listing")).into())
    }
    async fn script_id(&self) -> Option<&str> {
        self.0.script_id.as_deref()
    }
    async fn project_id(&self) -> Option<&str> {
        self.0.project_id.as_deref()
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    async fn script_file(&self) -> Option<crate::graphql::files::FileAttachment> {
        crate::graphql::files::FileAttachment::from_columns(
            self.0.script_file_key.as_ref(),
            self.0.script_file_name.as_ref(),
            self.0.script_content_type.as_ref(),
            self.0.script_byte_size,
        )
    }
    async fn payment_mode(&self) -> PaymentModeGql {
        self.0.payment_mode.into()
    }
    async fn price(&self) -> Money {
        self.money(self.0.price_cents)
    }
    async fn platform_fee(&self) -> Money {
        self.money(self.0.platform_fee_cents)
    }
    async fn provider_payout(&self) -> Money {
        self.money(self.0.provider_payout_cents)
    }
    async fn refunded(&self) -> Money {
        self.money(self.0.refunded_cents)
    }
    /// client secret for confirming payment in the browser; buyer only, while PLACED with STRIPE
    async fn payment_client_secret(&self, ctx: &Context<'_>) -> Option<&str> {
        service::payment_client_secret(&self.0, ctx.viewer())
    }
    async fn sla_deadline(&self) -> Option<DateTime> {
        self.0.sla_deadline.map(Into::into)
    }
    async fn is_late(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(service::is_late(&self.0, ctx.state()?.now()))
    }
    async fn revisions_used(&self) -> i32 {
        self.0.revisions_used
    }
    async fn delivered_at(&self) -> Option<DateTime> {
        self.0.delivered_at.map(Into::into)
    }
    /// when a DELIVERED order completes by itself unless the buyer acts
    async fn auto_complete_at(&self) -> Option<DateTime> {
        self.0.auto_complete_at.map(Into::into)
    }
    async fn completed_at(&self) -> Option<DateTime> {
        self.0.completed_at.map(Into::into)
    }
    /// the latest delivery
    async fn delivery(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Delivery>> {
        Ok(self.deliveries_of(ctx).await?.pop().map(Delivery))
    }
    async fn deliveries(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Delivery>> {
        Ok(self
            .deliveries_of(ctx)
            .await?
            .into_iter()
            .map(Delivery)
            .collect())
    }
    /// the order's message thread, once one of its parties wrote about it
    async fn thread(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::graphql::messaging::MessageThread>> {
        Ok(
            crate::services::messaging::thread_of_order(ctx.state()?, ctx.viewer(), &self.0.id)
                .await?
                .map(crate::graphql::messaging::MessageThread::new),
        )
    }
    /// the buyer's review, once written
    async fn review(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::graphql::reviews::Review>> {
        Ok(ctx
            .loaders()?
            .reviews_by_order
            .load_one(self.0.id.clone())
            .await
            .map_err(loader_error)?
            .map(crate::graphql::reviews::Review))
    }
    /// the order's newest dispute, if it was ever disputed
    async fn dispute(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::graphql::disputes::Dispute>> {
        Ok(ctx
            .loaders()?
            .disputes
            .load_one(self.0.id.clone())
            .await
            .map_err(loader_error)?
            .and_then(|mut all| all.pop())
            .map(crate::graphql::disputes::Dispute))
    }
    /// the chargeback on the order's charge, if the card network ever disputed it (an addition
    /// to the contract)
    async fn chargeback(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::graphql::disputes::Chargeback>> {
        Ok(ctx
            .loaders()?
            .chargebacks_by_order
            .load_one(self.0.id.clone())
            .await
            .map_err(loader_error)?
            .map(crate::graphql::disputes::Chargeback))
    }
    /// the order's invoice in the provider's book, for whoever may read it
    async fn invoice(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::graphql::invoicing::Invoice>> {
        let found = ctx
            .loaders()?
            .invoices_by_order
            .load_one(self.0.id.clone())
            .await
            .map_err(loader_error)?;
        let Some(invoice) = found else {
            return Ok(None);
        };
        let readable =
            crate::services::invoices::readable(ctx.state()?, ctx.viewer(), &invoice).await?;
        Ok(readable.then_some(crate::graphql::invoicing::Invoice(invoice)))
    }
    /// status history, oldest first
    async fn events(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderEvent>> {
        Ok(ctx
            .loaders()?
            .order_events
            .load_one(self.0.id.clone())
            .await
            .map_err(loader_error)?
            .unwrap_or_default()
            .into_iter()
            .map(|event| OrderEvent::with_order(Arc::new(event), Some(self.0.clone())))
            .collect())
    }
    async fn available_actions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<OrderActionGql>> {
        let state = ctx.state()?;
        let viewer = ctx.viewer();
        if viewer.id().is_none() {
            return Ok(Vec::new());
        }
        // The provider comes through the loader, so a page of orders costs one query for all.
        let provider = ctx
            .loaders()?
            .providers
            .load_one(self.0.provider_id.clone())
            .await
            .map_err(loader_error)?;
        let has_review = ctx
            .loaders()?
            .reviews_by_order
            .load_one(self.0.id.clone())
            .await
            .map_err(loader_error)?
            .is_some();
        Ok(
            service::available_actions(&self.0, viewer, provider.as_ref(), has_review, state.now())
                .into_iter()
                .map(Into::into)
                .collect(),
        )
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

connection!(OrderConnection, OrderEdge, Order);
