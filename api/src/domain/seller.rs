//! Sellers: tenants, providers and their statuses, parsed and decided without I/O.
use super::{bounded_text, Invalid};
/// The stored vocabulary (SeaORM active enums in the entity crate); the rules live here.
pub use entity::providers::{ProviderStatus, ProviderType};
pub use entity::tenant_members::MemberRole;
pub use entity::tenants::TenantPaymentMode;

/// The moves moderation allows: verify, suspend and reinstate, deactivate for good.
pub fn provider_can_become(from: ProviderStatus, to: ProviderStatus) -> bool {
    use ProviderStatus::*;
    matches!(
        (from, to),
        (PendingVerification, Active)
            | (Active, Suspended)
            | (Suspended, Active)
            | (PendingVerification | Active | Suspended, Deactivated)
    )
}

#[derive(Debug, Clone, Copy)]
pub struct PaymentSetup {
    pub mode: TenantPaymentMode,
    pub stripe_onboarding_complete: bool,
    pub requirements_past_due: bool,
}

impl PaymentSetup {
    /// MANUAL tenants can always take orders; STRIPE tenants once onboarding is complete and
    /// nothing is past due; DISABLED never.
    pub fn accepts_orders(self) -> bool {
        match self.mode {
            TenantPaymentMode::Manual => true,
            TenantPaymentMode::Stripe => {
                self.stripe_onboarding_complete && !self.requirements_past_due
            }
            TenantPaymentMode::Disabled => false,
        }
    }
}

pub fn tenant_name(raw: &str) -> Result<String, Invalid> {
    bounded_text(raw, "name", 1, 200)
}

pub fn payment_instructions(raw: &str) -> Result<Option<String>, Invalid> {
    let text = bounded_text(raw, "payment instructions", 0, 2000)?;
    Ok((!text.is_empty()).then_some(text))
}

pub const MAX_SPECIALTIES: usize = 20;

pub fn provider_display_name(raw: &str) -> Result<String, Invalid> {
    bounded_text(raw, "display name", 1, 200)
}

pub fn bio(raw: &str) -> Result<String, Invalid> {
    bounded_text(raw, "bio", 0, 5000)
}

/// At most 20 specialties of 1–50 characters; duplicates (ignoring case) are dropped.
pub fn specialties(raw: &[String]) -> Result<Vec<String>, Invalid> {
    if raw.len() > MAX_SPECIALTIES {
        return Err(Invalid(format!("at most {MAX_SPECIALTIES} specialties")));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for item in raw {
        let item = bounded_text(item, "a specialty", 1, 50)?;
        if !out.iter().any(|s| s.eq_ignore_ascii_case(&item)) {
            out.push(item);
        }
    }
    Ok(out)
}

/// City or state: optional, at most 100 characters; blank means none.
pub fn place(raw: Option<&str>, what: &str) -> Result<Option<String>, Invalid> {
    match raw {
        None => Ok(None),
        Some(raw) => {
            let text = bounded_text(raw, what, 0, 100)?;
            Ok((!text.is_empty()).then_some(text))
        }
    }
}

/// A URL-safe slug of `text`: lower-case ASCII letters and digits joined by single hyphens,
/// at most `max` characters; "item" when nothing usable is left.
/// The average of `count` ratings summing to `sum`, rounded half up to two decimals; `None`
/// before the first rating. Integer arithmetic until the one conversion the API's Float needs.
pub fn average_rating(sum: i64, count: i32) -> Option<f64> {
    let count = i64::from(count);
    (count > 0).then(|| {
        let hundredths = (sum * 100 + count / 2) / count;
        hundredths as f64 / 100.0
    })
}

pub fn slugify(text: &str, max: usize) -> String {
    let mut slug = String::with_capacity(text.len());
    let mut pending_dash = false;
    for c in text.chars() {
        let c = fold_accent(c);
        if c.is_ascii_alphanumeric() {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
        if slug.len() >= max {
            break;
        }
    }
    slug.truncate(max);
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "item".to_owned()
    } else {
        slug
    }
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_average_rating_is_rounded_half_up_to_two_decimals_and_absent_without_ratings() {
        assert_eq!(super::average_rating(0, 0), None);
        assert_eq!(super::average_rating(5, 1), Some(5.0));
        // 14 / 3 = 4.666… → 4.67; 9 / 8 = 1.125 → 1.13 (half up)
        assert_eq!(super::average_rating(14, 3), Some(4.67));
        assert_eq!(super::average_rating(9, 8), Some(1.13));
    }

    use super::*;
    use ProviderStatus::*;

    #[test]
    fn only_verify_suspend_reinstate_and_deactivate_are_allowed() {
        let all = [PendingVerification, Active, Suspended, Deactivated];
        let allowed = [
            (PendingVerification, Active),
            (Active, Suspended),
            (Suspended, Active),
            (PendingVerification, Deactivated),
            (Active, Deactivated),
            (Suspended, Deactivated),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    super::provider_can_become(from, to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn a_stripe_tenant_accepts_orders_only_when_onboarded_and_current() {
        let setup = |mode, done, past_due| PaymentSetup {
            mode,
            stripe_onboarding_complete: done,
            requirements_past_due: past_due,
        };
        assert!(setup(TenantPaymentMode::Manual, false, false).accepts_orders());
        assert!(!setup(TenantPaymentMode::Stripe, false, false).accepts_orders());
        assert!(setup(TenantPaymentMode::Stripe, true, false).accepts_orders());
        assert!(!setup(TenantPaymentMode::Stripe, true, true).accepts_orders());
        assert!(!setup(TenantPaymentMode::Disabled, true, false).accepts_orders());
    }

    #[test]
    fn twenty_one_specialties_are_rejected() {
        let many: Vec<String> = (0..21).map(|i| format!("s{i}")).collect();
        assert!(specialties(&many).is_err());
        assert!(specialties(&many[..20]).is_ok());
    }

    #[test]
    fn a_specialty_of_51_characters_is_rejected() {
        assert!(specialties(&["x".repeat(51)]).is_err());
        assert!(specialties(&["x".repeat(50)]).is_ok());
        assert!(specialties(&[" ".to_owned()]).is_err());
    }

    #[test]
    fn duplicate_specialties_are_dropped() {
        let got = specialties(&["Drama".into(), "drama".into(), "Horror".into()]).expect("ok");
        assert_eq!(got, vec!["Drama".to_owned(), "Horror".to_owned()]);
    }

    #[test]
    fn a_bio_of_5001_characters_is_rejected() {
        assert!(bio(&"b".repeat(5000)).is_ok());
        assert!(bio(&"b".repeat(5001)).is_err());
    }

    #[test]
    fn a_display_name_of_201_characters_is_rejected() {
        assert!(provider_display_name(&"n".repeat(200)).is_ok());
        assert!(provider_display_name(&"n".repeat(201)).is_err());
        assert!(provider_display_name("").is_err());
    }

    #[test]
    fn slugs_are_lower_case_hyphenated_ascii() {
        assert_eq!(
            slugify("  Feature Film — Coverage!! ", 200),
            "feature-film-coverage"
        );
        assert_eq!(slugify("Café Crème", 200), "cafe-creme");
        assert_eq!(slugify("!!!", 200), "item");
        assert_eq!(slugify("abc def ghi", 6), "abc-de");
        assert_eq!(slugify("abc def", 4), "abc");
    }
}
