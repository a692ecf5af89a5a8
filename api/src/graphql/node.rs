//! The `Node` interface: any object by its type-prefixed id.
use async_graphql::{Context, Interface, Object, ID};

use super::accounts::User;
use super::contacts::Contact;
use super::disputes::Dispute;
use super::invoicing::{Invoice, Payment};
use super::listings::Listing;
use super::loaders::loader_error;
use super::messaging::{Message, MessageThread};
use super::orders::{Delivery, Order, OrderEvent};
use super::reviews::Review;
use super::sellers::{Provider, Tenant};
use super::ContextExt;
use crate::error::ApiError;
use crate::ids::{self, Kind};
use crate::services::{
    disputes as dispute_service, listings as listing_service, messaging as messaging_service,
    orders as order_service, reviews as review_service, sellers as seller_service,
};

/// Every addressable object.
// Each value lives for one field resolution; boxing the large rows buys nothing here.
#[allow(clippy::large_enum_variant)]
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    User(User),
    Tenant(Tenant),
    Provider(Provider),
    Listing(Listing),
    Order(Order),
    OrderEvent(OrderEvent),
    Delivery(Delivery),
    MessageThread(MessageThread),
    Message(Message),
    Dispute(Dispute),
    Review(Review),
    Contact(Contact),
    Invoice(Invoice),
    Payment(Payment),
}

/// Most ids one `nodes` call resolves.
pub const MAX_NODES: usize = 100;

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by id; null when it does not exist or the viewer may not read it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        resolve(ctx, &id).await
    }

    /// Objects by id, in the order asked (at most 100); null where `node` would be null.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(ApiError::BadInput(format!("at most {MAX_NODES} ids per call")).into());
        }
        let mut out = Vec::with_capacity(ids.len());
        // The loaders batch these into one query per type.
        let futures = ids.iter().map(|id| resolve(ctx, id));
        for node in futures_util::future::join_all(futures).await {
            out.push(node?);
        }
        Ok(out)
    }
}

async fn resolve(ctx: &Context<'_>, id: &str) -> async_graphql::Result<Option<Node>> {
    match ids::kind_of(id) {
        Some(Kind::User) => Ok(User::load(ctx, id).await?.map(Node::User)),
        Some(Kind::Tenant) => Ok(
            seller_service::tenant_for_viewer(ctx.state()?, ctx.viewer(), id)
                .await?
                .map(|t| Node::Tenant(Tenant(t))),
        ),
        Some(Kind::Provider) => Ok(ctx
            .loaders()?
            .providers
            .load_one(id.to_owned())
            .await
            .map_err(loader_error)?
            .filter(|p| seller_service::provider_visible(ctx.viewer(), p))
            .map(|p| Node::Provider(Provider(p)))),
        Some(Kind::Listing) => {
            Ok(
                listing_service::listing_for_viewer(ctx.state()?, ctx.viewer(), Some(id), None)
                    .await?
                    .map(|l| Node::Listing(Listing(l))),
            )
        }
        Some(Kind::Order) => Ok(
            order_service::order_for_viewer(ctx.state()?, ctx.viewer(), id)
                .await?
                .map(|o| Node::Order(Order::from(o))),
        ),
        Some(Kind::OrderEvent) => {
            let event = order_service::event_for_viewer(ctx.state()?, ctx.viewer(), id).await?;
            Ok(event.map(|e| Node::OrderEvent(OrderEvent::new(e))))
        }
        Some(Kind::Delivery) => {
            let delivery =
                order_service::delivery_for_viewer(ctx.state()?, ctx.viewer(), id).await?;
            Ok(delivery.map(|d| Node::Delivery(Delivery(d))))
        }
        Some(Kind::Thread) => {
            let thread =
                messaging_service::thread_for_viewer(ctx.state()?, ctx.viewer(), id).await?;
            Ok(thread.map(|t| Node::MessageThread(MessageThread::new(t))))
        }
        Some(Kind::Message) => {
            let message =
                messaging_service::message_for_viewer(ctx.state()?, ctx.viewer(), id).await?;
            Ok(message.map(|m| Node::Message(Message(m))))
        }
        Some(Kind::Dispute) => {
            let dispute = dispute_service::for_viewer(ctx.state()?, ctx.viewer(), id).await?;
            Ok(dispute.map(|d| Node::Dispute(Dispute(d))))
        }
        Some(Kind::Review) => {
            let review = review_service::find(ctx.state()?, id).await?;
            Ok(review.map(|r| Node::Review(Review(r))))
        }
        Some(Kind::Contact) => {
            let contact =
                crate::services::contacts::for_viewer(ctx.state()?, ctx.viewer(), id).await?;
            Ok(contact.map(|c| Node::Contact(Contact(c))))
        }
        Some(Kind::Invoice) => {
            let invoice =
                crate::services::invoices::for_viewer(ctx.state()?, ctx.viewer(), id).await?;
            Ok(invoice.map(|i| Node::Invoice(Invoice(i))))
        }
        Some(Kind::Payment) => {
            let payment =
                crate::services::invoices::payment_for_viewer(ctx.state()?, ctx.viewer(), id)
                    .await?;
            Ok(payment.map(|p| Node::Payment(Payment(p))))
        }
        _ => Ok(None),
    }
}
