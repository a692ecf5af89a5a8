//! Sellers: tenants and their members, providers, verification by admins, and Stripe Connect
//! onboarding through the payment gateway.
mod moderation;
mod onboarding;
mod profiles;
mod tenancy;

pub use moderation::*;
pub use onboarding::*;
pub use profiles::*;
pub use tenancy::*;

use entity::{providers, tenants};
use sea_orm::{ConnectionTrait, EntityTrait};

use super::{not_found_on as not_found, refused_on, Viewer};
use crate::domain::seller::{self, PaymentSetup, ProviderStatus};
use crate::error::{ApiError, ApiResult};

pub fn payment_setup(tenant: &tenants::Model) -> PaymentSetup {
    PaymentSetup {
        mode: tenant.payment_mode,
        stripe_onboarding_complete: tenant.stripe_onboarding_complete,
        requirements_past_due: tenant.requirements_past_due,
    }
}

/// A slug of `text` not yet taken: the plain slug, or the slug with a short random suffix.
pub async fn unique_slug<E, F>(
    conn: &impl ConnectionTrait,
    text: &str,
    find: F,
) -> ApiResult<String>
where
    E: EntityTrait,
    F: Fn(&str) -> sea_orm::Select<E>,
{
    let base = seller::slugify(text, 200);
    let mut candidate = base.clone();
    for _ in 0..5 {
        if find(&candidate).one(conn).await?.is_none() {
            return Ok(candidate);
        }
        let suffix = crate::auth::random_token(6)
            .to_lowercase()
            .replace(['-', '_'], "x");
        candidate = format!("{base}-{}", &suffix[..6.min(suffix.len())]);
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "could not find a free slug for {base}"
    )))
}

/// A provider the viewer may see: ACTIVE ones for everyone, any for its owner and admins.
/// The id of the user's provider profile (a user has at most one), if any.
pub async fn own_provider_id(
    conn: &impl ConnectionTrait,
    user_id: &str,
) -> ApiResult<Option<String>> {
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(providers::Entity::find()
        .filter(providers::Column::UserId.eq(user_id.to_owned()))
        .one(conn)
        .await?
        .map(|p| p.id))
}

pub fn provider_visible(viewer: &Viewer, provider: &providers::Model) -> bool {
    provider.status == ProviderStatus::Active || viewer.is_self_or_admin(&provider.user_id)
}

/// Specialties as stored (a JSON array of strings).
pub fn specialties_of(provider: &providers::Model) -> Vec<String> {
    serde_json::from_str(&provider.specialties).unwrap_or_default()
}
