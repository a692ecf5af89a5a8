//! Money movements for orders (charges, refunds, payouts) with idempotent retry state.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub order_id: String,
    pub kind: LedgerKind,
    pub status: LedgerStatus,
    pub amount_cents: i64,
    pub currency: String,
    pub processor_id: Option<String>,
    pub idempotency_key: String,
    pub attempts: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// What an entry moves: the captured charge, a payout, a refund, or the platform's commission;
/// after a chargeback, a payout taken back, the commission given up, and what the card network
/// took.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum LedgerKind {
    #[sea_orm(string_value = "CHARGE")]
    Charge,
    #[sea_orm(string_value = "TRANSFER")]
    Transfer,
    #[sea_orm(string_value = "REFUND")]
    Refund,
    #[sea_orm(string_value = "FEE")]
    Fee,
    /// a payout recovered from the connected account (a Stripe transfer reversal)
    #[sea_orm(string_value = "TRANSFER_REVERSAL")]
    TransferReversal,
    /// commission the platform gives up when a chargeback is lost
    #[sea_orm(string_value = "FEE_REVERSAL")]
    FeeReversal,
    /// money the card network returned to the buyer: a lost chargeback
    #[sea_orm(string_value = "CHARGEBACK")]
    Chargeback,
}

/// Where an entry stands with the processor; OWED is commission a MANUAL tenant owes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum LedgerStatus {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "SUCCEEDED")]
    Succeeded,
    #[sea_orm(string_value = "FAILED")]
    Failed,
    #[sea_orm(string_value = "OWED")]
    Owed,
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
