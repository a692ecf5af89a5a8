//! SeaORM entities, one module per table. No business logic lives here.

pub mod chargebacks;
pub mod contacts;
pub mod counters;
pub mod deliveries;
pub mod disputes;
pub mod idempotency_keys;
pub mod invoice_counters;
pub mod invoice_events;
pub mod invoice_line_items;
pub mod invoices;
pub mod ledger_entries;
pub mod listings;
pub mod message_threads;
pub mod messages;
pub mod order_events;
pub mod orders;
pub mod payments;
pub mod provider_status_changes;
pub mod providers;
pub mod refresh_tokens;
pub mod reviews;
pub mod stripe_events;
pub mod tenant_members;
pub mod tenants;
pub mod uploads;
pub mod users;

/// Every entity under its table's CamelCase name.
pub mod prelude {
    pub use super::chargebacks::Entity as Chargebacks;
    pub use super::contacts::Entity as Contacts;
    pub use super::counters::Entity as Counters;
    pub use super::deliveries::Entity as Deliveries;
    pub use super::disputes::Entity as Disputes;
    pub use super::idempotency_keys::Entity as IdempotencyKeys;
    pub use super::invoice_counters::Entity as InvoiceCounters;
    pub use super::invoice_events::Entity as InvoiceEvents;
    pub use super::invoice_line_items::Entity as InvoiceLineItems;
    pub use super::invoices::Entity as Invoices;
    pub use super::ledger_entries::Entity as LedgerEntries;
    pub use super::listings::Entity as Listings;
    pub use super::message_threads::Entity as MessageThreads;
    pub use super::messages::Entity as Messages;
    pub use super::order_events::Entity as OrderEvents;
    pub use super::orders::Entity as Orders;
    pub use super::payments::Entity as Payments;
    pub use super::provider_status_changes::Entity as ProviderStatusChanges;
    pub use super::providers::Entity as Providers;
    pub use super::refresh_tokens::Entity as RefreshTokens;
    pub use super::reviews::Entity as Reviews;
    pub use super::stripe_events::Entity as StripeEvents;
    pub use super::tenant_members::Entity as TenantMembers;
    pub use super::tenants::Entity as Tenants;
    pub use super::uploads::Entity as Uploads;
    pub use super::users::Entity as Users;
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};

    /// Every value written reads back as itself, and a stored text no variant owns is an
    /// error (SeaORM reads a column through `try_from_value`), never a fallback.
    fn round_trips<E>()
    where
        E: ActiveEnum<Value = String> + Iterable + PartialEq + std::fmt::Debug,
    {
        let all: Vec<E> = E::iter().collect();
        assert!(!all.is_empty());
        for value in all {
            let stored = value.to_value();
            assert_eq!(E::try_from_value(&stored).expect("reads back"), value);
        }
        assert!(E::try_from_value(&"NO_SUCH_VALUE".to_owned()).is_err());
        assert!(E::try_from_value(&String::new()).is_err());
    }

    #[test]
    fn every_stored_enum_round_trips_and_refuses_unknown_text() {
        round_trips::<crate::chargebacks::ChargebackStatus>();
        round_trips::<crate::ledger_entries::LedgerKind>();
        round_trips::<crate::ledger_entries::LedgerStatus>();
        round_trips::<crate::orders::OrderStatus>();
        round_trips::<crate::orders::PaymentMode>();
        round_trips::<crate::order_events::ActorKind>();
        round_trips::<crate::tenants::TenantPaymentMode>();
        round_trips::<crate::providers::ProviderStatus>();
        round_trips::<crate::providers::ProviderType>();
        round_trips::<crate::tenant_members::MemberRole>();
        round_trips::<crate::listings::PriceType>();
        round_trips::<crate::listings::ListingStatus>();
        round_trips::<crate::listings::CoverageTier>();
        round_trips::<crate::users::UserStatus>();
        round_trips::<crate::invoices::InvoiceStatus>();
        round_trips::<crate::message_threads::ThreadStatus>();
        round_trips::<crate::disputes::DisputeReason>();
        round_trips::<crate::disputes::DisputeStatus>();
    }
}
