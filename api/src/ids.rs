//! Public identifiers: a type prefix and a UUIDv7 in lower-case hex, e.g. `usr_0193…`.
//! UUIDv7 is time-ordered, so ids sort by creation and serve as keyset tie-breakers.
use uuid::Uuid;

/// The kinds of object that carry an id, with their prefixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    User,
    Tenant,
    TenantMember,
    Provider,
    Listing,
    Order,
    OrderEvent,
    Delivery,
    Review,
    Dispute,
    LedgerEntry,
    Contact,
    Invoice,
    InvoiceLineItem,
    Payment,
    Thread,
    Message,
    RefreshToken,
    TokenFamily,
    IdempotencyKey,
    ProviderStatusChange,
    InvoiceEvent,
    Upload,
}

impl Kind {
    pub const ALL: [Kind; 23] = [
        Kind::User,
        Kind::Tenant,
        Kind::TenantMember,
        Kind::Provider,
        Kind::Listing,
        Kind::Order,
        Kind::OrderEvent,
        Kind::Delivery,
        Kind::Review,
        Kind::Dispute,
        Kind::LedgerEntry,
        Kind::Contact,
        Kind::Invoice,
        Kind::InvoiceLineItem,
        Kind::Payment,
        Kind::Thread,
        Kind::Message,
        Kind::RefreshToken,
        Kind::TokenFamily,
        Kind::IdempotencyKey,
        Kind::ProviderStatusChange,
        Kind::InvoiceEvent,
        Kind::Upload,
    ];

    pub const fn prefix(self) -> &'static str {
        match self {
            Kind::User => "usr",
            Kind::Tenant => "ten",
            Kind::TenantMember => "tmb",
            Kind::Provider => "prov",
            Kind::Listing => "lst",
            Kind::Order => "ord",
            Kind::OrderEvent => "oev",
            Kind::Delivery => "dlv",
            Kind::Review => "rev",
            Kind::Dispute => "dsp",
            Kind::LedgerEntry => "led",
            Kind::Contact => "ctc",
            Kind::Invoice => "inv",
            Kind::InvoiceLineItem => "ili",
            Kind::Payment => "pay",
            Kind::Thread => "thr",
            Kind::Message => "msg",
            Kind::RefreshToken => "rft",
            Kind::TokenFamily => "rtf",
            Kind::IdempotencyKey => "idk",
            Kind::ProviderStatusChange => "psc",
            Kind::InvoiceEvent => "iev",
            Kind::Upload => "upl",
        }
    }
}

/// A new id of the given kind.
pub fn new_id(kind: Kind) -> String {
    format!("{}_{}", kind.prefix(), Uuid::now_v7().simple())
}

/// The kind of a well-formed id, or `None` for anything else (unknown prefix, wrong length,
/// upper-case or non-hex characters, a UUID that is not version 7).
pub fn kind_of(id: &str) -> Option<Kind> {
    let (prefix, rest) = id.split_once('_')?;
    let kind = Kind::ALL.into_iter().find(|k| k.prefix() == prefix)?;
    if rest.len() != 32
        || !rest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let uuid = Uuid::parse_str(rest).ok()?;
    (uuid.get_version_num() == 7).then_some(kind)
}

/// True when `id` is a well-formed id of `kind`.
pub fn is_kind(id: &str, kind: Kind) -> bool {
    kind_of(id) == Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_id_has_its_prefix_and_parses_back() {
        let id = new_id(Kind::Order);
        assert!(id.starts_with("ord_"));
        assert_eq!(kind_of(&id), Some(Kind::Order));
    }

    #[test]
    fn ids_sort_by_creation() {
        let a = new_id(Kind::User);
        let b = new_id(Kind::User);
        assert!(a < b, "{a} should sort before {b}");
    }

    #[test]
    fn an_unknown_prefix_is_rejected() {
        let id = new_id(Kind::User).replacen("usr", "xyz", 1);
        assert_eq!(kind_of(&id), None);
    }

    #[test]
    fn a_non_v7_uuid_is_rejected() {
        let id = format!("usr_{}", Uuid::nil().simple());
        assert_eq!(kind_of(&id), None);
    }

    #[test]
    fn upper_case_and_short_ids_are_rejected() {
        let id = new_id(Kind::User);
        assert_eq!(kind_of(&id.to_uppercase()), None);
        assert_eq!(kind_of(&id[..20]), None);
        assert_eq!(kind_of("usr_"), None);
        assert_eq!(kind_of(""), None);
    }

    #[test]
    fn prefixes_are_distinct() {
        let mut prefixes: Vec<_> = Kind::ALL.iter().map(|k| k.prefix()).collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        assert_eq!(prefixes.len(), Kind::ALL.len());
    }
}
