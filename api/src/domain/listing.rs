//! Listings: what a provider offers, its price rules, categories and statuses.
use super::{bounded_text, Invalid};

/// The fixed list of categories served by `categories`.
pub const CATEGORIES: [&str; 8] = [
    "script_coverage",
    "editing",
    "consulting",
    "breeding",
    "grooming",
    "training",
    "transport",
    "other",
];

/// The category whose listings may carry a coverage tier.
pub const SCRIPT_COVERAGE: &str = "script_coverage";

pub const MAX_PRICE_CENTS: i64 = 1_000_000_000_000;

/// The stored vocabulary (SeaORM active enums in the entity crate); the rules live here.
pub use entity::listings::{CoverageTier, ListingStatus, PriceType};

/// Publish (DRAFT → ACTIVE), pause and resume (ACTIVE ↔ PAUSED), archive from anywhere, and
/// bring an archived listing back as a draft. Staying put is allowed (a no-op).
pub fn listing_can_become(from: ListingStatus, to: ListingStatus) -> bool {
    use ListingStatus::*;
    from == to
        || matches!(
            (from, to),
            (Draft, Active)
                | (Active, Paused)
                | (Paused, Active)
                | (Draft | Active | Paused, Archived)
                | (Archived, Draft)
        )
}

/// The terms of a listing after validation, as they will be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingTerms {
    pub title: String,
    pub description: String,
    pub category: String,
    pub tier: Option<CoverageTier>,
    pub price_type: PriceType,
    pub price_cents: Option<i64>,
    pub currency: String,
    pub turnaround_days: Option<i32>,
    pub max_pages: Option<i32>,
    pub revisions_included: i32,
    pub city: Option<String>,
    pub state: Option<String>,
}

/// One field at fault: its input name and what is wrong.
pub type FieldFault = (&'static str, Invalid);

impl ListingTerms {
    /// Checks every field and the rules between them; reports every fault at once.
    pub fn validate(self) -> Result<ListingTerms, Vec<FieldFault>> {
        let mut faults = Vec::new();
        let mut terms = self;
        match bounded_text(&terms.title, "title", 1, 200) {
            Ok(t) => terms.title = t,
            Err(e) => faults.push(("title", e)),
        }
        match bounded_text(&terms.description, "description", 0, 5000) {
            Ok(d) => terms.description = d,
            Err(e) => faults.push(("description", e)),
        }
        let category = terms.category.trim().to_lowercase();
        if CATEGORIES.contains(&category.as_str()) {
            terms.category = category;
        } else {
            faults.push((
                "category",
                Invalid(format!("category must be one of {}", CATEGORIES.join(", "))),
            ));
        }
        if terms.tier.is_some() && terms.category != SCRIPT_COVERAGE {
            faults.push((
                "tier",
                Invalid("a coverage tier is only for script_coverage listings".into()),
            ));
        }
        match (terms.price_type, terms.price_cents) {
            (PriceType::Contact, Some(_)) => faults.push((
                "priceCents",
                Invalid("a CONTACT listing has no price".into()),
            )),
            (PriceType::Contact, None) => {}
            (_, None) => faults.push(("priceCents", Invalid("a price is required".into()))),
            (_, Some(p)) if !(1..=MAX_PRICE_CENTS).contains(&p) => faults.push((
                "priceCents",
                Invalid(format!(
                    "price must be between 1 and {MAX_PRICE_CENTS} cents"
                )),
            )),
            _ => {}
        }
        let currency = terms.currency.trim().to_uppercase();
        if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) {
            terms.currency = currency;
        } else {
            faults.push((
                "currencyCode",
                Invalid("currency must be a three-letter ISO code".into()),
            ));
        }
        if let Some(days) = terms.turnaround_days {
            if !(1..=90).contains(&days) {
                faults.push((
                    "turnaroundDays",
                    Invalid("turnaround must be 1 to 90 days".into()),
                ));
            }
        }
        if let Some(pages) = terms.max_pages {
            if !(1..=500).contains(&pages) {
                faults.push(("maxPages", Invalid("max pages must be 1 to 500".into())));
            }
        }
        if !(0..=10).contains(&terms.revisions_included) {
            faults.push((
                "revisionsIncluded",
                Invalid("revisions included must be 0 to 10".into()),
            ));
        }
        for (field, value) in [("city", &mut terms.city), ("state", &mut terms.state)] {
            match super::seller::place(value.as_deref(), field) {
                Ok(v) => *value = v,
                Err(e) => faults.push((field, e)),
            }
        }
        if faults.is_empty() {
            Ok(terms)
        } else {
            Err(faults)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms() -> ListingTerms {
        ListingTerms {
            title: "Feature coverage".into(),
            description: "Full notes".into(),
            category: "script_coverage".into(),
            tier: Some(CoverageTier::EarlyDraft),
            price_type: PriceType::Fixed,
            price_cents: Some(15_000),
            currency: "usd".into(),
            turnaround_days: Some(7),
            max_pages: Some(120),
            revisions_included: 1,
            city: Some("Los Angeles".into()),
            state: Some(" CA ".into()),
        }
    }

    fn faults(t: ListingTerms) -> Vec<&'static str> {
        t.validate()
            .err()
            .map(|f| f.into_iter().map(|(field, _)| field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn valid_terms_are_normalised() {
        let t = terms().validate().expect("valid");
        assert_eq!(t.currency, "USD");
        assert_eq!(t.state.as_deref(), Some("CA"));
    }

    #[test]
    fn a_price_of_zero_or_above_ten_to_the_twelve_is_rejected() {
        for (price, ok) in [
            (0, false),
            (1, true),
            (MAX_PRICE_CENTS, true),
            (MAX_PRICE_CENTS + 1, false),
            (-5, false),
        ] {
            let t = ListingTerms {
                price_cents: Some(price),
                ..terms()
            };
            assert_eq!(faults(t).is_empty(), ok, "{price}");
        }
    }

    #[test]
    fn a_missing_price_is_rejected_unless_contact() {
        assert_eq!(
            faults(ListingTerms {
                price_cents: None,
                ..terms()
            }),
            vec!["priceCents"]
        );
        let contact = ListingTerms {
            price_type: PriceType::Contact,
            price_cents: None,
            ..terms()
        };
        assert!(faults(contact).is_empty());
        let contact_priced = ListingTerms {
            price_type: PriceType::Contact,
            ..terms()
        };
        assert_eq!(faults(contact_priced), vec!["priceCents"]);
    }

    #[test]
    fn turnaround_pages_and_revisions_are_bounded() {
        assert_eq!(
            faults(ListingTerms {
                turnaround_days: Some(0),
                ..terms()
            }),
            vec!["turnaroundDays"]
        );
        assert_eq!(
            faults(ListingTerms {
                turnaround_days: Some(91),
                ..terms()
            }),
            vec!["turnaroundDays"]
        );
        assert!(faults(ListingTerms {
            turnaround_days: Some(90),
            ..terms()
        })
        .is_empty());
        assert_eq!(
            faults(ListingTerms {
                max_pages: Some(501),
                ..terms()
            }),
            vec!["maxPages"]
        );
        assert_eq!(
            faults(ListingTerms {
                revisions_included: 11,
                ..terms()
            }),
            vec!["revisionsIncluded"]
        );
        assert!(faults(ListingTerms {
            revisions_included: 10,
            ..terms()
        })
        .is_empty());
    }

    #[test]
    fn an_unknown_category_is_rejected() {
        assert_eq!(
            faults(ListingTerms {
                category: "astrology".into(),
                tier: None,
                ..terms()
            }),
            vec!["category"]
        );
    }

    #[test]
    fn a_tier_outside_script_coverage_is_rejected() {
        assert_eq!(
            faults(ListingTerms {
                category: "editing".into(),
                ..terms()
            }),
            vec!["tier"]
        );
    }

    #[test]
    fn a_title_of_201_characters_is_rejected() {
        assert_eq!(
            faults(ListingTerms {
                title: "t".repeat(201),
                ..terms()
            }),
            vec!["title"]
        );
        assert_eq!(
            faults(ListingTerms {
                title: "  ".into(),
                ..terms()
            }),
            vec!["title"]
        );
    }

    #[test]
    fn listing_status_moves() {
        use ListingStatus::*;
        assert!(listing_can_become(Draft, Active));
        assert!(listing_can_become(Active, Paused));
        assert!(listing_can_become(Paused, Active));
        assert!(listing_can_become(Archived, Draft));
        assert!(listing_can_become(Active, Active));
        assert!(!listing_can_become(Archived, Active));
        assert!(!listing_can_become(Draft, Paused));
        assert!(!listing_can_become(Paused, Draft));
    }
}
