//! Scalars of the contract: BigInt (64-bit, as a JSON string of digits), DateTime (RFC 3339
//! UTC) and Decimal (a decimal string).
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

/// A 64-bit signed integer, serialized as a JSON string of digits, e.g. "2147483648".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BigInt(pub i64);

#[Scalar(name = "BigInt")]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => parse_i64_digits(s).map(BigInt).ok_or_else(|| {
                InputValueError::custom(
                    "BigInt must be a string of digits with an optional leading minus, within the 64-bit range",
                )
            }),
            // A JSON integer is accepted too, as long as it is exactly representable.
            Value::Number(n) => n.as_i64().map(BigInt).ok_or_else(|| {
                InputValueError::custom("BigInt must be an integer within the 64-bit range")
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        match value {
            Value::String(s) => parse_i64_digits(s).is_some(),
            Value::Number(n) => n.as_i64().is_some(),
            _ => false,
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// `-?[0-9]+` within i64; no plus sign, spaces, exponents or fractions.
fn parse_i64_digits(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An RFC 3339 timestamp in UTC, e.g. "2026-11-22T10:15:00Z".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|dt| DateTime(dt.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("DateTime must be an RFC 3339 timestamp")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(dt: chrono::DateTime<Utc>) -> Self {
        DateTime(dt)
    }
}

/// A decimal number serialized as a string, e.g. "1234.50".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal(String);

impl Decimal {
    /// Cents as a decimal amount with two places: 123450 → "1234.50", -5 → "-0.05".
    pub fn from_cents(cents: i64) -> Decimal {
        let sign = if cents < 0 { "-" } else { "" };
        let abs = cents.unsigned_abs();
        Decimal(format!("{sign}{}.{:02}", abs / 100, abs % 100))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) if is_decimal(s) => Ok(Decimal(s.clone())),
            Value::String(_) => Err(InputValueError::custom(
                "Decimal must be a string such as \"1234.50\"",
            )),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

fn is_decimal(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, "0"));
    s.len() <= 40
        && !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    struct Query;

    #[Object]
    impl Query {
        async fn echo(&self, value: BigInt) -> BigInt {
            value
        }
        async fn when(&self, at: DateTime) -> DateTime {
            at
        }
    }

    async fn run(query: &str) -> async_graphql::Response {
        Schema::new(Query, EmptyMutation, EmptySubscription)
            .execute(query)
            .await
    }

    #[tokio::test]
    async fn a_bigint_above_2_pow_53_round_trips_exactly() {
        let resp = run(r#"{ echo(value: "9007199254740993") }"#).await;
        assert!(resp.errors.is_empty(), "{:?}", resp.errors);
        assert_eq!(
            resp.data.into_json().expect("json")["echo"],
            "9007199254740993"
        );
    }

    #[tokio::test]
    async fn a_negative_bigint_round_trips() {
        let resp = run(r#"{ echo(value: "-9223372036854775808") }"#).await;
        assert!(resp.errors.is_empty(), "{:?}", resp.errors);
        assert_eq!(
            resp.data.into_json().expect("json")["echo"],
            "-9223372036854775808"
        );
    }

    #[tokio::test]
    async fn malformed_bigints_are_rejected() {
        for bad in [
            r#""12a""#,
            r#""""#,
            r#""+5""#,
            r#"" 5""#,
            r#""1e3""#,
            r#""1.5""#,
            r#""9223372036854775808""#,
            "1.5",
            "true",
        ] {
            let resp = run(&format!("{{ echo(value: {bad}) }}")).await;
            assert!(!resp.errors.is_empty(), "{bad} was accepted");
        }
    }

    #[test]
    fn digits_parse_only_within_range() {
        assert_eq!(parse_i64_digits("0"), Some(0));
        assert_eq!(parse_i64_digits("-0"), Some(0));
        assert_eq!(parse_i64_digits("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64_digits("9223372036854775808"), None);
        assert_eq!(parse_i64_digits("-"), None);
    }

    #[tokio::test]
    async fn a_datetime_is_returned_in_utc_with_z() {
        let resp = run(r#"{ when(at: "2026-11-22T12:15:00+02:00") }"#).await;
        assert!(resp.errors.is_empty(), "{:?}", resp.errors);
        assert_eq!(
            resp.data.into_json().expect("json")["when"],
            "2026-11-22T10:15:00.000Z"
        );
        assert!(!run(r#"{ when(at: "yesterday") }"#).await.errors.is_empty());
    }

    #[test]
    fn cents_become_a_two_place_decimal() {
        assert_eq!(Decimal::from_cents(123450).as_str(), "1234.50");
        assert_eq!(Decimal::from_cents(7).as_str(), "0.07");
        assert_eq!(Decimal::from_cents(-5).as_str(), "-0.05");
        assert_eq!(
            Decimal::from_cents(i64::MIN).as_str(),
            "-92233720368547758.08"
        );
    }

    #[test]
    fn decimal_input_must_look_like_a_number() {
        assert!(is_decimal("1234.50"));
        assert!(is_decimal("-3"));
        assert!(!is_decimal("1,5"));
        assert!(!is_decimal("1."));
        assert!(!is_decimal(".5"));
        assert!(!is_decimal("abc"));
    }
}
