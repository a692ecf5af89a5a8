//! The Stripe gateway: Connect (Express) accounts and onboarding links through async-stripe.
//! `api_base` points the client at another server (the wiremock double in tests).
use std::collections::HashMap;
use std::time::Duration;

use ::stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use anyhow::Context;
use secrecy::ExposeSecret;
use stripe_connect::account::{
    CreateAccount, CreateAccountCapabilities, CreateAccountCapabilitiesCardPayments,
    CreateAccountCapabilitiesTransfers, CreateAccountType, RetrieveAccount,
};
use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
use stripe_connect::Account;

use super::{ConnectedAccount, NewConnectedAccount, PaymentGateway};
use crate::config::StripeSettings;

/// The async client has no timeout of its own: without one a stalled Stripe call would hold a
/// GraphQL request open forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct StripeGateway {
    client: Client,
}

impl StripeGateway {
    pub fn new(settings: &StripeSettings) -> anyhow::Result<Self> {
        let mut builder =
            ClientBuilder::new(settings.secret_key.expose_secret()).timeout(REQUEST_TIMEOUT);
        if let Some(base) = settings
            .api_base
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
        {
            // The client appends "v1/..." straight to the base, so it must end with a slash.
            let base = if base.ends_with('/') {
                base.to_owned()
            } else {
                format!("{base}/")
            };
            builder = builder.url(base);
        }
        let client = builder.build().context("building the Stripe client")?;
        Ok(Self { client })
    }
}

#[async_trait::async_trait]
impl PaymentGateway for StripeGateway {
    fn name(&self) -> &'static str {
        "stripe"
    }

    // The request carries the seller's email: record only the tenant and country.
    #[tracing::instrument(skip(self, request), fields(tenant_id = request.tenant_id, country = request.country))]
    async fn create_connected_account(
        &self,
        request: NewConnectedAccount<'_>,
    ) -> anyhow::Result<ConnectedAccount> {
        let key = IdempotencyKey::new(request.idempotency_key)
            .context("invalid idempotency key for the Stripe account")?;

        let mut card_payments = CreateAccountCapabilitiesCardPayments::new();
        card_payments.requested = Some(true);
        let mut transfers = CreateAccountCapabilitiesTransfers::new();
        transfers.requested = Some(true);
        let mut capabilities = CreateAccountCapabilities::new();
        capabilities.card_payments = Some(card_payments);
        capabilities.transfers = Some(transfers);

        let metadata = HashMap::from([("tenant_id".to_owned(), request.tenant_id.to_owned())]);

        let account = CreateAccount::new()
            .type_(CreateAccountType::Express)
            .country(request.country)
            .email(request.email)
            .capabilities(capabilities)
            .metadata(metadata)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .with_context(|| {
                format!(
                    "creating a Stripe connected account for tenant {}",
                    request.tenant_id
                )
            })?;
        Ok(connected_account(account))
    }

    #[tracing::instrument(skip(self))]
    async fn create_onboarding_link(
        &self,
        account_id: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> anyhow::Result<String> {
        let link = CreateAccountLink::new(account_id, CreateAccountLinkType::AccountOnboarding)
            .refresh_url(refresh_url)
            .return_url(return_url)
            .send(&self.client)
            .await
            .with_context(|| format!("creating a Stripe onboarding link for {account_id}"))?;
        Ok(link.url)
    }

    #[tracing::instrument(skip(self))]
    async fn retrieve_account(&self, account_id: &str) -> anyhow::Result<ConnectedAccount> {
        let account = RetrieveAccount::new(account_id)
            .send(&self.client)
            .await
            .with_context(|| format!("retrieving Stripe account {account_id}"))?;
        Ok(connected_account(account))
    }
}

/// Stripe leaves the flags out of some responses: missing means not enabled. Past due is read
/// from `requirements.past_due` alone, the list Stripe fills once a deadline has passed.
fn connected_account(account: Account) -> ConnectedAccount {
    let requirements_past_due = account
        .requirements
        .as_ref()
        .and_then(|r| r.past_due.as_ref())
        .is_some_and(|fields| !fields.is_empty());
    ConnectedAccount {
        id: account.id.as_str().to_owned(),
        details_submitted: account.details_submitted.unwrap_or(false),
        charges_enabled: account.charges_enabled.unwrap_or(false),
        payouts_enabled: account.payouts_enabled.unwrap_or(false),
        requirements_past_due,
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn settings(api_base: Option<&str>) -> StripeSettings {
        StripeSettings {
            secret_key: SecretString::from("sk_test_123".to_owned()),
            webhook_secret: None,
            connect_webhook_secret: None,
            api_base: api_base.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn builds_with_and_without_a_base_url() {
        assert!(StripeGateway::new(&settings(None)).is_ok());
        assert!(StripeGateway::new(&settings(Some("http://127.0.0.1:9"))).is_ok());
        assert!(StripeGateway::new(&settings(Some("http://127.0.0.1:9/"))).is_ok());
        assert!(StripeGateway::new(&settings(Some("not a url"))).is_err());
    }
}
