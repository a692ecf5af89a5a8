//! Messages within a thread, with read receipts.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub thread_id: String,
    pub sender_id: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub read_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// Position in its thread, in commit order: `messageAdded` resumes after it.
    pub seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::message_threads::Entity",
        from = "Column::ThreadId",
        to = "super::message_threads::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Thread,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::SenderId",
        to = "super::users::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Sender,
}

impl Related<super::message_threads::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Thread.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sender.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
