//! The Stripe gateway through async-stripe: Connect (Express) accounts and onboarding links, and
//! escrow (manual-capture payment intents, refunds, transfers to connected accounts).
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
use stripe_connect::transfer::{CreateTransfer, ListTransfer, RetrieveTransfer};
use stripe_connect::transfer_reversal::CreateIdTransferReversal;
use stripe_connect::Account;
use stripe_core::dispute::RetrieveDispute;
use stripe_core::payment_intent::{
    CancelPaymentIntent, CapturePaymentIntent, CreatePaymentIntent,
    CreatePaymentIntentAutomaticPaymentMethods, RetrievePaymentIntent,
};
use stripe_core::refund::CreateRefund;
use stripe_core::PaymentIntentCaptureMethod;
use stripe_types::Currency;

use super::{
    ConnectedAccount, NewConnectedAccount, NewPaymentIntent, NewTransfer, PaymentGateway,
    PaymentIntent, ProcessorDispute,
};
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

    #[tracing::instrument(
        skip(self, request),
        fields(order_id = request.order_id, amount = request.amount_cents, currency = request.currency)
    )]
    async fn create_payment_intent(
        &self,
        request: NewPaymentIntent<'_>,
    ) -> anyhow::Result<PaymentIntent> {
        let key = IdempotencyKey::new(request.idempotency_key)
            .context("invalid idempotency key for the Stripe payment intent")?;
        let metadata = HashMap::from([("order_id".to_owned(), request.order_id.to_owned())]);

        let intent = CreatePaymentIntent::new(request.amount_cents, currency(request.currency))
            .capture_method(PaymentIntentCaptureMethod::Manual)
            .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
            .transfer_group(request.order_id)
            .metadata(metadata)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .with_context(|| {
                format!(
                    "creating a Stripe payment intent for order {}",
                    request.order_id
                )
            })?;
        Ok(payment_intent(intent))
    }

    #[tracing::instrument(skip(self))]
    async fn retrieve_payment_intent(&self, intent_id: &str) -> anyhow::Result<PaymentIntent> {
        // With its charge, for the card's capture_before (the end of the authorization).
        let intent = RetrievePaymentIntent::new(intent_id)
            .expand(vec!["latest_charge".to_owned()])
            .send(&self.client)
            .await
            .with_context(|| format!("retrieving Stripe payment intent {intent_id}"))?;
        Ok(payment_intent(intent))
    }

    #[tracing::instrument(skip(self, idempotency_key))]
    async fn capture_payment_intent(
        &self,
        intent_id: &str,
        idempotency_key: &str,
    ) -> anyhow::Result<String> {
        let key = IdempotencyKey::new(idempotency_key)
            .context("invalid idempotency key for the Stripe capture")?;
        let intent = CapturePaymentIntent::new(intent_id)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .with_context(|| format!("capturing Stripe payment intent {intent_id}"))?;
        let charge = intent.latest_charge.with_context(|| {
            format!("Stripe captured payment intent {intent_id} but returned no latest_charge")
        })?;
        Ok(charge.id().as_str().to_owned())
    }

    #[tracing::instrument(skip(self, idempotency_key))]
    async fn cancel_payment_intent(
        &self,
        intent_id: &str,
        idempotency_key: &str,
    ) -> anyhow::Result<()> {
        let key = IdempotencyKey::new(idempotency_key)
            .context("invalid idempotency key for the Stripe cancellation")?;
        CancelPaymentIntent::new(intent_id)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .with_context(|| format!("cancelling Stripe payment intent {intent_id}"))?;
        Ok(())
    }

    #[tracing::instrument(skip(self, idempotency_key))]
    async fn refund(
        &self,
        charge_id: &str,
        amount_cents: i64,
        idempotency_key: &str,
    ) -> anyhow::Result<String> {
        let key = IdempotencyKey::new(idempotency_key)
            .context("invalid idempotency key for the Stripe refund")?;
        let refund = CreateRefund::new()
            .charge(charge_id)
            .amount(amount_cents)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .with_context(|| format!("refunding {amount_cents} of Stripe charge {charge_id}"))?;
        Ok(refund.id.as_str().to_owned())
    }

    #[tracing::instrument(
        skip(self, request),
        fields(
            order_id = request.order_id,
            amount = request.amount_cents,
            currency = request.currency,
            destination = request.destination_account,
            source_transaction = request.source_transaction,
        )
    )]
    async fn transfer(&self, request: NewTransfer<'_>) -> anyhow::Result<String> {
        let key = IdempotencyKey::new(request.idempotency_key)
            .context("invalid idempotency key for the Stripe transfer")?;
        let metadata = HashMap::from([("order_id".to_owned(), request.order_id.to_owned())]);

        let transfer = CreateTransfer::new(currency(request.currency), request.destination_account)
            .amount(request.amount_cents)
            .source_transaction(request.source_transaction)
            .transfer_group(request.order_id)
            .metadata(metadata)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .with_context(|| {
                format!(
                    "transferring {} {} to Stripe account {} for order {}",
                    request.amount_cents,
                    request.currency,
                    request.destination_account,
                    request.order_id
                )
            })?;
        Ok(transfer.id.as_str().to_owned())
    }

    #[tracing::instrument(skip(self, idempotency_key))]
    async fn reverse_transfer(
        &self,
        transfer_id: &str,
        amount_cents: i64,
        idempotency_key: &str,
    ) -> anyhow::Result<String> {
        let key = IdempotencyKey::new(idempotency_key)
            .context("invalid idempotency key for the Stripe transfer reversal")?;
        let reversal = CreateIdTransferReversal::new(transfer_id)
            .amount(amount_cents)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .with_context(|| {
                format!("reversing {amount_cents} of Stripe transfer {transfer_id}")
            })?;
        Ok(reversal.id.as_str().to_owned())
    }

    #[tracing::instrument(skip(self))]
    async fn retrieve_dispute(&self, dispute_id: &str) -> anyhow::Result<ProcessorDispute> {
        let dispute = RetrieveDispute::new(dispute_id)
            .send(&self.client)
            .await
            .with_context(|| format!("retrieving Stripe dispute {dispute_id}"))?;
        Ok(ProcessorDispute {
            id: dispute.id.as_str().to_owned(),
            charge_id: dispute.charge.id().as_str().to_owned(),
            amount_cents: dispute.amount,
            currency: dispute.currency.to_string(),
            status: dispute.status.as_str().to_owned(),
            reason: dispute.reason,
        })
    }

    #[tracing::instrument(skip(self))]
    async fn transfers_in_group(&self, transfer_group: &str) -> anyhow::Result<Vec<(String, i64)>> {
        // An order has one payout, two after a won chargeback: one page holds them all.
        let page = ListTransfer::new()
            .transfer_group(transfer_group)
            .limit(100)
            .send(&self.client)
            .await
            .with_context(|| format!("listing the Stripe transfers of {transfer_group}"))?;
        anyhow::ensure!(
            !page.has_more,
            "more than 100 transfers in group {transfer_group}"
        );
        // Stripe lists newest first.
        let mut transfers: Vec<(String, i64)> = page
            .data
            .iter()
            .map(|t| (t.id.as_str().to_owned(), t.amount))
            .collect();
        transfers.reverse();
        Ok(transfers)
    }

    #[tracing::instrument(skip(self))]
    async fn reversed_total(&self, transfer_id: &str) -> anyhow::Result<i64> {
        let transfer = RetrieveTransfer::new(transfer_id)
            .send(&self.client)
            .await
            .with_context(|| format!("retrieving Stripe transfer {transfer_id}"))?;
        Ok(transfer.amount_reversed)
    }
}

/// Stripe takes ISO currency codes in lower case ("usd"). Codes the library does not know are
/// sent as given and left for Stripe to refuse.
fn currency(code: &str) -> Currency {
    match code.trim().to_ascii_lowercase().parse::<Currency>() {
        Ok(currency) => currency,
        Err(never) => match never {},
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

fn payment_intent(intent: stripe_core::PaymentIntent) -> PaymentIntent {
    let capture_before = intent
        .latest_charge
        .as_ref()
        .and_then(|charge| charge.as_object())
        .and_then(|charge| charge.payment_method_details.as_ref())
        .and_then(|details| details.card.as_ref())
        .and_then(|card| card.capture_before)
        .and_then(|at| chrono::DateTime::from_timestamp(at, 0));
    PaymentIntent {
        capture_before,
        id: intent.id.as_str().to_owned(),
        client_secret: intent.client_secret,
        status: intent.status.as_str().to_owned(),
        amount_received: intent.amount_received,
        amount_refunded: intent
            .latest_charge
            .as_ref()
            .and_then(|charge| charge.as_object())
            .map_or(0, |charge| charge.amount_refunded),
        latest_charge: intent.latest_charge.map(|c| c.id().as_str().to_owned()),
        authorization_reported: false,
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
            publishable_key: None,
        }
    }

    #[tokio::test]
    async fn builds_with_and_without_a_base_url() {
        assert!(StripeGateway::new(&settings(None)).is_ok());
        assert!(StripeGateway::new(&settings(Some("http://127.0.0.1:9"))).is_ok());
        assert!(StripeGateway::new(&settings(Some("http://127.0.0.1:9/"))).is_ok());
        assert!(StripeGateway::new(&settings(Some("not a url"))).is_err());
    }

    #[test]
    fn currency_codes_are_sent_lower_case() {
        assert_eq!(currency("USD"), Currency::USD);
        assert_eq!(currency(" eur "), Currency::EUR);
        assert_eq!(currency("XYZ"), Currency::Unknown("xyz".to_owned()));
    }
}
