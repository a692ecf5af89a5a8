//! Orders and everything that hangs off them: the event timeline (also the outbox for
//! subscriptions), deliveries, reviews, disputes and the money ledger.
use crate::cols::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Counters {
    Table,
    Name,
    NextValue,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    Number,
    BuyerId,
    ProviderId,
    ListingId,
    TenantId,
    Status,
    Version,
    PaymentMode,
    Currency,
    PriceCents,
    PlatformFeeCents,
    ProviderPayoutCents,
    RefundedCents,
    CommissionBps,
    AutoCompleteDays,
    RevisionsIncluded,
    RevisionsUsed,
    TurnaroundDays,
    ScriptId,
    ProjectId,
    Notes,
    ScriptFileKey,
    ScriptFileName,
    ScriptContentType,
    ScriptByteSize,
    PaymentIntentId,
    ChargeId,
    PaymentClientSecret,
    HoldExpiresAt,
    SlaDeadline,
    LateMarkedAt,
    DeliveredAt,
    AutoCompleteAt,
    CompletedAt,
    CancelledAt,
    CancelReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderEvents {
    Table,
    Id,
    OrderId,
    FromStatus,
    ToStatus,
    Action,
    ActorKind,
    ActorId,
    Note,
    OccurredAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    OrderId,
    Revision,
    Summary,
    Strengths,
    Weaknesses,
    Recommendations,
    Score,
    FileKey,
    FileName,
    FileContentType,
    FileByteSize,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Reviews {
    Table,
    Id,
    OrderId,
    AuthorId,
    ProviderId,
    Rating,
    Comment,
    ProviderReply,
    RepliedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Disputes {
    Table,
    Id,
    OrderId,
    OpenedBy,
    Reason,
    Description,
    Status,
    AdminNotes,
    RefundCents,
    Currency,
    ResolvedBy,
    ResolvedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LedgerEntries {
    Table,
    Id,
    OrderId,
    Kind,
    Status,
    AmountCents,
    Currency,
    ProcessorId,
    IdempotencyKey,
    Attempts,
    LastError,
    NextAttemptAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let users = Alias::new("users");
        // Named counters drawn with `UPDATE … SET next_value = next_value + 1 RETURNING` inside
        // the transaction that needs the number (order numbers: name "order").
        manager
            .create_table(
                Table::create()
                    .table(Counters::Table)
                    .col(string_len(Counters::Name, 64).primary_key())
                    .col(big_integer(Counters::NextValue))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .col(id(Orders::Id))
                    .col(big_integer(Orders::Number))
                    .col(ref_id(Orders::BuyerId))
                    .col(ref_id(Orders::ProviderId))
                    .col(ref_id(Orders::ListingId))
                    .col(ref_id(Orders::TenantId))
                    .col(status(Orders::Status))
                    // Compare-and-set guard: every transition is
                    // `UPDATE … WHERE id = ? AND status = ? AND version = ?`.
                    .col(integer(Orders::Version).default(0))
                    .col(status(Orders::PaymentMode))
                    .col(currency(Orders::Currency))
                    // Frozen at placement.
                    .col(cents(Orders::PriceCents))
                    .col(cents(Orders::PlatformFeeCents))
                    .col(cents(Orders::ProviderPayoutCents))
                    .col(cents(Orders::RefundedCents).default(0))
                    // Policy snapshot: later changes of settings never change an open order.
                    .col(integer(Orders::CommissionBps))
                    .col(integer(Orders::AutoCompleteDays))
                    .col(integer(Orders::RevisionsIncluded))
                    .col(integer(Orders::RevisionsUsed).default(0))
                    .col(integer_null(Orders::TurnaroundDays))
                    .col(string_len_null(Orders::ScriptId, 200))
                    .col(string_len_null(Orders::ProjectId, 200))
                    .col(text_null(Orders::Notes))
                    .col(string_len_null(Orders::ScriptFileKey, 500))
                    .col(string_len_null(Orders::ScriptFileName, 255))
                    .col(string_len_null(Orders::ScriptContentType, 255))
                    .col(big_integer_null(Orders::ScriptByteSize))
                    .col(string_len_null(Orders::PaymentIntentId, 255))
                    .col(string_len_null(Orders::ChargeId, 255))
                    .col(string_len_null(Orders::PaymentClientSecret, 255))
                    .col(ts_null(Orders::HoldExpiresAt))
                    .col(ts_null(Orders::SlaDeadline))
                    .col(ts_null(Orders::LateMarkedAt))
                    .col(ts_null(Orders::DeliveredAt))
                    .col(ts_null(Orders::AutoCompleteAt))
                    .col(ts_null(Orders::CompletedAt))
                    .col(ts_null(Orders::CancelledAt))
                    .col(string_len_null(Orders::CancelReason, 1000))
                    .col(ts(Orders::CreatedAt))
                    .col(ts(Orders::UpdatedAt))
                    .check(Expr::col(Orders::PriceCents).gt(0))
                    .check(Expr::col(Orders::PlatformFeeCents).gte(0))
                    .check(Expr::col(Orders::RefundedCents).gte(0))
                    .foreign_key(&mut fk(
                        "fk_orders_buyer",
                        Orders::Table,
                        Orders::BuyerId,
                        users.clone(),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_orders_provider",
                        Orders::Table,
                        Orders::ProviderId,
                        Alias::new("providers"),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_orders_listing",
                        Orders::Table,
                        Orders::ListingId,
                        Alias::new("listings"),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_orders_tenant",
                        Orders::Table,
                        Orders::TenantId,
                        Alias::new("tenants"),
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "orders_number_key",
            Orders::Table,
            vec![Orders::Number.into_iden()],
            true,
        )
        .await?;
        create_index(
            manager,
            "orders_buyer_status_created_idx",
            Orders::Table,
            vec![
                Orders::BuyerId.into_iden(),
                Orders::Status.into_iden(),
                Orders::CreatedAt.into_iden(),
            ],
            false,
        )
        .await?;
        create_index(
            manager,
            "orders_provider_status_created_idx",
            Orders::Table,
            vec![
                Orders::ProviderId.into_iden(),
                Orders::Status.into_iden(),
                Orders::CreatedAt.into_iden(),
            ],
            false,
        )
        .await?;
        // The timers scan by status and their deadline.
        create_index(
            manager,
            "orders_status_auto_complete_idx",
            Orders::Table,
            vec![
                Orders::Status.into_iden(),
                Orders::AutoCompleteAt.into_iden(),
            ],
            false,
        )
        .await?;
        create_index(
            manager,
            "orders_status_hold_expires_idx",
            Orders::Table,
            vec![
                Orders::Status.into_iden(),
                Orders::HoldExpiresAt.into_iden(),
            ],
            false,
        )
        .await?;
        create_index(
            manager,
            "orders_payment_intent_idx",
            Orders::Table,
            vec![Orders::PaymentIntentId.into_iden()],
            false,
        )
        .await?;
        create_index(
            manager,
            "orders_listing_idx",
            Orders::Table,
            vec![Orders::ListingId.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderEvents::Table)
                    .col(id(OrderEvents::Id))
                    .col(ref_id(OrderEvents::OrderId))
                    .col(status_null(OrderEvents::FromStatus))
                    .col(status(OrderEvents::ToStatus))
                    .col(string_len(OrderEvents::Action, 40))
                    .col(status(OrderEvents::ActorKind))
                    .col(ref_id_null(OrderEvents::ActorId))
                    .col(text_null(OrderEvents::Note))
                    .col(ts(OrderEvents::OccurredAt))
                    .foreign_key(&mut fk(
                        "fk_order_events_order",
                        OrderEvents::Table,
                        OrderEvents::OrderId,
                        Orders::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_order_events_actor",
                        OrderEvents::Table,
                        OrderEvents::ActorId,
                        users.clone(),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        // Event ids are UUIDv7, so (order_id, id) is the replay order for resumable subscriptions.
        create_index(
            manager,
            "order_events_order_id_idx",
            OrderEvents::Table,
            vec![
                OrderEvents::OrderId.into_iden(),
                OrderEvents::Id.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(id(Deliveries::Id))
                    .col(ref_id(Deliveries::OrderId))
                    .col(integer(Deliveries::Revision))
                    .col(text(Deliveries::Summary))
                    .col(text(Deliveries::Strengths).default(""))
                    .col(text(Deliveries::Weaknesses).default(""))
                    .col(text(Deliveries::Recommendations).default(""))
                    .col(integer_null(Deliveries::Score))
                    .col(string_len_null(Deliveries::FileKey, 500))
                    .col(string_len_null(Deliveries::FileName, 255))
                    .col(string_len_null(Deliveries::FileContentType, 255))
                    .col(big_integer_null(Deliveries::FileByteSize))
                    .col(ts(Deliveries::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_deliveries_order",
                        Deliveries::Table,
                        Deliveries::OrderId,
                        Orders::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "deliveries_order_revision_key",
            Deliveries::Table,
            vec![
                Deliveries::OrderId.into_iden(),
                Deliveries::Revision.into_iden(),
            ],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reviews::Table)
                    .col(id(Reviews::Id))
                    .col(ref_id(Reviews::OrderId))
                    .col(ref_id(Reviews::AuthorId))
                    .col(ref_id(Reviews::ProviderId))
                    .col(integer(Reviews::Rating))
                    .col(text(Reviews::Comment).default(""))
                    .col(text_null(Reviews::ProviderReply))
                    .col(ts_null(Reviews::RepliedAt))
                    .col(ts(Reviews::CreatedAt))
                    .col(ts(Reviews::UpdatedAt))
                    .check(Expr::col(Reviews::Rating).between(1, 5))
                    .foreign_key(&mut fk(
                        "fk_reviews_order",
                        Reviews::Table,
                        Reviews::OrderId,
                        Orders::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_reviews_author",
                        Reviews::Table,
                        Reviews::AuthorId,
                        users.clone(),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_reviews_provider",
                        Reviews::Table,
                        Reviews::ProviderId,
                        Alias::new("providers"),
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "reviews_order_key",
            Reviews::Table,
            vec![Reviews::OrderId.into_iden()],
            true,
        )
        .await?;
        create_index(
            manager,
            "reviews_provider_created_idx",
            Reviews::Table,
            vec![
                Reviews::ProviderId.into_iden(),
                Reviews::CreatedAt.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Disputes::Table)
                    .col(id(Disputes::Id))
                    .col(ref_id(Disputes::OrderId))
                    .col(ref_id(Disputes::OpenedBy))
                    .col(status(Disputes::Reason))
                    .col(text(Disputes::Description))
                    .col(status(Disputes::Status).default("OPEN"))
                    .col(text_null(Disputes::AdminNotes))
                    .col(cents_null(Disputes::RefundCents))
                    .col(currency(Disputes::Currency))
                    .col(ref_id_null(Disputes::ResolvedBy))
                    .col(ts_null(Disputes::ResolvedAt))
                    .col(ts(Disputes::CreatedAt))
                    .col(ts(Disputes::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_disputes_order",
                        Disputes::Table,
                        Disputes::OrderId,
                        Orders::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_disputes_opened_by",
                        Disputes::Table,
                        Disputes::OpenedBy,
                        users.clone(),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_disputes_resolved_by",
                        Disputes::Table,
                        Disputes::ResolvedBy,
                        users.clone(),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "disputes_status_created_idx",
            Disputes::Table,
            vec![
                Disputes::Status.into_iden(),
                Disputes::CreatedAt.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(LedgerEntries::Table)
                    .col(id(LedgerEntries::Id))
                    .col(ref_id(LedgerEntries::OrderId))
                    .col(status(LedgerEntries::Kind))
                    .col(status(LedgerEntries::Status))
                    .col(cents(LedgerEntries::AmountCents))
                    .col(currency(LedgerEntries::Currency))
                    .col(string_len_null(LedgerEntries::ProcessorId, 255))
                    .col(string_len(LedgerEntries::IdempotencyKey, 255))
                    .col(integer(LedgerEntries::Attempts).default(0))
                    .col(text_null(LedgerEntries::LastError))
                    .col(ts_null(LedgerEntries::NextAttemptAt))
                    .col(ts(LedgerEntries::CreatedAt))
                    .col(ts(LedgerEntries::UpdatedAt))
                    .check(Expr::col(LedgerEntries::AmountCents).gte(0))
                    .foreign_key(&mut fk(
                        "fk_ledger_entries_order",
                        LedgerEntries::Table,
                        LedgerEntries::OrderId,
                        Orders::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "ledger_entries_idempotency_key",
            LedgerEntries::Table,
            vec![LedgerEntries::IdempotencyKey.into_iden()],
            true,
        )
        .await?;
        create_index(
            manager,
            "ledger_entries_order_idx",
            LedgerEntries::Table,
            vec![LedgerEntries::OrderId.into_iden()],
            false,
        )
        .await?;
        create_index(
            manager,
            "ledger_entries_status_next_attempt_idx",
            LedgerEntries::Table,
            vec![
                LedgerEntries::Status.into_iden(),
                LedgerEntries::NextAttemptAt.into_iden(),
            ],
            false,
        )
        .await?;

        // One open dispute per order: a partial unique index, the same text on both backends.
        exec_all(
            manager,
            &[
                "CREATE UNIQUE INDEX disputes_order_open_key ON disputes (order_id) \
               WHERE status IN ('OPEN', 'UNDER_REVIEW')",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                LedgerEntries::Table.into_iden(),
                Disputes::Table.into_iden(),
                Reviews::Table.into_iden(),
                Deliveries::Table.into_iden(),
                OrderEvents::Table.into_iden(),
                Orders::Table.into_iden(),
                Counters::Table.into_iden(),
            ],
        )
        .await
    }
}
