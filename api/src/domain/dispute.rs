//! Disputes: what a buyer writes when opening one, the admin's review and resolution, and the
//! dispute's own small state machine. Which order states a dispute may be opened from, and
//! what each outcome does to the order and its money, is `domain::order`'s business.
use super::money::is_partial_refund;
use super::order::Action;
use super::{bounded_text, refuse_control, Invalid};

pub use entity::disputes::{DisputeReason, DisputeStatus};

pub const DESCRIPTION_MAX: usize = 5000;
pub const NOTES_MAX: usize = 5000;

/// What the buyer says went wrong: trimmed, 1 to 5000 characters, lines allowed.
pub fn description(raw: &str) -> Result<String, Invalid> {
    let text = bounded_text(raw, "description", 1, DESCRIPTION_MAX)?;
    refuse_control(&text, "description", true)?;
    Ok(text)
}

/// The admin's notes on a resolution: required, 1 to 5000 characters.
pub fn admin_notes(raw: &str) -> Result<String, Invalid> {
    let text = bounded_text(raw, "adminNotes", 1, NOTES_MAX)?;
    refuse_control(&text, "adminNotes", true)?;
    Ok(text)
}

/// How an admin settles a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// everything back to the buyer; the order is REFUNDED
    Refund,
    /// the provider is paid as on completion; the order is COMPLETED
    NoRefund,
    /// `r` cents back to the buyer, the rest paid out; the order is COMPLETED
    Partial(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    Refund,
    NoRefund,
    Partial,
}

impl Outcome {
    /// The outcome an admin asked for: `refund_cents` is required for PARTIAL, where it must be
    /// 1 ..= price − 1, and refused with the other two (they say the amount themselves).
    pub fn parse(
        kind: OutcomeKind,
        refund_cents: Option<i64>,
        price_cents: i64,
    ) -> Result<Outcome, Invalid> {
        match (kind, refund_cents) {
            (OutcomeKind::Partial, None) => Err(Invalid(
                "refundCents is required for a PARTIAL outcome".into(),
            )),
            (OutcomeKind::Partial, Some(r)) if !is_partial_refund(r, price_cents) => Err(Invalid(
                format!("refundCents must be between 1 and {}", price_cents - 1),
            )),
            (OutcomeKind::Partial, Some(r)) => Ok(Outcome::Partial(r)),
            (_, Some(_)) => Err(Invalid(
                "refundCents is only for a PARTIAL outcome: REFUND returns the whole price \
                 and NO_REFUND nothing"
                    .into(),
            )),
            (OutcomeKind::Refund, None) => Ok(Outcome::Refund),
            (OutcomeKind::NoRefund, None) => Ok(Outcome::NoRefund),
        }
    }

    /// The order's transition for this outcome.
    pub fn order_action(self) -> Action {
        match self {
            Outcome::Refund => Action::ResolveRefund,
            Outcome::NoRefund => Action::ResolveNoRefund,
            Outcome::Partial(r) => Action::ResolvePartial(r),
        }
    }

    /// The dispute's status once resolved this way.
    pub fn status(self) -> DisputeStatus {
        match self {
            Outcome::Refund => DisputeStatus::ResolvedRefund,
            Outcome::NoRefund => DisputeStatus::ResolvedNoRefund,
            Outcome::Partial(_) => DisputeStatus::ResolvedPartial,
        }
    }

    /// What the buyer gets back, given the order's price.
    pub fn refund_cents(self, price_cents: i64) -> i64 {
        match self {
            Outcome::Refund => price_cents,
            Outcome::NoRefund => 0,
            Outcome::Partial(r) => r,
        }
    }
}

/// OPEN and UNDER_REVIEW disputes are open: one per order at a time, and they keep the order
/// DISPUTED.
pub fn is_open(status: DisputeStatus) -> bool {
    matches!(status, DisputeStatus::Open | DisputeStatus::UnderReview)
}

/// Why a dispute cannot move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmovable(pub String);

/// An admin takes an OPEN dispute under review.
pub fn review(from: DisputeStatus) -> Result<DisputeStatus, Unmovable> {
    match from {
        DisputeStatus::Open => Ok(DisputeStatus::UnderReview),
        DisputeStatus::UnderReview => Err(Unmovable("the dispute is already under review".into())),
        _ => Err(Unmovable("the dispute is already resolved".into())),
    }
}

/// An admin resolves an open dispute (under review or not yet).
pub fn resolve(from: DisputeStatus, outcome: Outcome) -> Result<DisputeStatus, Unmovable> {
    if is_open(from) {
        Ok(outcome.status())
    } else {
        Err(Unmovable("the dispute is already resolved".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DisputeStatus::*;

    #[test]
    fn a_partial_outcome_needs_an_amount_strictly_inside_the_price() {
        let partial = |r| Outcome::parse(OutcomeKind::Partial, r, 10_000);
        assert_eq!(partial(Some(1)), Ok(Outcome::Partial(1)));
        assert_eq!(partial(Some(9_999)), Ok(Outcome::Partial(9_999)));
        assert!(partial(Some(0)).is_err());
        assert!(partial(Some(10_000)).is_err());
        assert!(partial(Some(-5)).is_err());
        assert!(partial(None).is_err());
    }

    #[test]
    fn full_and_no_refund_take_no_amount() {
        assert_eq!(
            Outcome::parse(OutcomeKind::Refund, None, 500),
            Ok(Outcome::Refund)
        );
        assert_eq!(
            Outcome::parse(OutcomeKind::NoRefund, None, 500),
            Ok(Outcome::NoRefund)
        );
        assert!(Outcome::parse(OutcomeKind::Refund, Some(500), 500).is_err());
        assert!(Outcome::parse(OutcomeKind::NoRefund, Some(1), 500).is_err());
        assert_eq!(Outcome::Refund.refund_cents(500), 500);
        assert_eq!(Outcome::NoRefund.refund_cents(500), 0);
        assert_eq!(Outcome::Partial(120).refund_cents(500), 120);
    }

    #[test]
    fn a_dispute_is_reviewed_once_and_resolved_once() {
        assert_eq!(review(Open), Ok(UnderReview));
        assert!(review(UnderReview).is_err());
        for outcome in [Outcome::Refund, Outcome::NoRefund, Outcome::Partial(1)] {
            assert_eq!(resolve(Open, outcome), Ok(outcome.status()));
            assert_eq!(resolve(UnderReview, outcome), Ok(outcome.status()));
            for done in [ResolvedRefund, ResolvedNoRefund, ResolvedPartial] {
                assert!(resolve(done, outcome).is_err());
                assert!(review(done).is_err());
                assert!(!is_open(done));
            }
        }
        assert!(is_open(Open) && is_open(UnderReview));
    }

    #[test]
    fn texts_are_bounded_and_clean() {
        assert_eq!(
            description("  late\nand silent ").expect("ok"),
            "late\nand silent"
        );
        assert!(description(" ").is_err());
        assert!(description(&"x".repeat(DESCRIPTION_MAX + 1)).is_err());
        assert!(description("a\u{0}b").is_err());
        assert!(admin_notes("").is_err());
        assert!(admin_notes("refund agreed").is_ok());
    }
}
