//! Orders in GraphQL: the `Order` type with its timeline, deliveries and available actions,
//! the viewer's orders, and one mutation per action of the state machine.
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use entity::{deliveries, order_events, orders};

use super::accounts::User;
use super::connection::connection;
use super::errors::{into_payload, Payload, UserError};
use super::listings::Listing;
use super::loaders::loader_error;
use super::money::Money;
use super::scalars::DateTime;
use super::sellers::{mirror_enum, Provider};
use super::ContextExt;
use crate::domain::order::{self as machine, OrderStatus};
use crate::error::ApiError;
use crate::pagination::{encode_cursor, PageRequest};
use crate::services::orders::{self as service, Command, DeliveryInput, OrderCursor};

mirror_enum!(OrderStatusGql, "OrderStatus", OrderStatus, {
    Placed, PaymentHeld, Claimed, InProgress, Delivered, Completed, Disputed, Cancelled,
    PaymentFailed, Refunded,
});
mirror_enum!(OrderActionGql, "OrderAction", machine::OrderAction, {
    Pay, MarkPaid, ConfirmPayment, Claim, Decline, Start, Deliver, RequestRevision, Complete,
    Cancel, OpenDispute, Review, ResolveDispute,
});

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ActorKind")]
pub enum ActorKindGql {
    Buyer,
    Provider,
    Admin,
    System,
    PaymentProcessor,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "PaymentMode")]
pub enum PaymentModeGql {
    Stripe,
    Manual,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "OrderRole")]
pub enum OrderRoleGql {
    Buyer,
    Provider,
}

fn parse_status(stored: &str) -> OrderStatusGql {
    OrderStatus::parse(stored)
        .unwrap_or(OrderStatus::Cancelled)
        .into()
}

/// One step of an order's timeline.
#[derive(Clone)]
pub struct OrderEvent(pub order_events::Model);

#[Object]
impl OrderEvent {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Order> {
        Ok(Order(
            service::load(&ctx.state()?.db.reader, &self.0.order_id).await?,
        ))
    }
    async fn from_status(&self) -> Option<OrderStatusGql> {
        self.0.from_status.as_deref().map(parse_status)
    }
    async fn to_status(&self) -> OrderStatusGql {
        parse_status(&self.0.to_status)
    }
    /// the machine's name of the action, e.g. "claim"
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn actor_kind(&self) -> ActorKindGql {
        match self.0.actor_kind.as_str() {
            "BUYER" => ActorKindGql::Buyer,
            "PROVIDER" => ActorKindGql::Provider,
            "ADMIN" => ActorKindGql::Admin,
            "PAYMENT_PROCESSOR" => ActorKindGql::PaymentProcessor,
            _ => ActorKindGql::System,
        }
    }
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = &self.0.actor_id else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()?
            .users
            .load_one(id.clone())
            .await
            .map_err(loader_error)?
            .map(User::new))
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn occurred_at(&self) -> DateTime {
        self.0.occurred_at.into()
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
        Ok(Order(
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
    async fn file(&self) -> Option<super::files::FileAttachment> {
        super::files::FileAttachment::from_columns(
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
pub struct Order(pub orders::Model);

impl Order {
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
        parse_status(&self.0.status)
    }
    async fn buyer(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        ctx.loaders()?
            .users
            .load_one(self.0.buyer_id.clone())
            .await
            .map_err(loader_error)?
            .map(User::new)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("order without buyer")).into())
    }
    async fn provider(&self, ctx: &Context<'_>) -> async_graphql::Result<Provider> {
        ctx.loaders()?
            .providers
            .load_one(self.0.provider_id.clone())
            .await
            .map_err(loader_error)?
            .map(Provider)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("order without provider")).into())
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
    async fn script_file(&self) -> Option<super::files::FileAttachment> {
        super::files::FileAttachment::from_columns(
            self.0.script_file_key.as_ref(),
            self.0.script_file_name.as_ref(),
            self.0.script_content_type.as_ref(),
            self.0.script_byte_size,
        )
    }
    async fn payment_mode(&self) -> PaymentModeGql {
        match service::payment_mode(&self.0) {
            machine::PaymentMode::Manual => PaymentModeGql::Manual,
            machine::PaymentMode::Stripe => PaymentModeGql::Stripe,
        }
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
        let buyer = ctx.viewer().id() == Some(self.0.buyer_id.as_str());
        (buyer && service::status(&self.0) == OrderStatus::Placed)
            .then_some(self.0.payment_client_secret.as_deref())
            .flatten()
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
            .map(OrderEvent)
            .collect())
    }
    async fn available_actions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<OrderActionGql>> {
        let state = ctx.state()?;
        let viewer = ctx.viewer();
        let Some(user_id) = viewer.id() else {
            return Ok(Vec::new());
        };
        // The provider comes through the loader, so a page of orders costs one query for all.
        let provider = ctx
            .loaders()?
            .providers
            .load_one(self.0.provider_id.clone())
            .await
            .map_err(loader_error)?;
        let roles = machine::ViewerRoles {
            buyer: self.0.buyer_id == user_id,
            provider: provider.is_some_and(|p| p.user_id == user_id),
            admin: viewer.is_admin(),
        };
        let facts = service::facts(&self.0, state.now());
        // Reviews arrive with their own issue; until then no order has one.
        Ok(
            machine::available_actions(service::status(&self.0), roles, &facts, false)
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

#[derive(InputObject, Default)]
pub struct OrderFilter {
    pub role: Option<OrderRoleGql>,
    pub status: Option<Vec<OrderStatusGql>>,
    pub provider_id: Option<ID>,
    pub listing_id: Option<ID>,
}

#[derive(InputObject)]
pub struct PlaceOrderInput {
    pub listing_id: ID,
    pub script_id: Option<String>,
    pub project_id: Option<String>,
    pub notes: Option<String>,
    /// the same key within 24 h returns the first result instead of placing a second order
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct OrderIdInput {
    pub order_id: ID,
    pub note: Option<String>,
}

#[derive(InputObject)]
pub struct MarkOrderPaidInput {
    pub order_id: ID,
    pub method: String,
    pub reference: String,
}

#[derive(InputObject)]
pub struct CancelOrderInput {
    pub order_id: ID,
    pub reason: String,
}

#[derive(InputObject)]
pub struct DeliverOrderInput {
    pub order_id: ID,
    pub summary: String,
    #[graphql(default_with = "Some(String::new())")]
    pub strengths: Option<String>,
    #[graphql(default_with = "Some(String::new())")]
    pub weaknesses: Option<String>,
    #[graphql(default_with = "Some(String::new())")]
    pub recommendations: Option<String>,
    /// 1..100
    pub score: Option<i32>,
    /// key returned by createUpload with purpose DELIVERY_REPORT
    pub file_key: Option<String>,
}

#[derive(InputObject)]
pub struct RequestRevisionInput {
    pub order_id: ID,
    pub message: String,
}

#[derive(SimpleObject)]
pub struct OrderPayload {
    pub order: Option<Order>,
    pub user_errors: Vec<UserError>,
}

impl Payload for OrderPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        OrderPayload {
            order: None,
            user_errors,
        }
    }
}

fn payload(order: orders::Model) -> OrderPayload {
    OrderPayload {
        order: Some(Order(order)),
        user_errors: Vec::new(),
    }
}

#[derive(Default)]
pub struct OrdersQuery;

#[Object]
impl OrdersQuery {
    /// An order, for its buyer, its provider and admins.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
        Ok(service::order_for_viewer(ctx.state()?, ctx.viewer(), &id)
            .await?
            .map(Order))
    }

    /// the viewer's orders, as buyer, as provider, or all for admins
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<OrderFilter>,
    ) -> async_graphql::Result<OrderConnection> {
        let page = PageRequest::<OrderCursor>::parse(first, after.as_deref())?;
        let f = filter.unwrap_or_default();
        let filter = service::OrderFilter {
            as_buyer: f.role.map(|r| r == OrderRoleGql::Buyer),
            statuses: f
                .status
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            provider_id: f.provider_id.map(|id| id.to_string()),
            listing_id: f.listing_id.map(|id| id.to_string()),
        };
        let page = service::list_orders(ctx.state()?, ctx.viewer(), filter, page).await?;
        Ok(OrderConnection::build(
            page,
            |o| encode_cursor(&OrderCursor { id: o.id.clone() }),
            Order,
        ))
    }
}

#[derive(Default)]
pub struct OrdersMutation;

async fn run(
    ctx: &Context<'_>,
    order_id: &str,
    command: Command<'_>,
    note: Option<&str>,
) -> async_graphql::Result<OrderPayload> {
    let result = service::command(ctx.state()?, ctx.viewer(), order_id, command, note).await;
    into_payload(result, payload)
}

#[Object]
impl OrdersMutation {
    /// Orders a FIXED-price listing: price, fee and policy are frozen; an invoice is issued in
    /// the provider's tenant; a STRIPE order authorizes the buyer's card (captured on claim).
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        input: PlaceOrderInput,
    ) -> async_graphql::Result<OrderPayload> {
        let result = service::place_order(
            ctx.state()?,
            ctx.viewer(),
            service::PlaceOrder {
                listing_id: &input.listing_id,
                script_id: input.script_id.as_deref(),
                project_id: input.project_id.as_deref(),
                notes: input.notes.as_deref(),
                idempotency_key: input.idempotency_key.as_deref(),
            },
        )
        .await;
        into_payload(result, payload)
    }

    /// The buyer says it paid a MANUAL order (invoice PENDING_CONFIRMATION).
    async fn mark_order_paid(
        &self,
        ctx: &Context<'_>,
        input: MarkOrderPaidInput,
    ) -> async_graphql::Result<OrderPayload> {
        run(
            ctx,
            &input.order_id,
            Command::MarkPaid {
                method: &input.method,
                reference: &input.reference,
            },
            None,
        )
        .await
    }

    /// The provider confirms a MANUAL payment arrived (PAYMENT_HELD, invoice PAID).
    async fn confirm_order_payment(
        &self,
        ctx: &Context<'_>,
        input: OrderIdInput,
    ) -> async_graphql::Result<OrderPayload> {
        run(
            ctx,
            &input.order_id,
            Command::ConfirmPayment,
            input.note.as_deref(),
        )
        .await
    }

    /// The provider takes the order: the payment is captured and the SLA clock starts.
    async fn claim_order(
        &self,
        ctx: &Context<'_>,
        input: OrderIdInput,
    ) -> async_graphql::Result<OrderPayload> {
        run(ctx, &input.order_id, Command::Claim, input.note.as_deref()).await
    }

    /// The provider refuses a paid order: the authorization is released.
    async fn decline_order(
        &self,
        ctx: &Context<'_>,
        input: OrderIdInput,
    ) -> async_graphql::Result<OrderPayload> {
        run(
            ctx,
            &input.order_id,
            Command::Decline,
            input.note.as_deref(),
        )
        .await
    }

    async fn start_order(
        &self,
        ctx: &Context<'_>,
        input: OrderIdInput,
    ) -> async_graphql::Result<OrderPayload> {
        run(ctx, &input.order_id, Command::Start, input.note.as_deref()).await
    }

    /// The provider delivers its report; the auto-complete timer starts.
    async fn deliver_order(
        &self,
        ctx: &Context<'_>,
        input: DeliverOrderInput,
    ) -> async_graphql::Result<OrderPayload> {
        let delivery = DeliveryInput {
            file_key: input.file_key,
            file: None,
            summary: input.summary,
            strengths: input.strengths.unwrap_or_default(),
            weaknesses: input.weaknesses.unwrap_or_default(),
            recommendations: input.recommendations.unwrap_or_default(),
            score: input.score,
        };
        run(ctx, &input.order_id, Command::Deliver(delivery), None).await
    }

    /// The buyer asks for another revision while revisions remain.
    async fn request_revision(
        &self,
        ctx: &Context<'_>,
        input: RequestRevisionInput,
    ) -> async_graphql::Result<OrderPayload> {
        run(
            ctx,
            &input.order_id,
            Command::RequestRevision {
                message: &input.message,
            },
            None,
        )
        .await
    }

    /// The buyer accepts the delivery: the provider is paid.
    async fn complete_order(
        &self,
        ctx: &Context<'_>,
        input: OrderIdInput,
    ) -> async_graphql::Result<OrderPayload> {
        run(
            ctx,
            &input.order_id,
            Command::Complete,
            input.note.as_deref(),
        )
        .await
    }

    /// The buyer cancels: before the claim nothing moves; past the deadline it is refunded.
    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        input: CancelOrderInput,
    ) -> async_graphql::Result<OrderPayload> {
        run(
            ctx,
            &input.order_id,
            Command::Cancel {
                reason: &input.reason,
            },
            None,
        )
        .await
    }
}
