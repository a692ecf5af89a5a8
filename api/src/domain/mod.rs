//! Pure business rules: parsing of domain values and the decisions made on them. No I/O here;
//! everything is unit-tested without a database.
pub mod account;
pub mod dispute;
pub mod file;
pub mod invoice;
pub mod listing;
pub mod message;
pub mod money;
pub mod order;
pub mod review;
pub mod seller;

/// A value that failed to parse, with the message a client sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Refuses control characters (NUL above all: PostgreSQL cannot store it) and the bidi
/// overrides and isolates that make a text display as something else; long texts may keep
/// newlines and tabs.
pub fn refuse_control(text: &str, what: &str, multiline: bool) -> Result<(), Invalid> {
    let allowed = |c: char| multiline && (c == '\n' || c == '\t' || c == '\r');
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if text
        .chars()
        .any(|c| (c.is_control() && !allowed(c)) || bidi(c))
    {
        return Err(Invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(())
}

/// A text as clients may send it: no control characters or bidi overrides (newlines and tabs
/// only where `multiline`), trimmed, `min..=max` characters.
pub fn clean_text(
    raw: &str,
    what: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> Result<String, Invalid> {
    refuse_control(raw, what, multiline)?;
    bounded_text(raw, what, min, max)
}

/// Trims `raw` and checks its length in characters against `min..=max`.
pub fn bounded_text(raw: &str, what: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    let len = trimmed.chars().count();
    if len < min {
        return Err(Invalid(if min == 1 {
            format!("{what} must not be empty")
        } else {
            format!("{what} must be at least {min} characters")
        }));
    }
    if len > max {
        return Err(Invalid(format!("{what} must be at most {max} characters")));
    }
    Ok(trimmed.to_owned())
}
