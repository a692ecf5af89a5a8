//! Invoices of a tenant's book beyond marketplace orders: members create them for a contact
//! (numbered at creation, consecutive per tenant and year), issue them, and read them with
//! their lines and payments. The client an invoice is addressed to reads it once issued.
//! Anyone else finds no such invoice (NOT_FOUND or null).
use chrono::{DateTime, Datelike, Utc};
use entity::invoices::InvoiceStatus;
use entity::orders::PaymentMode;
use entity::{contacts, invoice_line_items, invoices, payments, tenant_members, tenants};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use super::contacts::{access, Access};
use super::invoicing::{log_change, InvoiceChange};
use super::{not_found_on as no_such, tenancy, Viewer};
use crate::domain::invoice::{self as rules, LineInput};
use crate::domain::seller::TenantPaymentMode;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::ids::{self, Kind};
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;

mod moves;
pub use moves::*;

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::refused(Refusal::invalid(field, message))
}

/// Whether a viewer with `access` to the invoice's tenant (or none) may read it: members
/// always, admins while it is live, its client once it is issued and while it is live.
pub fn may_read(
    access: Option<Access>,
    viewer_id: Option<&str>,
    invoice: &invoices::Model,
) -> bool {
    let live = invoice.deleted_at.is_none();
    match access {
        Some(Access::Member) => true,
        Some(Access::Admin) => live,
        None => {
            live && invoice.status != InvoiceStatus::Draft
                && viewer_id.is_some_and(|v| invoice.client_id.as_deref() == Some(v))
        }
    }
}

async fn find(conn: &impl ConnectionTrait, id: &str) -> ApiResult<Option<invoices::Model>> {
    if !ids::is_kind(id, Kind::Invoice) {
        return Ok(None);
    }
    Ok(invoices::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?)
}

/// The invoice, when the viewer may read it.
pub async fn for_viewer(
    state: &AppState,
    viewer: &Viewer,
    invoice_id: &str,
) -> ApiResult<Option<invoices::Model>> {
    let conn = &state.db.reader;
    let Some(invoice) = find(conn, invoice_id).await? else {
        return Ok(None);
    };
    let access = access(conn, viewer, &invoice.tenant_id).await?;
    Ok(may_read(access, viewer.id(), &invoice).then_some(invoice))
}

/// A payment, when the viewer may read its invoice.
pub async fn payment_for_viewer(
    state: &AppState,
    viewer: &Viewer,
    payment_id: &str,
) -> ApiResult<Option<payments::Model>> {
    if !ids::is_kind(payment_id, Kind::Payment) {
        return Ok(None);
    }
    let Some(payment) = payments::Entity::find_by_id(payment_id.to_owned())
        .one(&state.db.reader)
        .await?
    else {
        return Ok(None);
    };
    let visible = for_viewer(state, viewer, &payment.invoice_id)
        .await?
        .is_some();
    Ok(visible.then_some(payment))
}

/// Whether the viewer may read this invoice.
pub async fn readable(
    state: &AppState,
    viewer: &Viewer,
    invoice: &invoices::Model,
) -> ApiResult<bool> {
    let access = access(&state.db.reader, viewer, &invoice.tenant_id).await?;
    Ok(may_read(access, viewer.id(), invoice))
}

/// An invoice a member may change (deleted or not), NOT_FOUND for anyone else.
async fn writable(
    state: &AppState,
    viewer: &Viewer,
    invoice_id: &str,
) -> ApiResult<invoices::Model> {
    viewer.user()?;
    let conn = &state.db.reader;
    let invoice = find(conn, invoice_id)
        .await?
        .ok_or_else(|| no_such("invoiceId", "invoice"))?;
    match access(conn, viewer, &invoice.tenant_id).await? {
        Some(Access::Member) => Ok(invoice),
        _ => Err(no_such("invoiceId", "invoice")),
    }
}

pub struct NewInvoice<'a> {
    pub tenant_id: &'a str,
    pub contact_id: &'a str,
    pub lines: Vec<LineInput<'a>>,
    pub deposit_cents: Option<i64>,
    pub currency: &'a str,
    pub due_at: Option<DateTime<Utc>>,
    pub payment_mode: Option<PaymentMode>,
}

/// A DRAFT invoice for a live contact of the tenant, numbered in the same transaction (a
/// failed create gives its number back). The payment mode is the tenant's unless given.
#[tracing::instrument(skip_all, fields(tenant = input.tenant_id))]
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: NewInvoice<'_>,
) -> ApiResult<invoices::Model> {
    viewer.user()?;
    let (lines, total) = rules::lines(&input.lines).map_err(|refusal| {
        let field = match refusal.index {
            Some(i) => format!("lineItems.{i}.{}", refusal.field),
            None => refusal.field.to_owned(),
        };
        invalid(&field, refusal.reason.0)
    })?;
    let deposit =
        rules::deposit(input.deposit_cents, total).map_err(|e| invalid("depositCents", e.0))?;
    let currency = rules::currency(input.currency).map_err(|e| invalid("currencyCode", e.0))?;
    let now = state.now();
    if input
        .due_at
        .is_some_and(|due| due < now - chrono::Duration::days(1))
    {
        return Err(invalid("dueAt", "the due date has passed"));
    }
    let conn = &state.db.reader;
    let tenant = match ids::is_kind(input.tenant_id, Kind::Tenant) {
        true => {
            tenants::Entity::find_by_id(input.tenant_id.to_owned())
                .one(conn)
                .await?
        }
        false => None,
    }
    .ok_or_else(|| no_such("tenantId", "tenant"))?;
    if access(conn, viewer, &tenant.id).await? != Some(Access::Member) {
        return Err(no_such("tenantId", "tenant"));
    }
    let contact = match ids::is_kind(input.contact_id, Kind::Contact) {
        true => {
            contacts::Entity::find_by_id(input.contact_id.to_owned())
                .one(conn)
                .await?
        }
        false => None,
    }
    .filter(|c| c.tenant_id == tenant.id && c.deleted_at.is_none())
    .ok_or_else(|| no_such("contactId", "contact"))?;
    let payment_mode = input.payment_mode.unwrap_or(match tenant.payment_mode {
        TenantPaymentMode::Stripe => PaymentMode::Stripe,
        _ => PaymentMode::Manual,
    });

    let txn = tenancy::begin(state, viewer, &state.db.writer).await?;
    let number = super::invoicing::next_invoice_number(&txn, &tenant.id, now.year()).await?;
    let invoice = invoices::ActiveModel {
        id: Set(ids::new_id(Kind::Invoice)),
        tenant_id: Set(tenant.id.clone()),
        number: Set(number),
        contact_id: Set(Some(contact.id.clone())),
        client_id: Set(contact.user_id.clone()),
        order_id: Set(None),
        status: Set(InvoiceStatus::Draft),
        payment_mode: Set(payment_mode),
        currency: Set(currency),
        total_cents: Set(total),
        deposit_cents: Set(deposit),
        paid_cents: Set(0),
        refunded_cents: Set(0),
        buyer_marked_paid_at: Set(None),
        buyer_payment_method: Set(None),
        buyer_payment_reference: Set(None),
        provider_confirmed_at: Set(None),
        provider_confirmed_by: Set(None),
        issued_at: Set(None),
        due_at: Set(input.due_at),
        paid_at: Set(None),
        voided_at: Set(None),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let rows: Vec<invoice_line_items::ActiveModel> = lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| invoice_line_items::ActiveModel {
            id: Set(ids::new_id(Kind::InvoiceLineItem)),
            invoice_id: Set(invoice.id.clone()),
            position: Set(i as i32 + 1),
            description: Set(line.description),
            quantity: Set(line.quantity),
            unit_price_cents: Set(line.unit_price_cents),
            total_cents: Set(line.total_cents),
        })
        .collect();
    invoice_line_items::Entity::insert_many(rows)
        .exec(&txn)
        .await?;
    log_change(
        &txn,
        &invoice.id,
        InvoiceChange {
            action: "create",
            from: None,
            to: InvoiceStatus::Draft,
            actor: viewer.id(),
            amount: Some(total),
            note: None,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(invoice)
}

/// DRAFT → SENT: the client can read it from now on.
#[tracing::instrument(skip(state, viewer))]
pub async fn issue(
    state: &AppState,
    viewer: &Viewer,
    invoice_id: &str,
) -> ApiResult<invoices::Model> {
    let invoice = writable(state, viewer, invoice_id).await?;
    if invoice.deleted_at.is_some() {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "the invoice is deleted: restore it first",
        )));
    }
    let now = state.now();
    let txn = tenancy::begin(state, viewer, &state.db.writer).await?;
    let moved = invoices::Entity::update_many()
        .col_expr(invoices::Column::Status, Expr::value(InvoiceStatus::Sent))
        .col_expr(invoices::Column::IssuedAt, Expr::value(now))
        .col_expr(invoices::Column::UpdatedAt, Expr::value(now))
        .filter(invoices::Column::Id.eq(invoice.id.clone()))
        .filter(invoices::Column::Status.eq(InvoiceStatus::Draft))
        .filter(invoices::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            "only a DRAFT invoice can be issued",
        )));
    }
    // Issuing is the book reaching out to its contact: the first time dates the relationship
    // of a contact a member typed in (a marketplace contact has its first order's date).
    if let Some(contact_id) = &invoice.contact_id {
        contacts::Entity::update_many()
            .col_expr(contacts::Column::FirstContactedAt, Expr::value(now))
            .filter(contacts::Column::Id.eq(contact_id.as_str()))
            .filter(contacts::Column::FirstContactedAt.is_null())
            .exec(&txn)
            .await?;
    }
    log_change(
        &txn,
        &invoice.id,
        InvoiceChange {
            action: "issue",
            from: Some(invoice.status),
            to: InvoiceStatus::Sent,
            actor: viewer.id(),
            amount: None,
            note: None,
        },
        now,
    )
    .await?;
    let invoice = find(&txn, &invoice.id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("invoice vanished")))?;
    txn.commit().await?;
    Ok(invoice)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoiceCursor {
    pub id: String,
}

#[derive(Default)]
pub struct InvoiceFilter {
    pub tenant_id: Option<String>,
    pub status: Option<Vec<InvoiceStatus>>,
    pub contact_id: Option<String>,
    pub include_deleted: bool,
}

/// Most statuses one filter names (there are seven).
const MAX_STATUSES: usize = 7;

/// Invoices newest first: of one tenant (its members and admins), or, without a tenant, of the
/// viewer's tenants and those addressed to the viewer as client.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: InvoiceFilter,
    page: PageRequest<InvoiceCursor>,
) -> ApiResult<Page<invoices::Model>> {
    let empty = |page: &PageRequest<InvoiceCursor>| Ok(Page::from_overfetch(Vec::new(), page, 0));
    let Some(user_id) = viewer.id() else {
        return empty(&page);
    };
    if filter
        .status
        .as_ref()
        .is_some_and(|s| s.len() > MAX_STATUSES)
    {
        return Err(ApiError::BadInput(format!(
            "status names at most {MAX_STATUSES} values"
        )));
    }
    let conn = &state.db.reader;
    let mut query = invoices::Entity::find();
    match &filter.tenant_id {
        Some(tenant_id) => {
            let Some(access) = access(conn, viewer, tenant_id).await? else {
                return empty(&page);
            };
            query = query.filter(invoices::Column::TenantId.eq(tenant_id.as_str()));
            if !(filter.include_deleted && access == Access::Member) {
                query = query.filter(invoices::Column::DeletedAt.is_null());
            }
        }
        None => {
            let mine: Vec<String> = tenant_members::Entity::find()
                .select_only()
                .column(tenant_members::Column::TenantId)
                .filter(tenant_members::Column::UserId.eq(user_id))
                .limit(100)
                .into_tuple()
                .all(conn)
                .await?;
            let own_books = {
                let mut c = Condition::all().add(invoices::Column::TenantId.is_in(mine));
                if !filter.include_deleted {
                    c = c.add(invoices::Column::DeletedAt.is_null());
                }
                c
            };
            let addressed = Condition::all()
                .add(invoices::Column::ClientId.eq(user_id))
                .add(invoices::Column::Status.ne(InvoiceStatus::Draft))
                .add(invoices::Column::DeletedAt.is_null());
            query = query.filter(Condition::any().add(own_books).add(addressed));
        }
    }
    if let Some(statuses) = filter.status.filter(|s| !s.is_empty()) {
        query = query.filter(invoices::Column::Status.is_in(statuses));
    }
    if let Some(contact_id) = &filter.contact_id {
        query = query.filter(invoices::Column::ContactId.eq(contact_id.as_str()));
    }
    let txn = tenancy::begin(state, viewer, conn).await?;
    let total = query.clone().count(&txn).await?;
    if let Some(after) = &page.after {
        query = query.filter(invoices::Column::Id.lt(after.id.clone()));
    }
    let rows = query
        .order_by_desc(invoices::Column::Id)
        .limit(page.fetch_limit())
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(Page::from_overfetch(rows, &page, total))
}
