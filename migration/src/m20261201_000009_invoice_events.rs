//! The invoice event log: every change of an invoice with its actor and time.
use crate::cols::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InvoiceEvents {
    Table,
    Id,
    InvoiceId,
    Action,
    FromStatus,
    ToStatus,
    ActorId,
    AmountCents,
    Note,
    OccurredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InvoiceEvents::Table)
                    .col(id(InvoiceEvents::Id))
                    .col(ref_id(InvoiceEvents::InvoiceId))
                    .col(status(InvoiceEvents::Action))
                    .col(status_null(InvoiceEvents::FromStatus))
                    .col(status(InvoiceEvents::ToStatus))
                    .col(ref_id_null(InvoiceEvents::ActorId))
                    .col(cents_null(InvoiceEvents::AmountCents))
                    .col(schema::text_null(InvoiceEvents::Note))
                    .col(ts(InvoiceEvents::OccurredAt))
                    .foreign_key(&mut fk(
                        "fk_invoice_events_invoice",
                        InvoiceEvents::Table,
                        InvoiceEvents::InvoiceId,
                        Alias::new("invoices"),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_invoice_events_actor",
                        InvoiceEvents::Table,
                        InvoiceEvents::ActorId,
                        Alias::new("users"),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "invoice_events_invoice_idx",
            InvoiceEvents::Table,
            vec![
                InvoiceEvents::InvoiceId.into_iden(),
                InvoiceEvents::Id.into_iden(),
            ],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![InvoiceEvents::Table.into_iden()]).await
    }
}
