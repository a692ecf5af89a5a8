//! The order enums of the API, mirroring the domain's.
use async_graphql::Enum;

use crate::domain::order::{self as machine, OrderStatus};
use crate::graphql::sellers::mirror_enum;

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

pub(crate) fn parse_status(stored: &str) -> OrderStatusGql {
    OrderStatus::parse(stored)
        .unwrap_or(OrderStatus::Cancelled)
        .into()
}
