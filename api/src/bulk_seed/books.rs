//! Invoice books for `seed --scale`: each tenant keeps three contacts (the first tied to a
//! buyer's account) and four invoices to them, one per state a book shows most.
use chrono::{DateTime, Duration, Utc};
use entity::{contacts, invoice_counters, invoice_line_items, invoices, orders, payments};
use sea_orm::{DatabaseTransaction, Set};

use super::{insert_all, Report, Rng, WORDS};
use crate::ids::{new_id, Kind};

/// The seeded accounts the books point at.
pub(super) struct Accounts<'a> {
    /// each provider's tenant, by provider index (agencies repeat)
    pub tenant_of: &'a [String],
    pub buyer_ids: &'a [String],
    pub seller_ids: &'a [String],
    /// this run's suffix for unique emails
    pub run: &'a str,
    pub now: DateTime<Utc>,
}

pub(super) async fn invoice_books(
    txn: &DatabaseTransaction,
    rng: &mut Rng,
    accounts: Accounts<'_>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let Accounts {
        tenant_of,
        buyer_ids,
        seller_ids,
        run,
        now,
    } = accounts;
    // Invoice books: each tenant keeps three contacts (the first is a buyer's account) and four
    // invoices to them, one per state a book shows most: a draft, one sent and due, one paid
    // (with its payment) and one void; numbers per tenant and year, as the API draws them.
    let year = chrono::Datelike::year(&now);
    let mut contact_rows = Vec::new();
    let mut invoice_rows = Vec::new();
    let mut line_rows = Vec::new();
    let mut payment_rows = Vec::new();
    let mut counter_rows = Vec::new();
    let tenant_ids: Vec<String> = {
        let mut seen = std::collections::HashSet::new();
        tenant_of
            .iter()
            .filter(|t| seen.insert((*t).clone()))
            .cloned()
            .collect()
    };
    for (t, tenant) in tenant_ids.iter().enumerate() {
        let mut contact_ids = Vec::new();
        for c in 0..3 {
            let id = new_id(Kind::Contact);
            contact_ids.push(id.clone());
            contact_rows.push(contacts::ActiveModel {
                id: Set(id),
                tenant_id: Set(tenant.clone()),
                user_id: Set((c == 0).then(|| buyer_ids[t % buyer_ids.len()].clone())),
                name: Set(format!("Client {c} of studio {t}")),
                email: Set(Some(format!("client{c}.t{t}.{run}@scale.test"))),
                phone: Set(None),
                first_contacted_at: Set(None),
                total_transactions: Set(0),
                total_spent_cents: Set(0),
                currency: Set("USD".to_owned()),
                deleted_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        let mut spent = [(0i32, 0i64); 3];
        let mut contacted = [false; 3];
        for (k, status) in [
            invoices::InvoiceStatus::Draft,
            invoices::InvoiceStatus::Sent,
            invoices::InvoiceStatus::Paid,
            invoices::InvoiceStatus::Void,
        ]
        .into_iter()
        .enumerate()
        {
            let id = new_id(Kind::Invoice);
            let contact = k % 3;
            let at = now - Duration::minutes(rng.below(90 * 24 * 60) as i64);
            let mut total = 0i64;
            for position in 0..2 {
                let quantity = 1 + rng.below(3) as i32;
                let unit = 5_000 + 2_500 * rng.below(8) as i64;
                total += unit * i64::from(quantity);
                line_rows.push(invoice_line_items::ActiveModel {
                    id: Set(new_id(Kind::InvoiceLineItem)),
                    invoice_id: Set(id.clone()),
                    position: Set(position),
                    description: Set(format!(
                        "{} notes, draft {}",
                        WORDS[rng.below(12)],
                        position + 1
                    )),
                    quantity: Set(quantity),
                    unit_price_cents: Set(unit),
                    total_cents: Set(unit * i64::from(quantity)),
                });
            }
            let issued = status != invoices::InvoiceStatus::Draft;
            let paid = status == invoices::InvoiceStatus::Paid;
            if issued {
                contacted[contact] = true;
            }
            if paid {
                spent[contact].0 += 1;
                spent[contact].1 += total;
                payment_rows.push(payments::ActiveModel {
                    id: Set(new_id(Kind::Payment)),
                    invoice_id: Set(id.clone()),
                    amount_cents: Set(total),
                    currency: Set("USD".to_owned()),
                    method: Set("bank transfer".to_owned()),
                    reference: Set(Some(format!("BT-{t}-{k}"))),
                    received_at: Set(at + Duration::days(3)),
                    recorded_by: Set(Some(
                        seller_ids[tenant_of.iter().position(|x| x == tenant).unwrap_or(0)].clone(),
                    )),
                    created_at: Set(at + Duration::days(3)),
                });
            }
            invoice_rows.push(invoices::ActiveModel {
                id: Set(id),
                tenant_id: Set(tenant.clone()),
                number: Set(format!("INV-{year}-{:06}", k + 1)),
                contact_id: Set(Some(contact_ids[contact].clone())),
                client_id: Set((contact == 0).then(|| buyer_ids[t % buyer_ids.len()].clone())),
                order_id: Set(None),
                status: Set(status),
                payment_mode: Set(orders::PaymentMode::Manual),
                currency: Set("USD".to_owned()),
                total_cents: Set(total),
                deposit_cents: Set(None),
                paid_cents: Set(if paid { total } else { 0 }),
                refunded_cents: Set(0),
                buyer_marked_paid_at: Set(None),
                buyer_payment_method: Set(None),
                buyer_payment_reference: Set(None),
                provider_confirmed_at: Set(None),
                provider_confirmed_by: Set(None),
                issued_at: Set(issued.then_some(at)),
                due_at: Set(issued.then(|| at + Duration::days(30))),
                paid_at: Set(paid.then(|| at + Duration::days(3))),
                voided_at: Set(
                    (status == invoices::InvoiceStatus::Void).then(|| at + Duration::days(1))
                ),
                deleted_at: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
            });
        }
        for (c, row) in contact_rows.iter_mut().rev().take(3).rev().enumerate() {
            row.total_transactions = Set(spent[c].0);
            row.total_spent_cents = Set(spent[c].1);
            row.first_contacted_at = Set(contacted[c].then_some(now));
        }
        counter_rows.push(invoice_counters::ActiveModel {
            tenant_id: Set(tenant.clone()),
            year: Set(year),
            next_value: Set(4),
        });
    }
    insert_all(txn, contact_rows, report).await?;
    insert_all(txn, invoice_rows, report).await?;
    insert_all(txn, line_rows, report).await?;
    insert_all(txn, payment_rows, report).await?;
    insert_all(txn, counter_rows, report).await?;
    Ok(())
}
