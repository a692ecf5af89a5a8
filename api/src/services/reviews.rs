//! Reviews: the buyer rates a delivered order once, the provider replies once; the provider's
//! rating sum and count change in the review's own transaction.
use entity::{orders, providers, reviews};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::orders as order_service;
use super::Viewer;
use crate::domain::review as rules;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::ids::{self, Kind};
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;

fn invalid(field: &str, err: crate::domain::Invalid) -> ApiError {
    ApiError::refused(Refusal::invalid(field, err.0))
}

fn review_not_found() -> ApiError {
    ApiError::refused(Refusal::on_input(
        "reviewId",
        RefusalCode::NotFound,
        "no such review",
    ))
}

/// The order's buyer reviews it, once, when it is DELIVERED or COMPLETED.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    order_id: &str,
    rating: i32,
    comment: &str,
) -> ApiResult<reviews::Model> {
    let user = viewer.user()?.clone();
    let rating = rules::rating(rating).map_err(|e| invalid("rating", e))?;
    let comment = rules::comment(comment).map_err(|e| invalid("comment", e))?;
    let (order, roles) = order_service::order_with_roles(state, viewer, order_id).await?;
    if !roles.buyer {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::NotAllowed,
            "only the order's buyer may review it",
        )));
    }
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    // Read again inside the transaction: the status decides.
    let order = orders::Entity::find_by_id(order.id.clone())
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("order vanished")))?;
    if !rules::may_review(order.status) {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "an order can be reviewed once it is DELIVERED or COMPLETED",
        )));
    }
    let id = ids::new_id(Kind::Review);
    let inserted = reviews::ActiveModel {
        id: Set(id.clone()),
        order_id: Set(order.id.clone()),
        author_id: Set(user.id.clone()),
        provider_id: Set(order.provider_id.clone()),
        rating: Set(rating),
        comment: Set(comment),
        provider_reply: Set(None),
        replied_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await;
    let review = match inserted {
        Ok(review) => review,
        Err(err) if crate::db::is_unique_violation(&err, "reviews_order_key") => {
            return Err(ApiError::refused(Refusal::new(
                RefusalCode::AlreadyExists,
                "this order is already reviewed",
            )))
        }
        Err(err) => return Err(err.into()),
    };
    providers::Entity::update_many()
        .col_expr(
            providers::Column::RatingSum,
            Expr::col(providers::Column::RatingSum).add(i64::from(rating)),
        )
        .col_expr(
            providers::Column::ReviewCount,
            Expr::col(providers::Column::ReviewCount).add(1),
        )
        .filter(providers::Column::Id.eq(order.provider_id.clone()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(review)
}

/// The provider of the reviewed order replies, once.
pub async fn reply(
    state: &AppState,
    viewer: &Viewer,
    review_id: &str,
    reply: &str,
) -> ApiResult<reviews::Model> {
    let user = viewer.user()?;
    let reply = rules::reply(reply).map_err(|e| invalid("reply", e))?;
    let review = find(state, review_id).await?.ok_or_else(review_not_found)?;
    let provider = providers::Entity::find_by_id(review.provider_id.clone())
        .one(&state.db.reader)
        .await?;
    if provider.is_none_or(|p| p.user_id != user.id) {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::NotAllowed,
            "only the reviewed provider may reply",
        )));
    }
    let now = state.now();
    let updated = reviews::Entity::update_many()
        .col_expr(reviews::Column::ProviderReply, Expr::value(Some(reply)))
        .col_expr(reviews::Column::RepliedAt, Expr::value(Some(now)))
        .col_expr(reviews::Column::UpdatedAt, Expr::value(now))
        .filter(reviews::Column::Id.eq(review.id.clone()))
        .filter(reviews::Column::ProviderReply.is_null())
        .exec(&state.db.writer)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::AlreadyExists,
            "the review already has a reply",
        )));
    }
    find(state, review_id).await?.ok_or_else(review_not_found)
}

/// A review by id. Reviews are public, like the provider pages that show them.
pub async fn find(state: &AppState, review_id: &str) -> ApiResult<Option<reviews::Model>> {
    if !ids::is_kind(review_id, Kind::Review) {
        return Ok(None);
    }
    Ok(reviews::Entity::find_by_id(review_id.to_owned())
        .one(&state.db.reader)
        .await?)
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ReviewCursor {
    pub id: String,
}

/// A provider's reviews, newest first.
pub async fn of_provider(
    state: &AppState,
    provider_id: &str,
    page: PageRequest<ReviewCursor>,
) -> ApiResult<Page<reviews::Model>> {
    let conn = &state.db.reader;
    let query = reviews::Entity::find().filter(reviews::Column::ProviderId.eq(provider_id));
    let total = query.clone().count(conn).await?;
    let mut query = query;
    if let Some(after) = &page.after {
        query = query.filter(reviews::Column::Id.lt(after.id.clone()));
    }
    let rows = query
        .order_by_desc(reviews::Column::Id)
        .limit(page.fetch_limit())
        .all(conn)
        .await?;
    Ok(Page::from_overfetch(rows, &page, total))
}
