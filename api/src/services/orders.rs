//! Orders: placement with a frozen price and policy, and every move of the state machine
//! (`domain::order`) persisted as one conditional update plus its event in one transaction,
//! then the money effects run against the payment gateway.
use chrono::{DateTime, Duration, Utc};
use entity::{
    deliveries, idempotency_keys, ledger_entries, listings, order_events, orders, providers,
    tenants, users,
};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::listings::publicly_visible;
use super::{invoicing, Viewer};
use crate::db::is_unique_violation;
use crate::domain::bounded_text;
use crate::domain::listing::PriceType;
use crate::domain::money;
use crate::domain::order::{
    self as machine, Action, Actor, Effect, Facts, OrderStatus, PaymentMode,
};
use crate::domain::seller::TenantPaymentMode;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::ids::{self, Kind};
use crate::pagination::{Page, PageRequest};
use crate::payments::NewPaymentIntent;
use crate::state::AppState;

const PLACE_ORDER: &str = "placeOrder";

fn not_found() -> ApiError {
    ApiError::refused(Refusal::on_input(
        "orderId",
        RefusalCode::NotFound,
        "no such order",
    ))
}

pub fn payment_mode(order: &orders::Model) -> PaymentMode {
    if order.payment_mode == "MANUAL" {
        PaymentMode::Manual
    } else {
        PaymentMode::Stripe
    }
}

pub fn status(order: &orders::Model) -> OrderStatus {
    OrderStatus::parse(&order.status).unwrap_or(OrderStatus::Cancelled)
}

/// Past the SLA deadline while the provider still owes the work.
pub fn is_late(order: &orders::Model, now: DateTime<Utc>) -> bool {
    matches!(
        status(order),
        OrderStatus::Claimed | OrderStatus::InProgress
    ) && order.sla_deadline.is_some_and(|d| d < now)
}

pub fn facts(order: &orders::Model, now: DateTime<Utc>) -> Facts {
    Facts {
        payment_mode: payment_mode(order),
        price_cents: order.price_cents,
        commission_bps: u32::try_from(order.commission_bps).unwrap_or(0),
        revisions_used: order.revisions_used,
        revisions_included: order.revisions_included,
        is_late: order.sla_deadline.is_some_and(|d| d < now),
    }
}

/// The order and the viewer's roles on it; NOT_FOUND when it does not exist or the viewer
/// is none of its parties, so strangers learn nothing.
pub async fn order_with_roles(
    state: &AppState,
    viewer: &Viewer,
    order_id: &str,
) -> ApiResult<(orders::Model, machine::ViewerRoles)> {
    if !ids::is_kind(order_id, Kind::Order) {
        return Err(not_found());
    }
    let order = orders::Entity::find_by_id(order_id.to_owned())
        .one(&state.db.reader)
        .await?
        .ok_or_else(not_found)?;
    let roles = relation(&state.db.reader, viewer, &order)
        .await?
        .ok_or_else(not_found)?;
    Ok((order, roles))
}

/// How the viewer stands to an order: buyer, provider, admin; `None` when it may not read it.
pub async fn relation(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    order: &orders::Model,
) -> ApiResult<Option<machine::ViewerRoles>> {
    let Some(user_id) = viewer.id() else {
        return Ok(None);
    };
    let buyer = order.buyer_id == user_id;
    let provider = providers::Entity::find_by_id(order.provider_id.clone())
        .one(conn)
        .await?
        .is_some_and(|p| p.user_id == user_id);
    let roles = machine::ViewerRoles {
        buyer,
        provider,
        admin: viewer.is_admin(),
    };
    Ok((roles.buyer || roles.provider || roles.admin).then_some(roles))
}

pub struct PlaceOrder<'a> {
    pub listing_id: &'a str,
    pub script_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
}

fn optional_text(
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
    let (PriceType::Fixed, Some(price)) = (
        PriceType::from_stored(&listing.price_type),
        listing.price_cents,
    ) else {
        return Err(ApiError::refused(Refusal::on_input(
            "listingId",
            RefusalCode::Invalid,
            "only FIXED-price listings can be ordered directly",
        )));
    };
    let mode = match TenantPaymentMode::from_stored(&tenant.payment_mode) {
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
        status: Set(OrderStatus::Placed.as_str().to_owned()),
        version: Set(0),
        payment_mode: Set(if mode == PaymentMode::Manual {
            "MANUAL"
        } else {
            "STRIPE"
        }
        .to_owned()),
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
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    record_event(
        &txn,
        &order.id,
        None,
        OrderStatus::Placed,
        "place",
        Actor::Buyer,
        Some(&buyer_id),
        None,
        now,
    )
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
    txn.commit().await?;
    tracing::info!(order = %order.id, number, mode = ?mode, price, "order placed");

    if mode == PaymentMode::Stripe {
        authorize(state, &order).await?;
    }
    load(&state.db.reader, &order.id).await
}

/// The order an earlier request with the same idempotency key placed (24 h), or a CONFLICT
/// when the key was used for a different request.
async fn replay(
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
        Some(order_id) => Ok(Some(load(&state.db.writer, &order_id).await?)),
        None => Ok(None),
    }
}

/// Opens the card authorization of a STRIPE order. The simulated gateway reports success at
/// once through the same handler a webhook would reach.
async fn authorize(state: &AppState, order: &orders::Model) -> ApiResult<()> {
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
    if state.gateway.name() == "simulated" {
        authorization_succeeded(state, &intent.id, state.now() + Duration::days(7)).await?;
    }
    Ok(())
}

/// `payment_intent.amount_capturable_updated`: the money is held until `capture_before`.
pub async fn authorization_succeeded(
    state: &AppState,
    intent_id: &str,
    capture_before: DateTime<Utc>,
) -> ApiResult<()> {
    let Some(order) = order_by_intent(state, intent_id).await? else {
        return Ok(());
    };
    let extra = Extra {
        hold_expires_at: Some(capture_before),
        ..Default::default()
    };
    match apply(
        state,
        &order.id,
        Action::AuthorizationSucceeded,
        Actor::Processor,
        None,
        None,
        extra,
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(ApiError::Refused(_)) => {
            // An authorization for an order that closed before it arrived holds the buyer's
            // money for nothing: release it.
            let order = load(&state.db.reader, &order.id).await?;
            if matches!(
                status(&order),
                OrderStatus::Cancelled | OrderStatus::PaymentFailed
            ) {
                // Remembered first, so that the timers retry a release that fails now.
                orders::Entity::update_many()
                    .col_expr(orders::Column::HoldExpiresAt, Expr::value(capture_before))
                    .filter(orders::Column::Id.eq(order.id.clone()))
                    .filter(orders::Column::ChargeId.is_null())
                    .exec(&state.db.writer)
                    .await?;
                release_authorization(state, &order, "late").await;
            }
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// `payment_intent.canceled`: the processor canceled the intent (it expired, or someone
/// canceled it outside the platform); an order still waiting for the money is cancelled.
pub async fn payment_canceled(state: &AppState, intent_id: &str) -> ApiResult<()> {
    let Some(order) = order_by_intent(state, intent_id).await? else {
        return Ok(());
    };
    match apply(
        state,
        &order.id,
        Action::PaymentCanceled,
        Actor::Processor,
        None,
        Some("the card payment was canceled by the payment processor"),
        Extra {
            cancel_reason: Some("payment canceled".to_owned()),
            ..Default::default()
        },
    )
    .await
    {
        Ok(_) | Err(ApiError::Refused(_)) => {}
        Err(err) => return Err(err),
    }
    // Whatever the order's state, a canceled intent holds nothing any more.
    orders::Entity::update_many()
        .col_expr(
            orders::Column::HoldExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(orders::Column::Id.eq(order.id.clone()))
        .exec(&state.db.writer)
        .await?;
    Ok(())
}

/// `payment_intent.succeeded`: the money was captured. A capture the platform made but did not
/// hear back from is confirmed here; a payment captured for an order that was already
/// cancelled is refunded in full.
pub async fn payment_succeeded(
    state: &AppState,
    intent_id: &str,
    charge_id: &str,
    amount_cents: i64,
) -> ApiResult<()> {
    let Some(order) = order_by_intent(state, intent_id).await? else {
        return Ok(());
    };
    let charge = ledger_entries::Entity::find()
        .filter(ledger_entries::Column::OrderId.eq(order.id.clone()))
        .filter(ledger_entries::Column::Kind.eq("CHARGE"))
        .one(&state.db.reader)
        .await?;
    let now = state.now();
    match charge {
        Some(entry) if entry.status == "PENDING" => {
            let txn = state.db.writer.begin().await?;
            confirm_charge(&txn, &entry, charge_id, now).await?;
            txn.commit().await?;
            tracing::info!(order = %order.id, charge = charge_id, "capture confirmed by payment_intent.succeeded");
            process_ledger(state, &order.id).await
        }
        Some(_) => Ok(()),
        None if matches!(
            status(&order),
            OrderStatus::Cancelled | OrderStatus::PaymentFailed
        ) =>
        {
            refund_stray_payment(state, &order, charge_id, amount_cents).await
        }
        None => {
            tracing::warn!(order = %order.id, status = %order.status, charge = charge_id,
                "a payment was captured outside the platform for an open order; left for an admin");
            Ok(())
        }
    }
}

async fn order_by_intent(state: &AppState, intent_id: &str) -> ApiResult<Option<orders::Model>> {
    Ok(orders::Entity::find()
        .filter(orders::Column::PaymentIntentId.eq(intent_id))
        .one(&state.db.reader)
        .await?)
}

/// A PENDING charge the processor reports captured: SUCCEEDED, and the order knows its charge.
async fn confirm_charge(
    txn: &DatabaseTransaction,
    entry: &ledger_entries::Model,
    charge_id: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let confirmed = mark_succeeded(txn, entry, Some(charge_id), now).await?;
    if confirmed == 1 {
        orders::Entity::update_many()
            .col_expr(orders::Column::ChargeId, Expr::value(charge_id))
            .filter(orders::Column::Id.eq(entry.order_id.clone()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Money captured for a closed order goes back to the buyer: the charge and its full refund
/// enter the ledger with an event on the order, guarded by the order's version so two
/// deliveries of the news refund once.
async fn refund_stray_payment(
    state: &AppState,
    order: &orders::Model,
    charge_id: &str,
    amount_cents: i64,
) -> ApiResult<()> {
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let updated = orders::Entity::update_many()
        .col_expr(orders::Column::ChargeId, Expr::value(charge_id))
        .col_expr(orders::Column::RefundedCents, Expr::value(amount_cents))
        .col_expr(
            orders::Column::Version,
            Expr::col(orders::Column::Version).add(1),
        )
        .col_expr(orders::Column::UpdatedAt, Expr::value(now))
        .filter(orders::Column::Id.eq(order.id.clone()))
        .filter(orders::Column::Version.eq(order.version))
        .filter(orders::Column::ChargeId.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(());
    }
    let stray = orders::Model {
        price_cents: amount_cents,
        ..order.clone()
    };
    add_ledger_entry(
        &txn,
        &stray,
        "CHARGE",
        amount_cents,
        "SUCCEEDED",
        Some(charge_id),
        now,
    )
    .await?;
    add_ledger(&txn, &stray, "REFUND", amount_cents, now).await?;
    let from = status(order);
    record_event(
        &txn,
        &order.id,
        Some(from),
        from,
        "refund_stray_payment",
        Actor::Processor,
        None,
        Some("a payment arrived after the order closed; it is refunded in full"),
        now,
    )
    .await?;
    txn.commit().await?;
    tracing::warn!(order = %order.id, charge = charge_id, amount = amount_cents, "refunding a payment captured for a closed order");
    process_ledger(state, &order.id).await
}

/// `charge.refunded`: `amount_refunded` is the charge's refunded total, which only grows, so a
/// stale or repeated event never undoes anything. PENDING refunds it covers (the platform's
/// call went through but the answer was lost) are confirmed; any rest was refunded outside
/// the platform and is recorded as such.
pub async fn charge_refunded(
    state: &AppState,
    charge_id: &str,
    amount_refunded: i64,
) -> ApiResult<()> {
    let Some(order) = orders::Entity::find()
        .filter(orders::Column::ChargeId.eq(charge_id))
        .one(&state.db.reader)
        .await?
    else {
        return Ok(());
    };
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let refunds = ledger_entries::Entity::find()
        .filter(ledger_entries::Column::OrderId.eq(order.id.clone()))
        .filter(ledger_entries::Column::Kind.eq("REFUND"))
        .order_by_asc(ledger_entries::Column::Id)
        .all(&txn)
        .await?;
    let mut known: i64 = refunds
        .iter()
        .filter(|r| r.status == "SUCCEEDED")
        .map(|r| r.amount_cents)
        .sum();
    let mut still_pending = 0;
    for pending in refunds.iter().filter(|r| r.status == "PENDING") {
        if still_pending == 0 && known + pending.amount_cents <= amount_refunded {
            confirm_refund(&txn, pending, now).await?;
            known += pending.amount_cents;
        } else {
            still_pending += pending.amount_cents;
        }
    }
    let outside = amount_refunded - known - still_pending;
    if outside > 0 {
        let mut entry = new_ledger_entry(&order, "REFUND", outside, "SUCCEEDED", None, now);
        entry.idempotency_key = Set(format!("{}:refund_outside:{amount_refunded}", order.id));
        match entry.insert(&txn).await {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err, "ledger_entries_idempotency_key") => {
                txn.rollback().await?;
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        }
        orders::Entity::update_many()
            .col_expr(
                orders::Column::RefundedCents,
                Expr::col(orders::Column::RefundedCents).add(outside),
            )
            .col_expr(orders::Column::UpdatedAt, Expr::value(now))
            .filter(orders::Column::Id.eq(order.id.clone()))
            .exec(&txn)
            .await?;
        let at = status(&order);
        let note =
            format!("{outside} cents were refunded at the payment processor, outside the platform");
        record_event(
            &txn,
            &order.id,
            Some(at),
            at,
            "refund_outside",
            Actor::Processor,
            None,
            Some(&note),
            now,
        )
        .await?;
        tracing::warn!(order = %order.id, charge = charge_id, amount = outside, "refund made outside the platform recorded");
    }
    txn.commit().await?;
    Ok(())
}

/// A PENDING refund the processor reports done.
async fn confirm_refund(
    txn: &DatabaseTransaction,
    entry: &ledger_entries::Model,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    mark_succeeded(txn, entry, None, now).await?;
    Ok(())
}

/// PENDING → SUCCEEDED for one entry, with the processor's id when known; the number of rows
/// moved (0 when another path confirmed it first).
async fn mark_succeeded(
    txn: &DatabaseTransaction,
    entry: &ledger_entries::Model,
    processor_id: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<u64> {
    let mut update = ledger_entries::Entity::update_many()
        .col_expr(ledger_entries::Column::Status, Expr::value("SUCCEEDED"))
        .col_expr(
            ledger_entries::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            ledger_entries::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(ledger_entries::Column::UpdatedAt, Expr::value(now));
    if let Some(id) = processor_id {
        update = update.col_expr(ledger_entries::Column::ProcessorId, Expr::value(id));
    }
    Ok(update
        .filter(ledger_entries::Column::Id.eq(entry.id.clone()))
        .filter(ledger_entries::Column::Status.eq("PENDING"))
        .exec(txn)
        .await?
        .rows_affected)
}

/// `payment_intent.payment_failed`: the buyer may place the order again.
pub async fn payment_failed(state: &AppState, intent_id: &str) -> ApiResult<()> {
    let Some(order) = orders::Entity::find()
        .filter(orders::Column::PaymentIntentId.eq(intent_id))
        .one(&state.db.reader)
        .await?
    else {
        return Ok(());
    };
    apply(
        state,
        &order.id,
        Action::PaymentFailed,
        Actor::Processor,
        None,
        Some("the card payment failed"),
        Extra::default(),
    )
    .await
    .map(|_| ())
}

/// What a command adds to its transition.
#[derive(Default)]
pub struct Extra<'a> {
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub late_marked_at: Option<DateTime<Utc>>,
    pub delivery: Option<DeliveryInput>,
    pub payment: Option<(&'a str, &'a str)>,
    pub cancel_reason: Option<String>,
}

pub struct DeliveryInput {
    /// a key from createUpload (DELIVERY_REPORT); checked against the stored object
    pub file_key: Option<String>,
    /// what `file_key` names, once checked
    pub file: Option<super::files::StoredFile>,
    pub summary: String,
    pub strengths: String,
    pub weaknesses: String,
    pub recommendations: String,
    pub score: Option<i32>,
}

pub enum Command<'a> {
    MarkPaid { method: &'a str, reference: &'a str },
    ConfirmPayment,
    Claim,
    Decline,
    Start,
    Deliver(DeliveryInput),
    RequestRevision { message: &'a str },
    Complete,
    Cancel { reason: &'a str },
}

/// A viewer's command on an order: checks the viewer's part, then applies the transition.
#[tracing::instrument(skip(state, viewer, command))]
pub async fn command(
    state: &AppState,
    viewer: &Viewer,
    order_id: &str,
    command: Command<'_>,
    note: Option<&str>,
) -> ApiResult<orders::Model> {
    viewer.user()?;
    let note = optional_text(note, "note", "note", 2000)?;
    let (order, roles) = order_with_roles(state, viewer, order_id).await?;
    let text = |raw: &str, field: &str, what: &str, min: usize, max: usize| {
        bounded_text(raw, what, min, max)
            .map_err(|e| ApiError::refused(Refusal::invalid(field, e.0)))
    };
    let (action, actor, extra, note) = match command {
        Command::MarkPaid { method, reference } => {
            text(method, "method", "method", 1, 100)?;
            text(reference, "reference", "reference", 1, 200)?;
            (
                Action::MarkPaid,
                Actor::Buyer,
                Extra {
                    payment: Some((method, reference)),
                    ..Default::default()
                },
                note,
            )
        }
        Command::ConfirmPayment => (
            Action::ConfirmPayment,
            Actor::Provider,
            Extra::default(),
            note,
        ),
        Command::Claim => (Action::Claim, Actor::Provider, Extra::default(), note),
        Command::Decline => (Action::Decline, Actor::Provider, Extra::default(), note),
        Command::Start => (Action::Start, Actor::Provider, Extra::default(), note),
        Command::Deliver(mut delivery) => {
            // Only the provider's own key is looked at; anyone else is refused below.
            if let (Some(key), true) = (delivery.file_key.as_deref(), roles.provider) {
                if !matches!(
                    status(&order),
                    OrderStatus::Claimed | OrderStatus::InProgress
                ) {
                    return Err(refusal(machine::Refusal::InvalidState {
                        from: status(&order),
                        action: Action::Deliver.name(),
                    }));
                }
                delivery.file = Some(
                    super::files::check_upload(
                        state,
                        &order,
                        crate::domain::file::Purpose::DeliveryReport,
                        key,
                    )
                    .await?,
                );
            }
            delivery.summary = text(&delivery.summary, "summary", "summary", 1, 10_000)?;
            delivery.strengths = text(&delivery.strengths, "strengths", "strengths", 0, 10_000)?;
            delivery.weaknesses =
                text(&delivery.weaknesses, "weaknesses", "weaknesses", 0, 10_000)?;
            delivery.recommendations = text(
                &delivery.recommendations,
                "recommendations",
                "recommendations",
                0,
                10_000,
            )?;
            if delivery.score.is_some_and(|s| !(1..=100).contains(&s)) {
                return Err(ApiError::refused(Refusal::invalid(
                    "score",
                    "score must be 1 to 100",
                )));
            }
            (
                Action::Deliver,
                Actor::Provider,
                Extra {
                    delivery: Some(delivery),
                    ..Default::default()
                },
                note,
            )
        }
        Command::RequestRevision { message } => {
            let message = text(message, "message", "message", 1, 5000)?;
            (
                Action::RequestRevision,
                Actor::Buyer,
                Extra::default(),
                Some(message),
            )
        }
        Command::Complete => (Action::Complete, Actor::Buyer, Extra::default(), note),
        Command::Cancel { reason } => {
            let reason = text(reason, "reason", "reason", 1, 1000)?;
            (
                Action::Cancel,
                Actor::Buyer,
                Extra {
                    cancel_reason: Some(reason.clone()),
                    ..Default::default()
                },
                Some(reason),
            )
        }
    };
    let allowed = match actor {
        Actor::Buyer => roles.buyer,
        Actor::Provider => roles.provider,
        _ => false,
    };
    if !allowed {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::NotAllowed,
            format!(
                "only the order's {} may do this",
                if actor == Actor::Buyer {
                    "buyer"
                } else {
                    "provider"
                }
            ),
        )));
    }
    let user_id = viewer.id().map(str::to_owned);
    apply(
        state,
        order_id,
        action,
        actor,
        user_id.as_deref(),
        note.as_deref(),
        extra,
    )
    .await
}

fn refusal(refusal: machine::Refusal) -> ApiError {
    let code = match refusal {
        machine::Refusal::InvalidState { .. }
        | machine::Refusal::WrongPaymentMode
        | machine::Refusal::NotLate => RefusalCode::InvalidState,
        machine::Refusal::NotAllowed { .. } => RefusalCode::NotAllowed,
        machine::Refusal::RevisionsExhausted => RefusalCode::LimitExceeded,
        machine::Refusal::InvalidRefund => RefusalCode::Invalid,
    };
    ApiError::refused(Refusal::new(code, refusal.message()))
}

/// Applies one transition: the domain decides, one conditional update (`status` and `version`
/// as read) persists it with its event and database effects in one transaction, and the
/// payment effects run after the commit. The loser of a race gets INVALID_STATE or CONFLICT
/// and changes nothing.
pub async fn apply(
    state: &AppState,
    order_id: &str,
    action: Action,
    actor: Actor,
    actor_user: Option<&str>,
    note: Option<&str>,
    extra: Extra<'_>,
) -> ApiResult<orders::Model> {
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    let order = orders::Entity::find_by_id(order_id.to_owned())
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let from = status(&order);
    let outcome = machine::transition(from, action, actor, &facts(&order, now)).map_err(refusal)?;

    let mut sets: Vec<(orders::Column, SimpleExpr)> = vec![
        (orders::Column::Status, Expr::value(outcome.to.as_str())),
        (
            orders::Column::Version,
            Expr::col(orders::Column::Version).add(1),
        ),
        (orders::Column::UpdatedAt, Expr::value(now)),
    ];
    let mut set = |col: orders::Column, value: SimpleExpr| sets.push((col, value));
    if let Some(hold) = extra.hold_expires_at {
        set(orders::Column::HoldExpiresAt, Expr::value(hold));
    }
    if let Some(at) = extra.late_marked_at {
        set(orders::Column::LateMarkedAt, Expr::value(at));
    }
    for effect in &outcome.effects {
        match effect {
            Effect::StartSla => set(
                orders::Column::SlaDeadline,
                Expr::value(
                    order
                        .turnaround_days
                        .map(|d| now + Duration::days(i64::from(d))),
                ),
            ),
            Effect::StartAutoComplete => {
                set(orders::Column::DeliveredAt, Expr::value(now));
                set(
                    orders::Column::AutoCompleteAt,
                    Expr::value(now + Duration::days(i64::from(order.auto_complete_days))),
                );
            }
            Effect::CountRevision => {
                set(
                    orders::Column::RevisionsUsed,
                    Expr::col(orders::Column::RevisionsUsed).add(1),
                );
                set(
                    orders::Column::AutoCompleteAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                );
            }
            Effect::StopTimers => set(
                orders::Column::AutoCompleteAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            ),
            Effect::Settle(s) => set(orders::Column::RefundedCents, Expr::value(s.refund)),
            _ => {}
        }
    }
    match outcome.to {
        OrderStatus::Completed => set(orders::Column::CompletedAt, Expr::value(now)),
        OrderStatus::Cancelled | OrderStatus::Refunded if from != outcome.to => {
            set(orders::Column::CancelledAt, Expr::value(now));
            set(
                orders::Column::CancelReason,
                Expr::value(extra.cancel_reason.clone()),
            );
        }
        _ => {}
    }
    let mut update = orders::Entity::update_many();
    for (col, value) in sets {
        update = update.col_expr(col, value);
    }
    let updated = update
        .filter(orders::Column::Id.eq(order.id.clone()))
        .filter(orders::Column::Status.eq(from.as_str()))
        .filter(orders::Column::Version.eq(order.version))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::Conflict,
            "the order changed meanwhile; read it again",
        )));
    }
    record_event(
        &txn,
        &order.id,
        Some(from),
        outcome.to,
        action.name(),
        actor,
        actor_user,
        note,
        now,
    )
    .await?;

    let stripe = payment_mode(&order) == PaymentMode::Stripe;
    for effect in &outcome.effects {
        match effect {
            Effect::InvoicePendingConfirmation => {
                let (method, reference) = extra.payment.unwrap_or(("", ""));
                invoicing::mark_pending_confirmation(&txn, &order.id, method, reference, now)
                    .await?;
            }
            Effect::InvoicePaid => {
                let (method, confirmed_by) = if stripe {
                    ("card", None)
                } else {
                    ("manual", actor_user)
                };
                invoicing::mark_paid(&txn, &order, method, None, confirmed_by, now).await?;
            }
            Effect::InvoiceVoid => invoicing::mark_void(&txn, &order.id, now).await?,
            Effect::Capture => add_ledger(&txn, &order, "CHARGE", order.price_cents, now).await?,
            Effect::Settle(s) => {
                if s.refund > 0 {
                    invoicing::mark_refunded(&txn, &order.id, s.refund, now).await?;
                }
                if stripe {
                    add_ledger(&txn, &order, "REFUND", s.refund, now).await?;
                    add_ledger(&txn, &order, "FEE", s.fee, now).await?;
                    add_ledger(&txn, &order, "TRANSFER", s.transfer, now).await?;
                } else {
                    // MANUAL orders move no money through the platform: the commission is
                    // owed by the seller's tenant (DESIGN §4), never sent to a processor.
                    add_ledger_entry(&txn, &order, "FEE", s.fee, "OWED", None, now).await?;
                }
            }
            _ => {}
        }
    }
    if let Some(delivery) = extra.delivery {
        let revision = deliveries::Entity::find()
            .filter(deliveries::Column::OrderId.eq(order.id.clone()))
            .count(&txn)
            .await? as i32
            + 1;
        deliveries::ActiveModel {
            id: Set(ids::new_id(Kind::Delivery)),
            order_id: Set(order.id.clone()),
            revision: Set(revision),
            summary: Set(delivery.summary),
            strengths: Set(delivery.strengths),
            weaknesses: Set(delivery.weaknesses),
            recommendations: Set(delivery.recommendations),
            score: Set(delivery.score),
            file_key: Set(delivery.file.as_ref().map(|f| f.key.clone())),
            file_name: Set(delivery.file.as_ref().map(|f| f.file_name.clone())),
            file_content_type: Set(delivery.file.as_ref().map(|f| f.content_type.clone())),
            file_byte_size: Set(delivery.file.as_ref().map(|f| f.byte_size)),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    if outcome.to == OrderStatus::Completed && from != OrderStatus::Completed {
        providers::Entity::update_many()
            .col_expr(
                providers::Column::TotalOrdersCompleted,
                Expr::col(providers::Column::TotalOrdersCompleted).add(1),
            )
            .filter(providers::Column::Id.eq(order.provider_id.clone()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    tracing::info!(order = %order.id, from = from.as_str(), to = outcome.to.as_str(), action = action.name(), "order moved");

    if stripe {
        if outcome.effects.contains(&Effect::ReleaseAuthorization) {
            release_authorization(state, &order, "1").await;
        }
        process_ledger(state, &order.id).await?;
    }
    load(&state.db.reader, &order.id).await
}

#[allow(clippy::too_many_arguments)]
async fn record_event(
    conn: &impl ConnectionTrait,
    order_id: &str,
    from: Option<OrderStatus>,
    to: OrderStatus,
    action: &str,
    actor: Actor,
    actor_user: Option<&str>,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    order_events::ActiveModel {
        id: Set(ids::new_id(Kind::OrderEvent)),
        order_id: Set(order_id.to_owned()),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        action: Set(action.to_owned()),
        actor_kind: Set(actor_kind(actor).to_owned()),
        actor_id: Set(actor_user.map(str::to_owned)),
        note: Set(note.map(str::to_owned)),
        occurred_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(())
}

pub fn actor_kind(actor: Actor) -> &'static str {
    match actor {
        Actor::Buyer => "BUYER",
        Actor::Provider => "PROVIDER",
        Actor::Admin => "ADMIN",
        Actor::System => "SYSTEM",
        Actor::Processor => "PAYMENT_PROCESSOR",
    }
}

/// A ledger entry of `kind` for the order, PENDING until the processor confirms it (a FEE is
/// kept by the platform and succeeds at once). Nothing is recorded for zero amounts.
async fn add_ledger(
    conn: &DatabaseTransaction,
    order: &orders::Model,
    kind: &str,
    amount: i64,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let status = if kind == "FEE" {
        "SUCCEEDED"
    } else {
        "PENDING"
    };
    add_ledger_entry(conn, order, kind, amount, status, None, now).await
}

async fn add_ledger_entry(
    conn: &DatabaseTransaction,
    order: &orders::Model,
    kind: &str,
    amount: i64,
    status: &str,
    processor_id: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if amount <= 0 {
        return Ok(());
    }
    new_ledger_entry(order, kind, amount, status, processor_id, now)
        .insert(conn)
        .await?;
    Ok(())
}

fn new_ledger_entry(
    order: &orders::Model,
    kind: &str,
    amount: i64,
    status: &str,
    processor_id: Option<&str>,
    now: DateTime<Utc>,
) -> ledger_entries::ActiveModel {
    let pending = status == "PENDING";
    ledger_entries::ActiveModel {
        id: Set(ids::new_id(Kind::LedgerEntry)),
        order_id: Set(order.id.clone()),
        kind: Set(kind.to_owned()),
        status: Set(status.to_owned()),
        amount_cents: Set(amount),
        currency: Set(order.currency.clone()),
        processor_id: Set(processor_id.map(str::to_owned)),
        // (order, action); each call adds its attempt number (DESIGN §4).
        idempotency_key: Set(format!("{}:{}", order.id, kind.to_lowercase())),
        attempts: Set(0),
        last_error: Set(None),
        next_attempt_at: Set(pending.then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Releases the hold of an order that closed before its claim, under the Idempotency-Key
/// `<order>:cancel_intent:<attempt>`. When Stripe refuses, the intent as Stripe holds it says
/// why: already released, or captured outside the platform (in the Dashboard, say), in which
/// case the money is refunded as a stray payment. A release that is done clears
/// `hold_expires_at`; one that failed keeps it, and the timers try again while the hold lasts.
/// Returns whether the hold is gone.
pub(crate) async fn release_authorization(
    state: &AppState,
    order: &orders::Model,
    attempt: &str,
) -> bool {
    let Some(intent) = &order.payment_intent_id else {
        return true;
    };
    let key = format!("{}:cancel_intent:{attempt}", order.id);
    let released = match state.gateway.cancel_payment_intent(intent, &key).await {
        Ok(_) => true,
        Err(err) => match state.gateway.retrieve_payment_intent(intent).await {
            Ok(found) => match (found.status.as_str(), found.latest_charge.as_deref()) {
                ("canceled", _) => {
                    tracing::info!(order = %order.id, "the authorization was already released");
                    true
                }
                ("succeeded", Some(charge)) => {
                    let refunded = match load(&state.db.reader, &order.id).await {
                        Ok(current) => {
                            refund_stray_payment(state, &current, charge, found.amount_received)
                                .await
                        }
                        Err(e) => Err(e),
                    };
                    match refunded {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(error = ?e, order = %order.id, charge,
                                "refunding a payment captured before the release failed");
                            false
                        }
                    }
                }
                (other, _) => {
                    tracing::error!(error = ?err, order = %order.id, status = other,
                        "releasing the authorization failed; the timers retry it");
                    false
                }
            },
            Err(again) => {
                tracing::error!(error = ?err, retrieve = ?again, order = %order.id,
                    "releasing the authorization failed; the timers retry it");
                false
            }
        },
    };
    if released {
        let cleared = orders::Entity::update_many()
            .col_expr(
                orders::Column::HoldExpiresAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(orders::Column::Id.eq(order.id.clone()))
            .exec(&state.db.writer)
            .await;
        if let Err(err) = cleared {
            tracing::error!(error = ?err, order = %order.id, "recording a released hold failed");
        }
    }
    released
}

/// Runs the order's PENDING ledger entries against the processor, oldest first: the charge is
/// captured before anything is refunded or transferred from it. A failure stays PENDING with
/// its error, to be retried.
pub async fn process_ledger(state: &AppState, order_id: &str) -> ApiResult<()> {
    let pending = ledger_entries::Entity::find()
        .filter(ledger_entries::Column::OrderId.eq(order_id))
        .filter(ledger_entries::Column::Status.eq("PENDING"))
        .order_by_asc(ledger_entries::Column::Id)
        .all(&state.db.reader)
        .await?;
    for entry in pending {
        let order = load(&state.db.reader, order_id).await?;
        let key = format!("{}:{}", entry.idempotency_key, entry.attempts + 1);
        let result = match entry.kind.as_str() {
            "CHARGE" => match &order.payment_intent_id {
                Some(intent) => capture(state, intent, entry.attempts, &key).await,
                None => Err(anyhow::anyhow!("no payment intent to capture")),
            },
            "REFUND" => match &order.charge_id {
                Some(charge) => state.gateway.refund(charge, entry.amount_cents, &key).await,
                None => Err(anyhow::anyhow!("no captured charge to refund yet")),
            },
            "TRANSFER" => {
                let tenant = tenants::Entity::find_by_id(order.tenant_id.clone())
                    .one(&state.db.reader)
                    .await?;
                match (tenant.and_then(|t| t.stripe_account_id), &order.charge_id) {
                    (Some(account), Some(charge)) => {
                        state
                            .gateway
                            .transfer(crate::payments::NewTransfer {
                                order_id: &order.id,
                                amount_cents: entry.amount_cents,
                                currency: &order.currency,
                                destination_account: &account,
                                source_transaction: charge,
                                idempotency_key: &key,
                            })
                            .await
                    }
                    _ => Err(anyhow::anyhow!(
                        "no connected account or charge to transfer from"
                    )),
                }
            }
            other => Err(anyhow::anyhow!("unknown ledger entry kind {other}")),
        };
        let now = state.now();
        let mut active: ledger_entries::ActiveModel = entry.clone().into();
        active.attempts = Set(entry.attempts + 1);
        active.updated_at = Set(now);
        match result {
            Ok(processor_id) => {
                active.status = Set("SUCCEEDED".to_owned());
                active.processor_id = Set(Some(processor_id.clone()));
                active.last_error = Set(None);
                active.next_attempt_at = Set(None);
                let txn = state.db.writer.begin().await?;
                active.update(&txn).await?;
                if entry.kind == "CHARGE" {
                    orders::Entity::update_many()
                        .col_expr(orders::Column::ChargeId, Expr::value(processor_id))
                        .filter(orders::Column::Id.eq(order.id.clone()))
                        .exec(&txn)
                        .await?;
                }
                txn.commit().await?;
            }
            Err(err) => {
                tracing::error!(error = ?err, entry = %entry.id, kind = %entry.kind, "ledger entry failed; will retry");
                // Backoff doubles per attempt, from one minute up to a day.
                let delay = Duration::minutes(1i64 << entry.attempts.clamp(0, 10));
                active.last_error = Set(Some(format!("{err:#}").chars().take(1000).collect()));
                active.next_attempt_at = Set(Some(now + delay));
                active.update(&state.db.writer).await?;
                if entry.kind == "CHARGE" {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Captures an intent. A retry first asks the processor: a capture whose answer was lost may
/// have gone through, and capturing twice is an error, not a second charge.
async fn capture(
    state: &AppState,
    intent_id: &str,
    attempts: i32,
    key: &str,
) -> anyhow::Result<String> {
    // A retry asks first: the lost answer of an earlier attempt may have been a capture.
    if attempts > 0 {
        if let Some(charge) = captured_charge(state, intent_id).await? {
            return Ok(charge);
        }
    }
    match state.gateway.capture_payment_intent(intent_id, key).await {
        Ok(charge) => Ok(charge),
        // Refused because it was captured already (in the Dashboard, before the claim): the
        // capture the platform wanted has happened.
        Err(err) => match captured_charge(state, intent_id).await {
            Ok(Some(charge)) => Ok(charge),
            _ => Err(err),
        },
    }
}

/// The charge of an intent Stripe holds as `succeeded`, if it is.
async fn captured_charge(state: &AppState, intent_id: &str) -> anyhow::Result<Option<String>> {
    let intent = state.gateway.retrieve_payment_intent(intent_id).await?;
    Ok(intent
        .latest_charge
        .filter(|_| intent.status == "succeeded"))
}

pub async fn load(conn: &impl ConnectionTrait, order_id: &str) -> ApiResult<orders::Model> {
    orders::Entity::find_by_id(order_id.to_owned())
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("order {order_id} vanished")))
}

/// One order, if the viewer is its buyer, its provider or an admin.
pub async fn order_for_viewer(
    state: &AppState,
    viewer: &Viewer,
    order_id: &str,
) -> ApiResult<Option<orders::Model>> {
    if !ids::is_kind(order_id, Kind::Order) {
        return Ok(None);
    }
    let Some(order) = orders::Entity::find_by_id(order_id.to_owned())
        .one(&state.db.reader)
        .await?
    else {
        return Ok(None);
    };
    Ok(relation(&state.db.reader, viewer, &order)
        .await?
        .map(|_| order))
}

#[derive(Debug, Default)]
pub struct OrderFilter {
    /// Some(true): as buyer; Some(false): as provider; None: both (admins: every order)
    pub as_buyer: Option<bool>,
    pub statuses: Vec<OrderStatus>,
    pub provider_id: Option<String>,
    pub listing_id: Option<String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct OrderCursor {
    pub id: String,
}

/// The viewer's orders, newest first.
pub async fn list_orders(
    state: &AppState,
    viewer: &Viewer,
    filter: OrderFilter,
    page: PageRequest<OrderCursor>,
) -> ApiResult<Page<orders::Model>> {
    let user = viewer.user()?;
    let conn = &state.db.reader;
    let own_provider = providers::Entity::find()
        .filter(providers::Column::UserId.eq(user.id.clone()))
        .one(conn)
        .await?
        .map(|p| p.id);
    let as_buyer = orders::Column::BuyerId.eq(user.id.clone());
    let as_provider = match &own_provider {
        Some(id) => orders::Column::ProviderId.eq(id.clone()),
        None => Expr::value(false),
    };
    let mut query = orders::Entity::find();
    query = match (filter.as_buyer, viewer.is_admin()) {
        (Some(true), _) => query.filter(as_buyer),
        (Some(false), _) => query.filter(as_provider),
        (None, true) => query,
        (None, false) => query.filter(Condition::any().add(as_buyer).add(as_provider)),
    };
    if filter.statuses.len() > 10 {
        return Err(ApiError::BadInput("at most 10 statuses".into()));
    }
    if !filter.statuses.is_empty() {
        query =
            query.filter(orders::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(id) = filter.provider_id {
        query = query.filter(orders::Column::ProviderId.eq(id));
    }
    if let Some(id) = filter.listing_id {
        query = query.filter(orders::Column::ListingId.eq(id));
    }
    let total = query.clone().count(conn).await?;
    if let Some(after) = &page.after {
        query = query.filter(orders::Column::Id.lt(after.id.clone()));
    }
    let rows = query
        .order_by_desc(orders::Column::Id)
        .limit(page.fetch_limit())
        .all(conn)
        .await?;
    Ok(Page::from_overfetch(rows, &page, total))
}
