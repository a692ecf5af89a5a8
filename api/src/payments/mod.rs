//! Payments behind one trait: `StripeGateway` (async-stripe, base URL overridable for a local
//! double) and `SimulatedGateway` (the default without STRIPE_SECRET_KEY: everything succeeds at
//! once, loudly logged). Webhook verification lives in `webhook`.
pub mod simulated;
pub mod stripe;
pub mod webhook;

use std::sync::Arc;

use crate::config::Settings;

/// A Stripe Connect (Express) account as the platform sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedAccount {
    pub id: String,
    /// onboarding finished: details submitted
    pub details_submitted: bool,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    /// Stripe lists requirements past due: the seller's listings are hidden until resolved
    pub requirements_past_due: bool,
}

/// What the platform needs to open a connected account for a tenant.
#[derive(Debug, Clone)]
pub struct NewConnectedAccount<'a> {
    pub tenant_id: &'a str,
    pub email: &'a str,
    /// ISO country of the seller, e.g. "US"
    pub country: &'a str,
    /// sent as the `Idempotency-Key` header (≤ 255 characters)
    pub idempotency_key: &'a str,
}

/// A card payment authorized for later capture (escrow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: String,
    /// for confirming the payment in the browser (Stripe.js)
    pub client_secret: Option<String>,
    /// `requires_payment_method`, `requires_capture`, `succeeded`, `canceled`, …
    pub status: String,
    /// the captured amount, once `succeeded`
    pub amount_received: i64,
    /// the charge (`ch_…`) of the latest attempt, if any
    pub latest_charge: Option<String>,
    /// what has been refunded of that charge, when the intent was retrieved with its charge
    pub amount_refunded: i64,
    /// an authorization must be captured before this (the card charge's `capture_before`);
    /// known when the intent was retrieved with its charge
    pub capture_before: Option<chrono::DateTime<chrono::Utc>>,
    /// The gateway reports with this very answer that the card is authorized and held (the
    /// simulated gateway does); Stripe reports it later by webhook, and says false.
    pub authorization_reported: bool,
}

/// What the platform needs to authorize a buyer's card for one order.
#[derive(Debug, Clone)]
pub struct NewPaymentIntent<'a> {
    pub order_id: &'a str,
    pub amount_cents: i64,
    /// ISO code, e.g. "USD" (sent lower-case)
    pub currency: &'a str,
    pub idempotency_key: &'a str,
}

/// A payout of part of a captured charge to a connected account.
#[derive(Debug, Clone)]
pub struct NewTransfer<'a> {
    pub order_id: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub destination_account: &'a str,
    /// the charge (`ch_…`) the money comes from
    pub source_transaction: &'a str,
    pub idempotency_key: &'a str,
}

/// A card network's dispute of a charge (a chargeback) as the processor holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorDispute {
    /// `dp_…`
    pub id: String,
    /// the disputed charge (`ch_…`)
    pub charge_id: String,
    pub amount_cents: i64,
    /// ISO code as the processor gives it (lower case at Stripe)
    pub currency: String,
    /// `warning_needs_response`, `needs_response`, `under_review`, `won`, `lost`, …
    pub status: String,
    /// the network's reason: `fraudulent`, `product_not_received`, `general`, …
    pub reason: String,
}

#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// "stripe" or "simulated", for logs.
    fn name(&self) -> &'static str;

    /// Creates an Express connected account (`POST /v1/accounts`).
    async fn create_connected_account(
        &self,
        request: NewConnectedAccount<'_>,
    ) -> anyhow::Result<ConnectedAccount>;

    /// A fresh onboarding link (`POST /v1/account_links`, type account_onboarding). Links
    /// expire within minutes: made on demand, never stored.
    async fn create_onboarding_link(
        &self,
        account_id: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> anyhow::Result<String>;

    /// The account's current state (`GET /v1/accounts/{id}`).
    async fn retrieve_account(&self, account_id: &str) -> anyhow::Result<ConnectedAccount>;

    /// Authorizes the buyer's card without capturing (`POST /v1/payment_intents` with
    /// `capture_method=manual`, `transfer_group` = order id, `metadata[order_id]`).
    async fn create_payment_intent(
        &self,
        request: NewPaymentIntent<'_>,
    ) -> anyhow::Result<PaymentIntent>;

    /// The intent as the processor holds it now (`GET /v1/payment_intents/{id}`): webhooks
    /// decide from this, not from a payload that may be stale or arrive out of order.
    async fn retrieve_payment_intent(&self, intent_id: &str) -> anyhow::Result<PaymentIntent>;

    /// Captures an authorized intent (`POST /v1/payment_intents/{id}/capture`); returns the
    /// charge id (`ch_…`, the intent's `latest_charge`).
    async fn capture_payment_intent(
        &self,
        intent_id: &str,
        idempotency_key: &str,
    ) -> anyhow::Result<String>;

    /// Releases an authorization (`POST /v1/payment_intents/{id}/cancel`).
    async fn cancel_payment_intent(
        &self,
        intent_id: &str,
        idempotency_key: &str,
    ) -> anyhow::Result<()>;

    /// Refunds part or all of a captured charge (`POST /v1/refunds`); returns the refund id.
    async fn refund(
        &self,
        charge_id: &str,
        amount_cents: i64,
        idempotency_key: &str,
    ) -> anyhow::Result<String>;

    /// Pays a provider (`POST /v1/transfers` with `source_transaction` and `transfer_group`);
    /// returns the transfer id.
    async fn transfer(&self, request: NewTransfer<'_>) -> anyhow::Result<String>;

    /// Takes back part or all of a transfer from the connected account
    /// (`POST /v1/transfers/{id}/reversals`); returns the reversal id (`trr_…`).
    async fn reverse_transfer(
        &self,
        transfer_id: &str,
        amount_cents: i64,
        idempotency_key: &str,
    ) -> anyhow::Result<String>;

    /// A dispute as the processor holds it now (`GET /v1/disputes/{id}`): chargeback webhooks
    /// decide from this, whatever order they arrive in.
    async fn retrieve_dispute(&self, dispute_id: &str) -> anyhow::Result<ProcessorDispute>;

    /// The transfers in a transfer group (an order's payouts) as (id, amount), oldest first, as
    /// the processor holds them (`GET /v1/transfers?transfer_group=…`): a retried payout asks
    /// first.
    async fn transfers_in_group(&self, transfer_group: &str) -> anyhow::Result<Vec<(String, i64)>>;

    /// What has been reversed of a transfer (`GET /v1/transfers/{id}`, `amount_reversed`): a
    /// retried reversal asks first.
    async fn reversed_total(&self, transfer_id: &str) -> anyhow::Result<i64>;
}

/// The gateway the settings ask for: Stripe when STRIPE_SECRET_KEY is set, else simulated.
pub fn from_settings(settings: &Settings) -> anyhow::Result<Arc<dyn PaymentGateway>> {
    match &settings.stripe {
        Some(stripe) => Ok(Arc::new(stripe::StripeGateway::new(stripe)?)),
        None => {
            tracing::warn!(
                "STRIPE_SECRET_KEY is not set: payments are SIMULATED (onboarding completes at once, no money moves)"
            );
            Ok(Arc::new(simulated::SimulatedGateway))
        }
    }
}
