//! `marketplace seed --scale N`: bulk data for benchmarks, on SQLite and PostgreSQL. N
//! providers across tenants (personal ones and small agencies) and cities, 50·N listings over
//! every category and status, N buyers, 5·N orders across the order states with their events,
//! deliveries, ledger rows (card orders), reviews, N message threads of three messages, and
//! an invoice book per tenant (three contacts, four invoices with lines and a payment).
//! Rows go in with multi-row INSERTs, a table at a time inside one transaction; the figures
//! (rows, rows per second) are printed at the end.
//!
//! Kept consistent with what the API itself would have written: every order's last event is
//! its status, a completed card order's ledger balances (charge = transfer + fee), providers'
//! completed counts and ratings match their orders and reviews, and the order counter
//! continues after the seeded numbers, invoice numbers after each tenant's. Not seeded yet:
//! disputes, chargebacks, invoice events and uploads.
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use entity::{
    counters, deliveries, disputes, ledger_entries, listings, message_threads, messages,
    order_events, orders, providers, reviews, tenant_members, tenants, users,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, Set, TransactionTrait};

use crate::db::Db;
use crate::domain::listing::CATEGORIES;
use crate::ids::{new_id, Kind};

mod books;

/// Rows per INSERT: well under SQLite's and PostgreSQL's bound-parameter limits.
const CHUNK: usize = 400;
/// The password of every seeded account.
pub const PASSWORD: &str = "scale seed password";

const CITIES: [(&str, &str); 10] = [
    ("Los Angeles", "CA"),
    ("New York", "NY"),
    ("Austin", "TX"),
    ("Atlanta", "GA"),
    ("Chicago", "IL"),
    ("Portland", "OR"),
    ("Nashville", "TN"),
    ("Denver", "CO"),
    ("Seattle", "WA"),
    ("Boston", "MA"),
];

const WORDS: [&str; 12] = [
    "feature",
    "pilot",
    "coverage",
    "notes",
    "polish",
    "structure",
    "dialogue",
    "pacing",
    "outline",
    "treatment",
    "pitch",
    "rewrite",
];

/// A small deterministic generator, so two seeds of the same N hold the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What a run inserted, and how fast.
#[derive(Debug, Default)]
pub struct Report {
    pub rows: u64,
    pub seconds: f64,
}

async fn insert_all<A>(
    txn: &DatabaseTransaction,
    rows: Vec<A>,
    report: &mut Report,
) -> anyhow::Result<()>
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    let total = rows.len() as u64;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(txn)
            .await
            .context("inserting a chunk")?;
    }
    report.rows += total;
    Ok(())
}

/// The status path of an order that ends at `status` (its events, in order).
fn path(
    status: orders::OrderStatus,
) -> Vec<(orders::OrderStatus, &'static str, order_events::ActorKind)> {
    use order_events::ActorKind as A;
    use orders::OrderStatus as S;
    let full = [
        (S::Placed, "place", A::Buyer),
        (
            S::PaymentHeld,
            "authorization_succeeded",
            A::PaymentProcessor,
        ),
        (S::Claimed, "claim", A::Provider),
        (S::InProgress, "start", A::Provider),
        (S::Delivered, "deliver", A::Provider),
        (S::Completed, "complete", A::Buyer),
    ];
    match status {
        S::Cancelled => vec![full[0], (S::Cancelled, "cancel", A::Buyer)],
        S::Disputed => {
            let mut steps = full[..5].to_vec();
            steps.push((S::Disputed, "open_dispute", A::Buyer));
            steps
        }
        _ => {
            let end = full.iter().position(|(s, _, _)| *s == status).unwrap_or(0);
            full[..=end].to_vec()
        }
    }
}

/// Seeds `n` providers' worth of marketplace.
pub async fn scale(db: &Db, n: usize, commission_bps: u32) -> anyhow::Result<Report> {
    anyhow::ensure!(
        (1..=100_000).contains(&n),
        "--scale takes 1 to 100000 providers"
    );
    let started = Instant::now();
    let mut report = Report::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
    let now = Utc::now();
    let ago = |rng: &mut Rng, days: usize| {
        now - Duration::minutes((rng.below(days.max(1) * 24 * 60)) as i64)
    };
    let password_hash = crate::auth::hash_password(PASSWORD)?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let run = &run[..8];
    let txn = db.writer.begin().await?;

    // Accounts: one user per provider, and as many buyers.
    let user = |id: &String, email: String, name: String, roles: &str, at: DateTime<Utc>| {
        users::ActiveModel {
            id: Set(id.clone()),
            email: Set(email),
            password_hash: Set(password_hash.clone()),
            display_name: Set(name),
            roles: Set(roles.to_owned()),
            status: Set(users::UserStatus::Active),
            status_reason: Set(None),
            status_changed_at: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        }
    };
    let seller_ids: Vec<String> = (0..n).map(|_| new_id(Kind::User)).collect();
    let buyer_ids: Vec<String> = (0..n).map(|_| new_id(Kind::User)).collect();
    let sellers: Vec<users::ActiveModel> = (0..n)
        .map(|i| {
            let at = ago(&mut rng, 720);
            let email = format!("seller{i}.{run}@scale.test");
            user(
                &seller_ids[i],
                email,
                format!("Seller {i}"),
                "BUYER,PROVIDER",
                at,
            )
        })
        .collect();
    let buyers: Vec<users::ActiveModel> = (0..n)
        .map(|i| {
            let at = ago(&mut rng, 720);
            let email = format!("buyer{i}.{run}@scale.test");
            user(&buyer_ids[i], email, format!("Buyer {i}"), "BUYER", at)
        })
        .collect();
    insert_all(&txn, sellers, &mut report).await?;
    insert_all(&txn, buyers, &mut report).await?;

    // Tenants: every fourth provider joins the agency of the one before it; half of the
    // tenants take card payments (onboarded), half manual ones.
    let mut tenant_rows = Vec::new();
    let mut members = Vec::new();
    let mut tenant_of: Vec<String> = Vec::with_capacity(n);
    let mut card_tenant = Vec::new();
    for (i, seller) in seller_ids.iter().enumerate() {
        if i % 4 == 3 {
            let owner_tenant: String = tenant_of[i - 1].clone();
            members.push(tenant_members::ActiveModel {
                id: Set(new_id(Kind::TenantMember)),
                tenant_id: Set(owner_tenant.clone()),
                user_id: Set(seller.clone()),
                role: Set(tenant_members::MemberRole::Staff),
                created_at: Set(now),
            });
            tenant_of.push(owner_tenant);
            continue;
        }
        let id = new_id(Kind::Tenant);
        let card = tenant_rows.len() % 2 == 0;
        card_tenant.push((id.clone(), card));
        tenant_rows.push(tenants::ActiveModel {
            id: Set(id.clone()),
            name: Set(format!("Studio {i}")),
            slug: Set(format!("studio-{i}-{run}")),
            payment_mode: Set(if card {
                tenants::TenantPaymentMode::Stripe
            } else {
                tenants::TenantPaymentMode::Manual
            }),
            payment_instructions: Set(
                (!card).then(|| "Bank transfer to the studio account".to_owned())
            ),
            stripe_account_id: Set(card.then(|| format!("acct_seed_{i}_{run}"))),
            stripe_onboarding_complete: Set(card),
            charges_enabled: Set(card),
            payouts_enabled: Set(card),
            requirements_past_due: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        });
        members.push(tenant_members::ActiveModel {
            id: Set(new_id(Kind::TenantMember)),
            tenant_id: Set(id.clone()),
            user_id: Set(seller.clone()),
            role: Set(tenant_members::MemberRole::Owner),
            created_at: Set(now),
        });
        tenant_of.push(id);
    }
    let is_card: std::collections::HashMap<String, bool> = card_tenant.into_iter().collect();
    insert_all(&txn, tenant_rows, &mut report).await?;
    insert_all(&txn, members, &mut report).await?;

    // Providers: most ACTIVE, some waiting for verification or suspended.
    let mut provider_rows = Vec::with_capacity(n);
    let mut provider_ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = new_id(Kind::Provider);
        let (city, region) = CITIES[rng.below(CITIES.len())];
        let status = match i % 20 {
            18 => providers::ProviderStatus::PendingVerification,
            19 => providers::ProviderStatus::Suspended,
            _ => providers::ProviderStatus::Active,
        };
        provider_rows.push(providers::ActiveModel {
            id: Set(id.clone()),
            user_id: Set(seller_ids[i].clone()),
            tenant_id: Set(tenant_of[i].clone()),
            provider_type: Set(providers::ProviderType::ServiceProvider),
            display_name: Set(format!("{} {} Reader {i}", city, WORDS[i % WORDS.len()])),
            bio: Set(format!(
                "Reads {} and {} scripts.",
                WORDS[rng.below(12)],
                WORDS[rng.below(12)]
            )),
            specialties: Set(format!("{},{}", WORDS[rng.below(12)], WORDS[rng.below(12)])),
            city: Set(Some(city.to_owned())),
            state: Set(Some(region.to_owned())),
            status: Set(status),
            status_reason: Set(None),
            rating_sum: Set(0),
            review_count: Set(0),
            total_orders_completed: Set(0),
            starting_price_cents: Set(None),
            starting_price_currency: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        provider_ids.push(id);
    }

    // Listings: 50 per provider over every category; 80 % ACTIVE.
    let mut listing_rows = Vec::with_capacity(50 * n);
    let mut active_listings: Vec<(String, usize, i64)> = Vec::new();
    let mut starting = vec![i64::MAX; n];
    for (p, provider) in provider_ids.iter().enumerate() {
        for l in 0..50 {
            let id = new_id(Kind::Listing);
            let category = CATEGORIES[(p + l) % CATEGORIES.len()];
            let status = match l % 10 {
                8 => listings::ListingStatus::Draft,
                9 if l % 20 == 9 => listings::ListingStatus::Paused,
                9 => listings::ListingStatus::Archived,
                _ => listings::ListingStatus::Active,
            };
            let price = 2_500 + 500 * rng.below(60) as i64;
            let at = ago(&mut rng, 365);
            let title = format!(
                "{} {} {}",
                WORDS[rng.below(12)],
                category.replace('_', " "),
                WORDS[rng.below(12)]
            );
            if status == listings::ListingStatus::Active {
                active_listings.push((id.clone(), p, price));
                starting[p] = starting[p].min(price);
            }
            let (city, region) = CITIES[rng.below(CITIES.len())];
            listing_rows.push(listings::ActiveModel {
                id: Set(id),
                provider_id: Set(provider.clone()),
                slug: Set(format!("{}-{p}-{l}-{run}", title.replace(' ', "-"))),
                title: Set(title),
                description: Set(format!(
                    "A careful {} of your {} with {} notes.",
                    WORDS[rng.below(12)],
                    category.replace('_', " "),
                    WORDS[rng.below(12)]
                )),
                category: Set(category.to_owned()),
                tier: Set(None),
                max_pages: Set(None),
                price_type: Set(listings::PriceType::Fixed),
                price_cents: Set(Some(price)),
                currency: Set("USD".to_owned()),
                turnaround_days: Set(Some(1 + rng.below(21) as i32)),
                revisions_included: Set((l % 3) as i32),
                city: Set(Some(city.to_owned())),
                state: Set(Some(region.to_owned())),
                status: Set(status),
                published_at: Set((status != listings::ListingStatus::Draft).then_some(at)),
                created_at: Set(at),
                updated_at: Set(at),
                // The database's triggers decide it.
                visible: sea_orm::ActiveValue::NotSet,
            });
        }
    }

    // Orders: 5 per provider on its ACTIVE listings, across the states.
    use orders::OrderStatus as S;
    let spread = [
        S::Completed,
        S::Completed,
        S::Completed,
        S::Completed,
        S::Delivered,
        S::InProgress,
        S::Claimed,
        S::PaymentHeld,
        S::Placed,
        S::Cancelled,
        S::Disputed,
    ];
    let mut order_rows = Vec::new();
    let mut event_rows = Vec::new();
    let mut delivery_rows = Vec::new();
    let mut ledger_rows = Vec::new();
    let mut review_rows = Vec::new();
    let mut dispute_rows = Vec::new();
    let mut completed = vec![0i32; n];
    let mut ratings = vec![(0i64, 0i32); n];
    let order_count = 5 * n;
    let base = last_drawn(&txn, "order").await?;
    let dispute_base = last_drawn(&txn, "dispute_change").await?;
    // Events are numbered after any already stored, in the order they are written.
    let mut event_seq = crate::services::orders::latest_event_seq(&txn)
        .await
        .map_err(|e| anyhow::anyhow!("reading the last event position: {e:?}"))?;
    for index in 1..=order_count {
        let number = base + index as i64;
        if active_listings.is_empty() {
            break;
        }
        let (listing_id, p, price) = active_listings[rng.below(active_listings.len())].clone();
        let buyer = buyer_ids[rng.below(n)].clone();
        let status = spread[index % spread.len()];
        let card = is_card.get(&tenant_of[p]).copied().unwrap_or(false);
        let fee = crate::domain::money::fee(price, commission_bps);
        let id = new_id(Kind::Order);
        let placed_at = ago(&mut rng, 300);
        let steps = path(status);
        let mut at = placed_at;
        let mut from = None;
        for (to, action, actor) in &steps {
            event_rows.push(order_events::ActiveModel {
                id: Set(new_id(Kind::OrderEvent)),
                order_id: Set(id.clone()),
                from_status: Set(from),
                to_status: Set(*to),
                action: Set((*action).to_owned()),
                actor_kind: Set(*actor),
                actor_id: Set(match actor {
                    order_events::ActorKind::Buyer => Some(buyer.clone()),
                    order_events::ActorKind::Provider => Some(seller_ids[p].clone()),
                    _ => None,
                }),
                note: Set(None),
                occurred_at: Set(at),
                seq: Set({
                    event_seq += 1;
                    event_seq
                }),
            });
            from = Some(*to);
            at += Duration::hours(1 + rng.below(48) as i64);
        }
        let reached = |s: S| steps.iter().any(|(t, _, _)| *t == s);
        if reached(S::Delivered) {
            delivery_rows.push(deliveries::ActiveModel {
                id: Set(new_id(Kind::Delivery)),
                order_id: Set(id.clone()),
                revision: Set(1),
                summary: Set("Strong premise; the second act needs focus.".to_owned()),
                strengths: Set("Voice, dialogue".to_owned()),
                weaknesses: Set("Pacing".to_owned()),
                recommendations: Set("Trim the middle".to_owned()),
                score: Set(Some(50 + rng.below(50) as i32)),
                file_key: Set(None),
                file_name: Set(None),
                file_content_type: Set(None),
                file_byte_size: Set(None),
                created_at: Set(at),
            });
        }
        if status == S::Disputed {
            dispute_rows.push(disputes::ActiveModel {
                id: Set(new_id(Kind::Dispute)),
                order_id: Set(id.clone()),
                opened_by: Set(buyer.clone()),
                reason: Set(disputes::DisputeReason::Quality),
                description: Set("The notes skip the third act.".to_owned()),
                status: Set(disputes::DisputeStatus::Open),
                admin_notes: Set(None),
                refund_cents: Set(None),
                currency: Set("USD".to_owned()),
                resolved_by: Set(None),
                resolved_at: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                change_seq: Set(dispute_base + dispute_rows.len() as i64 + 1),
            });
        }
        if status == S::Completed {
            completed[p] += 1;
            if card {
                for (kind, amount, key, processor) in [
                    (
                        ledger_entries::LedgerKind::Charge,
                        price,
                        "capture",
                        Some(format!("ch_seed_{number}_{run}")),
                    ),
                    (
                        ledger_entries::LedgerKind::Transfer,
                        price - fee,
                        "transfer",
                        Some(format!("tr_seed_{number}_{run}")),
                    ),
                    (ledger_entries::LedgerKind::Fee, fee, "fee", None),
                ] {
                    ledger_rows.push(ledger_entries::ActiveModel {
                        id: Set(new_id(Kind::LedgerEntry)),
                        order_id: Set(id.clone()),
                        kind: Set(kind),
                        status: Set(ledger_entries::LedgerStatus::Succeeded),
                        amount_cents: Set(amount),
                        currency: Set("USD".to_owned()),
                        processor_id: Set(processor),
                        idempotency_key: Set(format!("{id}:{key}:1")),
                        attempts: Set(1),
                        last_error: Set(None),
                        next_attempt_at: Set(None),
                        created_at: Set(at),
                        updated_at: Set(at),
                    });
                }
            }
            if index % 3 != 0 {
                let rating = 3 + rng.below(3) as i32;
                ratings[p].0 += i64::from(rating);
                ratings[p].1 += 1;
                review_rows.push(reviews::ActiveModel {
                    id: Set(new_id(Kind::Review)),
                    order_id: Set(id.clone()),
                    author_id: Set(buyer.clone()),
                    provider_id: Set(provider_ids[p].clone()),
                    rating: Set(rating),
                    comment: Set("Thoughtful notes, on time.".to_owned()),
                    provider_reply: Set(None),
                    replied_at: Set(None),
                    created_at: Set(at),
                    updated_at: Set(at),
                });
            }
        }
        order_rows.push(orders::ActiveModel {
            id: Set(id.clone()),
            number: Set(number),
            buyer_id: Set(buyer),
            provider_id: Set(provider_ids[p].clone()),
            listing_id: Set(listing_id),
            tenant_id: Set(tenant_of[p].clone()),
            status: Set(status),
            version: Set(steps.len() as i32),
            payment_mode: Set(if card {
                orders::PaymentMode::Stripe
            } else {
                orders::PaymentMode::Manual
            }),
            currency: Set("USD".to_owned()),
            price_cents: Set(price),
            platform_fee_cents: Set(fee),
            provider_payout_cents: Set(price - fee),
            refunded_cents: Set(0),
            commission_bps: Set(commission_bps as i32),
            auto_complete_days: Set(3),
            revisions_included: Set(1),
            revisions_used: Set(0),
            turnaround_days: Set(Some(7)),
            script_id: Set(None),
            project_id: Set(None),
            notes: Set(None),
            script_file_key: Set(None),
            script_file_name: Set(None),
            script_content_type: Set(None),
            script_byte_size: Set(None),
            payment_intent_id: Set(
                (card && status != S::Placed).then(|| format!("pi_seed_{number}_{run}"))
            ),
            charge_id: Set(
                (card && status == S::Completed).then(|| format!("ch_seed_{number}_{run}"))
            ),
            payment_client_secret: Set(None),
            hold_expires_at: Set(None),
            sla_deadline: Set(Some(placed_at + Duration::days(7))),
            late_marked_at: Set(None),
            delivered_at: Set(reached(S::Delivered).then_some(at)),
            auto_complete_at: Set((status == S::Delivered).then(|| at + Duration::days(3))),
            completed_at: Set((status == S::Completed).then_some(at)),
            cancelled_at: Set((status == S::Cancelled).then_some(at)),
            cancel_reason: Set((status == S::Cancelled).then(|| "changed plans".to_owned())),
            chargeback_open: Set(false),
            created_at: Set(placed_at),
            updated_at: Set(at),
        });
    }

    // The providers' figures follow their listings, orders and reviews.
    for (p, row) in provider_rows.iter_mut().enumerate() {
        row.total_orders_completed = Set(completed[p]);
        row.rating_sum = Set(ratings[p].0);
        row.review_count = Set(ratings[p].1);
        if starting[p] != i64::MAX {
            row.starting_price_cents = Set(Some(starting[p]));
            row.starting_price_currency = Set(Some("USD".to_owned()));
        }
    }
    insert_all(&txn, provider_rows, &mut report).await?;
    insert_all(&txn, listing_rows, &mut report).await?;
    let orders_made = order_rows.len() as i64;
    insert_all(&txn, order_rows, &mut report).await?;
    insert_all(&txn, event_rows, &mut report).await?;
    insert_all(&txn, delivery_rows, &mut report).await?;
    insert_all(&txn, ledger_rows, &mut report).await?;
    insert_all(&txn, review_rows, &mut report).await?;
    let disputes_made = dispute_rows.len() as i64;
    insert_all(&txn, dispute_rows, &mut report).await?;

    // Threads: a buyer writes to a provider, the provider answers, the buyer thanks them.
    let mut threads = Vec::with_capacity(n);
    let mut thread_messages = Vec::with_capacity(3 * n);
    for (p, _) in provider_ids.iter().enumerate() {
        let id = new_id(Kind::Thread);
        let buyer = buyer_ids[rng.below(n)].clone();
        let at = ago(&mut rng, 200);
        for (k, (sender, body)) in [
            (buyer.clone(), "Hello, do you read pilots?"),
            (seller_ids[p].clone(), "Yes, happily."),
            (buyer.clone(), "Great, ordering now."),
        ]
        .into_iter()
        .enumerate()
        {
            thread_messages.push(messages::ActiveModel {
                id: Set(new_id(Kind::Message)),
                thread_id: Set(id.clone()),
                sender_id: Set(sender),
                body: Set(body.to_owned()),
                read_at: Set((k < 2).then_some(at)),
                created_at: Set(at + Duration::minutes(k as i64 * 30)),
                seq: Set(k as i64 + 1),
            });
        }
        threads.push(message_threads::ActiveModel {
            id: Set(id),
            client_id: Set(buyer),
            provider_id: Set(provider_ids[p].clone()),
            listing_id: Set(None),
            order_id: Set(None),
            subject: Set(Some("Pilot read".to_owned())),
            status: Set(message_threads::ThreadStatus::Active),
            last_message_at: Set(at + Duration::minutes(60)),
            created_at: Set(at),
            updated_at: Set(at + Duration::minutes(60)),
        });
    }
    insert_all(&txn, threads, &mut report).await?;
    insert_all(&txn, thread_messages, &mut report).await?;

    books::invoice_books(
        &txn,
        &mut rng,
        books::Accounts {
            tenant_of: &tenant_of,
            buyer_ids: &buyer_ids,
            seller_ids: &seller_ids,
            run,
            now,
        },
        &mut report,
    )
    .await?;

    // Order numbers and dispute positions continue after the seeded ones (a second seed adds
    // after the first).
    for (name, last) in [
        ("order", base + orders_made),
        ("dispute_change", dispute_base + disputes_made),
    ] {
        counters::Entity::insert(counters::ActiveModel {
            name: Set(name.to_owned()),
            next_value: Set(last),
        })
        .on_conflict(
            OnConflict::column(counters::Column::Name)
                .update_column(counters::Column::NextValue)
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The last value a named counter handed out (see `services::invoicing::next_counter`), 0
/// before its first draw.
async fn last_drawn(conn: &DatabaseTransaction, name: &str) -> Result<i64, sea_orm::DbErr> {
    Ok(counters::Entity::find_by_id(name.to_owned())
        .one(conn)
        .await?
        .map_or(0, |c| c.next_value))
}
