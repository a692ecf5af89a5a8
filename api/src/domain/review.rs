//! Reviews: who may write one and when, what it may hold, and the rating figure providers and
//! listings are sorted by.
use super::order::OrderStatus;
use super::{bounded_text, refuse_control, Invalid};

pub const COMMENT_MAX: usize = 5000;
pub const REPLY_MAX: usize = 2000;

/// A review is possible once the work was delivered: DELIVERED or COMPLETED (one per order).
pub fn may_review(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::Delivered | OrderStatus::Completed)
}

pub fn rating(value: i32) -> Result<i32, Invalid> {
    if (1..=5).contains(&value) {
        Ok(value)
    } else {
        Err(Invalid("rating must be 1 to 5".into()))
    }
}

/// The buyer's comment: trimmed, at most 5000 characters, may be empty.
pub fn comment(raw: &str) -> Result<String, Invalid> {
    let text = bounded_text(raw, "comment", 0, COMMENT_MAX)?;
    refuse_control(&text, "comment", true)?;
    Ok(text)
}

/// The provider's reply: trimmed, 1 to 2000 characters.
pub fn reply(raw: &str) -> Result<String, Invalid> {
    let text = bounded_text(raw, "reply", 1, REPLY_MAX)?;
    refuse_control(&text, "reply", true)?;
    Ok(text)
}

/// The prior of the Bayesian rating: every provider starts as if it had `PRIOR_WEIGHT`
/// reviews averaging `PRIOR_MEAN_THOUSANDTHS`, so a handful of reviews moves it little and
/// many move it a lot.
pub const PRIOR_WEIGHT: i64 = 5;
pub const PRIOR_MEAN_THOUSANDTHS: i64 = 3500;

/// The Bayesian average in thousandths of a star (rounded down):
/// (C·m + Σ ratings) / (C + n). What RATING sorts by; a provider without reviews sits at m.
pub fn bayesian_thousandths(rating_sum: i64, review_count: i64) -> i64 {
    (PRIOR_WEIGHT * PRIOR_MEAN_THOUSANDTHS + rating_sum * 1000) / (PRIOR_WEIGHT + review_count)
}

/// The Bayesian figure in stars, as the API shows it (`Provider.ratingScore`).
pub fn rating_score(rating_sum: i64, review_count: i64) -> f64 {
    bayesian_thousandths(rating_sum, review_count) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_perfect_review_does_not_outrank_forty_at_four_point_eight() {
        let one = bayesian_thousandths(5, 1);
        let forty = bayesian_thousandths(192, 40);
        assert!(forty > one, "{forty} vs {one}");
        assert_eq!(bayesian_thousandths(0, 0), PRIOR_MEAN_THOUSANDTHS);
        // Many reviews approach their own average.
        assert_eq!(bayesian_thousandths(4 * 10_000, 10_000), 3999);
    }

    #[test]
    fn reviews_wait_for_the_delivery() {
        for status in [OrderStatus::Delivered, OrderStatus::Completed] {
            assert!(may_review(status));
        }
        for status in [
            OrderStatus::Placed,
            OrderStatus::PaymentHeld,
            OrderStatus::Claimed,
            OrderStatus::InProgress,
            OrderStatus::Disputed,
            OrderStatus::Refunded,
            OrderStatus::Cancelled,
        ] {
            assert!(!may_review(status), "{status:?}");
        }
    }

    #[test]
    fn texts_and_ratings_are_bounded() {
        assert!(rating(0).is_err() && rating(6).is_err());
        assert_eq!(rating(5), Ok(5));
        assert_eq!(comment("  ").expect("empty is fine"), "");
        assert!(comment(&"x".repeat(COMMENT_MAX + 1)).is_err());
        assert!(reply("").is_err());
        assert!(reply(&"x".repeat(REPLY_MAX + 1)).is_err());
        assert!(reply("thanks\u{0}").is_err());
    }

    proptest! {
        #[test]
        fn the_bayesian_figure_stays_between_the_prior_and_the_plain_average(
            count in 1_i64..10_000,
            stars in proptest::collection::vec(1_i64..=5, 1..50),
        ) {
            let n = count.min(stars.len() as i64);
            let sum: i64 = stars.iter().take(n as usize).sum();
            let plain = sum * 1000 / n;
            let bayes = bayesian_thousandths(sum, n);
            let (lo, hi) = if plain < PRIOR_MEAN_THOUSANDTHS {
                (plain, PRIOR_MEAN_THOUSANDTHS)
            } else {
                (PRIOR_MEAN_THOUSANDTHS, plain)
            };
            prop_assert!(bayes >= lo - 1 && bayes <= hi, "{bayes} not in {lo}..={hi}");
        }
    }
}
