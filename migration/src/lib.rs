//! Schema migrations. Each migration runs unchanged on SQLite and PostgreSQL and has a real
//! `down`. Constraints and indexes are named so that the API can map a violation to a clear
//! user error in one place (`api::db::constraint`).
pub use sea_orm_migration::prelude::*;

mod cols;
mod m20261122_000001_accounts;
mod m20261122_000002_sellers;
mod m20261122_000003_orders;
mod m20261122_000004_invoicing;
mod m20261122_000005_messaging;
mod m20261122_000006_system;
mod m20261122_000007_browsing;
mod m20261201_000008_chargebacks;
mod m20261201_000009_invoice_events;
mod m20261201_000010_tenant_rls;
mod m20261201_000011_uploads;
mod m20261201_000012_stream_sequences;
mod m20261201_000013_event_sequencer;
mod m20261202_000014_dispute_changes;
mod m20261202_000015_listing_visibility;

pub use m20261201_000010_tenant_rls::TENANT_ROLE;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_accounts::Migration),
            Box::new(m20261122_000002_sellers::Migration),
            Box::new(m20261122_000003_orders::Migration),
            Box::new(m20261122_000004_invoicing::Migration),
            Box::new(m20261122_000005_messaging::Migration),
            Box::new(m20261122_000006_system::Migration),
            Box::new(m20261122_000007_browsing::Migration),
            Box::new(m20261201_000008_chargebacks::Migration),
            Box::new(m20261201_000009_invoice_events::Migration),
            Box::new(m20261201_000010_tenant_rls::Migration),
            Box::new(m20261201_000011_uploads::Migration),
            Box::new(m20261201_000012_stream_sequences::Migration),
            Box::new(m20261201_000013_event_sequencer::Migration),
            Box::new(m20261202_000014_dispute_changes::Migration),
            Box::new(m20261202_000015_listing_visibility::Migration),
        ]
    }
}
