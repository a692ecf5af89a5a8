//! Money arithmetic: integer cents only. Commission in basis points, rounded half up; what is
//! left after the fee goes to the provider. Every split adds up to what was charged.

/// Basis points in one whole (100%).
pub const BPS_SCALE: i64 = 10_000;

/// The platform fee on `amount` cents at `bps` basis points, rounded half up.
/// `amount` and `bps` are never negative here; i128 keeps the product exact for any i64.
/// A partial refund returns part of the price: at least 1 cent, and at least 1 cent kept.
pub fn is_partial_refund(refund: i64, price: i64) -> bool {
    (1..price).contains(&refund)
}

pub fn fee(amount: i64, bps: u32) -> i64 {
    let amount = i128::from(amount.max(0));
    let bps = i128::from(bps.min(BPS_SCALE as u32));
    let scaled = (amount * bps + i128::from(BPS_SCALE) / 2) / i128::from(BPS_SCALE);
    // fee ≤ amount ≤ i64::MAX, so this never truncates.
    i64::try_from(scaled).unwrap_or(i64::MAX)
}

/// How a captured charge ends: refunded to the buyer, kept as the fee, transferred to the
/// provider. `refund + fee + transfer == charge` always.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    pub refund: i64,
    pub fee: i64,
    pub transfer: i64,
}

impl Settlement {
    /// Completion: nothing refunded; the fee is kept and the rest transferred.
    pub fn complete(charge: i64, bps: u32) -> Settlement {
        Settlement::partial(charge, 0, bps)
    }

    /// A full refund: no fee, no transfer.
    pub fn refund_all(charge: i64) -> Settlement {
        Settlement {
            refund: charge,
            fee: 0,
            transfer: 0,
        }
    }

    /// A partial refund of `refund` cents; the rest is split by commission.
    /// `refund` is clamped to 0..=charge.
    pub fn partial(charge: i64, refund: i64, bps: u32) -> Settlement {
        let refund = refund.clamp(0, charge.max(0));
        let rest = charge - refund;
        let fee = fee(rest, bps);
        Settlement {
            refund,
            fee,
            transfer: rest - fee,
        }
    }

    pub fn total(&self) -> i64 {
        self.refund + self.fee + self.transfer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fifteen_percent_of_100_dollars_is_15_dollars() {
        assert_eq!(fee(10_000, 1500), 1500);
    }

    #[test]
    fn half_a_cent_rounds_up() {
        // 1500 bps of 1 cent = 0.15 → 0; of 10 cents = 1.5 → 2; of 3 cents = 0.45 → 0.
        assert_eq!(fee(1, 1500), 0);
        assert_eq!(fee(10, 1500), 2);
        assert_eq!(fee(3, 1500), 0);
        assert_eq!(fee(333, 1500), 50); // 49.95 → 50
    }

    #[test]
    fn a_full_refund_moves_nothing_else() {
        assert_eq!(
            Settlement::refund_all(5000),
            Settlement {
                refund: 5000,
                fee: 0,
                transfer: 0
            }
        );
    }

    #[test]
    fn a_partial_refund_splits_the_rest_by_commission() {
        let s = Settlement::partial(10_000, 4_000, 1500);
        assert_eq!(
            s,
            Settlement {
                refund: 4_000,
                fee: 900,
                transfer: 5_100
            }
        );
    }

    proptest! {
        #[test]
        fn every_settlement_adds_up_to_the_charge(
            charge in 0i64..=1_000_000_000_000,
            refund in -10i64..=1_000_000_000_010,
            bps in 0u32..=10_000,
        ) {
            for s in [Settlement::complete(charge, bps), Settlement::refund_all(charge), Settlement::partial(charge, refund, bps)] {
                prop_assert_eq!(s.total(), charge);
                prop_assert!(s.refund >= 0 && s.fee >= 0 && s.transfer >= 0);
            }
        }

        #[test]
        fn the_fee_is_within_half_a_cent_of_exact(amount in 0i64..=i64::MAX / 2, bps in 0u32..=10_000) {
            let exact = i128::from(amount) * i128::from(bps);
            let got = i128::from(fee(amount, bps)) * 10_000;
            prop_assert!((got - exact).abs() <= 5_000);
            prop_assert!(fee(amount, bps) <= amount);
        }
    }
}
