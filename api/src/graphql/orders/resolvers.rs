//! The viewer's orders, and one mutation per action of the state machine.
use async_graphql::{Context, Object, ID};

use super::*;
use crate::graphql::errors::into_payload;
use crate::graphql::ContextExt;
use crate::pagination::{encode_cursor, PageRequest};
use crate::services::orders::{self as service, Command, DeliveryInput, OrderCursor};

#[derive(Default)]
pub struct OrdersQuery;

#[Object]
impl OrdersQuery {
    /// Stripe's publishable key, for Stripe's Payment Element with `Order.paymentClientSecret`;
    /// null when card payments are simulated (they are then held at once).
    async fn stripe_publishable_key(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<String>> {
        Ok(ctx
            .state()?
            .settings
            .stripe
            .as_ref()
            .and_then(|stripe| stripe.publishable_key.clone()))
    }

    /// An order, for its buyer, its provider and admins.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
        Ok(service::order_for_viewer(ctx.state()?, ctx.viewer(), &id)
            .await?
            .map(Order::from))
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
            Order::from,
        ))
    }
}

#[derive(Default)]
pub struct OrdersMutation;

pub(crate) async fn run(
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
