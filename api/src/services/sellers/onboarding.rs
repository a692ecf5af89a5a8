//! Stripe Connect onboarding of a tenant: the connected account made once, links made on demand,
//! and the account's state applied when Stripe reports it.
use chrono::{DateTime, Utc};
use entity::{providers, tenants, users};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::*;
use crate::domain::seller::TenantPaymentMode;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::payments::{ConnectedAccount, NewConnectedAccount};
use crate::services::Viewer;
use crate::state::AppState;

/// A fresh onboarding link for the viewer's provider (creating the connected account once).
#[tracing::instrument(skip_all)]
pub async fn start_provider_onboarding(
    state: &AppState,
    viewer: &Viewer,
    provider_id: &str,
) -> ApiResult<(providers::Model, String)> {
    let provider = owned_provider(&state.db.reader, viewer, provider_id).await?;
    let tenant = tenants::Entity::find_by_id(provider.tenant_id.clone())
        .one(&state.db.reader)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("provider without tenant")))?;
    if tenant.payment_mode != TenantPaymentMode::Stripe {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "the provider's tenant is not in STRIPE payment mode",
        )));
    }
    let url = start_onboarding_for(state, &tenant, &provider.user_id)
        .await
        .map_err(|err| {
            tracing::error!(error = ?err, "starting Stripe onboarding failed");
            ApiError::refused(Refusal::new(
                RefusalCode::PaymentFailed,
                "payment onboarding could not start; try again",
            ))
        })?;
    Ok((provider, url))
}

/// Creates the tenant's connected account if it has none (idempotently, keyed by the tenant),
/// records its state, and returns a fresh onboarding link.
pub(crate) async fn start_onboarding_for(
    state: &AppState,
    tenant: &tenants::Model,
    user_id: &str,
) -> anyhow::Result<String> {
    let account_id = match &tenant.stripe_account_id {
        Some(id) => id.clone(),
        None => {
            let email = users::Entity::find_by_id(user_id.to_owned())
                .one(&state.db.reader)
                .await?
                .map(|u| u.email)
                .unwrap_or_default();
            let account = state
                .gateway
                .create_connected_account(NewConnectedAccount {
                    tenant_id: &tenant.id,
                    email: &email,
                    country: "US",
                    idempotency_key: &format!("connect-account-{}", tenant.id),
                })
                .await?;
            // Only the first account sticks; a racing second call reads the stored one.
            tenants::Entity::update_many()
                .col_expr(
                    tenants::Column::StripeAccountId,
                    Expr::value(account.id.clone()),
                )
                .filter(tenants::Column::Id.eq(tenant.id.clone()))
                .filter(tenants::Column::StripeAccountId.is_null())
                .exec(&state.db.writer)
                .await?;
            apply_account(&state.db.writer, &account, state.now()).await?;
            tenants::Entity::find_by_id(tenant.id.clone())
                .one(&state.db.reader)
                .await?
                .and_then(|t| t.stripe_account_id)
                .unwrap_or(account.id)
        }
    };
    let base = state.public_base_url();
    let refresh_url = format!("{base}/onboarding/refresh?tenant={}", tenant.id);
    let return_url = format!("{base}/onboarding/return?tenant={}", tenant.id);
    state
        .gateway
        .create_onboarding_link(&account_id, &refresh_url, &return_url)
        .await
}

/// Records a connected account's current state on its tenant. Returns whether a tenant had it.
pub async fn apply_account(
    conn: &impl ConnectionTrait,
    account: &ConnectedAccount,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let updated = tenants::Entity::update_many()
        .col_expr(
            tenants::Column::StripeOnboardingComplete,
            Expr::value(account.details_submitted),
        )
        .col_expr(
            tenants::Column::ChargesEnabled,
            Expr::value(account.charges_enabled),
        )
        .col_expr(
            tenants::Column::PayoutsEnabled,
            Expr::value(account.payouts_enabled),
        )
        .col_expr(
            tenants::Column::RequirementsPastDue,
            Expr::value(account.requirements_past_due),
        )
        .col_expr(tenants::Column::UpdatedAt, Expr::value(now))
        .filter(tenants::Column::StripeAccountId.eq(account.id.clone()))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected > 0)
}
