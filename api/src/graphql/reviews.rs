//! Reviews: the type, the provider's list, and the buyer's and provider's mutations.
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use entity::reviews;

use super::accounts::User;
use super::connection::connection;
use super::errors::{into_payload, Payload, UserError};
use super::orders::Order;
use super::scalars::DateTime;
use super::sellers::Provider;
use super::ContextExt;
use crate::error::ApiError;
use crate::services::reviews as service;

/// A buyer's review of a delivered order. Reviews are public; the order behind one is not.
#[derive(Clone)]
pub struct Review(pub reviews::Model);

#[Object]
impl Review {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// for the order's buyer, its provider and admins; anyone else gets FORBIDDEN here
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Order> {
        Order::load_for_viewer(ctx, &self.0.order_id)
            .await?
            .ok_or_else(|| {
                ApiError::Forbidden("only the order's parties may see the order".into()).into()
            })
    }
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        User::load_referenced(ctx, &self.0.author_id, "review").await
    }
    async fn provider(&self, ctx: &Context<'_>) -> async_graphql::Result<Provider> {
        Provider::load_referenced(ctx, &self.0.provider_id, "review").await
    }
    /// 1..5
    async fn rating(&self) -> i32 {
        self.0.rating
    }
    async fn comment(&self) -> &str {
        &self.0.comment
    }
    async fn provider_reply(&self) -> Option<&str> {
        self.0.provider_reply.as_deref()
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

connection!(ReviewConnection, ReviewEdge, Review);

#[derive(InputObject)]
pub struct CreateReviewInput {
    pub order_id: ID,
    pub rating: i32,
    #[graphql(default_with = "Some(String::new())")]
    pub comment: Option<String>,
}

#[derive(InputObject)]
pub struct ReplyToReviewInput {
    pub review_id: ID,
    pub reply: String,
}

#[derive(SimpleObject)]
pub struct ReviewPayload {
    pub review: Option<Review>,
    pub user_errors: Vec<UserError>,
}

impl Payload for ReviewPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        ReviewPayload {
            review: None,
            user_errors,
        }
    }
}

fn payload(review: reviews::Model) -> ReviewPayload {
    ReviewPayload {
        review: Some(Review(review)),
        user_errors: Vec::new(),
    }
}

#[derive(Default)]
pub struct ReviewsMutation;

#[Object]
impl ReviewsMutation {
    /// the order's buyer rates it (1..5), once, when it is DELIVERED or COMPLETED
    async fn create_review(
        &self,
        ctx: &Context<'_>,
        input: CreateReviewInput,
    ) -> async_graphql::Result<ReviewPayload> {
        let result = service::create(
            ctx.state()?,
            ctx.viewer(),
            &input.order_id,
            input.rating,
            input.comment.as_deref().unwrap_or_default(),
        )
        .await;
        into_payload(result, payload)
    }

    /// the reviewed provider answers, once
    async fn reply_to_review(
        &self,
        ctx: &Context<'_>,
        input: ReplyToReviewInput,
    ) -> async_graphql::Result<ReviewPayload> {
        let result =
            service::reply(ctx.state()?, ctx.viewer(), &input.review_id, &input.reply).await;
        into_payload(result, payload)
    }
}
