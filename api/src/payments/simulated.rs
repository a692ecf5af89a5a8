//! The simulated gateway: no network, every call succeeds at once. Used when Stripe is not
//! configured, so `cargo run` works end to end on a laptop.
use super::{
    ConnectedAccount, NewConnectedAccount, NewPaymentIntent, NewTransfer, PaymentGateway,
    PaymentIntent, ProcessorDispute,
};

pub struct SimulatedGateway;

#[async_trait::async_trait]
impl PaymentGateway for SimulatedGateway {
    fn name(&self) -> &'static str {
        "simulated"
    }

    async fn create_connected_account(
        &self,
        request: NewConnectedAccount<'_>,
    ) -> anyhow::Result<ConnectedAccount> {
        let id = format!("acct_sim_{}", request.tenant_id.trim_start_matches("ten_"));
        tracing::warn!(account = %id, tenant = request.tenant_id, "SIMULATED Stripe Connect account: onboarding complete at once");
        Ok(complete(id))
    }

    async fn create_onboarding_link(
        &self,
        account_id: &str,
        _refresh_url: &str,
        return_url: &str,
    ) -> anyhow::Result<String> {
        tracing::warn!(
            account = account_id,
            "SIMULATED onboarding link: returns straight to the app"
        );
        Ok(format!("{return_url}?simulated_account={account_id}"))
    }

    async fn retrieve_account(&self, account_id: &str) -> anyhow::Result<ConnectedAccount> {
        Ok(complete(account_id.to_owned()))
    }

    async fn create_payment_intent(
        &self,
        request: NewPaymentIntent<'_>,
    ) -> anyhow::Result<PaymentIntent> {
        let id = simulated_id("pi", request.idempotency_key);
        tracing::warn!(intent = %id, order = request.order_id, amount = request.amount_cents,
            "SIMULATED card authorization: succeeds at once");
        Ok(PaymentIntent {
            client_secret: Some(format!("{id}_secret_simulated")),
            id,
            status: "requires_capture".to_owned(),
            amount_received: 0,
            latest_charge: None,
            amount_refunded: 0,
            capture_before: None,
            authorization_reported: true,
        })
    }

    async fn retrieve_payment_intent(&self, intent_id: &str) -> anyhow::Result<PaymentIntent> {
        // Nothing is kept: a simulated intent is authorized until the platform captures it,
        // and its capture never fails, so no retry asks for more.
        Ok(PaymentIntent {
            id: intent_id.to_owned(),
            client_secret: None,
            status: "requires_capture".to_owned(),
            amount_received: 0,
            latest_charge: None,
            amount_refunded: 0,
            capture_before: None,
            authorization_reported: false,
        })
    }

    async fn capture_payment_intent(
        &self,
        intent_id: &str,
        _idempotency_key: &str,
    ) -> anyhow::Result<String> {
        tracing::warn!(intent = intent_id, "SIMULATED capture");
        Ok(format!(
            "ch_sim_{}",
            intent_id.trim_start_matches("pi_sim_")
        ))
    }

    async fn cancel_payment_intent(
        &self,
        intent_id: &str,
        _idempotency_key: &str,
    ) -> anyhow::Result<()> {
        tracing::warn!(intent = intent_id, "SIMULATED authorization released");
        Ok(())
    }

    async fn refund(
        &self,
        charge_id: &str,
        amount_cents: i64,
        idempotency_key: &str,
    ) -> anyhow::Result<String> {
        tracing::warn!(
            charge = charge_id,
            amount = amount_cents,
            "SIMULATED refund"
        );
        Ok(simulated_id("re", idempotency_key))
    }

    async fn transfer(&self, request: NewTransfer<'_>) -> anyhow::Result<String> {
        tracing::warn!(
            account = request.destination_account,
            amount = request.amount_cents,
            "SIMULATED transfer"
        );
        Ok(simulated_id("tr", request.idempotency_key))
    }

    async fn reverse_transfer(
        &self,
        transfer_id: &str,
        amount_cents: i64,
        idempotency_key: &str,
    ) -> anyhow::Result<String> {
        tracing::warn!(
            transfer = transfer_id,
            amount = amount_cents,
            "SIMULATED transfer reversal"
        );
        Ok(simulated_id("trr", idempotency_key))
    }

    async fn retrieve_dispute(&self, dispute_id: &str) -> anyhow::Result<ProcessorDispute> {
        // Card networks open disputes only on real charges; without Stripe there are none.
        anyhow::bail!("no dispute {dispute_id}: payments are simulated")
    }

    // Simulated calls never fail, so nothing is ever retried and nobody asks.
    async fn transfers_in_group(&self, transfer_group: &str) -> anyhow::Result<Vec<(String, i64)>> {
        anyhow::bail!("transfers of {transfer_group} are not kept: payments are simulated")
    }

    async fn reversed_total(&self, transfer_id: &str) -> anyhow::Result<i64> {
        anyhow::bail!("transfer {transfer_id} is not kept: payments are simulated")
    }
}

/// A stable id per idempotency key, so a retried call returns what the first one did.
fn simulated_id(prefix: &str, key: &str) -> String {
    let digest = crate::auth::token_digest(key);
    format!("{prefix}_sim_{}", &digest[..24])
}

fn complete(id: String) -> ConnectedAccount {
    ConnectedAccount {
        id,
        details_submitted: true,
        charges_enabled: true,
        payouts_enabled: true,
        requirements_past_due: false,
    }
}
