//! The invoice book's rules: what a contact's fields may hold. Pure and unit-tested.
use super::{bounded_text, refuse_control, Invalid};

/// A contact's name: 1–200 characters, one line.
pub fn contact_name(raw: &str) -> Result<String, Invalid> {
    refuse_control(raw, "name", false)?;
    bounded_text(raw, "name", 1, 200)
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
    refuse_control(raw, "query", false)?;
    Ok(Some(bounded_text(raw, "query", 1, 200)?.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
