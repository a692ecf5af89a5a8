//! Client ↔ provider message threads, optionally about a listing or an order.
use crate::cols::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MessageThreads {
    Table,
    Id,
    ClientId,
    ProviderId,
    ListingId,
    OrderId,
    Subject,
    Status,
    LastMessageAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    ThreadId,
    SenderId,
    Body,
    ReadAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let users = Alias::new("users");
        manager
            .create_table(
                Table::create()
                    .table(MessageThreads::Table)
                    .col(id(MessageThreads::Id))
                    .col(ref_id(MessageThreads::ClientId))
                    .col(ref_id(MessageThreads::ProviderId))
                    .col(ref_id_null(MessageThreads::ListingId))
                    .col(ref_id_null(MessageThreads::OrderId))
                    .col(string_len_null(MessageThreads::Subject, 200))
                    .col(status(MessageThreads::Status).default("ACTIVE"))
                    .col(ts(MessageThreads::LastMessageAt))
                    .col(ts(MessageThreads::CreatedAt))
                    .col(ts(MessageThreads::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_message_threads_client",
                        MessageThreads::Table,
                        MessageThreads::ClientId,
                        users.clone(),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_message_threads_provider",
                        MessageThreads::Table,
                        MessageThreads::ProviderId,
                        Alias::new("providers"),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_message_threads_listing",
                        MessageThreads::Table,
                        MessageThreads::ListingId,
                        Alias::new("listings"),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_message_threads_order",
                        MessageThreads::Table,
                        MessageThreads::OrderId,
                        Alias::new("orders"),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "message_threads_client_last_idx",
            MessageThreads::Table,
            vec![
                MessageThreads::ClientId.into_iden(),
                MessageThreads::LastMessageAt.into_iden(),
            ],
            false,
        )
        .await?;
        create_index(
            manager,
            "message_threads_provider_last_idx",
            MessageThreads::Table,
            vec![
                MessageThreads::ProviderId.into_iden(),
                MessageThreads::LastMessageAt.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(id(Messages::Id))
                    .col(ref_id(Messages::ThreadId))
                    .col(ref_id(Messages::SenderId))
                    .col(text(Messages::Body))
                    .col(ts_null(Messages::ReadAt))
                    .col(ts(Messages::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_messages_thread",
                        Messages::Table,
                        Messages::ThreadId,
                        MessageThreads::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_messages_sender",
                        Messages::Table,
                        Messages::SenderId,
                        users.clone(),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "messages_thread_id_idx",
            Messages::Table,
            vec![Messages::ThreadId.into_iden(), Messages::Id.into_iden()],
            false,
        )
        .await?;

        // At most one thread per order.
        exec_all(
            manager,
            &[
                "CREATE UNIQUE INDEX message_threads_order_key ON message_threads (order_id) \
               WHERE order_id IS NOT NULL",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                Messages::Table.into_iden(),
                MessageThreads::Table.into_iden(),
            ],
        )
        .await
    }
}
