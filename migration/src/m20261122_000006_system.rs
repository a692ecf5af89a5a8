//! Bookkeeping of the platform itself: processed Stripe events and idempotency keys.
use crate::cols::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    Id,
    EventType,
    Account,
    ReceivedAt,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    UserId,
    Operation,
    Key,
    RequestHash,
    Response,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StripeEvents::Table)
                    // Stripe's own event id (evt_…): inserting it twice fails, which is how a
                    // redelivered event is recognised and skipped.
                    .col(string_len(StripeEvents::Id, 255).primary_key())
                    .col(string_len(StripeEvents::EventType, 100))
                    .col(string_len_null(StripeEvents::Account, 255))
                    .col(ts(StripeEvents::ReceivedAt))
                    .col(ts_null(StripeEvents::ProcessedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(id(IdempotencyKeys::Id))
                    .col(ref_id(IdempotencyKeys::UserId))
                    .col(string_len(IdempotencyKeys::Operation, 64))
                    .col(string_len(IdempotencyKeys::Key, 255))
                    .col(string_len(IdempotencyKeys::RequestHash, 64))
                    .col(text_null(IdempotencyKeys::Response))
                    .col(ts(IdempotencyKeys::CreatedAt))
                    .col(ts(IdempotencyKeys::ExpiresAt))
                    .foreign_key(&mut fk(
                        "fk_idempotency_keys_user",
                        IdempotencyKeys::Table,
                        IdempotencyKeys::UserId,
                        Alias::new("users"),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "idempotency_keys_user_operation_key",
            IdempotencyKeys::Table,
            vec![
                IdempotencyKeys::UserId.into_iden(),
                IdempotencyKeys::Operation.into_iden(),
                IdempotencyKeys::Key.into_iden(),
            ],
            true,
        )
        .await?;
        create_index(
            manager,
            "idempotency_keys_expires_idx",
            IdempotencyKeys::Table,
            vec![IdempotencyKeys::ExpiresAt.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                IdempotencyKeys::Table.into_iden(),
                StripeEvents::Table.into_iden(),
            ],
        )
        .await
    }
}
