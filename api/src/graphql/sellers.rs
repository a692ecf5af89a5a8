//! Tenants and providers in GraphQL. Resolvers translate; rules live in `services::sellers`.
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use entity::{providers, tenants};

use super::accounts::User;
use super::connection::connection;
use super::errors::{into_payload, Payload, UserError};
use super::listings::{Listing, ListingConnection};
use super::loaders::loader_error;
use super::money::Money;
use super::scalars::DateTime;
use super::ContextExt;
use crate::domain::seller::{ProviderStatus, ProviderType, TenantPaymentMode};
use crate::error::ApiError;
use crate::pagination::{encode_cursor, PageRequest};
use crate::services::browse::{
    self, BrowseCursor, ListingFilter, ListingSort, ProviderSort, Visibility,
};
use crate::services::sellers as service;

macro_rules! mirror_enum {
    ($gql:ident, $name:literal, $domain:ty, { $($variant:ident),+ $(,)? }) => {
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
        #[graphql(name = $name)]
        pub enum $gql {
            $($variant),+
        }

        impl From<$domain> for $gql {
            fn from(v: $domain) -> Self {
                match v {
                    $(<$domain>::$variant => $gql::$variant),+
                }
            }
        }

        impl From<$gql> for $domain {
            fn from(v: $gql) -> Self {
                match v {
                    $($gql::$variant => <$domain>::$variant),+
                }
            }
        }
    };
}
pub(crate) use mirror_enum;

mirror_enum!(TenantPaymentModeGql, "TenantPaymentMode", TenantPaymentMode, { Stripe, Manual, Disabled });
mirror_enum!(ProviderStatusGql, "ProviderStatus", ProviderStatus, { PendingVerification, Active, Suspended, Deactivated });
mirror_enum!(ProviderTypeGql, "ProviderType", ProviderType, { ServiceProvider, Breeder });

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProviderSortKey")]
pub enum ProviderSortKeyGql {
    Rating,
    CompletedOrders,
    Newest,
    Name,
}

/// A seller organisation: its members, payment setup and (later) its invoice book.
#[derive(Clone)]
pub struct Tenant(pub tenants::Model);

#[Object]
impl Tenant {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn payment_mode(&self) -> TenantPaymentModeGql {
        self.0.payment_mode.into()
    }
    /// shown to buyers who pay manually: to the tenant's members, admins, and buyers with an
    /// order of this tenant; null for anyone else, however the tenant was reached
    async fn payment_instructions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<String>> {
        let Some(instructions) = &self.0.payment_instructions else {
            return Ok(None);
        };
        let viewer = ctx.viewer();
        let Some(user_id) = viewer.id() else {
            return Ok(None);
        };
        let loaders = ctx.loaders()?;
        let key = (self.0.id.clone(), user_id.to_owned());
        let (member, buyer) = futures_util::try_join!(
            loaders.memberships.load_one(key.clone()),
            loaders.buyers_of_tenant.load_one(key),
        )
        .map_err(super::loaders::loader_error)?;
        let visible =
            service::may_read_payment_instructions(viewer, member.is_some(), buyer.is_some());
        Ok(visible.then(|| instructions.clone()))
    }
    async fn stripe_onboarding_complete(&self) -> bool {
        self.0.stripe_onboarding_complete
    }
    async fn payouts_enabled(&self) -> bool {
        self.0.payouts_enabled
    }
    /// whether buyers can order from this tenant now (payment mode and onboarding)
    async fn accepts_orders(&self) -> bool {
        service::payment_setup(&self.0).accepts_orders()
    }
    /// the tenant's contacts, newest first (members; admins see live ones); empty for anyone
    /// else
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<crate::graphql::contacts::ContactFilter>,
    ) -> async_graphql::Result<crate::graphql::contacts::ContactConnection> {
        crate::graphql::contacts::tenant_contacts(ctx, &self.0.id, first, after, filter).await
    }
    /// the tenant's invoices, newest first (members; admins see live ones); empty for anyone
    /// else
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<crate::graphql::invoicing::InvoiceFilter>,
    ) -> async_graphql::Result<crate::graphql::invoicing::InvoiceConnection> {
        crate::graphql::invoicing::invoice_page(ctx, Some(&self.0.id), first, after, filter).await
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

#[derive(SimpleObject)]
pub struct ProviderEarnings {
    /// payouts already transferred for completed orders
    pub paid_out: Money,
    /// payouts of orders paid for but not yet completed
    pub pending: Money,
    pub platform_fees: Money,
    /// commission on MANUAL orders (paid outside the platform) that the seller's tenant owes
    pub platform_fees_owed: Money,
    pub refunded: Money,
    pub completed_orders: i32,
}

/// A vetted seller of services, belonging to one tenant.
#[derive(Clone)]
pub struct Provider(pub providers::Model);

impl Provider {
    /// The provider a row points at, through the request's loader; a missing one is an
    /// internal error naming the row.
    pub async fn load_referenced(
        ctx: &Context<'_>,
        id: &str,
        row: &str,
    ) -> async_graphql::Result<Provider> {
        ctx.loaders()?
            .providers
            .load_one(id.to_owned())
            .await
            .map_err(loader_error)?
            .map(Provider)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("{row} without its provider")).into())
    }

    async fn tenant_model(&self, ctx: &Context<'_>) -> async_graphql::Result<tenants::Model> {
        ctx.loaders()?
            .tenants
            .load_one(self.0.tenant_id.clone())
            .await
            .map_err(loader_error)?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("provider without tenant")).into())
    }
}

#[Object]
impl Provider {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        User::load_referenced(ctx, &self.0.user_id, "provider").await
    }
    async fn tenant(&self, ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
        Ok(Tenant(self.tenant_model(ctx).await?))
    }
    #[graphql(name = "type")]
    async fn provider_type(&self) -> ProviderTypeGql {
        self.0.provider_type.into()
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn bio(&self) -> &str {
        &self.0.bio
    }
    async fn specialties(&self) -> Vec<String> {
        service::specialties_of(&self.0)
    }
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
    async fn state(&self) -> Option<&str> {
        self.0.state.as_deref()
    }
    async fn status(&self) -> ProviderStatusGql {
        self.0.status.into()
    }
    async fn stripe_onboarding_complete(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(self.tenant_model(ctx).await?.stripe_onboarding_complete)
    }
    async fn payouts_enabled(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(self.tenant_model(ctx).await?.payouts_enabled)
    }
    /// average review rating, two decimals; null before the first review
    async fn avg_rating(&self) -> Option<f64> {
        crate::domain::seller::average_rating(self.0.rating_sum, self.0.review_count)
    }
    async fn review_count(&self) -> i32 {
        self.0.review_count
    }
    /// the Bayesian rating RATING sorts by, two decimals: every provider starts as if it had
    /// 5 reviews averaging 3.5, so a few reviews move it little and many move it a lot
    async fn rating_score(&self) -> f64 {
        crate::domain::review::rating_score(self.0.rating_sum, i64::from(self.0.review_count))
    }
    /// reviews of this provider, newest first
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<crate::graphql::reviews::ReviewConnection> {
        use crate::services::reviews::{self as reviews, ReviewCursor};
        let page = PageRequest::<ReviewCursor>::parse(first, after.as_deref())?;
        let page = reviews::of_provider(ctx.state()?, &self.0.id, page).await?;
        Ok(crate::graphql::reviews::ReviewConnection::build(
            page,
            |r| encode_cursor(&ReviewCursor { id: r.id.clone() }),
            crate::graphql::reviews::Review,
        ))
    }
    async fn total_orders_completed(&self) -> i32 {
        self.0.total_orders_completed
    }
    /// lowest price among active FIXED or STARTING_AT listings
    async fn starting_price(&self) -> Option<Money> {
        self.0.starting_price_cents.map(|cents| {
            Money::new(
                cents,
                self.0.starting_price_currency.as_deref().unwrap_or("USD"),
            )
        })
    }
    /// The provider's listings, newest first; `includeInactive` shows drafts, paused and
    /// archived ones to the provider's own user and admins.
    async fn listings(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(false)")] include_inactive: Option<bool>,
    ) -> async_graphql::Result<ListingConnection> {
        let page = PageRequest::<BrowseCursor>::parse(first, after.as_deref())?;
        let visibility =
            Visibility::for_provider(ctx.viewer(), &self.0, include_inactive.unwrap_or(false));
        if page.after.is_none() {
            // The first page, as inside a page of providers or listings: batched with the
            // other providers' pages of this request.
            let key = (self.0.id.clone(), visibility == Visibility::All, page.first);
            let loaded = ctx
                .loaders()?
                .provider_listings
                .load_one(key)
                .await
                .map_err(super::loaders::loader_error)?;
            if let Some(loaded) = loaded {
                let page = crate::pagination::Page {
                    items: loaded.items.clone(),
                    has_next_page: loaded.has_next_page,
                    has_previous_page: loaded.has_previous_page,
                    total_count: loaded.total_count,
                };
                let ids = page
                    .items
                    .iter()
                    .map(|k| k.row.provider_id.clone())
                    .collect();
                super::listings::prefetch_relations(ctx, ids, vec![self.0.clone()]).await?;
                return Ok(ListingConnection::build(
                    page,
                    |k| encode_cursor(&k.cursor),
                    |k| Listing(k.row),
                ));
            }
        }
        let filter = ListingFilter {
            provider_id: Some(self.0.id.clone()),
            ..Default::default()
        };
        let page = browse::listings_page(
            ctx.state()?,
            visibility,
            &filter,
            ListingSort::Newest,
            false,
            &page,
            ctx.look_ahead().field("totalCount").exists(),
            super::listings::wants_providers(ctx),
        )
        .await?;
        let (ids, known) = super::listings::browse_relations(&page.items);
        super::listings::prefetch_relations(ctx, ids, known).await?;
        Ok(ListingConnection::build(
            page,
            |k| encode_cursor(&k.cursor),
            |k| Listing(k.row.listing),
        ))
    }
    /// the provider's own user and admins only; null for others
    async fn earnings(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ProviderEarnings>> {
        let Some(e) = browse::earnings(ctx.state()?, ctx.viewer(), &self.0).await? else {
            return Ok(None);
        };
        Ok(Some(ProviderEarnings {
            paid_out: Money::new(e.paid_out, &e.currency),
            pending: Money::new(e.pending, &e.currency),
            platform_fees: Money::new(e.platform_fees, &e.currency),
            platform_fees_owed: Money::new(e.platform_fees_owed, &e.currency),
            refunded: Money::new(e.refunded, &e.currency),
            completed_orders: e.completed_orders,
        }))
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

connection!(ProviderConnection, ProviderEdge, Provider);

#[derive(InputObject)]
pub struct CreateTenantInput {
    pub name: String,
    #[graphql(default_with = "Some(TenantPaymentModeGql::Manual)")]
    pub payment_mode: Option<TenantPaymentModeGql>,
    pub payment_instructions: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateTenantInput {
    pub tenant_id: ID,
    pub name: Option<String>,
    pub payment_mode: Option<TenantPaymentModeGql>,
    pub payment_instructions: Option<String>,
}

#[derive(InputObject)]
pub struct CreateProviderInput {
    #[graphql(name = "type", default_with = "Some(ProviderTypeGql::ServiceProvider)")]
    pub provider_type: Option<ProviderTypeGql>,
    pub display_name: String,
    #[graphql(default_with = "Some(String::new())")]
    pub bio: Option<String>,
    #[graphql(default_with = "Some(Vec::new())")]
    pub specialties: Option<Vec<String>>,
    pub city: Option<String>,
    pub state: Option<String>,
    /// join an existing tenant the user belongs to; a personal tenant is made when absent
    pub tenant_id: Option<ID>,
}

#[derive(InputObject)]
pub struct UpdateProviderInput {
    pub provider_id: ID,
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub specialties: Option<Vec<String>>,
    pub city: Option<String>,
    pub state: Option<String>,
}

#[derive(InputObject)]
pub struct StartProviderOnboardingInput {
    pub provider_id: ID,
}

#[derive(InputObject)]
pub struct SetProviderStatusInput {
    pub provider_id: ID,
    pub status: ProviderStatusGql,
    pub reason: String,
}

#[derive(InputObject, Default)]
pub struct ProviderFilter {
    pub query: Option<String>,
    pub status: Option<ProviderStatusGql>,
    #[graphql(name = "type")]
    pub provider_type: Option<ProviderTypeGql>,
    pub specialty: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub min_rating: Option<f64>,
}

#[derive(SimpleObject)]
pub struct TenantPayload {
    pub tenant: Option<Tenant>,
    pub user_errors: Vec<UserError>,
}

impl Payload for TenantPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        TenantPayload {
            tenant: None,
            user_errors,
        }
    }
}

#[derive(SimpleObject)]
pub struct ProviderPayload {
    pub provider: Option<Provider>,
    /// Stripe Connect onboarding link, when one was created
    pub onboarding_url: Option<String>,
    pub user_errors: Vec<UserError>,
}

impl Payload for ProviderPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        ProviderPayload {
            provider: None,
            onboarding_url: None,
            user_errors,
        }
    }
}

impl ProviderPayload {
    fn of(provider: providers::Model) -> Self {
        ProviderPayload {
            provider: Some(Provider(provider)),
            onboarding_url: None,
            user_errors: Vec::new(),
        }
    }
}

#[derive(Default)]
pub struct SellersQuery;

#[Object]
impl SellersQuery {
    /// A tenant, for its members and admins.
    async fn tenant(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Tenant>> {
        Ok(service::tenant_for_viewer(ctx.state()?, ctx.viewer(), &id)
            .await?
            .map(Tenant))
    }

    /// A provider: ACTIVE ones for everyone; any for its own user and admins.
    async fn provider(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Provider>> {
        let found = ctx
            .loaders()?
            .providers
            .load_one(id.to_string())
            .await
            .map_err(loader_error)?;
        Ok(found
            .filter(|p| service::provider_visible(ctx.viewer(), p))
            .map(Provider))
    }

    /// Providers to browse: ACTIVE ones (admins: any status, filterable).
    async fn providers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ProviderFilter>,
        #[graphql(default_with = "Some(ProviderSortKeyGql::Rating)")] sort_key: Option<
            ProviderSortKeyGql,
        >,
        #[graphql(default_with = "Some(false)")] reverse: Option<bool>,
    ) -> async_graphql::Result<ProviderConnection> {
        let page = PageRequest::<BrowseCursor>::parse(first, after.as_deref())?;
        let filter = filter.unwrap_or_default();
        let filter = browse::ProviderFilter {
            query: filter.query,
            status: filter.status.map(Into::into),
            provider_type: filter.provider_type.map(Into::into),
            specialty: filter.specialty,
            city: filter.city,
            state: filter.state,
            min_rating: filter.min_rating,
        };
        let sort = match sort_key.unwrap_or(ProviderSortKeyGql::Rating) {
            ProviderSortKeyGql::Rating => ProviderSort::Rating,
            ProviderSortKeyGql::CompletedOrders => ProviderSort::CompletedOrders,
            ProviderSortKeyGql::Newest => ProviderSort::Newest,
            ProviderSortKeyGql::Name => ProviderSort::Name,
        };
        let page = browse::providers_page(
            ctx.state()?,
            ctx.viewer(),
            &filter,
            sort,
            reverse.unwrap_or(false),
            &page,
            ctx.look_ahead().field("totalCount").exists(),
        )
        .await?;
        Ok(ProviderConnection::build(
            page,
            |k| encode_cursor(&k.cursor),
            |k| Provider(k.row),
        ))
    }
}

#[derive(Default)]
pub struct SellersMutation;

#[Object]
impl SellersMutation {
    /// Creates a tenant with the viewer as its OWNER.
    async fn create_tenant(
        &self,
        ctx: &Context<'_>,
        input: CreateTenantInput,
    ) -> async_graphql::Result<TenantPayload> {
        let result = service::create_tenant(
            ctx.state()?,
            ctx.viewer(),
            service::TenantInput {
                name: &input.name,
                payment_mode: input
                    .payment_mode
                    .unwrap_or(TenantPaymentModeGql::Manual)
                    .into(),
                payment_instructions: input.payment_instructions.as_deref(),
            },
        )
        .await;
        into_payload(result, |t| TenantPayload {
            tenant: Some(Tenant(t)),
            user_errors: Vec::new(),
        })
    }

    /// Changes a tenant's name or payment settings (members only).
    async fn update_tenant(
        &self,
        ctx: &Context<'_>,
        input: UpdateTenantInput,
    ) -> async_graphql::Result<TenantPayload> {
        let result = service::update_tenant(
            ctx.state()?,
            ctx.viewer(),
            service::TenantPatch {
                tenant_id: &input.tenant_id,
                name: input.name.as_deref(),
                payment_mode: input.payment_mode.map(Into::into),
                payment_instructions: input.payment_instructions.as_deref(),
            },
        )
        .await;
        into_payload(result, |t| TenantPayload {
            tenant: Some(Tenant(t)),
            user_errors: Vec::new(),
        })
    }

    /// Makes the viewer a provider (one per account), awaiting verification by an admin.
    async fn create_provider(
        &self,
        ctx: &Context<'_>,
        input: CreateProviderInput,
    ) -> async_graphql::Result<ProviderPayload> {
        let specialties = input.specialties.unwrap_or_default();
        let result = service::create_provider(
            ctx.state()?,
            ctx.viewer(),
            service::ProviderInput {
                provider_type: input
                    .provider_type
                    .unwrap_or(ProviderTypeGql::ServiceProvider)
                    .into(),
                display_name: &input.display_name,
                bio: input.bio.as_deref().unwrap_or(""),
                specialties: &specialties,
                city: input.city.as_deref(),
                state: input.state.as_deref(),
                tenant_id: input.tenant_id.as_ref().map(|i| i.as_str()),
            },
        )
        .await;
        into_payload(result, |created| ProviderPayload {
            provider: Some(Provider(created.provider)),
            onboarding_url: created.onboarding_url,
            user_errors: created
                .onboarding_error
                .into_iter()
                .map(UserError::from)
                .collect(),
        })
    }

    /// Edits the viewer's provider profile.
    async fn update_provider(
        &self,
        ctx: &Context<'_>,
        input: UpdateProviderInput,
    ) -> async_graphql::Result<ProviderPayload> {
        let result = service::update_provider(
            ctx.state()?,
            ctx.viewer(),
            service::ProviderPatch {
                provider_id: &input.provider_id,
                display_name: input.display_name.as_deref(),
                bio: input.bio.as_deref(),
                specialties: input.specialties.as_deref(),
                city: input.city.as_deref(),
                state: input.state.as_deref(),
            },
        )
        .await;
        into_payload(result, ProviderPayload::of)
    }

    /// A fresh Stripe Connect onboarding link for the viewer's provider.
    async fn start_provider_onboarding(
        &self,
        ctx: &Context<'_>,
        input: StartProviderOnboardingInput,
    ) -> async_graphql::Result<ProviderPayload> {
        let result =
            service::start_provider_onboarding(ctx.state()?, ctx.viewer(), &input.provider_id)
                .await;
        into_payload(result, |(provider, url)| ProviderPayload {
            provider: Some(Provider(provider)),
            onboarding_url: Some(url),
            user_errors: Vec::new(),
        })
    }

    /// Verifies, suspends, reinstates or deactivates a provider (admins only).
    async fn set_provider_status(
        &self,
        ctx: &Context<'_>,
        input: SetProviderStatusInput,
    ) -> async_graphql::Result<ProviderPayload> {
        let result = service::set_provider_status(
            ctx.state()?,
            ctx.viewer(),
            &input.provider_id,
            input.status.into(),
            &input.reason,
        )
        .await;
        into_payload(result, ProviderPayload::of)
    }
}
