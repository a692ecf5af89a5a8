//! Tenant invoicing: contacts, invoices with line items and payments, per-tenant numbering.
//! Contacts and invoices are soft-deleted (`deleted_at`); uniqueness holds among live rows only.
use crate::cols::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Contacts {
    Table,
    Id,
    TenantId,
    UserId,
    Name,
    Email,
    Phone,
    FirstContactedAt,
    TotalTransactions,
    TotalSpentCents,
    Currency,
    DeletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InvoiceCounters {
    Table,
    TenantId,
    Year,
    NextValue,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
    TenantId,
    Number,
    ContactId,
    ClientId,
    OrderId,
    Status,
    PaymentMode,
    Currency,
    TotalCents,
    DepositCents,
    PaidCents,
    RefundedCents,
    BuyerMarkedPaidAt,
    BuyerPaymentMethod,
    BuyerPaymentReference,
    ProviderConfirmedAt,
    ProviderConfirmedBy,
    IssuedAt,
    DueAt,
    PaidAt,
    VoidedAt,
    DeletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InvoiceLineItems {
    Table,
    Id,
    InvoiceId,
    Position,
    Description,
    Quantity,
    UnitPriceCents,
    TotalCents,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    InvoiceId,
    AmountCents,
    Currency,
    Method,
    Reference,
    ReceivedAt,
    RecordedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let users = Alias::new("users");
        let tenants = Alias::new("tenants");
        manager
            .create_table(
                Table::create()
                    .table(Contacts::Table)
                    .col(id(Contacts::Id))
                    .col(ref_id(Contacts::TenantId))
                    // The marketplace user behind the contact, when there is one.
                    .col(ref_id_null(Contacts::UserId))
                    .col(string_len(Contacts::Name, 200))
                    .col(string_len_null(Contacts::Email, 254))
                    .col(string_len_null(Contacts::Phone, 40))
                    .col(ts_null(Contacts::FirstContactedAt))
                    .col(integer(Contacts::TotalTransactions).default(0))
                    .col(cents(Contacts::TotalSpentCents).default(0))
                    .col(currency(Contacts::Currency).default("USD"))
                    .col(ts_null(Contacts::DeletedAt))
                    .col(ts(Contacts::CreatedAt))
                    .col(ts(Contacts::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_contacts_tenant",
                        Contacts::Table,
                        Contacts::TenantId,
                        tenants.clone(),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_contacts_user",
                        Contacts::Table,
                        Contacts::UserId,
                        users.clone(),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InvoiceCounters::Table)
                    .col(ref_id(InvoiceCounters::TenantId))
                    .col(integer(InvoiceCounters::Year))
                    .col(big_integer(InvoiceCounters::NextValue))
                    .primary_key(
                        Index::create()
                            .name("invoice_counters_pkey")
                            .col(InvoiceCounters::TenantId)
                            .col(InvoiceCounters::Year),
                    )
                    .foreign_key(&mut fk(
                        "fk_invoice_counters_tenant",
                        InvoiceCounters::Table,
                        InvoiceCounters::TenantId,
                        tenants.clone(),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invoices::Table)
                    .col(id(Invoices::Id))
                    .col(ref_id(Invoices::TenantId))
                    // INV-YYYY-NNNNNN, unique per tenant (deleted ones included: never reused).
                    .col(string_len(Invoices::Number, 32))
                    .col(ref_id_null(Invoices::ContactId))
                    .col(ref_id_null(Invoices::ClientId))
                    .col(ref_id_null(Invoices::OrderId))
                    .col(status(Invoices::Status).default("DRAFT"))
                    .col(status(Invoices::PaymentMode))
                    .col(currency(Invoices::Currency))
                    .col(cents(Invoices::TotalCents))
                    .col(cents_null(Invoices::DepositCents))
                    .col(cents(Invoices::PaidCents).default(0))
                    .col(cents(Invoices::RefundedCents).default(0))
                    .col(ts_null(Invoices::BuyerMarkedPaidAt))
                    .col(string_len_null(Invoices::BuyerPaymentMethod, 100))
                    .col(string_len_null(Invoices::BuyerPaymentReference, 200))
                    .col(ts_null(Invoices::ProviderConfirmedAt))
                    .col(ref_id_null(Invoices::ProviderConfirmedBy))
                    .col(ts_null(Invoices::IssuedAt))
                    .col(ts_null(Invoices::DueAt))
                    .col(ts_null(Invoices::PaidAt))
                    .col(ts_null(Invoices::VoidedAt))
                    .col(ts_null(Invoices::DeletedAt))
                    .col(ts(Invoices::CreatedAt))
                    .col(ts(Invoices::UpdatedAt))
                    .check(Expr::col(Invoices::TotalCents).gte(0))
                    .check(Expr::col(Invoices::PaidCents).gte(0))
                    .check(Expr::col(Invoices::RefundedCents).gte(0))
                    .foreign_key(&mut fk(
                        "fk_invoices_tenant",
                        Invoices::Table,
                        Invoices::TenantId,
                        tenants.clone(),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_invoices_contact",
                        Invoices::Table,
                        Invoices::ContactId,
                        Contacts::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_invoices_client",
                        Invoices::Table,
                        Invoices::ClientId,
                        users.clone(),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_invoices_order",
                        Invoices::Table,
                        Invoices::OrderId,
                        Alias::new("orders"),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_invoices_confirmed_by",
                        Invoices::Table,
                        Invoices::ProviderConfirmedBy,
                        users.clone(),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "invoices_tenant_number_key",
            Invoices::Table,
            vec![Invoices::TenantId.into_iden(), Invoices::Number.into_iden()],
            true,
        )
        .await?;
        create_index(
            manager,
            "invoices_order_idx",
            Invoices::Table,
            vec![Invoices::OrderId.into_iden()],
            false,
        )
        .await?;
        create_index(
            manager,
            "invoices_client_idx",
            Invoices::Table,
            vec![
                Invoices::ClientId.into_iden(),
                Invoices::CreatedAt.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(InvoiceLineItems::Table)
                    .col(id(InvoiceLineItems::Id))
                    .col(ref_id(InvoiceLineItems::InvoiceId))
                    .col(integer(InvoiceLineItems::Position))
                    .col(string_len(InvoiceLineItems::Description, 500))
                    .col(integer(InvoiceLineItems::Quantity))
                    .col(cents(InvoiceLineItems::UnitPriceCents))
                    .col(cents(InvoiceLineItems::TotalCents))
                    .check(Expr::col(InvoiceLineItems::Quantity).gt(0))
                    .foreign_key(&mut fk(
                        "fk_invoice_line_items_invoice",
                        InvoiceLineItems::Table,
                        InvoiceLineItems::InvoiceId,
                        Invoices::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "invoice_line_items_invoice_position_key",
            InvoiceLineItems::Table,
            vec![
                InvoiceLineItems::InvoiceId.into_iden(),
                InvoiceLineItems::Position.into_iden(),
            ],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(id(Payments::Id))
                    .col(ref_id(Payments::InvoiceId))
                    .col(cents(Payments::AmountCents))
                    .col(currency(Payments::Currency))
                    .col(string_len(Payments::Method, 100))
                    .col(string_len_null(Payments::Reference, 200))
                    .col(ts(Payments::ReceivedAt))
                    .col(ref_id_null(Payments::RecordedBy))
                    .col(ts(Payments::CreatedAt))
                    .check(Expr::col(Payments::AmountCents).gt(0))
                    .foreign_key(&mut fk(
                        "fk_payments_invoice",
                        Payments::Table,
                        Payments::InvoiceId,
                        Invoices::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_payments_recorded_by",
                        Payments::Table,
                        Payments::RecordedBy,
                        users.clone(),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "payments_invoice_idx",
            Payments::Table,
            vec![Payments::InvoiceId.into_iden()],
            false,
        )
        .await?;

        // Partial indexes over live rows; the same text runs on SQLite and PostgreSQL.
        exec_all(
            manager,
            &[
                "CREATE UNIQUE INDEX contacts_tenant_user_live_key ON contacts (tenant_id, user_id) \
                 WHERE deleted_at IS NULL AND user_id IS NOT NULL",
                "CREATE INDEX contacts_tenant_created_live_idx ON contacts (tenant_id, created_at) \
                 WHERE deleted_at IS NULL",
                "CREATE INDEX invoices_tenant_status_created_live_idx \
                 ON invoices (tenant_id, status, created_at) WHERE deleted_at IS NULL",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                Payments::Table.into_iden(),
                InvoiceLineItems::Table.into_iden(),
                Invoices::Table.into_iden(),
                InvoiceCounters::Table.into_iden(),
                Contacts::Table.into_iden(),
            ],
        )
        .await
    }
}
