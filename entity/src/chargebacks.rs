//! Chargebacks: disputes opened by the card network at the payment processor, one per order's
//! charge, keyed by the processor's dispute id.

use sea_orm::entity::prelude::*;

use crate::orders::OrderStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chargebacks")]
pub struct Model {
    /// the processor's dispute id (`dp_…`)
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub order_id: String,
    pub charge_id: String,
    pub amount_cents: i64,
    pub currency: String,
    /// the card network's reason as the processor names it (`fraudulent`, `general`, …)
    pub reason: String,
    pub status: ChargebackStatus,
    /// where the order stood when the chargeback froze it; a won chargeback returns it there
    pub prior_status: OrderStatus,
    pub opened_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// OPEN while the card network decides; WON leaves the money with the platform, LOST gives it
/// back to the buyer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum ChargebackStatus {
    #[sea_orm(string_value = "OPEN")]
    Open,
    #[sea_orm(string_value = "WON")]
    Won,
    #[sea_orm(string_value = "LOST")]
    Lost,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::orders::Entity",
        from = "Column::OrderId",
        to = "super::orders::Column::Id",
        on_update = "Cascade",
        on_delete = "Restrict"
    )]
    Order,
}

impl Related<super::orders::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Order.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
