//! Marketplace orders: status, frozen prices and policy snapshot, payment and timer fields.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub number: i64,
    pub buyer_id: String,
    pub provider_id: String,
    pub listing_id: String,
    pub tenant_id: String,
    pub status: OrderStatus,
    pub version: i32,
    pub payment_mode: PaymentMode,
    pub currency: String,
    pub price_cents: i64,
    pub platform_fee_cents: i64,
    pub provider_payout_cents: i64,
    pub refunded_cents: i64,
    pub commission_bps: i32,
    pub auto_complete_days: i32,
    pub revisions_included: i32,
    pub revisions_used: i32,
    pub turnaround_days: Option<i32>,
    pub script_id: Option<String>,
    pub project_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    pub script_file_key: Option<String>,
    pub script_file_name: Option<String>,
    pub script_content_type: Option<String>,
    pub script_byte_size: Option<i64>,
    pub payment_intent_id: Option<String>,
    pub charge_id: Option<String>,
    pub payment_client_secret: Option<String>,
    pub hold_expires_at: Option<DateTimeUtc>,
    pub sla_deadline: Option<DateTimeUtc>,
    pub late_marked_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub auto_complete_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub cancel_reason: Option<String>,
    /// a chargeback is open at the payment processor: the order is frozen and no payout leaves
    pub chargeback_open: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Where an order stands in the state machine (`api::domain::order`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum OrderStatus {
    #[sea_orm(string_value = "PLACED")]
    Placed,
    #[sea_orm(string_value = "PAYMENT_HELD")]
    PaymentHeld,
    #[sea_orm(string_value = "CLAIMED")]
    Claimed,
    #[sea_orm(string_value = "IN_PROGRESS")]
    InProgress,
    #[sea_orm(string_value = "DELIVERED")]
    Delivered,
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    #[sea_orm(string_value = "DISPUTED")]
    Disputed,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
    #[sea_orm(string_value = "PAYMENT_FAILED")]
    PaymentFailed,
    #[sea_orm(string_value = "REFUNDED")]
    Refunded,
}

/// How an order is paid: by card through the platform (escrow), or outside it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum PaymentMode {
    #[sea_orm(string_value = "STRIPE")]
    Stripe,
    #[sea_orm(string_value = "MANUAL")]
    Manual,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::BuyerId",
        to = "super::users::Column::Id",
        on_update = "Cascade",
        on_delete = "Restrict"
    )]
    Buyer,
    #[sea_orm(
        belongs_to = "super::providers::Entity",
        from = "Column::ProviderId",
        to = "super::providers::Column::Id",
        on_update = "Cascade",
        on_delete = "Restrict"
    )]
    Provider,
    #[sea_orm(
        belongs_to = "super::listings::Entity",
        from = "Column::ListingId",
        to = "super::listings::Column::Id",
        on_update = "Cascade",
        on_delete = "Restrict"
    )]
    Listing,
    #[sea_orm(
        belongs_to = "super::tenants::Entity",
        from = "Column::TenantId",
        to = "super::tenants::Column::Id",
        on_update = "Cascade",
        on_delete = "Restrict"
    )]
    Tenant,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Buyer.def()
    }
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Provider.def()
    }
}

impl Related<super::listings::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Listing.def()
    }
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
