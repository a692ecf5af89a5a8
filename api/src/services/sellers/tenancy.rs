//! Tenants (seller organisations) and their members: creation with a unique slug, updates by
//! members and admins, and who may read or manage which tenant.
use chrono::{DateTime, Utc};
use entity::{tenant_members, tenants};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};

use super::*;
use crate::domain::seller::{self, MemberRole, TenantPaymentMode};
use crate::error::ApiResult;
use crate::ids::{self, Kind};
use crate::services::Viewer;
use crate::state::AppState;

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

pub(crate) async fn insert_tenant(
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
        payment_mode: Set(mode),
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

pub(crate) async fn add_member(
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
        role: Set(role),
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
        active.payment_mode = Set(mode);
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

/// A tenant's payment instructions are for its members, admins, and buyers with an order of
/// that tenant (whatever its state), however the tenant was reached.
pub fn may_read_payment_instructions(viewer: &Viewer, member: bool, has_ordered: bool) -> bool {
    member || has_ordered || viewer.is_admin()
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
