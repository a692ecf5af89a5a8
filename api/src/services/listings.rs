//! Listings: what providers offer. Creation, edits and status moves by the owner; the provider's
//! starting price is kept in step in the same transaction.
use entity::{listings, providers, tenants};
use sea_orm::sea_query::Expr;
use sea_orm::ActiveEnum as _;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use super::sellers::{payment_setup, unique_slug};
use super::Viewer;
use crate::domain::listing::{CoverageTier, ListingStatus, ListingTerms, PriceType};
use crate::domain::seller::ProviderStatus;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::ids::{self, Kind};
use crate::state::AppState;

fn not_found(field: &str) -> ApiError {
    ApiError::refused(Refusal::on_input(
        field,
        RefusalCode::NotFound,
        format!(
            "no such {}",
            if field == "providerId" {
                "provider"
            } else {
                "listing"
            }
        ),
    ))
}

fn faults_to_errors(faults: Vec<crate::domain::listing::FieldFault>) -> ApiError {
    ApiError::Refused(
        faults
            .into_iter()
            .map(|(field, e)| Refusal::invalid(field, e.0))
            .collect(),
    )
}

/// The terms of a listing as stored.
pub fn terms_of(listing: &listings::Model) -> ListingTerms {
    ListingTerms {
        title: listing.title.clone(),
        description: listing.description.clone(),
        category: listing.category.clone(),
        tier: listing.tier,
        price_type: listing.price_type,
        price_cents: listing.price_cents,
        currency: listing.currency.clone(),
        turnaround_days: listing.turnaround_days,
        max_pages: listing.max_pages,
        revisions_included: listing.revisions_included,
        city: listing.city.clone(),
        state: listing.state.clone(),
    }
}

#[tracing::instrument(skip_all)]
pub async fn create_listing(
    state: &AppState,
    viewer: &Viewer,
    provider_id: &str,
    terms: ListingTerms,
    publish: bool,
) -> ApiResult<listings::Model> {
    let user = viewer.user()?;
    let terms = terms.validate().map_err(faults_to_errors)?;
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let provider = match providers::Entity::find_by_id(provider_id.to_owned())
        .one(&txn)
        .await?
    {
        Some(p) if p.user_id == user.id => p,
        _ => return Err(not_found("providerId")),
    };
    if provider.status == ProviderStatus::Deactivated {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "a deactivated provider cannot create listings",
        )));
    }
    let slug = unique_slug(&txn, &terms.title, |slug| {
        listings::Entity::find().filter(listings::Column::Slug.eq(slug))
    })
    .await?;
    let status = if publish {
        ListingStatus::Active
    } else {
        ListingStatus::Draft
    };
    let listing = listings::ActiveModel {
        id: Set(ids::new_id(Kind::Listing)),
        provider_id: Set(provider.id.clone()),
        slug: Set(slug),
        title: Set(terms.title),
        description: Set(terms.description),
        category: Set(terms.category),
        tier: Set(terms.tier),
        max_pages: Set(terms.max_pages),
        price_type: Set(terms.price_type),
        price_cents: Set(terms.price_cents),
        currency: Set(terms.currency),
        turnaround_days: Set(terms.turnaround_days),
        revisions_included: Set(terms.revisions_included),
        city: Set(terms.city),
        state: Set(terms.state),
        status: Set(status),
        published_at: Set(publish.then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        // The database's triggers decide it.
        visible: sea_orm::ActiveValue::NotSet,
    }
    .insert(&txn)
    .await?;
    refresh_starting_price(&txn, &provider.id).await?;
    txn.commit().await?;
    Ok(listing)
}

/// The listing `listing_id` if the viewer owns it (admins too when `admin_ok`).
async fn owned_listing(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    listing_id: &str,
    admin_ok: bool,
) -> ApiResult<listings::Model> {
    let user = viewer.user()?;
    let found = listings::Entity::find_by_id(listing_id.to_owned())
        .find_also_related(providers::Entity)
        .one(conn)
        .await?;
    match found {
        Some((listing, Some(provider)))
            if provider.user_id == user.id || (admin_ok && viewer.is_admin()) =>
        {
            Ok(listing)
        }
        _ => Err(not_found("listingId")),
    }
}

/// Changes to a listing's terms; `None` leaves a field as it is.
#[derive(Default)]
pub struct ListingPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tier: Option<CoverageTier>,
    pub price_type: Option<PriceType>,
    pub price_cents: Option<i64>,
    pub turnaround_days: Option<i32>,
    pub max_pages: Option<i32>,
    pub revisions_included: Option<i32>,
    pub city: Option<String>,
    pub state: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn update_listing(
    state: &AppState,
    viewer: &Viewer,
    listing_id: &str,
    patch: ListingPatch,
) -> ApiResult<listings::Model> {
    let txn = state.db.writer.begin().await?;
    let listing = owned_listing(&txn, viewer, listing_id, false).await?;
    let mut terms = terms_of(&listing);
    if let Some(v) = patch.title {
        terms.title = v;
    }
    if let Some(v) = patch.description {
        terms.description = v;
    }
    if let Some(v) = patch.category {
        terms.category = v;
    }
    if let Some(v) = patch.tier {
        terms.tier = Some(v);
    }
    if let Some(v) = patch.price_type {
        terms.price_type = v;
        if v == PriceType::Contact && patch.price_cents.is_none() {
            terms.price_cents = None;
        }
    }
    if let Some(v) = patch.price_cents {
        terms.price_cents = Some(v);
    }
    if let Some(v) = patch.turnaround_days {
        terms.turnaround_days = Some(v);
    }
    if let Some(v) = patch.max_pages {
        terms.max_pages = Some(v);
    }
    if let Some(v) = patch.revisions_included {
        terms.revisions_included = v;
    }
    if let Some(v) = patch.city {
        terms.city = Some(v);
    }
    if let Some(v) = patch.state {
        terms.state = Some(v);
    }
    let terms = terms.validate().map_err(faults_to_errors)?;
    let provider_id = listing.provider_id.clone();
    // The slug stays as it is: links to the listing keep working after a title edit.
    let mut active: listings::ActiveModel = listing.into();
    active.title = Set(terms.title);
    active.description = Set(terms.description);
    active.category = Set(terms.category);
    active.tier = Set(terms.tier);
    active.price_type = Set(terms.price_type);
    active.price_cents = Set(terms.price_cents);
    active.turnaround_days = Set(terms.turnaround_days);
    active.max_pages = Set(terms.max_pages);
    active.revisions_included = Set(terms.revisions_included);
    active.city = Set(terms.city);
    active.state = Set(terms.state);
    active.updated_at = Set(state.now());
    let listing = active.update(&txn).await?;
    refresh_starting_price(&txn, &provider_id).await?;
    txn.commit().await?;
    Ok(listing)
}

#[tracing::instrument(skip_all)]
pub async fn set_listing_status(
    state: &AppState,
    viewer: &Viewer,
    listing_id: &str,
    to: ListingStatus,
) -> ApiResult<listings::Model> {
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let listing = owned_listing(&txn, viewer, listing_id, true).await?;
    let from = listing.status;
    if !crate::domain::listing::listing_can_become(from, to) {
        return Err(ApiError::refused(Refusal::on_input(
            "status",
            RefusalCode::InvalidState,
            format!(
                "a {} listing cannot become {}",
                from.to_value(),
                to.to_value()
            ),
        )));
    }
    let provider_id = listing.provider_id.clone();
    let first_publish = to == ListingStatus::Active && listing.published_at.is_none();
    let mut active: listings::ActiveModel = listing.into();
    active.status = Set(to);
    if first_publish {
        active.published_at = Set(Some(now));
    }
    active.updated_at = Set(now);
    let listing = active.update(&txn).await?;
    refresh_starting_price(&txn, &provider_id).await?;
    txn.commit().await?;
    Ok(listing)
}

/// Recomputes a provider's starting price: the lowest price among its ACTIVE FIXED or
/// STARTING_AT listings.
pub async fn refresh_starting_price(
    conn: &impl ConnectionTrait,
    provider_id: &str,
) -> ApiResult<()> {
    let cheapest = listings::Entity::find()
        .filter(listings::Column::ProviderId.eq(provider_id))
        .filter(listings::Column::Status.eq(ListingStatus::Active))
        .filter(listings::Column::PriceType.is_in([PriceType::Fixed, PriceType::StartingAt]))
        .filter(listings::Column::PriceCents.is_not_null())
        .order_by_asc(listings::Column::PriceCents)
        .one(conn)
        .await?;
    providers::Entity::update_many()
        .col_expr(
            providers::Column::StartingPriceCents,
            Expr::value(cheapest.as_ref().and_then(|l| l.price_cents)),
        )
        .col_expr(
            providers::Column::StartingPriceCurrency,
            Expr::value(cheapest.map(|l| l.currency)),
        )
        .filter(providers::Column::Id.eq(provider_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Whether anyone may see the listing: ACTIVE, its provider ACTIVE, its tenant able to take
/// orders. Browsing reads the same rule from `listings.visible`, which triggers keep
/// (migration `m20261202_000015_listing_visibility`); change both together.
pub fn publicly_visible(
    listing: &listings::Model,
    provider: &providers::Model,
    tenant: &tenants::Model,
) -> bool {
    listing.status == ListingStatus::Active
        && provider.status == ProviderStatus::Active
        && payment_setup(tenant).accepts_orders()
}

/// One listing by id or slug, if the viewer may see it (the public: visible ones; the owner
/// and admins: any).
pub async fn listing_for_viewer(
    state: &AppState,
    viewer: &Viewer,
    id: Option<&str>,
    slug: Option<&str>,
) -> ApiResult<Option<listings::Model>> {
    let query = match (id, slug) {
        (Some(id), _) if ids::is_kind(id, Kind::Listing) => {
            listings::Entity::find_by_id(id.to_owned())
        }
        (Some(_), _) => return Ok(None),
        // No slug holds a control character (PostgreSQL cannot even compare one with NUL).
        (None, Some(slug)) if slug.len() <= 220 && !slug.chars().any(char::is_control) => {
            listings::Entity::find().filter(listings::Column::Slug.eq(slug))
        }
        (None, Some(_)) => return Ok(None),
        (None, None) => {
            return Err(ApiError::BadInput(
                "give the listing's id or its slug".into(),
            ))
        }
    };
    let conn = &state.db.reader;
    let Some((listing, Some(provider))) =
        query.find_also_related(providers::Entity).one(conn).await?
    else {
        return Ok(None);
    };
    if viewer.is_self_or_admin(&provider.user_id) {
        return Ok(Some(listing));
    }
    let tenant = tenants::Entity::find_by_id(provider.tenant_id.clone())
        .one(conn)
        .await?;
    Ok(tenant
        .filter(|t| publicly_visible(&listing, &provider, t))
        .map(|_| listing))
}
