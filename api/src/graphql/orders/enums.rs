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

mirror_enum!(ActorKindGql, "ActorKind", entity::order_events::ActorKind, {
    Buyer, Provider, Admin, System, PaymentProcessor,
});

mirror_enum!(PaymentModeGql, "PaymentMode", machine::PaymentMode, { Stripe, Manual });

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "OrderRole")]
pub enum OrderRoleGql {
    Buyer,
    Provider,
}
