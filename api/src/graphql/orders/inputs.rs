//! Order inputs and the payload every order mutation returns.
use async_graphql::{InputObject, SimpleObject, ID};
use entity::orders;

use super::*;
use crate::graphql::errors::{Payload, UserError};

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

pub(crate) fn payload(order: orders::Model) -> OrderPayload {
    OrderPayload {
        order: Some(Order::from(order)),
        user_errors: Vec::new(),
    }
}
