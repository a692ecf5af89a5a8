//! Money on a book's own invoices: the client marks a MANUAL invoice paid, members confirm it,
//! record partial payments, refund within what was paid, void, delete and restore. Each move
//! is one update conditional on the money as read, with its payment row, the contact's totals
//! and its line in the event log. An order's invoice moves with its order.
use super::*;

fn refused(err: rules::Refused) -> ApiError {
    match err {
        rules::Refused::State(message) => {
            ApiError::refused(Refusal::new(RefusalCode::InvalidState, message))
        }
        rules::Refused::Amount(message) => invalid("amountCents", message),
    }
}

fn money_of(invoice: &invoices::Model) -> rules::Money {
    rules::Money {
        status: invoice.status,
        total: invoice.total_cents,
        deposit: invoice.deposit_cents.unwrap_or(0),
        paid: invoice.paid_cents,
        refunded: invoice.refunded_cents,
    }
}

/// An order's invoice follows its order: its payment moves go through the order.
fn not_for_order_invoices(invoice: &invoices::Model) -> ApiResult<()> {
    if invoice.order_id.is_some() {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "this invoice follows its order: its payment and refunds move with the order",
        )));
    }
    Ok(())
}

fn live(invoice: &invoices::Model) -> ApiResult<()> {
    if invoice.deleted_at.is_some() {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "the invoice is deleted: restore it first",
        )));
    }
    Ok(())
}

fn changed_meanwhile() -> ApiError {
    ApiError::refused(Refusal::new(
        RefusalCode::Conflict,
        "the invoice changed meanwhile; read it again",
    ))
}

/// What the event log says of a move.
struct Logged<'a> {
    action: &'a str,
    /// who moves it: the actor in the log, and the scope of the transaction
    by: &'a Viewer,
    amount: Option<i64>,
    note: Option<&'a str>,
}

/// A payment received, recorded with the move.
struct Received<'a> {
    amount: i64,
    method: &'a str,
    reference: Option<&'a str>,
    recorded_by: Option<&'a str>,
}

/// Persists a payment move: one update conditional on the money as read (a concurrent move
/// makes it a CONFLICT), the payment row, and the contact's totals, in one transaction.
async fn persist(
    state: &AppState,
    invoice: &invoices::Model,
    moved: rules::Moved,
    received: Option<Received<'_>>,
    refunded_now: i64,
    extra: Vec<(invoices::Column, sea_orm::sea_query::SimpleExpr)>,
    change: Logged<'_>,
) -> ApiResult<invoices::Model> {
    let now = state.now();
    let txn = tenancy::begin(state, change.by, &state.db.writer).await?;
    let mut update = invoices::Entity::update_many()
        .col_expr(invoices::Column::Status, Expr::value(moved.status))
        .col_expr(invoices::Column::PaidCents, Expr::value(moved.paid))
        .col_expr(invoices::Column::RefundedCents, Expr::value(moved.refunded))
        .col_expr(invoices::Column::UpdatedAt, Expr::value(now));
    if moved.status == InvoiceStatus::Paid && invoice.status != InvoiceStatus::Paid {
        update = update.col_expr(invoices::Column::PaidAt, Expr::value(now));
    }
    for (col, value) in extra {
        update = update.col_expr(col, value);
    }
    let updated = update
        .filter(invoices::Column::Id.eq(invoice.id.clone()))
        .filter(invoices::Column::Status.eq(invoice.status))
        .filter(invoices::Column::PaidCents.eq(invoice.paid_cents))
        .filter(invoices::Column::RefundedCents.eq(invoice.refunded_cents))
        .filter(invoices::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(changed_meanwhile());
    }
    log_change(
        &txn,
        &invoice.id,
        InvoiceChange {
            action: change.action,
            from: Some(invoice.status),
            to: moved.status,
            actor: change.by.id(),
            amount: change.amount,
            note: change.note,
        },
        now,
    )
    .await?;
    let spent = received.as_ref().map_or(0, |r| r.amount) - refunded_now;
    if let Some(r) = received.filter(|r| r.amount > 0) {
        payments::ActiveModel {
            id: Set(ids::new_id(Kind::Payment)),
            invoice_id: Set(invoice.id.clone()),
            amount_cents: Set(r.amount),
            currency: Set(invoice.currency.clone()),
            method: Set(r.method.to_owned()),
            reference: Set(r.reference.map(str::to_owned)),
            received_at: Set(now),
            recorded_by: Set(r.recorded_by.map(str::to_owned)),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    if let Some(contact_id) = &invoice.contact_id {
        let settled =
            i32::from(moved.status == InvoiceStatus::Paid && invoice.status != InvoiceStatus::Paid);
        if spent != 0 || settled != 0 {
            contacts::Entity::update_many()
                .col_expr(
                    contacts::Column::TotalSpentCents,
                    Expr::col(contacts::Column::TotalSpentCents).add(spent),
                )
                .col_expr(
                    contacts::Column::TotalTransactions,
                    Expr::col(contacts::Column::TotalTransactions).add(settled),
                )
                .col_expr(contacts::Column::UpdatedAt, Expr::value(now))
                .filter(contacts::Column::Id.eq(contact_id.as_str()))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    reload(state, &invoice.id).await
}

async fn reload(state: &AppState, id: &str) -> ApiResult<invoices::Model> {
    find(&state.db.writer, id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("invoice {id} vanished")))
}

/// A method and reference of a payment: one line each, 1–100 and 1–200 characters.
fn payment_text(raw: &str, field: &str, max: usize) -> ApiResult<String> {
    crate::domain::clean_text(raw, field, 1, max, false).map_err(|e| invalid(field, e.0))
}

/// The client says it paid a MANUAL invoice: PENDING_CONFIRMATION until a member confirms.
/// An order's invoice moves with its order (`markOrderPaid`), whichever is called.
#[tracing::instrument(skip(state, viewer, method, reference))]
pub async fn mark_paid(
    state: &AppState,
    viewer: &Viewer,
    invoice_id: &str,
    method: &str,
    reference: &str,
) -> ApiResult<invoices::Model> {
    let user_id = viewer.user()?.id.clone();
    let method = payment_text(method, "method", 100)?;
    let reference = payment_text(reference, "reference", 200)?;
    let invoice = for_viewer(state, viewer, invoice_id)
        .await?
        .ok_or_else(|| no_such("invoiceId", "invoice"))?;
    if invoice.client_id.as_deref() != Some(user_id.as_str()) {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::NotAllowed,
            "only the invoice's client may mark it paid",
        )));
    }
    live(&invoice)?;
    if let Some(order_id) = &invoice.order_id {
        let command = crate::services::orders::Command::MarkPaid {
            method: &method,
            reference: &reference,
        };
        crate::services::orders::command(state, viewer, order_id, command, None).await?;
        return reload(state, &invoice.id).await;
    }
    if invoice.payment_mode != PaymentMode::Manual {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "only a MANUAL invoice is paid outside the platform",
        )));
    }
    let moved = rules::mark_paid(money_of(&invoice)).map_err(refused)?;
    let now = state.now();
    persist(
        state,
        &invoice,
        moved,
        None,
        0,
        vec![
            (invoices::Column::BuyerMarkedPaidAt, Expr::value(now)),
            (
                invoices::Column::BuyerPaymentMethod,
                Expr::value(method.clone()),
            ),
            (
                invoices::Column::BuyerPaymentReference,
                Expr::value(reference.clone()),
            ),
        ],
        Logged {
            action: "mark_paid",
            by: viewer,
            amount: None,
            note: Some(&format!("{method}: {reference}")),
        },
    )
    .await
}

/// A member confirms the money arrived: a payment for the balance, PAID. An order's invoice
/// moves with its order (`confirmOrderPayment`).
#[tracing::instrument(skip(state, viewer))]
pub async fn confirm_payment(
    state: &AppState,
    viewer: &Viewer,
    invoice_id: &str,
) -> ApiResult<invoices::Model> {
    let invoice = writable(state, viewer, invoice_id).await?;
    live(&invoice)?;
    if let Some(order_id) = &invoice.order_id {
        crate::services::orders::command(
            state,
            viewer,
            order_id,
            crate::services::orders::Command::ConfirmPayment,
            None,
        )
        .await?;
        return reload(state, &invoice.id).await;
    }
    let (moved, balance) = rules::confirm(money_of(&invoice)).map_err(refused)?;
    let user_id = viewer.id().map(str::to_owned);
    let method = invoice
        .buyer_payment_method
        .clone()
        .unwrap_or_else(|| "manual".to_owned());
    let now = state.now();
    persist(
        state,
        &invoice,
        moved,
        Some(Received {
            amount: balance,
            method: &method,
            reference: invoice.buyer_payment_reference.as_deref(),
            recorded_by: user_id.as_deref(),
        }),
        0,
        vec![
            (invoices::Column::ProviderConfirmedAt, Expr::value(now)),
            (
                invoices::Column::ProviderConfirmedBy,
                Expr::value(user_id.clone()),
            ),
        ],
        Logged {
            action: "confirm_payment",
            by: viewer,
            amount: Some(balance),
            note: Some(&method),
        },
    )
    .await
}

/// A member records a payment of part or all of the balance; PAID at zero.
#[tracing::instrument(skip(state, viewer, method, reference))]
pub async fn record_payment(
    state: &AppState,
    viewer: &Viewer,
    invoice_id: &str,
    amount: i64,
    method: &str,
    reference: Option<&str>,
) -> ApiResult<invoices::Model> {
    let invoice = writable(state, viewer, invoice_id).await?;
    let method = payment_text(method, "method", 100)?;
    let reference = reference
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| payment_text(r, "reference", 200))
        .transpose()?;
    live(&invoice)?;
    not_for_order_invoices(&invoice)?;
    let moved = rules::record_payment(money_of(&invoice), amount).map_err(refused)?;
    let user_id = viewer.id().map(str::to_owned);
    persist(
        state,
        &invoice,
        moved,
        Some(Received {
            amount,
            method: &method,
            reference: reference.as_deref(),
            recorded_by: user_id.as_deref(),
        }),
        0,
        Vec::new(),
        Logged {
            action: "record_payment",
            by: viewer,
            amount: Some(amount),
            note: Some(&method),
        },
    )
    .await
}

/// A member refunds part or all of what was paid, never more.
#[tracing::instrument(skip(state, viewer, reason))]
pub async fn refund(
    state: &AppState,
    viewer: &Viewer,
    invoice_id: &str,
    amount: i64,
    reason: &str,
) -> ApiResult<invoices::Model> {
    let invoice = writable(state, viewer, invoice_id).await?;
    let reason = crate::domain::clean_text(reason, "reason", 1, 1000, true)
        .map_err(|e| invalid("reason", e.0))?;
    live(&invoice)?;
    not_for_order_invoices(&invoice)?;
    let moved = rules::refund(money_of(&invoice), amount).map_err(refused)?;
    tracing::info!(invoice = %invoice.id, amount, reason = %reason, "invoice refunded");
    persist(
        state,
        &invoice,
        moved,
        None,
        amount,
        Vec::new(),
        Logged {
            action: "refund",
            by: viewer,
            amount: Some(amount),
            note: Some(&reason),
        },
    )
    .await
}

/// VOID: only with nothing paid.
#[tracing::instrument(skip(state, viewer))]
pub async fn void(
    state: &AppState,
    viewer: &Viewer,
    invoice_id: &str,
) -> ApiResult<invoices::Model> {
    let invoice = writable(state, viewer, invoice_id).await?;
    live(&invoice)?;
    not_for_order_invoices(&invoice)?;
    let moved = rules::void(money_of(&invoice)).map_err(refused)?;
    let now = state.now();
    persist(
        state,
        &invoice,
        moved,
        None,
        0,
        vec![(invoices::Column::VoidedAt, Expr::value(now))],
        Logged {
            action: "void",
            by: viewer,
            amount: None,
            note: None,
        },
    )
    .await
}

/// Soft delete of a DRAFT or VOID invoice; `restore` brings it back whole.
#[tracing::instrument(skip(state, viewer))]
pub async fn delete(
    state: &AppState,
    viewer: &Viewer,
    invoice_id: &str,
) -> ApiResult<invoices::Model> {
    let invoice = writable(state, viewer, invoice_id).await?;
    live(&invoice)?;
    if !rules::may_delete(invoice.status) {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "only a DRAFT or VOID invoice can be deleted",
        )));
    }
    set_deleted(state, viewer, &invoice, Some(state.now())).await
}

#[tracing::instrument(skip(state, viewer))]
pub async fn restore(
    state: &AppState,
    viewer: &Viewer,
    invoice_id: &str,
) -> ApiResult<invoices::Model> {
    let invoice = writable(state, viewer, invoice_id).await?;
    if invoice.deleted_at.is_none() {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "the invoice is not deleted",
        )));
    }
    set_deleted(state, viewer, &invoice, None).await
}

async fn set_deleted(
    state: &AppState,
    viewer: &Viewer,
    invoice: &invoices::Model,
    at: Option<DateTime<Utc>>,
) -> ApiResult<invoices::Model> {
    let now = state.now();
    let txn = tenancy::begin(state, viewer, &state.db.writer).await?;
    let moved = invoices::Entity::update_many()
        .col_expr(invoices::Column::DeletedAt, Expr::value(at))
        .col_expr(invoices::Column::UpdatedAt, Expr::value(now))
        .filter(invoices::Column::Id.eq(invoice.id.clone()))
        .filter(match invoice.deleted_at {
            Some(_) => invoices::Column::DeletedAt.is_not_null(),
            None => invoices::Column::DeletedAt.is_null(),
        })
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(changed_meanwhile());
    }
    log_change(
        &txn,
        &invoice.id,
        InvoiceChange {
            action: if at.is_some() { "delete" } else { "restore" },
            from: Some(invoice.status),
            to: invoice.status,
            actor: viewer.id(),
            amount: None,
            note: None,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    reload(state, &invoice.id).await
}
