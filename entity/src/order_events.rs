//! Order timeline: one row per status transition or action (also the subscription outbox).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub order_id: String,
    pub from_status: Option<super::orders::OrderStatus>,
    pub to_status: super::orders::OrderStatus,
    pub action: String,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub occurred_at: DateTimeUtc,
    /// Position among all order events, in commit order: subscriptions resume after it.
    pub seq: i64,
}

/// Who moved the order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ActorKind {
    #[sea_orm(string_value = "BUYER")]
    Buyer,
    #[sea_orm(string_value = "PROVIDER")]
    Provider,
    #[sea_orm(string_value = "ADMIN")]
    Admin,
    #[sea_orm(string_value = "SYSTEM")]
    System,
    #[sea_orm(string_value = "PAYMENT_PROCESSOR")]
    PaymentProcessor,
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
        from = "Column::ActorId",
        to = "super::users::Column::Id",
        on_update = "Cascade",
        on_delete = "SetNull"
    )]
    Actor,
}

impl Related<super::orders::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Order.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
