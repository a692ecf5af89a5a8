//! Stripe webhook events, applied idempotently: each event id is recorded once (a redelivery is
//! acknowledged and skipped), and handlers decide from the object's current state fetched from
//! the processor, never from arrival order.
use entity::stripe_events;
use sea_orm::{ActiveModelTrait, Set, TransactionTrait};

use crate::db::is_unique_violation;
use crate::payments::webhook::VerifiedEvent;
use crate::state::AppState;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The event type is not one this platform acts on; recorded and acknowledged.
    Ignored,
    /// Seen before: acknowledged, not applied again.
    Duplicate,
}

#[tracing::instrument(skip_all, fields(event = %event.id, kind = %event.event_type))]
pub async fn handle(state: &AppState, event: &VerifiedEvent) -> anyhow::Result<Outcome> {
    // Fetch before opening the write transaction: no network call holds the writer.
    let account = match event.event_type.as_str() {
        "account.updated" => {
            let id = event
                .object
                .get("id")
                .and_then(|v| v.as_str())
                .ok_or_else(|| anyhow::anyhow!("account.updated without data.object.id"))?;
            Some(state.gateway.retrieve_account(id).await?)
        }
        _ => None,
    };

    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let record = stripe_events::ActiveModel {
        id: Set(event.id.clone()),
        event_type: Set(event.event_type.chars().take(100).collect()),
        account: Set(event.account.clone()),
        received_at: Set(now),
        processed_at: Set(Some(now)),
    };
    match record.insert(&txn).await {
        Ok(_) => {}
        Err(err) if is_unique_violation(&err, "stripe_events_pkey") => {
            txn.rollback().await?;
            tracing::info!("duplicate Stripe event acknowledged");
            return Ok(Outcome::Duplicate);
        }
        Err(err) => return Err(err.into()),
    }
    // Recorded and applied in one transaction: a failure records nothing, so Stripe's retry
    // applies the event instead of being skipped as a duplicate.
    let outcome = match account {
        Some(account) => {
            let known = super::sellers::apply_account(&txn, &account, now).await?;
            tracing::info!(account = %account.id, known, onboarded = account.details_submitted,
                payouts = account.payouts_enabled, "account.updated applied");
            Outcome::Applied
        }
        None => Outcome::Ignored,
    };
    txn.commit().await?;
    Ok(outcome)
}
