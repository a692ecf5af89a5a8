//! Money in the API: integer cents as BigInt, the currency, and a decimal amount for display.
use async_graphql::SimpleObject;

use super::scalars::{BigInt, Decimal};

#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct Money {
    pub cents: BigInt,
    pub currency_code: String,
    /// cents / 100 as a decimal string
    pub amount: Decimal,
}

impl Money {
    pub fn new(cents: i64, currency: &str) -> Money {
        Money {
            cents: BigInt(cents),
            currency_code: currency.to_owned(),
            amount: Decimal::from_cents(cents),
        }
    }
}
