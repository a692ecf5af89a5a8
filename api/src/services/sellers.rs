//! Sellers: tenants and their members, providers, verification by admins, and Stripe Connect
//! onboarding through the payment gateway.
use chrono::{DateTime, Utc};
use entity::{provider_status_changes, providers, tenant_members, tenants, users};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};

use super::Viewer;
use crate::db::is_unique_violation;
use crate::domain::account::{Role, Roles};
use crate::domain::seller::{
    self, MemberRole, PaymentSetup, ProviderStatus, ProviderType, TenantPaymentMode,
};
use crate::domain::Invalid;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::ids::{self, Kind};
use crate::payments::{ConnectedAccount, NewConnectedAccount};
use crate::state::AppState;

fn refused_on(field: &'static str) -> impl Fn(Invalid) -> ApiError {
    move |e| ApiError::refused(Refusal::invalid(field, e.0))
}

fn not_found(field: &str, what: &str) -> ApiError {
    ApiError::refused(Refusal::on_input(
        field,
        RefusalCode::NotFound,
        format!("no such {what}"),
    ))
}

pub fn payment_setup(tenant: &tenants::Model) -> PaymentSetup {
    PaymentSetup {
        mode: TenantPaymentMode::from_stored(&tenant.payment_mode),
        stripe_onboarding_complete: tenant.stripe_onboarding_complete,
        requirements_past_due: tenant.requirements_past_due,
    }
}

pub async fn is_member(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
) -> ApiResult<bool> {
    Ok(tenant_members::Entity::find()
        .filter(tenant_members::Column::TenantId.eq(tenant_id))
        .filter(tenant_members::Column::UserId.eq(user_id))
        .one(conn)
        .await?
        .is_some())
}

/// Members and admins may read a tenant's settings; for anyone else it does not exist.
pub async fn may_manage_tenant(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    tenant_id: &str,
) -> ApiResult<bool> {
    match viewer.id() {
        None => Ok(false),
        Some(_) if viewer.is_admin() => Ok(true),
        Some(user_id) => is_member(conn, tenant_id, user_id).await,
    }
}

pub struct TenantInput<'a> {
    pub name: &'a str,
    pub payment_mode: TenantPaymentMode,
    pub payment_instructions: Option<&'a str>,
}

#[tracing::instrument(skip_all)]
pub async fn create_tenant(
    state: &AppState,
    viewer: &Viewer,
    input: TenantInput<'_>,
) -> ApiResult<tenants::Model> {
    let user = viewer.user()?;
    let name = seller::tenant_name(input.name).map_err(refused_on("name"))?;
    let instructions = input
        .payment_instructions
        .map(seller::payment_instructions)
        .transpose()
        .map_err(refused_on("paymentInstructions"))?
        .flatten();
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let tenant = insert_tenant(&txn, &name, input.payment_mode, instructions, now).await?;
    add_member(&txn, &tenant.id, &user.id, MemberRole::Owner, now).await?;
    txn.commit().await?;
    Ok(tenant)
}

async fn insert_tenant(
    conn: &impl ConnectionTrait,
    name: &str,
    mode: TenantPaymentMode,
    instructions: Option<String>,
    now: DateTime<Utc>,
) -> ApiResult<tenants::Model> {
    let slug = unique_slug(conn, name, |slug| {
        tenants::Entity::find().filter(tenants::Column::Slug.eq(slug))
    })
    .await?;
    Ok(tenants::ActiveModel {
        id: Set(ids::new_id(Kind::Tenant)),
        name: Set(name.to_owned()),
        slug: Set(slug),
        payment_mode: Set(mode.as_str().to_owned()),
        payment_instructions: Set(instructions),
        stripe_account_id: Set(None),
        stripe_onboarding_complete: Set(false),
        charges_enabled: Set(false),
        payouts_enabled: Set(false),
        requirements_past_due: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?)
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

async fn add_member(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
    role: MemberRole,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    tenant_members::ActiveModel {
        id: Set(ids::new_id(Kind::TenantMember)),
        tenant_id: Set(tenant_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(())
}

pub struct TenantPatch<'a> {
    pub tenant_id: &'a str,
    pub name: Option<&'a str>,
    pub payment_mode: Option<TenantPaymentMode>,
    pub payment_instructions: Option<&'a str>,
}

#[tracing::instrument(skip_all)]
pub async fn update_tenant(
    state: &AppState,
    viewer: &Viewer,
    patch: TenantPatch<'_>,
) -> ApiResult<tenants::Model> {
    viewer.user()?;
    let txn = state.db.writer.begin().await?;
    let tenant = tenants::Entity::find_by_id(patch.tenant_id.to_owned())
        .one(&txn)
        .await?;
    let tenant = match tenant {
        Some(t) if may_manage_tenant(&txn, viewer, &t.id).await? => t,
        _ => return Err(not_found("tenantId", "tenant")),
    };
    let mut active: tenants::ActiveModel = tenant.into();
    if let Some(name) = patch.name {
        active.name = Set(seller::tenant_name(name).map_err(refused_on("name"))?);
    }
    if let Some(mode) = patch.payment_mode {
        active.payment_mode = Set(mode.as_str().to_owned());
    }
    if let Some(text) = patch.payment_instructions {
        active.payment_instructions =
            Set(seller::payment_instructions(text).map_err(refused_on("paymentInstructions"))?);
    }
    active.updated_at = Set(state.now());
    let tenant = active.update(&txn).await?;
    txn.commit().await?;
    Ok(tenant)
}

pub async fn tenant_for_viewer(
    state: &AppState,
    viewer: &Viewer,
    tenant_id: &str,
) -> ApiResult<Option<tenants::Model>> {
    if !ids::is_kind(tenant_id, Kind::Tenant) {
        return Ok(None);
    }
    let conn = &state.db.reader;
    match tenants::Entity::find_by_id(tenant_id.to_owned())
        .one(conn)
        .await?
    {
        Some(t) if may_manage_tenant(conn, viewer, &t.id).await? => Ok(Some(t)),
        _ => Ok(None),
    }
}

/// The tenants a user belongs to, oldest membership first (the user and admins only).
pub async fn tenants_of_user(
    state: &AppState,
    viewer: &Viewer,
    user_id: &str,
) -> ApiResult<Vec<tenants::Model>> {
    if !viewer.is_self_or_admin(user_id) {
        return Ok(Vec::new());
    }
    let members = tenant_members::Entity::find()
        .filter(tenant_members::Column::UserId.eq(user_id))
        .order_by_asc(tenant_members::Column::Id)
        .limit(100)
        .find_also_related(tenants::Entity)
        .all(&state.db.reader)
        .await?;
    Ok(members.into_iter().filter_map(|(_, t)| t).collect())
}

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
    if providers::Entity::find()
        .filter(providers::Column::UserId.eq(user.id.clone()))
        .one(&txn)
        .await?
        .is_some()
    {
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
        provider_type: Set(input.provider_type.as_str().to_owned()),
        display_name: Set(name),
        bio: Set(bio),
        specialties: Set(serde_json::to_string(&specialties).map_err(anyhow::Error::from)?),
        city: Set(city),
        state: Set(region),
        status: Set(ProviderStatus::PendingVerification.as_str().to_owned()),
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
    if TenantPaymentMode::from_stored(&tenant.payment_mode) == TenantPaymentMode::Stripe {
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

async fn grant_role(
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
    let mut roles = Roles::from_stored(&user.roles);
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

async fn record_status_change(
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
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        reason: Set(reason.to_owned()),
        actor_id: Set(actor_id.map(str::to_owned)),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
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
async fn owned_provider(
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
    let from = ProviderStatus::from_stored(&provider.status);
    if !from.can_become(to) {
        return Err(ApiError::refused(Refusal::on_input(
            "status",
            RefusalCode::InvalidState,
            format!("a {} provider cannot become {}", from.as_str(), to.as_str()),
        )));
    }
    // Conditional on the status read: a concurrent change makes this one a CONFLICT.
    let updated = providers::Entity::update_many()
        .col_expr(providers::Column::Status, Expr::value(to.as_str()))
        .col_expr(providers::Column::StatusReason, Expr::value(reason.clone()))
        .col_expr(providers::Column::UpdatedAt, Expr::value(now))
        .filter(providers::Column::Id.eq(provider.id.clone()))
        .filter(providers::Column::Status.eq(from.as_str()))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::Conflict,
            "the provider changed meanwhile; read it again",
        )));
    }
    record_status_change(
        &txn,
        &provider.id,
        Some(from),
        to,
        &reason,
        Some(&admin.id),
        now,
    )
    .await?;
    let provider = providers::Entity::find_by_id(provider.id)
        .one(&txn)
        .await?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("provider vanished in its transaction"))
        })?;
    txn.commit().await?;
    Ok(provider)
}

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
    if TenantPaymentMode::from_stored(&tenant.payment_mode) != TenantPaymentMode::Stripe {
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
async fn start_onboarding_for(
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

/// A provider the viewer may see: ACTIVE ones for everyone, any for its owner and admins.
pub fn provider_visible(viewer: &Viewer, provider: &providers::Model) -> bool {
    ProviderStatus::from_stored(&provider.status) == ProviderStatus::Active
        || viewer.is_self_or_admin(&provider.user_id)
}

/// Specialties as stored (a JSON array of strings).
pub fn specialties_of(provider: &providers::Model) -> Vec<String> {
    serde_json::from_str(&provider.specialties).unwrap_or_default()
}
