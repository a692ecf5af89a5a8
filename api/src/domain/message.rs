//! Message threads between a buyer and a provider: what a message and a subject may hold, and
//! who stands where in a thread.
use super::{bounded_text, refuse_control, Invalid};

pub use entity::message_threads::ThreadStatus;

pub const BODY_MAX: usize = 5000;
pub const SUBJECT_MAX: usize = 200;

/// A message body: trimmed, 1 to 5000 characters, newlines and tabs allowed.
pub fn body(raw: &str) -> Result<String, Invalid> {
    let body = bounded_text(raw, "body", 1, BODY_MAX)?;
    refuse_control(&body, "body", true)?;
    Ok(body)
}

/// An optional subject: trimmed, at most 200 characters on one line; blank is none.
pub fn subject(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let subject = bounded_text(raw, "subject", 1, SUBJECT_MAX)?;
    refuse_control(&subject, "subject", false)?;
    Ok(Some(subject))
}

/// The viewer's side of a thread, from the thread's client and the provider's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Client,
    Provider,
}

pub fn party(viewer: &str, client_id: &str, provider_user_id: &str) -> Option<Party> {
    if viewer == client_id {
        Some(Party::Client)
    } else if viewer == provider_user_id {
        Some(Party::Provider)
    } else {
        None
    }
}

/// A message may be sent while the thread is ACTIVE or ARCHIVED (sending brings it back);
/// a CLOSED thread takes no more messages.
pub fn accepts_messages(status: ThreadStatus) -> bool {
    status != ThreadStatus::Closed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_trimmed_bounded_and_may_span_lines() {
        assert_eq!(body("  hi\nthere\t! ").expect("ok"), "hi\nthere\t!");
        assert!(body("   ").is_err());
        assert!(body(&"x".repeat(BODY_MAX)).is_ok());
        assert!(body(&"x".repeat(BODY_MAX + 1)).is_err());
        assert!(body("nul\u{0}inside").is_err());
        assert!(body("bell\u{7}").is_err());
    }

    #[test]
    fn a_subject_is_one_bounded_line_and_blank_is_none() {
        assert_eq!(subject(None).expect("ok"), None);
        assert_eq!(subject(Some("  ")).expect("ok"), None);
        assert_eq!(subject(Some(" Hi ")).expect("ok").as_deref(), Some("Hi"));
        assert!(subject(Some("two\nlines")).is_err());
        assert!(subject(Some(&"s".repeat(SUBJECT_MAX + 1))).is_err());
    }

    #[test]
    fn parties_are_the_client_and_the_providers_user_only() {
        assert_eq!(party("u1", "u1", "u2"), Some(Party::Client));
        assert_eq!(party("u2", "u1", "u2"), Some(Party::Provider));
        assert_eq!(party("u3", "u1", "u2"), None);
        assert!(accepts_messages(ThreadStatus::Archived));
        assert!(!accepts_messages(ThreadStatus::Closed));
    }
}
