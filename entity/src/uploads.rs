//! Presigned uploads of order files: what was declared, where the client PUTs, and once attached
//! the frozen copy that the order or delivery keeps.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub order_id: String,
    /// `DELIVERY_REPORT` or `ORDER_SCRIPT`
    pub purpose: String,
    pub uploader_id: String,
    /// the key the presigned URL writes to
    pub object_key: String,
    pub file_name: String,
    /// the declared (and signed) content type
    pub content_type: String,
    /// the declared size: the upload may not be larger
    pub byte_size: i64,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// set once, when the upload is attached; the URL is spent from then on
    pub attached_at: Option<DateTimeUtc>,
    /// the copy that was attached, which no URL can write to
    pub final_key: Option<String>,
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
}

impl Related<super::orders::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Order.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
