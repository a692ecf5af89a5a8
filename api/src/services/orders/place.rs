//! Placing an order: the listing checked, price, fee and policy frozen, the invoice issued,
//! an idempotency key replayed, and the card authorized after the commit.
use chrono::{DateTime, Duration, Utc};
use entity::{idempotency_keys, listings, orders, providers, tenants, users};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use super::*;
use crate::db::is_unique_violation;
use crate::domain::bounded_text;
use crate::domain::listing::PriceType;
use crate::domain::money;
use crate::domain::order::{Action, Actor, OrderStatus, PaymentMode};
use crate::domain::seller::TenantPaymentMode;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::ids::{self, Kind};
use crate::payments::NewPaymentIntent;
use crate::services::listings::publicly_visible;
use crate::services::{invoicing, Viewer};
use crate::state::AppState;

pub struct PlaceOrder<'a> {
    pub listing_id: &'a str,
    pub script_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
}

pub(crate) fn optional_text(
    raw: Option<&str>,
    field: &str,
    what: &str,
    max: usize,
) -> ApiResult<Option<String>> {
    match raw {
        None => Ok(None),
        Some(raw) => {
            let text = bounded_text(raw, what, 0, max)
                .map_err(|e| ApiError::refused(Refusal::invalid(field, e.0)))?;
            Ok((!text.is_empty()).then_some(text))
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn place_order(
    state: &AppState,
    viewer: &Viewer,
    input: PlaceOrder<'_>,
) -> ApiResult<orders::Model> {
    let buyer_id = viewer.user()?.id.clone();
    let script_id = optional_text(input.script_id, "scriptId", "script id", 200)?;
    let project_id = optional_text(input.project_id, "projectId", "project id", 200)?;
    let notes = optional_text(input.notes, "notes", "notes", 5000)?;
    let key = match input.idempotency_key {
        Some(k) if k.is_empty() || k.len() > 255 => {
            return Err(ApiError::refused(Refusal::invalid(
                "idempotencyKey",
                "the idempotency key must be 1 to 255 characters",
            )))
        }
        other => other,
    };
    let request_hash = crate::auth::token_digest(&format!(
        "{}|{:?}|{:?}|{:?}",
        input.listing_id, script_id, project_id, notes
    ));
    let now = state.now();
    if let Some(key) = key {
        if let Some(order) = replay(state, &buyer_id, key, &request_hash, now).await? {
            return Ok(order);
        }
    }

    let txn = state.db.writer.begin().await?;
    let listing_missing = || {
        ApiError::refused(Refusal::on_input(
            "listingId",
            RefusalCode::NotFound,
            "no such listing",
        ))
    };
    let Some((listing, Some(provider))) = listings::Entity::find_by_id(input.listing_id.to_owned())
        .find_also_related(providers::Entity)
        .one(&txn)
        .await?
    else {
        return Err(listing_missing());
    };
    let tenant = tenants::Entity::find_by_id(provider.tenant_id.clone())
        .one(&txn)
        .await?
        .ok_or_else(listing_missing)?;
    if !publicly_visible(&listing, &provider, &tenant) {
        return Err(listing_missing());
    }
    if provider.user_id == buyer_id {
        return Err(ApiError::refused(Refusal::on_input(
            "listingId",
            RefusalCode::NotAllowed,
            "you cannot order from yourself",
        )));
    }
    let (PriceType::Fixed, Some(price)) = (listing.price_type, listing.price_cents) else {
        return Err(ApiError::refused(Refusal::on_input(
            "listingId",
            RefusalCode::Invalid,
            "only FIXED-price listings can be ordered directly",
        )));
    };
    let mode = match tenant.payment_mode {
        TenantPaymentMode::Manual => PaymentMode::Manual,
        _ => PaymentMode::Stripe,
    };
    let bps = state.settings.platform_commission_bps.min(10_000);
    let fee = money::fee(price, bps);
    let number = invoicing::next_counter(&txn, "order").await?;
    let order = orders::ActiveModel {
        id: Set(ids::new_id(Kind::Order)),
        number: Set(number),
        buyer_id: Set(buyer_id.clone()),
        provider_id: Set(provider.id.clone()),
        listing_id: Set(listing.id.clone()),
        tenant_id: Set(tenant.id.clone()),
        status: Set(OrderStatus::Placed),
        version: Set(0),
        payment_mode: Set(mode),
        currency: Set(listing.currency.clone()),
        price_cents: Set(price),
        platform_fee_cents: Set(fee),
        provider_payout_cents: Set(price - fee),
        refunded_cents: Set(0),
        commission_bps: Set(bps as i32),
        auto_complete_days: Set(state.settings.auto_complete_days.min(365) as i32),
        revisions_included: Set(listing.revisions_included),
        revisions_used: Set(0),
        turnaround_days: Set(listing.turnaround_days),
        script_id: Set(script_id),
        project_id: Set(project_id),
        notes: Set(notes),
        script_file_key: Set(None),
        script_file_name: Set(None),
        script_content_type: Set(None),
        script_byte_size: Set(None),
        payment_intent_id: Set(None),
        charge_id: Set(None),
        payment_client_secret: Set(None),
        hold_expires_at: Set(None),
        sla_deadline: Set(None),
        late_marked_at: Set(None),
        delivered_at: Set(None),
        auto_complete_at: Set(None),
        completed_at: Set(None),
        cancelled_at: Set(None),
        cancel_reason: Set(None),
        chargeback_open: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let buyer = users::Entity::find_by_id(buyer_id.clone())
        .one(&txn)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let contact = invoicing::ensure_contact(&txn, &tenant.id, &buyer, now).await?;
    invoicing::create_order_invoice(&txn, &order, &listing.title, &contact, now).await?;
    if let Some(key) = key {
        let stored = idempotency_keys::ActiveModel {
            id: Set(ids::new_id(Kind::IdempotencyKey)),
            user_id: Set(buyer_id.clone()),
            operation: Set(PLACE_ORDER.to_owned()),
            key: Set(key.to_owned()),
            request_hash: Set(request_hash.clone()),
            response: Set(Some(order.id.clone())),
            created_at: Set(now),
            expires_at: Set(now + Duration::hours(24)),
        }
        .insert(&txn)
        .await;
        if let Err(err) = stored {
            if is_unique_violation(&err, "idempotency_keys_user_operation_key") {
                // A concurrent request with the same key won: answer with its order.
                txn.rollback().await?;
                return replay(state, &buyer_id, key, &request_hash, now)
                    .await?
                    .ok_or_else(|| {
                        ApiError::Internal(anyhow::anyhow!("idempotency key without order"))
                    });
            }
            return Err(err.into());
        }
    }
    let notice = record_event(
        &txn,
        &order,
        None,
        OrderStatus::Placed,
        "place",
        Actor::Buyer,
        Some(&buyer_id),
        None,
        now,
    )
    .await?;
    let publisher = state.events.publisher().await;
    txn.commit().await?;
    publisher.committed([notice]);
    tracing::info!(order = %order.id, number, mode = ?mode, price, "order placed");
    if state.faults.stop_after_commit() {
        // Tests only: the process "dies" here, between the commit and the authorization.
        return Err(ApiError::Internal(anyhow::anyhow!(
            "fault injection: stopped after the order's commit"
        )));
    }

    if mode == PaymentMode::Stripe {
        authorize(state, &order).await?;
    }
    load(&state.db.reader, &order.id).await
}

/// The order an earlier request with the same idempotency key placed (24 h), or a CONFLICT
/// when the key was used for a different request.
pub(crate) async fn replay(
    state: &AppState,
    buyer_id: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> ApiResult<Option<orders::Model>> {
    let Some(stored) = idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::UserId.eq(buyer_id))
        .filter(idempotency_keys::Column::Operation.eq(PLACE_ORDER))
        .filter(idempotency_keys::Column::Key.eq(key))
        .one(&state.db.writer)
        .await?
    else {
        return Ok(None);
    };
    if stored.expires_at <= now {
        idempotency_keys::Entity::delete_by_id(stored.id)
            .exec(&state.db.writer)
            .await?;
        return Ok(None);
    }
    if stored.request_hash != request_hash {
        return Err(ApiError::refused(Refusal::on_input(
            "idempotencyKey",
            RefusalCode::Conflict,
            "this idempotency key was used for a different order",
        )));
    }
    match stored.response {
        Some(order_id) => {
            let order = load(&state.db.writer, &order_id).await?;
            if needs_authorization(&order) {
                // The first request committed the order but never finished the authorization
                // (the process died in between): the replay finishes it.
                resume_authorization(state, &order).await?;
                return Ok(Some(load(&state.db.writer, &order_id).await?));
            }
            Ok(Some(order))
        }
        None => Ok(None),
    }
}

/// A STRIPE order committed as PLACED whose authorization was never started.
/// A STRIPE order still PLACED: its authorization may not have started, or its intent may be
/// held without the order having followed it (a stop in between).
pub(crate) fn needs_authorization(order: &orders::Model) -> bool {
    order.payment_mode == PaymentMode::Stripe && order.status == OrderStatus::Placed
}

/// Finishes what `place_order` does after its commit, from what was committed: the intent is
/// created under the order's fixed idempotency key (Stripe answers a repeat with the same
/// intent), stored, and the order follows the intent as Stripe holds it now, since its
/// authorization webhook may have come and gone while no order knew the intent. Safe to run
/// twice at once (a replay and a timer): each step is idempotent or conditional. True when
/// the order moved on (its intent stored, or its authorization applied).
pub async fn resume_authorization(state: &AppState, order: &orders::Model) -> ApiResult<bool> {
    let had_intent = order.payment_intent_id.is_some();
    if !had_intent {
        authorize(state, order).await?;
    }
    let order = load(&state.db.writer, &order.id).await?;
    let (OrderStatus::Placed, Some(intent_id)) = (order.status, order.payment_intent_id.as_deref())
    else {
        return Ok(true);
    };
    let intent = state
        .gateway
        .retrieve_payment_intent(intent_id)
        .await
        .map_err(ApiError::Internal)?;
    if intent.status == "requires_capture" {
        let hold_until = intent
            .capture_before
            .unwrap_or_else(|| state.now() + Duration::days(7));
        match authorization_succeeded(state, &intent.id, hold_until).await {
            Ok(()) => return Ok(true),
            Err(ApiError::Refused(_)) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(!had_intent)
}

/// Opens the card authorization of a STRIPE order. An authorization the gateway reports at once
/// goes through the same handler a webhook would reach.
pub(crate) async fn authorize(state: &AppState, order: &orders::Model) -> ApiResult<()> {
    let intent = state
        .gateway
        .create_payment_intent(NewPaymentIntent {
            order_id: &order.id,
            amount_cents: order.price_cents,
            currency: &order.currency,
            idempotency_key: &format!("{}:payment_intent:1", order.id),
        })
        .await;
    let intent = match intent {
        Ok(intent) => intent,
        Err(err) => {
            tracing::error!(error = ?err, order = %order.id, "creating the payment intent failed");
            apply(
                state,
                &order.id,
                Action::PaymentFailed,
                Actor::Processor,
                None,
                Some("the card payment could not be started"),
                Extra::default(),
            )
            .await?;
            return Ok(());
        }
    };
    orders::Entity::update_many()
        .col_expr(
            orders::Column::PaymentIntentId,
            Expr::value(intent.id.clone()),
        )
        .col_expr(
            orders::Column::PaymentClientSecret,
            Expr::value(intent.client_secret.clone()),
        )
        .filter(orders::Column::Id.eq(order.id.clone()))
        .exec(&state.db.writer)
        .await?;
    if state.faults.stop_after_intent() {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "fault injection: stopped after the intent was stored"
        )));
    }
    // The gateway says what happened: an authorization it reports with its answer (the
    // simulated gateway's) is applied now; otherwise the processor's event reports it later.
    if intent.authorization_reported {
        let hold_until = intent
            .capture_before
            .unwrap_or_else(|| state.now() + Duration::days(7));
        match authorization_succeeded(state, &intent.id, hold_until).await {
            // A resume that raced another one: the order moved already.
            Ok(()) | Err(ApiError::Refused(_)) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
