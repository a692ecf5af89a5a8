//! Disputes opened on orders and their admin resolution (including any refund).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "disputes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub order_id: String,
    pub opened_by: String,
    pub reason: DisputeReason,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub status: DisputeStatus,
    #[sea_orm(column_type = "Text", nullable)]
    pub admin_notes: Option<String>,
    pub refund_cents: Option<i64>,
    pub currency: String,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The position of the latest change in commit order (the `dispute_change` counter):
    /// `disputeUpdated` re-reads the changes after the last one it sent by it.
    pub change_seq: i64,
}

/// Why the buyer (or the card network) disputes the order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum DisputeReason {
    #[sea_orm(string_value = "NON_DELIVERY")]
    NonDelivery,
    #[sea_orm(string_value = "QUALITY")]
    Quality,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// OPEN → UNDER_REVIEW → one of the three outcomes (an admin may also resolve an OPEN one).
/// The partial unique index `disputes_order_open_key` counts OPEN and UNDER_REVIEW as open.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum DisputeStatus {
    #[sea_orm(string_value = "OPEN")]
    Open,
    #[sea_orm(string_value = "UNDER_REVIEW")]
    UnderReview,
    #[sea_orm(string_value = "RESOLVED_REFUND")]
    ResolvedRefund,
    #[sea_orm(string_value = "RESOLVED_NO_REFUND")]
    ResolvedNoRefund,
    #[sea_orm(string_value = "RESOLVED_PARTIAL")]
    ResolvedPartial,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::orders::Entity",
        from = "Column::OrderId",
        to = "super::orders::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Order,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::OpenedBy",
        to = "super::users::Column::Id",
        on_update = "Cascade",
        on_delete = "Restrict"
    )]
    OpenedBy,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::ResolvedBy",
        to = "super::users::Column::Id",
        on_update = "Cascade",
        on_delete = "SetNull"
    )]
    ResolvedBy,
}

impl Related<super::orders::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Order.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
