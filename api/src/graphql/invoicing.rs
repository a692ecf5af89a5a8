//! A tenant's invoices: the types (with lines, payments and the event log), the queries, and
//! the members' and clients' mutations.
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use entity::{invoice_events, invoice_line_items, invoices, payments};

use super::accounts::User;
use super::connection::connection;
use super::contacts::Contact;
use super::errors::{into_payload, Payload, UserError};
use super::loaders::loader_error;
use super::money::Money;
use super::orders::{Order, PaymentModeGql};
use super::scalars::{BigInt, DateTime};
use super::sellers::{mirror_enum, Tenant};
use super::ContextExt;
use crate::domain::invoice::LineInput;
use crate::error::ApiError;
use crate::pagination::{encode_cursor, PageRequest};
use crate::services::invoices::{self as invoice_service, InvoiceCursor, NewInvoice};

mirror_enum!(InvoiceStatusGql, "InvoiceStatus", entity::invoices::InvoiceStatus, {
    Draft, Sent, PendingConfirmation, Paid, PartiallyRefunded, Refunded, Void,
});

/// An invoice of a tenant's book: its members read it (deleted too), admins while it is live,
/// and the client it is addressed to once it is issued.
#[derive(Clone)]
pub struct Invoice(pub invoices::Model);

impl Invoice {
    fn money(&self, cents: i64) -> Money {
        Money::new(cents, &self.0.currency)
    }
}

#[Object]
impl Invoice {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// unique per tenant, e.g. INV-2026-000042
    async fn number(&self) -> &str {
        &self.0.number
    }
    async fn tenant(&self, ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
        ctx.loaders()?
            .tenants
            .load_one(self.0.tenant_id.clone())
            .await
            .map_err(loader_error)?
            .map(Tenant)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("invoice without tenant")).into())
    }
    /// the tenant's contact record; for its members and admins only
    async fn contact(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Contact>> {
        use crate::services::contacts::{access_of, may_read};
        let (Some(id), Some(user_id)) = (&self.0.contact_id, ctx.viewer().id()) else {
            return Ok(None);
        };
        let loaders = ctx.loaders()?;
        let membership = (self.0.tenant_id.clone(), user_id.to_owned());
        let member = loaders.memberships.load_one(membership);
        let contact = loaders.contacts.load_one(id.clone());
        let (member, contact) = futures_util::try_join!(member, contact).map_err(loader_error)?;
        let access = access_of(ctx.viewer(), member.is_some());
        Ok(contact.filter(|c| may_read(access, c)).map(Contact))
    }
    /// the marketplace user the invoice is addressed to
    async fn client(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match &self.0.client_id {
            Some(id) => User::load(ctx, id).await,
            None => Ok(None),
        }
    }
    /// the order it bills, for whoever may read that order
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Order>> {
        match &self.0.order_id {
            Some(id) => Order::load_for_viewer(ctx, id).await,
            None => Ok(None),
        }
    }
    async fn status(&self) -> InvoiceStatusGql {
        self.0.status.into()
    }
    /// locked when the invoice is created
    async fn payment_mode(&self) -> PaymentModeGql {
        self.0.payment_mode.into()
    }
    async fn line_items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InvoiceLineItem>> {
        Ok(ctx
            .loaders()?
            .invoice_lines
            .load_one(self.0.id.clone())
            .await
            .map_err(loader_error)?
            .unwrap_or_default()
            .into_iter()
            .map(|line| InvoiceLineItem(line, self.0.currency.clone()))
            .collect())
    }
    async fn total(&self) -> Money {
        self.money(self.0.total_cents)
    }
    async fn deposit(&self) -> Option<Money> {
        self.0.deposit_cents.map(|c| self.money(c))
    }
    /// what is still to be paid: the rest of the total while the invoice is open for payment,
    /// zero once it is paid, refunded or void
    async fn balance(&self) -> Money {
        self.money(crate::domain::invoice::balance(
            self.0.status,
            self.0.total_cents,
            self.0.paid_cents,
        ))
    }
    async fn refunded(&self) -> Money {
        self.money(self.0.refunded_cents)
    }
    async fn buyer_marked_paid_at(&self) -> Option<DateTime> {
        self.0.buyer_marked_paid_at.map(DateTime)
    }
    async fn buyer_payment_method(&self) -> Option<&str> {
        self.0.buyer_payment_method.as_deref()
    }
    async fn buyer_payment_reference(&self) -> Option<&str> {
        self.0.buyer_payment_reference.as_deref()
    }
    async fn provider_confirmed_at(&self) -> Option<DateTime> {
        self.0.provider_confirmed_at.map(DateTime)
    }
    async fn provider_confirmed_by(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<User>> {
        match &self.0.provider_confirmed_by {
            Some(id) => User::load(ctx, id).await,
            None => Ok(None),
        }
    }
    /// payments received, oldest first
    async fn payments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Payment>> {
        Ok(ctx
            .loaders()?
            .invoice_payments
            .load_one(self.0.id.clone())
            .await
            .map_err(loader_error)?
            .unwrap_or_default()
            .into_iter()
            .map(Payment)
            .collect())
    }
    /// every change of the invoice with its actor and time, oldest first (an addition to the
    /// contract)
    async fn events(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InvoiceEvent>> {
        Ok(ctx
            .loaders()?
            .invoice_events
            .load_one(self.0.id.clone())
            .await
            .map_err(loader_error)?
            .unwrap_or_default()
            .into_iter()
            .map(|event| InvoiceEvent(event, self.0.currency.clone()))
            .collect())
    }
    async fn issued_at(&self) -> Option<DateTime> {
        self.0.issued_at.map(DateTime)
    }
    async fn due_at(&self) -> Option<DateTime> {
        self.0.due_at.map(DateTime)
    }
    async fn paid_at(&self) -> Option<DateTime> {
        self.0.paid_at.map(DateTime)
    }
    async fn deleted_at(&self) -> Option<DateTime> {
        self.0.deleted_at.map(DateTime)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// One change of an invoice: what, from and to which status, by whom, when.
pub struct InvoiceEvent(pub invoice_events::Model, pub String);

#[Object]
impl InvoiceEvent {
    /// `create`, `issue`, `mark_paid`, `confirm_payment`, `record_payment`, `refund`, `void`,
    /// `delete`, `restore`
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn from_status(&self) -> Option<InvoiceStatusGql> {
        self.0.from_status.map(Into::into)
    }
    async fn to_status(&self) -> InvoiceStatusGql {
        self.0.to_status.into()
    }
    /// who made the change; null for the system or the payment processor
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match &self.0.actor_id {
            Some(id) => User::load(ctx, id).await,
            None => Ok(None),
        }
    }
    /// the money the change moved, if any
    async fn amount(&self) -> Option<Money> {
        self.0.amount_cents.map(|c| Money::new(c, &self.1))
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn occurred_at(&self) -> DateTime {
        DateTime(self.0.occurred_at)
    }
}

/// One line of an invoice, in the invoice's currency.
pub struct InvoiceLineItem(pub invoice_line_items::Model, pub String);

#[Object]
impl InvoiceLineItem {
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }
    async fn unit_price(&self) -> Money {
        Money::new(self.0.unit_price_cents, &self.1)
    }
    async fn total(&self) -> Money {
        Money::new(self.0.total_cents, &self.1)
    }
}

/// A payment received against an invoice.
#[derive(Clone)]
pub struct Payment(pub payments::Model);

#[Object]
impl Payment {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn amount(&self) -> Money {
        Money::new(self.0.amount_cents, &self.0.currency)
    }
    async fn method(&self) -> &str {
        &self.0.method
    }
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
}

connection!(InvoiceConnection, InvoiceEdge, Invoice);

#[derive(InputObject, Default)]
pub struct InvoiceFilter {
    pub tenant_id: Option<ID>,
    pub status: Option<Vec<InvoiceStatusGql>>,
    pub contact_id: Option<ID>,
    /// deleted invoices too (members only)
    #[graphql(default_with = "Some(false)")]
    pub include_deleted: Option<bool>,
}

/// A page of invoices: of `tenant_id` when given, else of the viewer's tenants and those
/// addressed to the viewer.
pub async fn invoice_page(
    ctx: &Context<'_>,
    tenant_id: Option<&str>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<InvoiceFilter>,
) -> async_graphql::Result<InvoiceConnection> {
    let page = PageRequest::<InvoiceCursor>::parse(first, after.as_deref())?;
    let filter = filter.unwrap_or_default();
    let filter = invoice_service::InvoiceFilter {
        tenant_id: tenant_id
            .map(str::to_owned)
            .or(filter.tenant_id.map(|id| id.0)),
        status: filter
            .status
            .map(|all| all.into_iter().map(Into::into).collect()),
        contact_id: filter.contact_id.map(|id| id.0),
        include_deleted: filter.include_deleted.unwrap_or(false),
    };
    let page = invoice_service::list(ctx.state()?, ctx.viewer(), filter, page).await?;
    Ok(InvoiceConnection::build(
        page,
        |i| encode_cursor(&InvoiceCursor { id: i.id.clone() }),
        Invoice,
    ))
}

#[derive(Default)]
pub struct InvoicingQuery;

#[Object]
impl InvoicingQuery {
    /// an invoice the viewer may read, else null
    async fn invoice(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Invoice>> {
        Ok(invoice_service::for_viewer(ctx.state()?, ctx.viewer(), &id)
            .await?
            .map(Invoice))
    }
    /// invoices of the viewer's tenants, or addressed to the viewer as client
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<InvoiceFilter>,
    ) -> async_graphql::Result<InvoiceConnection> {
        invoice_page(ctx, None, first, after, filter).await
    }
}

#[derive(InputObject)]
pub struct InvoiceLineItemInput {
    pub description: String,
    #[graphql(default_with = "Some(1)")]
    pub quantity: Option<i32>,
    pub unit_price_cents: BigInt,
}

#[derive(InputObject)]
pub struct CreateInvoiceInput {
    pub tenant_id: ID,
    pub contact_id: ID,
    pub line_items: Vec<InvoiceLineItemInput>,
    pub deposit_cents: Option<BigInt>,
    #[graphql(default_with = "Some(\"USD\".to_owned())")]
    pub currency_code: Option<String>,
    pub due_at: Option<DateTime>,
    pub payment_mode: Option<PaymentModeGql>,
}

#[derive(InputObject)]
pub struct InvoiceIdInput {
    pub invoice_id: ID,
}

#[derive(InputObject)]
pub struct MarkInvoicePaidInput {
    pub invoice_id: ID,
    pub method: String,
    pub reference: String,
}

#[derive(InputObject)]
pub struct RecordPaymentInput {
    pub invoice_id: ID,
    pub amount_cents: BigInt,
    pub method: String,
    pub reference: Option<String>,
}

#[derive(InputObject)]
pub struct RefundInvoiceInput {
    pub invoice_id: ID,
    pub amount_cents: BigInt,
    pub reason: String,
}

#[derive(SimpleObject)]
pub struct InvoicePayload {
    pub invoice: Option<Invoice>,
    pub user_errors: Vec<UserError>,
}

impl Payload for InvoicePayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        InvoicePayload {
            invoice: None,
            user_errors,
        }
    }
}

fn invoice_payload(invoice: invoices::Model) -> InvoicePayload {
    InvoicePayload {
        invoice: Some(Invoice(invoice)),
        user_errors: Vec::new(),
    }
}

#[derive(Default)]
pub struct InvoicesMutation;

#[Object]
impl InvoicesMutation {
    /// a member bills a live contact of the tenant: a DRAFT, numbered at once
    async fn create_invoice(
        &self,
        ctx: &Context<'_>,
        input: CreateInvoiceInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let lines = input
            .line_items
            .iter()
            .map(|line| LineInput {
                description: &line.description,
                quantity: line.quantity.unwrap_or(1),
                unit_price_cents: line.unit_price_cents.0,
            })
            .collect();
        let result = invoice_service::create(
            ctx.state()?,
            ctx.viewer(),
            NewInvoice {
                tenant_id: &input.tenant_id,
                contact_id: &input.contact_id,
                lines,
                deposit_cents: input.deposit_cents.map(|d| d.0),
                currency: input.currency_code.as_deref().unwrap_or("USD"),
                due_at: input.due_at.map(|d| d.0),
                payment_mode: input.payment_mode.map(Into::into),
            },
        )
        .await;
        into_payload(result, invoice_payload)
    }

    /// DRAFT → SENT: the client may read it from now on
    async fn issue_invoice(
        &self,
        ctx: &Context<'_>,
        input: InvoiceIdInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let result = invoice_service::issue(ctx.state()?, ctx.viewer(), &input.invoice_id).await;
        into_payload(result, invoice_payload)
    }

    /// the client says it paid a MANUAL invoice → PENDING_CONFIRMATION (an order's invoice
    /// moves with its order, as `markOrderPaid` would)
    async fn mark_invoice_paid(
        &self,
        ctx: &Context<'_>,
        input: MarkInvoicePaidInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let result = invoice_service::mark_paid(
            ctx.state()?,
            ctx.viewer(),
            &input.invoice_id,
            &input.method,
            &input.reference,
        )
        .await;
        into_payload(result, invoice_payload)
    }

    /// a member confirms the money arrived → PAID, with a payment for the balance
    async fn confirm_invoice_payment(
        &self,
        ctx: &Context<'_>,
        input: InvoiceIdInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let result =
            invoice_service::confirm_payment(ctx.state()?, ctx.viewer(), &input.invoice_id).await;
        into_payload(result, invoice_payload)
    }

    /// a member records a payment of 1 … the balance; PAID at zero
    async fn record_payment(
        &self,
        ctx: &Context<'_>,
        input: RecordPaymentInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let result = invoice_service::record_payment(
            ctx.state()?,
            ctx.viewer(),
            &input.invoice_id,
            input.amount_cents.0,
            &input.method,
            input.reference.as_deref(),
        )
        .await;
        into_payload(result, invoice_payload)
    }

    /// a member refunds 1 … what was paid and not yet refunded
    async fn refund_invoice(
        &self,
        ctx: &Context<'_>,
        input: RefundInvoiceInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let result = invoice_service::refund(
            ctx.state()?,
            ctx.viewer(),
            &input.invoice_id,
            input.amount_cents.0,
            &input.reason,
        )
        .await;
        into_payload(result, invoice_payload)
    }

    /// VOID, only with nothing paid
    async fn void_invoice(
        &self,
        ctx: &Context<'_>,
        input: InvoiceIdInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let result = invoice_service::void(ctx.state()?, ctx.viewer(), &input.invoice_id).await;
        into_payload(result, invoice_payload)
    }

    /// soft delete of a DRAFT or VOID invoice
    async fn delete_invoice(
        &self,
        ctx: &Context<'_>,
        input: InvoiceIdInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let result = invoice_service::delete(ctx.state()?, ctx.viewer(), &input.invoice_id).await;
        into_payload(result, invoice_payload)
    }

    async fn restore_invoice(
        &self,
        ctx: &Context<'_>,
        input: InvoiceIdInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let result = invoice_service::restore(ctx.state()?, ctx.viewer(), &input.invoice_id).await;
        into_payload(result, invoice_payload)
    }
}
