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
