//! Provider moderation by admins: each status change a conditional update, kept with its actor
//! and reason.
use chrono::{DateTime, Utc};
use entity::{provider_status_changes, providers};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};

use super::*;
use crate::domain::seller::{self, ProviderStatus};
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::ids::{self, Kind};
use crate::services::Viewer;
use crate::state::AppState;
use sea_orm::ActiveEnum as _;

pub(crate) async fn record_status_change(
    conn: &impl ConnectionTrait,
    provider_id: &str,
    from: Option<ProviderStatus>,
    to: ProviderStatus,
    reason: &str,
    actor_id: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    provider_status_changes::ActiveModel {
        id: Set(ids::new_id(Kind::ProviderStatusChange)),
        provider_id: Set(provider_id.to_owned()),
        from_status: Set(from),
        to_status: Set(to),
        reason: Set(reason.to_owned()),
        actor_id: Set(actor_id.map(str::to_owned)),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Moves a provider from `from` to `to` if it is still `from`, and keeps the change with its
/// reason and actor; false when it had moved meanwhile (nothing written).
pub(crate) async fn change_status(
    conn: &impl ConnectionTrait,
    provider_id: &str,
    from: ProviderStatus,
    to: ProviderStatus,
    reason: &str,
    actor_id: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<bool> {
    let updated = providers::Entity::update_many()
        .col_expr(providers::Column::Status, Expr::value(to))
        .col_expr(providers::Column::StatusReason, Expr::value(reason))
        .col_expr(providers::Column::UpdatedAt, Expr::value(now))
        .filter(providers::Column::Id.eq(provider_id))
        .filter(providers::Column::Status.eq(from))
        .exec(conn)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(false);
    }
    record_status_change(conn, provider_id, Some(from), to, reason, actor_id, now).await?;
    Ok(true)
}

/// Verification and moderation by admins; every change is kept with its reason.
#[tracing::instrument(skip(state, viewer, reason))]
pub async fn set_provider_status(
    state: &AppState,
    viewer: &Viewer,
    provider_id: &str,
    to: ProviderStatus,
    reason: &str,
) -> ApiResult<providers::Model> {
    let admin = viewer.admin()?;
    let reason = crate::domain::account::status_reason(reason).map_err(refused_on("reason"))?;
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let provider = providers::Entity::find_by_id(provider_id.to_owned())
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("providerId", "provider"))?;
    let from = provider.status;
    if !seller::provider_can_become(from, to) {
        return Err(ApiError::refused(Refusal::on_input(
            "status",
            RefusalCode::InvalidState,
            format!(
                "a {} provider cannot become {}",
                from.to_value(),
                to.to_value()
            ),
        )));
    }
    // Conditional on the status read: a concurrent change makes this one a CONFLICT.
    if !change_status(&txn, &provider.id, from, to, &reason, Some(&admin.id), now).await? {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::Conflict,
            "the provider changed meanwhile; read it again",
        )));
    }
    let provider = providers::Entity::find_by_id(provider.id)
        .one(&txn)
        .await?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("provider vanished in its transaction"))
        })?;
    txn.commit().await?;
    Ok(provider)
}
