//! Stripe webhook verification.
//!
//! The signature is checked here with HMAC-SHA256 over "{t}.{payload}" and a constant-time
//! compare, not with `stripe_webhook::Webhook::construct_event`: that one also parses the event
//! into the library's typed objects and fails (`BadParse`) on any object it cannot read, and it
//! exposes no signature-only check. Only the envelope fields are read here, so event types and
//! object shapes the library does not know still verify. Tests sign with the library's own
//! `Webhook::generate_test_header`, which keeps the two in agreement.
use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far the signed timestamp may be from now, either way (Stripe's default).
pub const TOLERANCE_SECS: i64 = 300;

/// An event whose signature checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEvent {
    pub id: String,
    pub event_type: String,
    /// The connected account the event is about (Connect endpoints only).
    pub account: Option<String>,
    /// `data.object`
    pub object: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookError {
    /// No `v1` signature matches any of the secrets.
    BadSignature,
    /// Signed, but the timestamp is more than `TOLERANCE_SECS` away from now.
    Stale,
    /// The header or the payload cannot be read.
    Malformed,
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WebhookError::BadSignature => "webhook signature does not match",
            WebhookError::Stale => "webhook timestamp is outside the tolerance",
            WebhookError::Malformed => "webhook signature header or payload is malformed",
        })
    }
}

impl std::error::Error for WebhookError {}

/// Checks `signature_header` (the `Stripe-Signature` value) against each secret in turn, so a
/// secret can be rotated by listing the old and the new one.
pub fn verify(
    payload: &str,
    signature_header: &str,
    secrets: &[&str],
) -> Result<VerifiedEvent, WebhookError> {
    verify_at(
        payload,
        signature_header,
        secrets,
        chrono::Utc::now().timestamp(),
    )
}

fn verify_at(
    payload: &str,
    signature_header: &str,
    secrets: &[&str],
    now: i64,
) -> Result<VerifiedEvent, WebhookError> {
    let header = SignatureHeader::parse(signature_header)?;
    // The signed text uses `t` exactly as sent.
    let signed = format!("{}.{}", header.timestamp_raw, payload);
    let candidates: Vec<Vec<u8>> = header
        .v1
        .iter()
        .filter_map(|sig| hex::decode(sig).ok())
        .collect();

    // An empty secret would let anyone sign: never accept one.
    let matched = secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .any(|secret| {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
                return false;
            };
            mac.update(signed.as_bytes());
            // verify_slice compares in constant time.
            candidates
                .iter()
                .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
        });
    if !matched {
        return Err(WebhookError::BadSignature);
    }
    // abs_diff: a signed but absurd `t` must not overflow.
    if now.abs_diff(header.timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(WebhookError::Stale);
    }
    parse_event(payload)
}

struct SignatureHeader<'a> {
    timestamp: i64,
    timestamp_raw: &'a str,
    v1: Vec<&'a str>,
}

impl<'a> SignatureHeader<'a> {
    /// `t=1492774577,v1=5257…,v0=6ffb…`; schemes other than v1 are ignored.
    fn parse(raw: &'a str) -> Result<Self, WebhookError> {
        let mut timestamp = None;
        let mut v1 = Vec::new();
        for pair in raw.split(',') {
            let (key, value) = pair.trim().split_once('=').ok_or(WebhookError::Malformed)?;
            match key {
                "t" => {
                    let parsed: i64 = value.parse().map_err(|_| WebhookError::Malformed)?;
                    timestamp = Some((parsed, value));
                }
                "v1" => v1.push(value),
                _ => {}
            }
        }
        let (timestamp, timestamp_raw) = timestamp.ok_or(WebhookError::Malformed)?;
        if v1.is_empty() {
            return Err(WebhookError::Malformed);
        }
        Ok(Self {
            timestamp,
            timestamp_raw,
            v1,
        })
    }
}

fn parse_event(payload: &str) -> Result<VerifiedEvent, WebhookError> {
    let mut event: serde_json::Value =
        serde_json::from_str(payload).map_err(|_| WebhookError::Malformed)?;
    let text = |event: &serde_json::Value, key: &str| {
        event
            .get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let id = text(&event, "id").ok_or(WebhookError::Malformed)?;
    let event_type = text(&event, "type").ok_or(WebhookError::Malformed)?;
    let account = text(&event, "account");
    let object = event
        .get_mut("data")
        .and_then(|data| data.get_mut("object"))
        .map(serde_json::Value::take)
        .filter(serde_json::Value::is_object)
        .ok_or(WebhookError::Malformed)?;
    Ok(VerifiedEvent {
        id,
        event_type,
        account,
        object,
    })
}

/// A valid `Stripe-Signature` value (`t=…,v1=…`) for `payload`, made by async-stripe's own
/// test helper.
pub fn sign_for_tests(payload: &str, secret: &str, timestamp: i64) -> String {
    stripe_webhook::Webhook::generate_test_header(payload, secret, Some(timestamp))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &str = "whsec_test_secret";

    fn payload(event_type: &str) -> String {
        json!({
            "id": "evt_1",
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": 1_700_000_000,
            "livemode": false,
            "pending_webhooks": 1,
            "account": "acct_1",
            "type": event_type,
            "data": { "object": { "id": "acct_1", "object": "account", "charges_enabled": true } }
        })
        .to_string()
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn signed_payload_verifies() {
        let body = payload("account.updated");
        let header = sign_for_tests(&body, SECRET, now());
        let event = verify(&body, &header, &[SECRET]).unwrap();
        assert_eq!(event.id, "evt_1");
        assert_eq!(event.event_type, "account.updated");
        assert_eq!(event.account.as_deref(), Some("acct_1"));
        assert_eq!(event.object["id"], "acct_1");
        assert_eq!(event.object["charges_enabled"], true);
    }

    #[test]
    fn any_listed_secret_verifies() {
        let body = payload("account.updated");
        let header = sign_for_tests(&body, SECRET, now());
        assert!(verify(&body, &header, &["whsec_old", SECRET]).is_ok());
    }

    #[test]
    fn unknown_event_type_verifies() {
        let body = payload("marketplace.something_new");
        let header = sign_for_tests(&body, SECRET, now());
        let event = verify(&body, &header, &[SECRET]).unwrap();
        assert_eq!(event.event_type, "marketplace.something_new");
    }

    #[test]
    fn platform_event_has_no_account() {
        let body = json!({
            "id": "evt_2", "object": "event", "type": "payment_intent.succeeded",
            "data": { "object": { "id": "pi_1", "object": "payment_intent" } }
        })
        .to_string();
        let header = sign_for_tests(&body, SECRET, now());
        let event = verify(&body, &header, &[SECRET]).unwrap();
        assert_eq!(event.account, None);
    }

    #[test]
    fn wrong_secret_is_rejected() {
        let body = payload("account.updated");
        let header = sign_for_tests(&body, "whsec_someone_else", now());
        assert_eq!(
            verify(&body, &header, &[SECRET]),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn no_or_empty_secrets_are_rejected() {
        let body = payload("account.updated");
        let header = sign_for_tests(&body, "", now());
        assert_eq!(verify(&body, &header, &[]), Err(WebhookError::BadSignature));
        assert_eq!(
            verify(&body, &header, &[""]),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn tampered_body_is_rejected() {
        let body = payload("account.updated");
        let header = sign_for_tests(&body, SECRET, now());
        let tampered = body.replace("\"charges_enabled\":true", "\"charges_enabled\":false");
        assert_ne!(tampered, body);
        assert_eq!(
            verify(&tampered, &header, &[SECRET]),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn old_timestamp_is_rejected() {
        let body = payload("account.updated");
        let header = sign_for_tests(&body, SECRET, now() - TOLERANCE_SECS - 60);
        assert_eq!(verify(&body, &header, &[SECRET]), Err(WebhookError::Stale));
    }

    #[test]
    fn timestamp_at_the_tolerance_is_accepted() {
        let body = payload("account.updated");
        let signed_at = 1_700_000_000;
        let header = sign_for_tests(&body, SECRET, signed_at);
        assert!(verify_at(&body, &header, &[SECRET], signed_at + TOLERANCE_SECS).is_ok());
        assert_eq!(
            verify_at(&body, &header, &[SECRET], signed_at + TOLERANCE_SECS + 1),
            Err(WebhookError::Stale)
        );
    }

    #[test]
    fn malformed_header_is_rejected() {
        let body = payload("account.updated");
        let good = sign_for_tests(&body, SECRET, now());
        let v1 = good.split_once(",v1=").map(|(_, sig)| sig).unwrap();
        for header in [
            String::new(),
            "garbage".to_owned(),
            format!("v1={v1}"),
            format!("t=yesterday,v1={v1}"),
            format!("t={}", now()),
        ] {
            assert_eq!(
                verify(&body, &header, &[SECRET]),
                Err(WebhookError::Malformed),
                "header {header:?}"
            );
        }
    }

    #[test]
    fn signed_but_unreadable_payload_is_malformed() {
        for body in [
            "not json".to_owned(),
            json!({ "id": "evt_3", "data": { "object": {} } }).to_string(),
            json!({ "id": "evt_3", "type": "account.updated" }).to_string(),
        ] {
            let header = sign_for_tests(&body, SECRET, now());
            assert_eq!(
                verify(&body, &header, &[SECRET]),
                Err(WebhookError::Malformed),
                "body {body}"
            );
        }
    }
}
