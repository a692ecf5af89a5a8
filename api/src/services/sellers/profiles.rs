//! Provider profiles: one per user, in a tenant of theirs or a personal one made for them,
//! with the PROVIDER role granted; updates by the owner.
use chrono::{DateTime, Utc};
use entity::{providers, tenants, users};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set, TransactionTrait};

use super::*;
use crate::db::is_unique_violation;
use crate::domain::account::Role;
use crate::domain::seller::{self, MemberRole, ProviderStatus, ProviderType, TenantPaymentMode};
use crate::domain::Invalid;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::ids::{self, Kind};
use crate::services::Viewer;
use crate::state::AppState;

pub struct ProviderInput<'a> {
    pub provider_type: ProviderType,
    pub display_name: &'a str,
    pub bio: &'a str,
    pub specialties: &'a [String],
    pub city: Option<&'a str>,
    pub state: Option<&'a str>,
    pub tenant_id: Option<&'a str>,
}

/// A provider with the onboarding link made for it, if any.
pub struct ProviderCreated {
    pub provider: providers::Model,
    pub onboarding_url: Option<String>,
    /// Onboarding could not be started; the provider exists and may retry.
    pub onboarding_error: Option<Refusal>,
}

#[tracing::instrument(skip_all)]
pub async fn create_provider(
    state: &AppState,
    viewer: &Viewer,
    input: ProviderInput<'_>,
) -> ApiResult<ProviderCreated> {
    let user = viewer.user()?;
    let mut errors = Vec::new();
    let mut check = |field: &'static str, r: Result<(), Invalid>| {
        if let Err(e) = r {
            errors.push(Refusal::invalid(field, e.0));
        }
    };
    let name = seller::provider_display_name(input.display_name);
    check(
        "displayName",
        name.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    let bio = seller::bio(input.bio);
    check("bio", bio.as_ref().map(|_| ()).map_err(Clone::clone));
    let specialties = seller::specialties(input.specialties);
    check(
        "specialties",
        specialties.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    let city = seller::place(input.city, "city");
    check("city", city.as_ref().map(|_| ()).map_err(Clone::clone));
    let region = seller::place(input.state, "state");
    check("state", region.as_ref().map(|_| ()).map_err(Clone::clone));
    let (Ok(name), Ok(bio), Ok(specialties), Ok(city), Ok(region)) =
        (name, bio, specialties, city, region)
    else {
        return Err(ApiError::Refused(errors));
    };

    let already = || {
        ApiError::refused(Refusal::new(
            RefusalCode::AlreadyExists,
            "this account already has a provider profile",
        ))
    };
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    if super::own_provider_id(&txn, &user.id).await?.is_some() {
        return Err(already());
    }
    let tenant = match input.tenant_id {
        Some(tenant_id) => match tenants::Entity::find_by_id(tenant_id.to_owned())
            .one(&txn)
            .await?
        {
            Some(t) if is_member(&txn, &t.id, &user.id).await? => t,
            _ => return Err(not_found("tenantId", "tenant")),
        },
        None => {
            // A personal tenant, paid through Stripe Connect.
            let tenant = insert_tenant(&txn, &name, TenantPaymentMode::Stripe, None, now).await?;
            add_member(&txn, &tenant.id, &user.id, MemberRole::Owner, now).await?;
            tenant
        }
    };
    let provider = providers::ActiveModel {
        id: Set(ids::new_id(Kind::Provider)),
        user_id: Set(user.id.clone()),
        tenant_id: Set(tenant.id.clone()),
        provider_type: Set(input.provider_type),
        display_name: Set(name),
        bio: Set(bio),
        specialties: Set(serde_json::to_string(&specialties).map_err(anyhow::Error::from)?),
        city: Set(city),
        state: Set(region),
        status: Set(ProviderStatus::PendingVerification),
        status_reason: Set(None),
        rating_sum: Set(0),
        review_count: Set(0),
        total_orders_completed: Set(0),
        starting_price_cents: Set(None),
        starting_price_currency: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let provider = match provider.insert(&txn).await {
        Ok(p) => p,
        Err(err) if is_unique_violation(&err, "providers_user_key") => return Err(already()),
        Err(err) => return Err(err.into()),
    };
    record_status_change(
        &txn,
        &provider.id,
        None,
        ProviderStatus::PendingVerification,
        "profile created",
        Some(&user.id),
        now,
    )
    .await?;
    grant_role(&txn, &user.id, Role::Provider, now).await?;
    txn.commit().await?;

    let mut created = ProviderCreated {
        provider,
        onboarding_url: None,
        onboarding_error: None,
    };
    if tenant.payment_mode == TenantPaymentMode::Stripe {
        match start_onboarding_for(state, &tenant, &user.id).await {
            Ok(url) => created.onboarding_url = Some(url),
            Err(err) => {
                tracing::error!(error = ?err, tenant = %tenant.id, "starting Stripe onboarding failed");
                created.onboarding_error = Some(Refusal::new(
                    RefusalCode::PaymentFailed,
                    "the provider was created, but payment onboarding could not start; try startProviderOnboarding",
                ));
            }
        }
    }
    Ok(created)
}

pub(crate) async fn grant_role(
    conn: &impl ConnectionTrait,
    user_id: &str,
    role: Role,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let Some(user) = users::Entity::find_by_id(user_id.to_owned())
        .one(conn)
        .await?
    else {
        return Ok(());
    };
    let mut roles = crate::services::accounts::stored_roles(&user)?;
    if roles.contains(role) {
        return Ok(());
    }
    roles.insert(role);
    let mut active: users::ActiveModel = user.into();
    active.roles = Set(roles.to_stored());
    active.updated_at = Set(now);
    active.update(conn).await?;
    Ok(())
}

pub struct ProviderPatch<'a> {
    pub provider_id: &'a str,
    pub display_name: Option<&'a str>,
    pub bio: Option<&'a str>,
    pub specialties: Option<&'a [String]>,
    pub city: Option<&'a str>,
    pub state: Option<&'a str>,
}

/// The provider `provider_id` if the viewer owns it; NOT_FOUND otherwise (existence is not
/// revealed to others).
pub(crate) async fn owned_provider(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    provider_id: &str,
) -> ApiResult<providers::Model> {
    let user = viewer.user()?;
    match providers::Entity::find_by_id(provider_id.to_owned())
        .one(conn)
        .await?
    {
        Some(p) if p.user_id == user.id => Ok(p),
        _ => Err(not_found("providerId", "provider")),
    }
}

#[tracing::instrument(skip_all)]
pub async fn update_provider(
    state: &AppState,
    viewer: &Viewer,
    patch: ProviderPatch<'_>,
) -> ApiResult<providers::Model> {
    let txn = state.db.writer.begin().await?;
    let provider = owned_provider(&txn, viewer, patch.provider_id).await?;
    let mut active: providers::ActiveModel = provider.into();
    if let Some(name) = patch.display_name {
        active.display_name =
            Set(seller::provider_display_name(name).map_err(refused_on("displayName"))?);
    }
    if let Some(bio) = patch.bio {
        active.bio = Set(seller::bio(bio).map_err(refused_on("bio"))?);
    }
    if let Some(list) = patch.specialties {
        let list = seller::specialties(list).map_err(refused_on("specialties"))?;
        active.specialties = Set(serde_json::to_string(&list).map_err(anyhow::Error::from)?);
    }
    if let Some(city) = patch.city {
        active.city = Set(seller::place(Some(city), "city").map_err(refused_on("city"))?);
    }
    if let Some(region) = patch.state {
        active.state = Set(seller::place(Some(region), "state").map_err(refused_on("state"))?);
    }
    active.updated_at = Set(state.now());
    let provider = active.update(&txn).await?;
    txn.commit().await?;
    Ok(provider)
}
