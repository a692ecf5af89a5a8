//! The invoice book's rules: what a contact's fields may hold. Pure and unit-tested.
use super::{bounded_text, clean_text, refuse_control, Invalid};

/// A contact's name: 1–200 characters, one line.
pub fn contact_name(raw: &str) -> Result<String, Invalid> {
    clean_text(raw, "name", 1, 200, false)
}

/// An optional email: blank clears it; otherwise one address of at most 254 characters with a
/// local part, an `@` and a dotted domain, no spaces. Stored lower-case.
pub fn contact_email(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    let Some(raw) = raw.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    refuse_control(raw, "email", false)?;
    let email = bounded_text(raw, "email", 3, 254)?.to_lowercase();
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !valid {
        return Err(Invalid(
            "email must be an address such as ana@example.com".into(),
        ));
    }
    Ok(Some(email))
}

/// An optional phone number: blank clears it; otherwise at most 40 characters of digits,
/// spaces and `+ - ( ) .`, with at least 3 digits.
pub fn contact_phone(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    let Some(raw) = raw.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let phone = bounded_text(raw, "phone", 1, 40)?;
    let allowed = |c: char| c.is_ascii_digit() || " +-().".contains(c);
    if !phone.chars().all(allowed) || phone.chars().filter(char::is_ascii_digit).count() < 3 {
        return Err(Invalid(
            "phone may hold digits, spaces and + - ( ) . only".into(),
        ));
    }
    Ok(Some(phone))
}

/// A search text over names and emails: trimmed, at most 200 characters, one line; blank is
/// no search.
pub fn search_text(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    let Some(raw) = raw.map(str::trim).filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    Ok(Some(
        clean_text(raw, "query", 1, 200, false)?.to_lowercase(),
    ))
}

/// Most lines one invoice holds.
pub const MAX_LINES: usize = 100;
/// Most units one line bills.
pub const MAX_QUANTITY: i32 = 1_000_000;

/// One line as a client sent it.
#[derive(Debug, Clone)]
pub struct LineInput<'a> {
    pub description: &'a str,
    pub quantity: i32,
    pub unit_price_cents: i64,
}

/// A checked line: its total is quantity × unit price, computed without overflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub description: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub total_cents: i64,
}

/// Where a line was refused: its index and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRefusal {
    /// the line's index, or `None` for the list as a whole
    pub index: Option<usize>,
    pub field: &'static str,
    pub reason: Invalid,
}

/// Checks 1–100 lines (description 1–500 characters, quantity 1–1,000,000, unit price ≥ 0)
/// and their sum. A product or sum beyond the 64-bit range is refused, never wrapped.
pub fn lines(raw: &[LineInput<'_>]) -> Result<(Vec<Line>, i64), LineRefusal> {
    if raw.is_empty() || raw.len() > MAX_LINES {
        return Err(LineRefusal {
            index: None,
            field: "lineItems",
            reason: Invalid(format!("an invoice has 1 to {MAX_LINES} line items")),
        });
    }
    let mut total: i64 = 0;
    let mut out = Vec::with_capacity(raw.len());
    for (index, line) in raw.iter().enumerate() {
        let refuse = |field: &'static str, reason: Invalid| LineRefusal {
            index: Some(index),
            field,
            reason,
        };
        let description = clean_text(line.description, "description", 1, 500, false)
            .map_err(|e| refuse("description", e))?;
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return Err(refuse(
                "quantity",
                Invalid(format!("quantity must be 1 to {MAX_QUANTITY}")),
            ));
        }
        if line.unit_price_cents < 0 {
            return Err(refuse(
                "unitPriceCents",
                Invalid("a unit price cannot be negative".into()),
            ));
        }
        let too_large =
            || Invalid("the amount is beyond what an invoice can hold (2^63 - 1 cents)".into());
        let line_total = line
            .unit_price_cents
            .checked_mul(i64::from(line.quantity))
            .ok_or_else(|| refuse("unitPriceCents", too_large()))?;
        total = total
            .checked_add(line_total)
            .ok_or_else(|| refuse("unitPriceCents", too_large()))?;
        out.push(Line {
            description,
            quantity: line.quantity,
            unit_price_cents: line.unit_price_cents,
            total_cents: line_total,
        });
    }
    Ok((out, total))
}

/// An optional deposit: 0 ..= total.
pub fn deposit(deposit: Option<i64>, total: i64) -> Result<Option<i64>, Invalid> {
    match deposit {
        Some(d) if d < 0 => Err(Invalid("a deposit cannot be negative".into())),
        Some(d) if d > total => Err(Invalid("the deposit cannot exceed the total".into())),
        other => Ok(other),
    }
}

/// An ISO 4217 code: three letters, stored upper-case.
pub fn currency(raw: &str) -> Result<String, Invalid> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(Invalid(
            "currencyCode must be three letters, such as USD".into(),
        ))
    }
}

pub use entity::invoices::InvoiceStatus;

/// The money state of an invoice that the payment rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub status: InvoiceStatus,
    pub total: i64,
    /// the deposit asked for up front (0 for none): the first payments must reach it together
    pub deposit: i64,
    pub paid: i64,
    pub refunded: i64,
}

/// What is still to be paid: the rest of the total while the invoice is open for payment
/// (DRAFT, SENT, PENDING_CONFIRMATION), nothing once it is settled or closed.
pub fn balance(status: InvoiceStatus, total: i64, paid: i64) -> i64 {
    match status {
        InvoiceStatus::Draft | InvoiceStatus::Sent | InvoiceStatus::PendingConfirmation => {
            total - paid
        }
        _ => 0,
    }
}

/// What a payment move leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    pub status: InvoiceStatus,
    pub paid: i64,
    pub refunded: i64,
}

/// Why a payment move is refused: the state (INVALID_STATE) or the amount (INVALID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    State(String),
    Amount(String),
}

fn open_for_payment(status: InvoiceStatus) -> bool {
    matches!(
        status,
        InvoiceStatus::Sent | InvoiceStatus::PendingConfirmation
    )
}

/// The client says it paid (outside the platform): SENT → PENDING_CONFIRMATION.
pub fn mark_paid(m: Money) -> Result<Moved, Refused> {
    if m.status != InvoiceStatus::Sent {
        return Err(Refused::State(
            "only a SENT invoice can be marked paid".into(),
        ));
    }
    Ok(Moved {
        status: InvoiceStatus::PendingConfirmation,
        paid: m.paid,
        refunded: m.refunded,
    })
}

/// A payment of `amount` received: 1 ..= the balance; PAID once nothing is left.
pub fn record_payment(m: Money, amount: i64) -> Result<Moved, Refused> {
    if !open_for_payment(m.status) {
        return Err(Refused::State(
            "payments are recorded on SENT or PENDING_CONFIRMATION invoices".into(),
        ));
    }
    let balance = m.total - m.paid;
    if amount < 1 || amount > balance {
        return Err(Refused::Amount(format!(
            "the amount must be 1 to the balance ({balance})"
        )));
    }
    let paid = m.paid + amount;
    if paid < m.deposit {
        return Err(Refused::Amount(format!(
            "the deposit comes first: at least {} is needed to reach it",
            m.deposit - m.paid
        )));
    }
    Ok(Moved {
        status: if paid == m.total {
            InvoiceStatus::Paid
        } else {
            m.status
        },
        paid,
        refunded: m.refunded,
    })
}

/// A member confirms the rest arrived: a payment for the whole balance (nothing, for a free
/// invoice), PAID.
pub fn confirm(m: Money) -> Result<(Moved, i64), Refused> {
    if !open_for_payment(m.status) {
        return Err(Refused::State(
            "only a SENT or PENDING_CONFIRMATION invoice can be confirmed".into(),
        ));
    }
    let balance = m.total - m.paid;
    Ok((
        Moved {
            status: InvoiceStatus::Paid,
            paid: m.total,
            refunded: m.refunded,
        },
        balance,
    ))
}

/// A refund of `amount`: never beyond what was paid and not yet refunded. A settled invoice
/// is refunded in parts or whole; an open one that was paid in part is refunded whole, which
/// closes it (REFUNDED): a part refund would leave it open with money both owed and returned.
pub fn refund(m: Money, amount: i64) -> Result<Moved, Refused> {
    let settled = matches!(
        m.status,
        InvoiceStatus::Paid | InvoiceStatus::PartiallyRefunded
    );
    let part_paid = open_for_payment(m.status) && m.paid > 0;
    if !(settled || part_paid) {
        return Err(Refused::State("nothing was paid to refund".into()));
    }
    let refundable = m.paid - m.refunded;
    if amount < 1 || amount > refundable {
        return Err(Refused::Amount(format!(
            "the refund must be 1 to what was paid and not refunded ({refundable})"
        )));
    }
    if part_paid && amount != refundable {
        return Err(Refused::Amount(format!(
            "an invoice paid in part is refunded whole ({refundable}), which closes it; \
             settle it first to refund a part"
        )));
    }
    let refunded = m.refunded + amount;
    Ok(Moved {
        status: if refunded == m.paid {
            InvoiceStatus::Refunded
        } else {
            InvoiceStatus::PartiallyRefunded
        },
        paid: m.paid,
        refunded,
    })
}

/// VOID: only with nothing paid, before it is settled.
pub fn void(m: Money) -> Result<Moved, Refused> {
    if m.paid > 0 {
        return Err(Refused::State(
            "an invoice with a payment cannot be voided: refund it".into(),
        ));
    }
    if !matches!(
        m.status,
        InvoiceStatus::Draft | InvoiceStatus::Sent | InvoiceStatus::PendingConfirmation
    ) {
        return Err(Refused::State("the invoice cannot be voided now".into()));
    }
    Ok(Moved {
        status: InvoiceStatus::Void,
        paid: 0,
        refunded: m.refunded,
    })
}

/// Only drafts and voided invoices may be (soft) deleted.
pub fn may_delete(status: InvoiceStatus) -> bool {
    matches!(status, InvoiceStatus::Draft | InvoiceStatus::Void)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(status: InvoiceStatus, total: i64, paid: i64, refunded: i64) -> Money {
        Money {
            status,
            total,
            deposit: 0,
            paid,
            refunded,
        }
    }

    #[test]
    fn partial_payments_reach_paid_at_zero_and_never_exceed_the_balance() {
        let sent = at(InvoiceStatus::Sent, 100, 0, 0);
        let part = record_payment(sent, 30).expect("part");
        assert_eq!((part.status, part.paid), (InvoiceStatus::Sent, 30));
        let later = at(part.status, 100, part.paid, 0);
        assert!(matches!(record_payment(later, 71), Err(Refused::Amount(_))));
        assert!(matches!(record_payment(later, 0), Err(Refused::Amount(_))));
        let done = record_payment(later, 70).expect("rest");
        assert_eq!((done.status, done.paid), (InvoiceStatus::Paid, 100));
        assert!(matches!(
            record_payment(at(InvoiceStatus::Paid, 100, 100, 0), 1),
            Err(Refused::State(_))
        ));
        assert!(matches!(
            record_payment(at(InvoiceStatus::Draft, 100, 0, 0), 1),
            Err(Refused::State(_))
        ));
    }

    #[test]
    fn confirming_pays_the_balance_and_marking_needs_a_sent_invoice() {
        let pending = mark_paid(at(InvoiceStatus::Sent, 100, 30, 0)).expect("mark");
        assert_eq!(pending.status, InvoiceStatus::PendingConfirmation);
        assert!(mark_paid(at(InvoiceStatus::Draft, 100, 0, 0)).is_err());
        let (paid, payment) = confirm(at(pending.status, 100, 30, 0)).expect("confirm");
        assert_eq!(
            (paid.status, paid.paid, payment),
            (InvoiceStatus::Paid, 100, 70)
        );
        assert!(confirm(at(InvoiceStatus::Void, 100, 0, 0)).is_err());
    }

    #[test]
    fn refunds_stay_within_what_was_paid() {
        let paid = at(InvoiceStatus::Paid, 100, 100, 0);
        let part = refund(paid, 40).expect("part");
        assert_eq!(part.status, InvoiceStatus::PartiallyRefunded);
        let after = at(part.status, 100, 100, part.refunded);
        assert!(matches!(refund(after, 61), Err(Refused::Amount(_))));
        assert_eq!(
            refund(after, 60).expect("rest").status,
            InvoiceStatus::Refunded
        );
        assert!(matches!(
            refund(at(InvoiceStatus::Sent, 100, 0, 0), 1),
            Err(Refused::State(_))
        ));
        // A deposit paid on a SENT invoice is refunded whole, closing it with nothing owed.
        let closed = refund(at(InvoiceStatus::Sent, 100, 30, 0), 30).expect("deposit");
        assert_eq!(closed.status, InvoiceStatus::Refunded);
        assert_eq!(balance(closed.status, 100, closed.paid), 0);
        assert!(matches!(
            refund(at(InvoiceStatus::Sent, 100, 30, 0), 10),
            Err(Refused::Amount(_))
        ));
    }

    #[test]
    fn a_deposit_is_paid_first_and_the_balance_is_what_an_open_invoice_still_asks() {
        let sent = Money {
            deposit: 40,
            ..at(InvoiceStatus::Sent, 100, 0, 0)
        };
        assert!(matches!(record_payment(sent, 39), Err(Refused::Amount(_))));
        let first = record_payment(sent, 40).expect("the deposit");
        let after = Money {
            paid: first.paid,
            ..sent
        };
        assert_eq!(record_payment(after, 1).expect("then any part").paid, 41);
        assert_eq!(balance(InvoiceStatus::Sent, 100, 40), 60);
        assert_eq!(balance(InvoiceStatus::Void, 100, 0), 0);
        assert_eq!(balance(InvoiceStatus::PartiallyRefunded, 100, 100), 0);
    }

    #[test]
    fn voids_need_nothing_paid_and_deletes_need_a_draft_or_void() {
        assert_eq!(
            void(at(InvoiceStatus::Sent, 100, 0, 0))
                .expect("void")
                .status,
            InvoiceStatus::Void
        );
        assert!(void(at(InvoiceStatus::Sent, 100, 1, 0)).is_err());
        assert!(void(at(InvoiceStatus::Refunded, 100, 0, 0)).is_err());
        assert!(may_delete(InvoiceStatus::Draft) && may_delete(InvoiceStatus::Void));
        assert!(!may_delete(InvoiceStatus::Sent) && !may_delete(InvoiceStatus::Paid));
    }

    proptest! {
        /// Whatever payments and refunds are tried, 0 ≤ refunded ≤ paid ≤ total holds.
        #[test]
        fn paid_and_refunded_stay_within_bounds(
            total in 1i64..1_000_000,
            steps in proptest::collection::vec((any::<bool>(), -10i64..1_000_010), 1..30),
        ) {
            let mut m = at(InvoiceStatus::Sent, total, 0, 0);
            for (pay, amount) in steps {
                let moved = if pay { record_payment(m, amount) } else { refund(m, amount) };
                if let Ok(next) = moved {
                    m = at(next.status, total, next.paid, next.refunded);
                }
                prop_assert!(0 <= m.refunded && m.refunded <= m.paid && m.paid <= m.total);
            }
        }
    }

    fn line(description: &str, quantity: i32, unit: i64) -> LineInput<'_> {
        LineInput {
            description,
            quantity,
            unit_price_cents: unit,
        }
    }

    #[test]
    fn lines_sum_exactly_and_refuse_overflow_instead_of_wrapping() {
        let (checked, total) =
            lines(&[line(" Review ", 2, 1_250_000_000), line("Notes", 1, 0)]).expect("lines");
        assert_eq!(total, 2_500_000_000);
        assert_eq!(checked[0].description, "Review");
        assert_eq!(checked[0].total_cents, 2_500_000_000);
        let (_, big) = lines(&[line("Big", 1, 9_000_000_000_000_000)]).expect("big");
        assert_eq!(big, 9_000_000_000_000_000);
        let product = lines(&[line("Too much", 2, i64::MAX / 2 + 1)]).unwrap_err();
        assert_eq!((product.index, product.field), (Some(0), "unitPriceCents"));
        let sum = lines(&[line("A", 1, i64::MAX), line("B", 1, 1)]).unwrap_err();
        assert_eq!(sum.index, Some(1));
    }

    #[test]
    fn every_line_is_checked_where_it_stands() {
        assert_eq!(lines(&[]).unwrap_err().index, None);
        let many: Vec<_> = (0..101).map(|_| line("x", 1, 1)).collect();
        assert_eq!(lines(&many).unwrap_err().field, "lineItems");
        assert!(lines(&many[..100]).is_ok());
        for (bad, field) in [
            (line(" ", 1, 1), "description"),
            (line("a\u{0}", 1, 1), "description"),
            (line("a", 0, 1), "quantity"),
            (line("a", MAX_QUANTITY + 1, 1), "quantity"),
            (line("a", 1, -1), "unitPriceCents"),
        ] {
            let refused = lines(&[line("ok", 1, 1), bad]).unwrap_err();
            assert_eq!((refused.index, refused.field), (Some(1), field));
        }
    }

    #[test]
    fn deposits_and_currencies_are_bounded() {
        assert_eq!(deposit(Some(0), 10), Ok(Some(0)));
        assert_eq!(deposit(Some(10), 10), Ok(Some(10)));
        assert!(deposit(Some(11), 10).is_err());
        assert!(deposit(Some(-1), 10).is_err());
        assert_eq!(currency(" usd "), Ok("USD".to_owned()));
        assert!(currency("US").is_err());
        assert!(currency("U5D").is_err());
    }

    proptest! {
        /// Whatever the lines, the total is their exact sum or a refusal: never a wrapped value.
        #[test]
        fn totals_are_exact_or_refused(
            items in proptest::collection::vec((1i32..=MAX_QUANTITY, 0i64..=i64::MAX), 1..5),
        ) {
            let raw: Vec<_> = items.iter().map(|(q, u)| line("x", *q, *u)).collect();
            let exact: i128 = items.iter().map(|(q, u)| i128::from(*q) * i128::from(*u)).sum();
            match lines(&raw) {
                Ok((_, total)) => prop_assert_eq!(i128::from(total), exact),
                Err(_) => prop_assert!(exact > i128::from(i64::MAX)),
            }
        }
    }

    #[test]
    fn names_are_trimmed_bounded_and_one_line() {
        assert_eq!(contact_name("  Ana Silva ").as_deref(), Ok("Ana Silva"));
        assert!(contact_name("   ").is_err());
        assert!(contact_name(&"x".repeat(201)).is_err());
        assert!(contact_name(&"x".repeat(200)).is_ok());
        assert!(contact_name("Ana\u{0}").is_err());
        assert!(contact_name("Ana\nSilva").is_err());
    }

    #[test]
    fn emails_are_checked_and_lower_cased_and_blank_clears() {
        assert_eq!(
            contact_email(Some(" Ana@Example.COM ")),
            Ok(Some("ana@example.com".to_owned()))
        );
        assert_eq!(contact_email(Some("  ")), Ok(None));
        assert_eq!(contact_email(None), Ok(None));
        for bad in [
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "a@b@c.com",
            "ana@.com",
        ] {
            assert!(contact_email(Some(bad)).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(243));
        assert!(contact_email(Some(&long)).is_err());
    }

    #[test]
    fn phones_hold_digits_and_punctuation_only() {
        assert_eq!(
            contact_phone(Some("+1 (555) 010-2030")),
            Ok(Some("+1 (555) 010-2030".to_owned()))
        );
        assert_eq!(contact_phone(Some("")), Ok(None));
        assert!(contact_phone(Some("call me")).is_err());
        assert!(contact_phone(Some("12")).is_err());
        assert!(contact_phone(Some(&"1".repeat(41))).is_err());
    }

    #[test]
    fn searches_are_bounded_and_lower_cased() {
        assert_eq!(search_text(Some(" ANA ")), Ok(Some("ana".to_owned())));
        assert_eq!(search_text(Some("")), Ok(None));
        assert!(search_text(Some(&"q".repeat(201))).is_err());
        assert!(search_text(Some("a\u{0}")).is_err());
    }
}
