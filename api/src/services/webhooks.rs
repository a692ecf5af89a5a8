//! Stripe webhook events, applied idempotently: each event id is recorded once (a redelivery is
//! acknowledged and skipped), and handlers decide from the object's current state fetched from
//! the processor, never from arrival order.
use entity::stripe_events;
use sea_orm::{ActiveModelTrait, EntityTrait, Set, TransactionTrait};

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
    /// It can never be applied (a malformed object, an intent, account or dispute Stripe does
    /// not know): recorded, logged and acknowledged, so Stripe stops retrying it.
    Rejected(String),
}

/// A problem no retry can fix.
#[derive(Debug)]
struct Permanent(String);

impl std::fmt::Display for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Permanent {}

fn malformed(message: String) -> anyhow::Error {
    anyhow::Error::new(Permanent(message))
}

/// True for what no retry fixes: a malformed event, or Stripe answering 404 for its object.
/// Anything else (our database, Stripe unreachable or failing) is transient: a 5xx, retried.
fn is_permanent(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<Permanent>().is_some()
            || matches!(
                cause.downcast_ref::<::stripe::StripeError>(),
                Some(::stripe::StripeError::Stripe(_, 404))
            )
    })
}

/// Payment events move orders. The order's own state decides (a transition that no longer
/// applies is refused and the event acknowledged), so they are applied first and recorded
/// after: a redelivery is recognised by its id, an out-of-order one by the order's state.
async fn handle_payment(state: &AppState, event: &VerifiedEvent) -> anyhow::Result<Outcome> {
    let already = stripe_events::Entity::find_by_id(event.id.clone())
        .one(&state.db.reader)
        .await?;
    if already.is_some() {
        return Ok(Outcome::Duplicate);
    }
    let object_id = event
        .object
        .get("id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| malformed(format!("{} without data.object.id", event.event_type)))?;
    let result = if event.event_type.starts_with("charge.dispute.") {
        // The dispute as Stripe holds it now decides, so a `closed` before its `created` (or
        // after a redelivery) converges on the same order state.
        let dispute = state.gateway.retrieve_dispute(object_id).await?;
        super::chargebacks::converge(state, dispute).await
    } else if event.event_type == "transfer.reversed" {
        // The reversed total only grows: the payload's figure is safe even when stale.
        let reversed = event
            .object
            .get("amount_reversed")
            .and_then(|v| v.as_i64())
            .ok_or_else(|| malformed("transfer.reversed without amount_reversed".into()))?;
        super::orders::transfer_reversed(state, object_id, reversed).await
    } else if event.event_type == "charge.refunded" {
        // The refunded total only grows: the payload's figure is safe even when stale.
        let refunded = event
            .object
            .get("amount_refunded")
            .and_then(|v| v.as_i64())
            .ok_or_else(|| malformed("charge.refunded without amount_refunded".into()))?;
        super::orders::charge_refunded(state, object_id, refunded).await
    } else {
        // The intent as Stripe holds it now decides, whatever the event says and whenever it
        // arrives: an authorization reported after a cancellation finds the intent canceled.
        let intent = state.gateway.retrieve_payment_intent(object_id).await?;
        match intent.status.as_str() {
            "requires_capture" => {
                // Stripe says when the authorization ends; card authorizations last about
                // 7 days when it does not.
                let capture_before = intent
                    .capture_before
                    .unwrap_or_else(|| state.now() + chrono::Duration::days(7));
                super::orders::authorization_succeeded(state, &intent.id, capture_before).await
            }
            "succeeded" => match intent.latest_charge.as_deref() {
                Some(charge) => {
                    super::orders::payment_succeeded(
                        state,
                        &intent.id,
                        charge,
                        intent.amount_received,
                    )
                    .await
                }
                None => Err(anyhow::anyhow!("succeeded intent {} has no charge", intent.id).into()),
            },
            "canceled" => super::orders::payment_canceled(state, &intent.id).await,
            "requires_payment_method" if event.event_type == "payment_intent.payment_failed" => {
                super::orders::payment_failed(state, &intent.id).await
            }
            other => {
                tracing::info!(intent = %intent.id, status = other, "payment event needs no action");
                Ok(())
            }
        }
    };
    match result {
        Ok(()) | Err(crate::error::ApiError::Refused(_)) => {}
        Err(err) => return Err(anyhow::anyhow!("applying {}: {err:?}", event.event_type)),
    }
    let record = stripe_events::ActiveModel {
        id: Set(event.id.clone()),
        event_type: Set(event.event_type.chars().take(100).collect()),
        account: Set(event.account.clone()),
        received_at: Set(state.now()),
        processed_at: Set(Some(state.now())),
    };
    match record.insert(&state.db.writer).await {
        Ok(_) => Ok(Outcome::Applied),
        Err(err) if is_unique_violation(&err, "stripe_events_pkey") => Ok(Outcome::Duplicate),
        Err(err) => Err(err.into()),
    }
}

#[tracing::instrument(skip_all, fields(event = %event.id, kind = %event.event_type))]
pub async fn handle(state: &AppState, event: &VerifiedEvent) -> anyhow::Result<Outcome> {
    match apply(state, event).await {
        Err(err) if is_permanent(&err) => {
            tracing::warn!(error = %format!("{err:#}"), "a Stripe event that can never apply: recorded and acknowledged");
            let record = stripe_events::ActiveModel {
                id: Set(event.id.clone()),
                event_type: Set(event.event_type.chars().take(100).collect()),
                account: Set(event.account.clone()),
                received_at: Set(state.now()),
                processed_at: Set(None),
            };
            match record.insert(&state.db.writer).await {
                Ok(_) => Ok(Outcome::Rejected(format!("{err:#}"))),
                Err(e) if is_unique_violation(&e, "stripe_events_pkey") => Ok(Outcome::Duplicate),
                Err(e) => Err(e.into()),
            }
        }
        other => other,
    }
}

async fn apply(state: &AppState, event: &VerifiedEvent) -> anyhow::Result<Outcome> {
    if matches!(
        event.event_type.as_str(),
        "payment_intent.amount_capturable_updated"
            | "payment_intent.payment_failed"
            | "payment_intent.succeeded"
            | "payment_intent.canceled"
            | "charge.refunded"
            | "charge.dispute.created"
            | "charge.dispute.updated"
            | "charge.dispute.closed"
            | "transfer.reversed"
    ) {
        return handle_payment(state, event).await;
    }
    // Fetch before opening the write transaction: no network call holds the writer.
    let account = match event.event_type.as_str() {
        "account.updated" => {
            let id = event
                .object
                .get("id")
                .and_then(|v| v.as_str())
                .ok_or_else(|| malformed("account.updated without data.object.id".into()))?;
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
