//! Listings in GraphQL: the `Listing` type, browsing and the owner's mutations.
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use entity::{listings, providers};

use super::connection::connection;
use super::errors::{into_payload, Payload, UserError};
use super::loaders::loader_error;
use super::money::Money;
use super::scalars::{BigInt, DateTime};
use super::sellers::{mirror_enum, Provider};
use super::ContextExt;
use crate::domain::listing::{CoverageTier, ListingStatus, ListingTerms, PriceType};
use crate::pagination::{encode_cursor, PageRequest};
use crate::services::browse::{self, BrowseCursor, ListingSort, Visibility};
use crate::services::listings as service;

mirror_enum!(ListingStatusGql, "ListingStatus", ListingStatus, { Draft, Active, Paused, Archived });
mirror_enum!(PriceTypeGql, "PriceType", PriceType, { Fixed, StartingAt, Hourly, Daily, Contact });
mirror_enum!(CoverageTierGql, "CoverageTier", CoverageTier, { ConceptNotes, EarlyDraft, PolishProofread, CompetitionReady });

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ListingSortKey")]
pub enum ListingSortKeyGql {
    Relevance,
    Newest,
    Price,
    Turnaround,
    Rating,
}

/// A service a provider offers.
#[derive(Clone)]
pub struct Listing(pub listings::Model);

#[Object]
impl Listing {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn provider(&self, ctx: &Context<'_>) -> async_graphql::Result<Provider> {
        Provider::load_referenced(ctx, &self.0.provider_id, "listing").await
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn category(&self) -> &str {
        &self.0.category
    }
    async fn tier(&self) -> Option<CoverageTierGql> {
        self.0.tier.map(Into::into)
    }
    async fn price_type(&self) -> PriceTypeGql {
        self.0.price_type.into()
    }
    /// null when priceType is CONTACT
    async fn price(&self) -> Option<Money> {
        self.0
            .price_cents
            .map(|cents| Money::new(cents, &self.0.currency))
    }
    async fn turnaround_days(&self) -> Option<i32> {
        self.0.turnaround_days
    }
    async fn max_pages(&self) -> Option<i32> {
        self.0.max_pages
    }
    /// how many revisions a buyer may request after delivery
    async fn revisions_included(&self) -> i32 {
        self.0.revisions_included
    }
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
    async fn state(&self) -> Option<&str> {
        self.0.state.as_deref()
    }
    async fn status(&self) -> ListingStatusGql {
        self.0.status.into()
    }
    async fn published_at(&self) -> Option<DateTime> {
        self.0.published_at.map(Into::into)
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

connection!(ListingConnection, ListingEdge, Listing);

/// Loads, in one batch each, the providers (and their tenants) of a page of listings when the
/// query asks for them, so that N listings cost the same statements as one.
pub async fn prefetch_relations(
    ctx: &Context<'_>,
    ids: Vec<String>,
    known: Vec<providers::Model>,
) -> async_graphql::Result<()> {
    let provider = provider_selections(ctx);
    if !provider.iter().any(|p| p.exists()) {
        return Ok(());
    }
    let loaders = ctx.loaders()?;
    // Providers already read (by the page query, or the parent) need no statement of their own.
    loaders
        .providers
        .feed_many(known.into_iter().map(|p| (p.id.clone(), p)))
        .await;
    let providers = loaders
        .providers
        .load_many(ids)
        .await
        .map_err(loader_error)?;
    let wants_tenant = provider.iter().any(|p| {
        ["tenant", "stripeOnboardingComplete", "payoutsEnabled"]
            .iter()
            .any(|f| p.field(f).exists())
    });
    if wants_tenant {
        let tenant_ids: Vec<String> = providers.values().map(|p| p.tenant_id.clone()).collect();
        loaders
            .tenants
            .load_many(tenant_ids)
            .await
            .map_err(loader_error)?;
    }
    Ok(())
}

/// The providers a page of listings points at, and those its query brought along.
pub fn browse_relations(
    items: &[browse::Keyed<browse::ListingRow>],
) -> (Vec<String>, Vec<providers::Model>) {
    let ids = items
        .iter()
        .map(|k| k.row.listing.provider_id.clone())
        .collect();
    let known = items
        .iter()
        .filter_map(|k| k.row.provider.clone())
        .collect();
    (ids, known)
}

/// Where a listing connection's selection reaches its listings' providers.
fn provider_selections<'a>(ctx: &'a Context<'_>) -> [async_graphql::Lookahead<'a>; 2] {
    let look = ctx.look_ahead();
    [
        look.field("nodes").field("provider"),
        look.field("edges").field("node").field("provider"),
    ]
}

/// Whether the connection's selection reaches its listings' providers.
pub fn wants_providers(ctx: &Context<'_>) -> bool {
    provider_selections(ctx).iter().any(|p| p.exists())
}

#[derive(SimpleObject)]
pub struct CategoryCount {
    pub category: String,
    pub active_listings: i32,
}

#[derive(InputObject, Default)]
pub struct ListingFilter {
    pub query: Option<String>,
    pub category: Option<String>,
    pub tier: Option<CoverageTierGql>,
    pub price_type: Option<PriceTypeGql>,
    pub min_price_cents: Option<BigInt>,
    pub max_price_cents: Option<BigInt>,
    pub max_turnaround_days: Option<i32>,
    pub provider_id: Option<ID>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub min_rating: Option<f64>,
}

#[derive(InputObject)]
pub struct CreateListingInput {
    pub provider_id: ID,
    pub title: String,
    #[graphql(default_with = "Some(String::new())")]
    pub description: Option<String>,
    pub category: String,
    pub tier: Option<CoverageTierGql>,
    #[graphql(default_with = "Some(PriceTypeGql::Fixed)")]
    pub price_type: Option<PriceTypeGql>,
    pub price_cents: Option<BigInt>,
    #[graphql(default_with = "Some(\"USD\".to_owned())")]
    pub currency_code: Option<String>,
    pub turnaround_days: Option<i32>,
    pub max_pages: Option<i32>,
    #[graphql(default_with = "Some(0)")]
    pub revisions_included: Option<i32>,
    pub city: Option<String>,
    pub state: Option<String>,
    /// publish at once instead of saving a draft
    #[graphql(default_with = "Some(false)")]
    pub publish: Option<bool>,
}

#[derive(InputObject)]
pub struct UpdateListingInput {
    pub listing_id: ID,
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tier: Option<CoverageTierGql>,
    pub price_type: Option<PriceTypeGql>,
    pub price_cents: Option<BigInt>,
    pub turnaround_days: Option<i32>,
    pub max_pages: Option<i32>,
    pub revisions_included: Option<i32>,
    pub city: Option<String>,
    pub state: Option<String>,
}

#[derive(InputObject)]
pub struct SetListingStatusInput {
    pub listing_id: ID,
    pub status: ListingStatusGql,
}

#[derive(SimpleObject)]
pub struct ListingPayload {
    pub listing: Option<Listing>,
    pub user_errors: Vec<UserError>,
}

impl Payload for ListingPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        ListingPayload {
            listing: None,
            user_errors,
        }
    }
}

fn listing_payload(listing: listings::Model) -> ListingPayload {
    ListingPayload {
        listing: Some(Listing(listing)),
        user_errors: Vec::new(),
    }
}

#[derive(Default)]
pub struct ListingsQuery;

#[Object]
impl ListingsQuery {
    /// A listing by id or slug: visible ones for everyone, any for its owner and admins.
    async fn listing(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
    ) -> async_graphql::Result<Option<Listing>> {
        Ok(service::listing_for_viewer(
            ctx.state()?,
            ctx.viewer(),
            id.as_ref().map(|i| i.as_str()),
            slug.as_deref(),
        )
        .await?
        .map(Listing))
    }

    /// Listings to browse: ACTIVE listings of ACTIVE providers that can take orders (admins: all).
    async fn listings(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ListingFilter>,
        #[graphql(default_with = "Some(ListingSortKeyGql::Newest)")] sort_key: Option<
            ListingSortKeyGql,
        >,
        #[graphql(default_with = "Some(false)")] reverse: Option<bool>,
    ) -> async_graphql::Result<ListingConnection> {
        let page = PageRequest::<BrowseCursor>::parse(first, after.as_deref())?;
        let f = filter.unwrap_or_default();
        let filter = browse::ListingFilter {
            query: f.query,
            category: f.category,
            tier: f.tier.map(Into::into),
            price_type: f.price_type.map(Into::into),
            min_price_cents: f.min_price_cents.map(|c| c.0),
            max_price_cents: f.max_price_cents.map(|c| c.0),
            max_turnaround_days: f.max_turnaround_days,
            provider_id: f.provider_id.map(|id| id.to_string()),
            city: f.city,
            state: f.state,
            min_rating: f.min_rating,
        };
        let sort = match sort_key.unwrap_or(ListingSortKeyGql::Newest) {
            ListingSortKeyGql::Relevance => ListingSort::Relevance,
            ListingSortKeyGql::Newest => ListingSort::Newest,
            ListingSortKeyGql::Price => ListingSort::Price,
            ListingSortKeyGql::Turnaround => ListingSort::Turnaround,
            ListingSortKeyGql::Rating => ListingSort::Rating,
        };
        let visibility = Visibility::for_browsing(ctx.viewer());
        let page = browse::listings_page(
            ctx.state()?,
            visibility,
            &filter,
            sort,
            reverse.unwrap_or(false),
            &page,
            ctx.look_ahead().field("totalCount").exists(),
            wants_providers(ctx),
        )
        .await?;
        let (ids, known) = browse_relations(&page.items);
        prefetch_relations(ctx, ids, known).await?;
        Ok(ListingConnection::build(
            page,
            |k| encode_cursor(&k.cursor),
            |k| Listing(k.row.listing),
        ))
    }

    /// Every category with its count of browsable listings.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CategoryCount>> {
        Ok(browse::categories(ctx.state()?)
            .await?
            .into_iter()
            .map(|(category, n)| CategoryCount {
                category,
                active_listings: i32::try_from(n).unwrap_or(i32::MAX),
            })
            .collect())
    }
}

#[derive(Default)]
pub struct ListingsMutation;

#[Object]
impl ListingsMutation {
    /// Creates a listing for the viewer's provider: a draft, or published with `publish`.
    async fn create_listing(
        &self,
        ctx: &Context<'_>,
        input: CreateListingInput,
    ) -> async_graphql::Result<ListingPayload> {
        let terms = ListingTerms {
            title: input.title,
            description: input.description.unwrap_or_default(),
            category: input.category,
            tier: input.tier.map(Into::into),
            price_type: input.price_type.unwrap_or(PriceTypeGql::Fixed).into(),
            price_cents: input.price_cents.map(|c| c.0),
            currency: input.currency_code.unwrap_or_else(|| "USD".to_owned()),
            turnaround_days: input.turnaround_days,
            max_pages: input.max_pages,
            revisions_included: input.revisions_included.unwrap_or(0),
            city: input.city,
            state: input.state,
        };
        let result = service::create_listing(
            ctx.state()?,
            ctx.viewer(),
            &input.provider_id,
            terms,
            input.publish.unwrap_or(false),
        )
        .await;
        into_payload(result, listing_payload)
    }

    /// Edits a listing's terms; the slug stays.
    async fn update_listing(
        &self,
        ctx: &Context<'_>,
        input: UpdateListingInput,
    ) -> async_graphql::Result<ListingPayload> {
        let patch = service::ListingPatch {
            title: input.title,
            description: input.description,
            category: input.category,
            tier: input.tier.map(Into::into),
            price_type: input.price_type.map(Into::into),
            price_cents: input.price_cents.map(|c| c.0),
            turnaround_days: input.turnaround_days,
            max_pages: input.max_pages,
            revisions_included: input.revisions_included,
            city: input.city,
            state: input.state,
        };
        let result =
            service::update_listing(ctx.state()?, ctx.viewer(), &input.listing_id, patch).await;
        into_payload(result, listing_payload)
    }

    /// Publishes, pauses, resumes, archives or restores a listing.
    async fn set_listing_status(
        &self,
        ctx: &Context<'_>,
        input: SetListingStatusInput,
    ) -> async_graphql::Result<ListingPayload> {
        let result = service::set_listing_status(
            ctx.state()?,
            ctx.viewer(),
            &input.listing_id,
            input.status.into(),
        )
        .await;
        into_payload(result, listing_payload)
    }
}
