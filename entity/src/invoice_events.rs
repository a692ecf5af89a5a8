//! The invoice event log: each change of an invoice, who made it and when.

use sea_orm::entity::prelude::*;

use crate::invoices::InvoiceStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub invoice_id: String,
    /// `create`, `issue`, `mark_paid`, `confirm_payment`, `record_payment`, `refund`, `void`,
    /// `delete`, `restore`
    pub action: String,
    pub from_status: Option<InvoiceStatus>,
    pub to_status: InvoiceStatus,
    /// the user who made the change; none when the system or the payment processor did
    pub actor_id: Option<String>,
    pub amount_cents: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::invoices::Entity",
        from = "Column::InvoiceId",
        to = "super::invoices::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Invoice,
}

impl Related<super::invoices::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Invoice.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
