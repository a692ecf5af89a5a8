//! Disputes: the type, the admins' queue, and the buyer's and admins' mutations.
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use entity::{chargebacks, disputes};

use super::accounts::User;
use super::connection::connection;
use super::errors::{into_payload, Payload, UserError};
use super::loaders::loader_error;
use super::money::Money;
use super::orders::Order;
use super::scalars::{BigInt, DateTime};
use super::sellers::mirror_enum;
use super::ContextExt;
use crate::domain::dispute::OutcomeKind;
use crate::error::ApiError;
use crate::pagination::{encode_cursor, PageRequest};
use crate::services::disputes::{self as service, DisputeCursor, Resolution};

mirror_enum!(DisputeReasonGql, "DisputeReason", crate::domain::dispute::DisputeReason, {
    NonDelivery, Quality, Other,
});
mirror_enum!(DisputeStatusGql, "DisputeStatus", crate::domain::dispute::DisputeStatus, {
    Open, UnderReview, ResolvedRefund, ResolvedNoRefund, ResolvedPartial,
});
mirror_enum!(DisputeOutcomeGql, "DisputeOutcome", OutcomeKind, {
    Refund, NoRefund, Partial,
});

mirror_enum!(ChargebackStatusGql, "ChargebackStatus", chargebacks::ChargebackStatus, {
    Open, Won, Lost,
});

/// A chargeback: the card network disputes the order's charge at the payment processor, which
/// decides. While OPEN the order is DISPUTED and no payout leaves; WON returns the order where
/// it stood (`priorStatus`) and pays out again; LOST refunds the buyer through the bank and the
/// order is REFUNDED. Read with its order.
#[derive(Clone)]
pub struct Chargeback(pub chargebacks::Model);

#[Object]
impl Chargeback {
    async fn status(&self) -> ChargebackStatusGql {
        self.0.status.into()
    }
    /// the amount the card network disputes
    async fn amount(&self) -> Money {
        Money::new(self.0.amount_cents, &self.0.currency)
    }
    /// the network's reason as the payment processor names it (`fraudulent`, `general`, …)
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// where the order stood when the chargeback froze it
    async fn prior_status(&self) -> super::orders::OrderStatusGql {
        self.0.prior_status.into()
    }
    async fn opened_at(&self) -> DateTime {
        DateTime(self.0.opened_at)
    }
    async fn closed_at(&self) -> Option<DateTime> {
        self.0.closed_at.map(DateTime)
    }
}

/// A dispute on an order; its buyer, its provider and admins may read it.
#[derive(Clone)]
pub struct Dispute(pub disputes::Model);

#[Object]
impl Dispute {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// readable by whoever reads the dispute: its buyer, its provider, admins
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Order> {
        ctx.loaders()?
            .orders
            .load_one(self.0.order_id.clone())
            .await
            .map_err(loader_error)?
            .map(Order::from)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("dispute without order")).into())
    }
    async fn opened_by(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        User::load_referenced(ctx, &self.0.opened_by, "dispute").await
    }
    async fn reason(&self) -> DisputeReasonGql {
        self.0.reason.into()
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn status(&self) -> DisputeStatusGql {
        self.0.status.into()
    }
    async fn admin_notes(&self) -> Option<&str> {
        self.0.admin_notes.as_deref()
    }
    /// what the buyer got back, once resolved
    async fn refund_amount(&self) -> Option<Money> {
        self.0
            .refund_cents
            .map(|cents| Money::new(cents, &self.0.currency))
    }
    async fn resolved_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match &self.0.resolved_by {
            Some(id) => User::load(ctx, id).await,
            None => Ok(None),
        }
    }
    async fn resolved_at(&self) -> Option<DateTime> {
        self.0.resolved_at.map(DateTime)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

connection!(DisputeConnection, DisputeEdge, Dispute);

#[derive(InputObject)]
pub struct OpenDisputeInput {
    pub order_id: ID,
    pub reason: DisputeReasonGql,
    pub description: String,
}

#[derive(InputObject)]
pub struct ResolveDisputeInput {
    pub dispute_id: ID,
    pub outcome: DisputeOutcomeGql,
    pub admin_notes: String,
    /// required for PARTIAL: 1 .. order price - 1
    pub refund_cents: Option<BigInt>,
}

#[derive(InputObject)]
pub struct DisputeIdInput {
    pub dispute_id: ID,
}

#[derive(SimpleObject)]
pub struct DisputePayload {
    pub dispute: Option<Dispute>,
    pub order: Option<Order>,
    pub user_errors: Vec<UserError>,
}

impl Payload for DisputePayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        DisputePayload {
            dispute: None,
            order: None,
            user_errors,
        }
    }
}

fn payload((dispute, order): (disputes::Model, entity::orders::Model)) -> DisputePayload {
    DisputePayload {
        dispute: Some(Dispute(dispute)),
        order: Some(Order::from(order)),
        user_errors: Vec::new(),
    }
}

#[derive(Default)]
pub struct DisputesQuery;

#[Object]
impl DisputesQuery {
    /// every dispute, oldest first (admins only); filter by status for the open queue
    async fn disputes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<Vec<DisputeStatusGql>>,
    ) -> async_graphql::Result<DisputeConnection> {
        let page = PageRequest::<DisputeCursor>::parse(first, after.as_deref())?;
        let statuses: Vec<_> = status
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        let page = service::list(ctx.state()?, ctx.viewer(), &statuses, page).await?;
        Ok(DisputeConnection::build(
            page,
            |d| encode_cursor(&DisputeCursor { id: d.id.clone() }),
            Dispute,
        ))
    }
}

#[derive(Default)]
pub struct DisputesMutation;

#[Object]
impl DisputesMutation {
    /// the buyer disputes an order: once delivered for any reason; before that only
    /// NON_DELIVERY, once the order is late. The order becomes DISPUTED and its timers stop.
    async fn open_dispute(
        &self,
        ctx: &Context<'_>,
        input: OpenDisputeInput,
    ) -> async_graphql::Result<DisputePayload> {
        let result = service::open(
            ctx.state()?,
            ctx.viewer(),
            &input.order_id,
            input.reason.into(),
            &input.description,
        )
        .await;
        into_payload(result, payload)
    }

    /// an admin takes an OPEN dispute under review
    async fn review_dispute(
        &self,
        ctx: &Context<'_>,
        input: DisputeIdInput,
    ) -> async_graphql::Result<DisputePayload> {
        let result = service::review(ctx.state()?, ctx.viewer(), &input.dispute_id).await;
        into_payload(result, payload)
    }

    /// an admin resolves an open dispute; the order's money moves as the outcome says
    async fn resolve_dispute(
        &self,
        ctx: &Context<'_>,
        input: ResolveDisputeInput,
    ) -> async_graphql::Result<DisputePayload> {
        let result = service::resolve(
            ctx.state()?,
            ctx.viewer(),
            &input.dispute_id,
            Resolution {
                outcome: input.outcome.into(),
                admin_notes: &input.admin_notes,
                refund_cents: input.refund_cents.map(|c| c.0),
            },
        )
        .await;
        into_payload(result, payload)
    }
}
