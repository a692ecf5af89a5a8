//! Tenant invoicing as far as orders need it: per-tenant invoice numbers, the buyer's contact,
//! the order's invoice and its status as the order moves.
use chrono::{DateTime, Datelike, Utc};
use entity::invoices::InvoiceStatus;
use entity::{
    contacts, counters, invoice_counters, invoice_events, invoice_line_items, invoices, orders,
    payments, users,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveEnum as _, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
};

use crate::db::is_unique_violation;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind};

/// Draws the next value of a named global counter inside the caller's transaction, in one
/// statement: `INSERT … ON CONFLICT DO UPDATE SET next_value = next_value + 1 RETURNING`. The
/// row serializes concurrent draws, the first draw creates it, and no failed insert can abort
/// a PostgreSQL transaction (an insert-then-update fallback did, on a fresh database). A
/// transaction that rolls back returns its value: numbers stay gapless.
pub async fn next_counter(conn: &impl ConnectionTrait, name: &str) -> ApiResult<i64> {
    let row = counters::Entity::insert(counters::ActiveModel {
        name: Set(name.to_owned()),
        next_value: Set(1),
    })
    .on_conflict(
        OnConflict::column(counters::Column::Name)
            .value(
                counters::Column::NextValue,
                Expr::col((counters::Entity, counters::Column::NextValue)).add(1),
            )
            .to_owned(),
    )
    .exec_with_returning(conn)
    .await?;
    Ok(row.next_value)
}

/// The next invoice number of a tenant for a year, `INV-YYYY-NNNNNN`, drawn as `next_counter`
/// draws: consecutive within a tenant and year, and given back by a create that fails.
pub async fn next_invoice_number(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    year: i32,
) -> ApiResult<String> {
    let row = invoice_counters::Entity::insert(invoice_counters::ActiveModel {
        tenant_id: Set(tenant_id.to_owned()),
        year: Set(year),
        next_value: Set(1),
    })
    .on_conflict(
        OnConflict::columns([
            invoice_counters::Column::TenantId,
            invoice_counters::Column::Year,
        ])
        .value(
            invoice_counters::Column::NextValue,
            Expr::col((
                invoice_counters::Entity,
                invoice_counters::Column::NextValue,
            ))
            .add(1),
        )
        .to_owned(),
    )
    .exec_with_returning(conn)
    .await?;
    Ok(format!("INV-{year}-{:06}", row.next_value))
}

/// One change of an invoice for its event log.
pub struct InvoiceChange<'a> {
    pub action: &'a str,
    pub from: Option<InvoiceStatus>,
    pub to: InvoiceStatus,
    /// the user who made it; `None` for the system or the payment processor
    pub actor: Option<&'a str>,
    pub amount: Option<i64>,
    pub note: Option<&'a str>,
}

/// Records a change in the invoice's event log, inside the caller's transaction.
pub async fn log_change(
    conn: &impl ConnectionTrait,
    invoice_id: &str,
    change: InvoiceChange<'_>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    invoice_events::ActiveModel {
        id: Set(ids::new_id(Kind::InvoiceEvent)),
        invoice_id: Set(invoice_id.to_owned()),
        action: Set(change.action.to_owned()),
        from_status: Set(change.from),
        to_status: Set(change.to),
        actor_id: Set(change.actor.map(str::to_owned)),
        amount_cents: Set(change.amount),
        note: Set(change.note.map(|n| n.chars().take(1000).collect())),
        occurred_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The tenant's live contact for a marketplace user, made on first contact.
pub async fn ensure_contact(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user: &users::Model,
    now: DateTime<Utc>,
) -> ApiResult<contacts::Model> {
    let live = contacts::Entity::find()
        .filter(contacts::Column::TenantId.eq(tenant_id))
        .filter(contacts::Column::UserId.eq(user.id.as_str()))
        .filter(contacts::Column::DeletedAt.is_null())
        .one(conn)
        .await?;
    if let Some(contact) = live {
        return Ok(contact);
    }
    let created = contacts::ActiveModel {
        id: Set(ids::new_id(Kind::Contact)),
        tenant_id: Set(tenant_id.to_owned()),
        user_id: Set(Some(user.id.clone())),
        name: Set(user.display_name.clone()),
        email: Set(Some(user.email.clone())),
        phone: Set(None),
        first_contacted_at: Set(Some(now)),
        total_transactions: Set(0),
        total_spent_cents: Set(0),
        currency: Set("USD".to_owned()),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await;
    match created {
        Ok(contact) => Ok(contact),
        Err(err) if is_unique_violation(&err, "contacts_tenant_user_live_key") => Err(
            ApiError::Internal(anyhow::anyhow!("contact created concurrently; retry")),
        ),
        Err(err) => Err(err.into()),
    }
}

/// The invoice of a new order, SENT at once, with the listing as its one line.
pub async fn create_order_invoice(
    conn: &impl ConnectionTrait,
    order: &orders::Model,
    line: &str,
    contact: &contacts::Model,
    now: DateTime<Utc>,
) -> ApiResult<invoices::Model> {
    let number = next_invoice_number(conn, &order.tenant_id, now.year()).await?;
    let invoice = invoices::ActiveModel {
        id: Set(ids::new_id(Kind::Invoice)),
        tenant_id: Set(order.tenant_id.clone()),
        number: Set(number),
        contact_id: Set(Some(contact.id.clone())),
        client_id: Set(Some(order.buyer_id.clone())),
        order_id: Set(Some(order.id.clone())),
        status: Set(InvoiceStatus::Sent),
        payment_mode: Set(order.payment_mode),
        currency: Set(order.currency.clone()),
        total_cents: Set(order.price_cents),
        deposit_cents: Set(None),
        paid_cents: Set(0),
        refunded_cents: Set(0),
        buyer_marked_paid_at: Set(None),
        buyer_payment_method: Set(None),
        buyer_payment_reference: Set(None),
        provider_confirmed_at: Set(None),
        provider_confirmed_by: Set(None),
        issued_at: Set(Some(now)),
        due_at: Set(None),
        paid_at: Set(None),
        voided_at: Set(None),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    invoice_line_items::ActiveModel {
        id: Set(ids::new_id(Kind::InvoiceLineItem)),
        invoice_id: Set(invoice.id.clone()),
        position: Set(1),
        description: Set(line.chars().take(500).collect()),
        quantity: Set(1),
        unit_price_cents: Set(order.price_cents),
        total_cents: Set(order.price_cents),
    }
    .insert(conn)
    .await?;
    log_change(
        conn,
        &invoice.id,
        InvoiceChange {
            action: "create",
            from: None,
            to: InvoiceStatus::Sent,
            actor: Some(&order.buyer_id),
            amount: Some(order.price_cents),
            note: Some("the order's invoice, sent at placement"),
        },
        now,
    )
    .await?;
    Ok(invoice)
}

pub async fn order_invoice(
    conn: &impl ConnectionTrait,
    order_id: &str,
) -> ApiResult<Option<invoices::Model>> {
    Ok(invoices::Entity::find()
        .filter(invoices::Column::OrderId.eq(order_id))
        .one(conn)
        .await?)
}

/// The buyer says it paid outside the platform.
pub async fn mark_pending_confirmation(
    conn: &impl ConnectionTrait,
    order_id: &str,
    method: &str,
    reference: &str,
    actor: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let Some(invoice) = order_invoice(conn, order_id).await? else {
        return Ok(());
    };
    invoices::Entity::update_many()
        .col_expr(
            invoices::Column::Status,
            Expr::value(InvoiceStatus::PendingConfirmation.to_value()),
        )
        .col_expr(invoices::Column::BuyerMarkedPaidAt, Expr::value(now))
        .col_expr(invoices::Column::BuyerPaymentMethod, Expr::value(method))
        .col_expr(
            invoices::Column::BuyerPaymentReference,
            Expr::value(reference),
        )
        .col_expr(invoices::Column::UpdatedAt, Expr::value(now))
        .filter(invoices::Column::Id.eq(invoice.id.clone()))
        .exec(conn)
        .await?;
    let note = format!("{method}: {reference}");
    log_change(
        conn,
        &invoice.id,
        InvoiceChange {
            action: "mark_paid",
            from: Some(invoice.status),
            to: InvoiceStatus::PendingConfirmation,
            actor,
            amount: None,
            note: Some(&note),
        },
        now,
    )
    .await
}

/// The invoice is paid in full: a payment is recorded and the buyer's contact totals grow.
pub async fn mark_paid(
    conn: &impl ConnectionTrait,
    order: &orders::Model,
    method: &str,
    reference: Option<&str>,
    confirmed_by: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let Some(invoice) = order_invoice(conn, &order.id).await? else {
        return Ok(());
    };
    if invoice.status == InvoiceStatus::Paid {
        return Ok(());
    }
    payments::ActiveModel {
        id: Set(ids::new_id(Kind::Payment)),
        invoice_id: Set(invoice.id.clone()),
        amount_cents: Set(invoice.total_cents - invoice.paid_cents),
        currency: Set(invoice.currency.clone()),
        method: Set(method.chars().take(100).collect()),
        reference: Set(reference.map(|r| r.chars().take(200).collect())),
        received_at: Set(now),
        recorded_by: Set(confirmed_by.map(str::to_owned)),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    let mut active: invoices::ActiveModel = invoice.clone().into();
    active.status = Set(InvoiceStatus::Paid);
    active.paid_cents = Set(invoice.total_cents);
    active.paid_at = Set(Some(now));
    if let Some(user) = confirmed_by {
        active.provider_confirmed_at = Set(Some(now));
        active.provider_confirmed_by = Set(Some(user.to_owned()));
    }
    active.updated_at = Set(now);
    active.update(conn).await?;
    log_change(
        conn,
        &invoice.id,
        InvoiceChange {
            action: "confirm_payment",
            from: Some(invoice.status),
            to: InvoiceStatus::Paid,
            actor: confirmed_by,
            amount: Some(invoice.total_cents - invoice.paid_cents),
            note: Some(method),
        },
        now,
    )
    .await?;
    if let Some(contact_id) = invoice.contact_id {
        contacts::Entity::update_many()
            .col_expr(
                contacts::Column::TotalTransactions,
                Expr::col(contacts::Column::TotalTransactions).add(1),
            )
            .col_expr(
                contacts::Column::TotalSpentCents,
                Expr::col(contacts::Column::TotalSpentCents).add(invoice.total_cents),
            )
            .filter(contacts::Column::Id.eq(contact_id))
            .exec(conn)
            .await?;
    }
    Ok(())
}

pub async fn mark_void(
    conn: &impl ConnectionTrait,
    order_id: &str,
    actor: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let Some(invoice) = order_invoice(conn, order_id).await? else {
        return Ok(());
    };
    let voided = invoices::Entity::update_many()
        .col_expr(
            invoices::Column::Status,
            Expr::value(InvoiceStatus::Void.to_value()),
        )
        .col_expr(invoices::Column::VoidedAt, Expr::value(now))
        .col_expr(invoices::Column::UpdatedAt, Expr::value(now))
        .filter(invoices::Column::Id.eq(invoice.id.clone()))
        .filter(invoices::Column::Status.is_in([
            InvoiceStatus::Draft,
            InvoiceStatus::Sent,
            InvoiceStatus::PendingConfirmation,
        ]))
        .exec(conn)
        .await?;
    if voided.rows_affected == 0 {
        return Ok(());
    }
    log_change(
        conn,
        &invoice.id,
        InvoiceChange {
            action: "void",
            from: Some(invoice.status),
            to: InvoiceStatus::Void,
            actor,
            amount: None,
            note: Some("the order was cancelled before payment"),
        },
        now,
    )
    .await
}

/// A refund of `amount` of the order's invoice: REFUNDED when all of it, else PARTIALLY_REFUNDED.
pub async fn mark_refunded(
    conn: &impl ConnectionTrait,
    order_id: &str,
    amount: i64,
    actor: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let Some(invoice) = order_invoice(conn, order_id).await? else {
        return Ok(());
    };
    let refunded = (invoice.refunded_cents + amount).min(invoice.total_cents);
    let status = if refunded >= invoice.total_cents {
        InvoiceStatus::Refunded
    } else {
        InvoiceStatus::PartiallyRefunded
    };
    let mut active: invoices::ActiveModel = invoice.clone().into();
    active.refunded_cents = Set(refunded);
    active.status = Set(status);
    active.updated_at = Set(now);
    active.update(conn).await?;
    log_change(
        conn,
        &invoice.id,
        InvoiceChange {
            action: "refund",
            from: Some(invoice.status),
            to: status,
            actor,
            amount: Some(amount),
            note: Some("refunded with the order"),
        },
        now,
    )
    .await
}
