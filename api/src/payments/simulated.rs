//! The simulated gateway: no network, every call succeeds at once. Used when Stripe is not
//! configured, so `cargo run` works end to end on a laptop.
use super::{ConnectedAccount, NewConnectedAccount, PaymentGateway};

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
