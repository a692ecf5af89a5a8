//! Sellers: tenants (organisations) and their members, providers and their listings.
use crate::cols::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    Slug,
    PaymentMode,
    PaymentInstructions,
    StripeAccountId,
    StripeOnboardingComplete,
    ChargesEnabled,
    PayoutsEnabled,
    RequirementsPastDue,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TenantMembers {
    Table,
    Id,
    TenantId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Providers {
    Table,
    Id,
    UserId,
    TenantId,
    ProviderType,
    DisplayName,
    Bio,
    Specialties,
    City,
    State,
    Status,
    StatusReason,
    RatingSum,
    ReviewCount,
    TotalOrdersCompleted,
    StartingPriceCents,
    StartingPriceCurrency,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Listings {
    Table,
    Id,
    ProviderId,
    Slug,
    Title,
    Description,
    Category,
    Tier,
    MaxPages,
    PriceType,
    PriceCents,
    Currency,
    TurnaroundDays,
    RevisionsIncluded,
    City,
    State,
    Status,
    PublishedAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let users = Alias::new("users");
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(id(Tenants::Id))
                    .col(string_len(Tenants::Name, 200))
                    .col(string_len(Tenants::Slug, 220))
                    .col(status(Tenants::PaymentMode).default("MANUAL"))
                    .col(text_null(Tenants::PaymentInstructions))
                    .col(string_len_null(Tenants::StripeAccountId, 255))
                    .col(boolean(Tenants::StripeOnboardingComplete).default(false))
                    .col(boolean(Tenants::ChargesEnabled).default(false))
                    .col(boolean(Tenants::PayoutsEnabled).default(false))
                    .col(boolean(Tenants::RequirementsPastDue).default(false))
                    .col(ts(Tenants::CreatedAt))
                    .col(ts(Tenants::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "tenants_slug_key",
            Tenants::Table,
            vec![Tenants::Slug.into_iden()],
            true,
        )
        .await?;
        create_index(
            manager,
            "tenants_stripe_account_key",
            Tenants::Table,
            vec![Tenants::StripeAccountId.into_iden()],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(TenantMembers::Table)
                    .col(id(TenantMembers::Id))
                    .col(ref_id(TenantMembers::TenantId))
                    .col(ref_id(TenantMembers::UserId))
                    .col(status(TenantMembers::Role))
                    .col(ts(TenantMembers::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_tenant_members_tenant",
                        TenantMembers::Table,
                        TenantMembers::TenantId,
                        Tenants::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_tenant_members_user",
                        TenantMembers::Table,
                        TenantMembers::UserId,
                        users.clone(),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "tenant_members_tenant_user_key",
            TenantMembers::Table,
            vec![
                TenantMembers::TenantId.into_iden(),
                TenantMembers::UserId.into_iden(),
            ],
            true,
        )
        .await?;
        create_index(
            manager,
            "tenant_members_user_idx",
            TenantMembers::Table,
            vec![TenantMembers::UserId.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Providers::Table)
                    .col(id(Providers::Id))
                    .col(ref_id(Providers::UserId))
                    .col(ref_id(Providers::TenantId))
                    .col(status(Providers::ProviderType))
                    .col(string_len(Providers::DisplayName, 200))
                    .col(text(Providers::Bio).default(""))
                    // JSON array of strings.
                    .col(text(Providers::Specialties).default("[]"))
                    .col(string_len_null(Providers::City, 100))
                    .col(string_len_null(Providers::State, 100))
                    .col(status(Providers::Status).default("PENDING_VERIFICATION"))
                    .col(string_len_null(Providers::StatusReason, 500))
                    // Rating aggregates, kept in step with reviews: avg = sum / count.
                    .col(big_integer(Providers::RatingSum).default(0))
                    .col(integer(Providers::ReviewCount).default(0))
                    .col(integer(Providers::TotalOrdersCompleted).default(0))
                    .col(cents_null(Providers::StartingPriceCents))
                    .col(string_len_null(Providers::StartingPriceCurrency, 3))
                    .col(ts(Providers::CreatedAt))
                    .col(ts(Providers::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_providers_user",
                        Providers::Table,
                        Providers::UserId,
                        users.clone(),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_providers_tenant",
                        Providers::Table,
                        Providers::TenantId,
                        Tenants::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "providers_user_key",
            Providers::Table,
            vec![Providers::UserId.into_iden()],
            true,
        )
        .await?;
        create_index(
            manager,
            "providers_tenant_idx",
            Providers::Table,
            vec![Providers::TenantId.into_iden()],
            false,
        )
        .await?;
        create_index(
            manager,
            "providers_status_created_idx",
            Providers::Table,
            vec![
                Providers::Status.into_iden(),
                Providers::CreatedAt.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Listings::Table)
                    .col(id(Listings::Id))
                    .col(ref_id(Listings::ProviderId))
                    .col(string_len(Listings::Slug, 220))
                    .col(string_len(Listings::Title, 200))
                    .col(text(Listings::Description).default(""))
                    .col(string_len(Listings::Category, 50))
                    .col(status_null(Listings::Tier))
                    .col(integer_null(Listings::MaxPages))
                    .col(status(Listings::PriceType))
                    .col(cents_null(Listings::PriceCents))
                    .col(currency(Listings::Currency).default("USD"))
                    .col(integer_null(Listings::TurnaroundDays))
                    .col(integer(Listings::RevisionsIncluded).default(0))
                    .col(string_len_null(Listings::City, 100))
                    .col(string_len_null(Listings::State, 100))
                    .col(status(Listings::Status).default("DRAFT"))
                    .col(ts_null(Listings::PublishedAt))
                    .col(ts(Listings::CreatedAt))
                    .col(ts(Listings::UpdatedAt))
                    .check(
                        Expr::col(Listings::PriceCents)
                            .is_null()
                            .or(Expr::col(Listings::PriceCents).gt(0)),
                    )
                    .foreign_key(&mut fk(
                        "fk_listings_provider",
                        Listings::Table,
                        Listings::ProviderId,
                        Providers::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "listings_slug_key",
            Listings::Table,
            vec![Listings::Slug.into_iden()],
            true,
        )
        .await?;
        create_index(
            manager,
            "listings_status_category_idx",
            Listings::Table,
            vec![Listings::Status.into_iden(), Listings::Category.into_iden()],
            false,
        )
        .await?;
        create_index(
            manager,
            "listings_provider_idx",
            Listings::Table,
            vec![Listings::ProviderId.into_iden()],
            false,
        )
        .await?;
        create_index(
            manager,
            "listings_price_idx",
            Listings::Table,
            vec![Listings::PriceCents.into_iden(), Listings::Id.into_iden()],
            false,
        )
        .await?;
        create_index(
            manager,
            "listings_created_idx",
            Listings::Table,
            vec![Listings::CreatedAt.into_iden(), Listings::Id.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                Listings::Table.into_iden(),
                Providers::Table.into_iden(),
                TenantMembers::Table.into_iden(),
                Tenants::Table.into_iden(),
            ],
        )
        .await
    }
}
