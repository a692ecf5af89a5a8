//! Seller organisations and their payment settings (manual or Stripe Connect).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub slug: String,
    pub payment_mode: TenantPaymentMode,
    #[sea_orm(column_type = "Text", nullable)]
    pub payment_instructions: Option<String>,
    pub stripe_account_id: Option<String>,
    pub stripe_onboarding_complete: bool,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    pub requirements_past_due: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// How a tenant is paid: Stripe Connect, outside the platform, or not at all.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum TenantPaymentMode {
    #[sea_orm(string_value = "STRIPE")]
    Stripe,
    #[sea_orm(string_value = "MANUAL")]
    Manual,
    #[sea_orm(string_value = "DISABLED")]
    Disabled,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
