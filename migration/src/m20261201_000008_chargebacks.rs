//! Chargebacks: disputes the card network opens at the payment processor (Stripe's
//! `charge.dispute.*`), one per order's charge, and the flag on the order that holds its payouts
//! while one is open.
use crate::cols::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Chargebacks {
    Table,
    /// the processor's dispute id (`dp_…`)
    Id,
    OrderId,
    ChargeId,
    AmountCents,
    Currency,
    Reason,
    Status,
    /// the order's status when the chargeback froze it, to resume on a win
    PriorStatus,
    OpenedAt,
    ClosedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    ChargebackOpen,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Chargebacks::Table)
                    .col(schema::string_len(Chargebacks::Id, 255).primary_key())
                    .col(ref_id(Chargebacks::OrderId))
                    .col(schema::string_len(Chargebacks::ChargeId, 255))
                    .col(cents(Chargebacks::AmountCents))
                    .col(currency(Chargebacks::Currency))
                    .col(schema::string_len(Chargebacks::Reason, 64))
                    .col(status(Chargebacks::Status))
                    .col(status(Chargebacks::PriorStatus))
                    .col(ts(Chargebacks::OpenedAt))
                    .col(ts_null(Chargebacks::ClosedAt))
                    .col(ts(Chargebacks::CreatedAt))
                    .col(ts(Chargebacks::UpdatedAt))
                    .check(Expr::col(Chargebacks::AmountCents).gte(0))
                    .foreign_key(&mut fk(
                        "fk_chargebacks_order",
                        Chargebacks::Table,
                        Chargebacks::OrderId,
                        Alias::new("orders"),
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        // A charge has at most one dispute at Stripe, so an order has at most one chargeback.
        create_index(
            manager,
            "chargebacks_order_key",
            Chargebacks::Table,
            vec![Chargebacks::OrderId.into_iden()],
            true,
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(schema::boolean(Orders::ChargebackOpen).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .drop_column(Orders::ChargebackOpen)
                    .to_owned(),
            )
            .await?;
        drop_tables(manager, vec![Chargebacks::Table.into_iden()]).await
    }
}
