//! `listings.visible`: whether the public may see a listing (the listing ACTIVE, its provider
//! ACTIVE, its tenant able to take orders: MANUAL, or STRIPE with onboarding complete and
//! nothing past due). Browsing filtered on a join over providers and tenants, so counting a
//! category read every matching listing's heap page and hashed every provider (27–37 ms for
//! 10,000 listings); with the flag and a partial index the count and the page are index scans
//! of `listings` alone (1 ms).
//!
//! Triggers keep the flag in the transaction that changes any of its inputs: a listing's status
//! or provider, a provider's status or tenant, a tenant's payment mode or onboarding state.
//! The rule itself lives in `api::services::listings::publicly_visible`. Tests change the
//! listing's status, the provider's status and the tenant's payment mode (`listings.rs`) and
//! the tenant's Stripe state (`stripe_connect.rs`) through the API and browse after each; a
//! provider moving to another tenant has no test.
use crate::cols::exec_all;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The rule, for a listing whose status and provider id are the SQL expressions given.
fn rule(status: &str, provider: &str) -> String {
    format!(
        "({status} = 'ACTIVE' AND EXISTS (SELECT 1 FROM providers p \
           JOIN tenants t ON t.id = p.tenant_id \
           WHERE p.id = {provider} AND p.status = 'ACTIVE' \
             AND (t.payment_mode = 'MANUAL' OR (t.payment_mode = 'STRIPE' \
                  AND t.stripe_onboarding_complete AND NOT t.requirements_past_due))))"
    )
}

/// The other tables whose columns the rule reads: (table, the columns, which listings a
/// change of one of its rows touches, `new` being that row).
const INPUTS: [(&str, &str, &str); 2] = [
    ("providers", "status, tenant_id", "provider_id = new.id"),
    (
        "tenants",
        "payment_mode, stripe_onboarding_complete, requirements_past_due",
        "provider_id IN (SELECT id FROM providers WHERE tenant_id = new.id)",
    ),
];
/// The browse page's order is newest (by id) first.
const INDEX: &str =
    "CREATE INDEX listings_visible_category_idx ON listings (category, id) WHERE visible";

fn pg_up() -> Vec<String> {
    let mut sql = vec![
        "ALTER TABLE listings ADD COLUMN visible BOOLEAN NOT NULL DEFAULT FALSE".to_owned(),
        format!(
            "CREATE FUNCTION listing_visible(listing_status TEXT, listing_provider TEXT) \
             RETURNS BOOLEAN LANGUAGE sql STABLE AS $$ SELECT {} $$",
            rule("listing_status", "listing_provider")
        ),
        "CREATE FUNCTION listings_visible_set() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN NEW.visible := listing_visible(NEW.status, NEW.provider_id); RETURN NEW; END $$"
            .to_owned(),
        "CREATE TRIGGER listings_visible_set BEFORE INSERT OR UPDATE OF status, provider_id \
         ON listings FOR EACH ROW EXECUTE FUNCTION listings_visible_set()"
            .to_owned(),
    ];
    for (table, columns, scope) in INPUTS {
        sql.push(format!(
            "CREATE FUNCTION {table}_visible_refresh() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN UPDATE listings SET visible = listing_visible(status, provider_id) \
             WHERE {scope} AND visible IS DISTINCT FROM listing_visible(status, provider_id); \
             RETURN NULL; END $$"
        ));
        sql.push(format!(
            "CREATE TRIGGER {table}_visible_refresh AFTER UPDATE OF {columns} \
             ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_visible_refresh()"
        ));
    }
    sql.push("UPDATE listings SET visible = listing_visible(status, provider_id)".to_owned());
    sql.push(INDEX.to_owned());
    sql
}

const PG_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS listings_visible_category_idx",
    "DROP TRIGGER IF EXISTS tenants_visible_refresh ON tenants",
    "DROP FUNCTION IF EXISTS tenants_visible_refresh()",
    "DROP TRIGGER IF EXISTS providers_visible_refresh ON providers",
    "DROP FUNCTION IF EXISTS providers_visible_refresh()",
    "DROP TRIGGER IF EXISTS listings_visible_set ON listings",
    "DROP FUNCTION IF EXISTS listings_visible_set()",
    "DROP FUNCTION IF EXISTS listing_visible(TEXT, TEXT)",
    "ALTER TABLE listings DROP COLUMN IF EXISTS visible",
];

/// The FTS5 copy was rewritten on every update of a listing; the flag's own updates would
/// have doubled that work, so it follows the three columns it indexes only.
const SQLITE_FTS_UPDATE: &str = "CREATE TRIGGER listings_fts_au AFTER UPDATE OF title, category, \
     description ON listings BEGIN \
       INSERT INTO listings_fts(listings_fts, rowid, title, category, description) \
       VALUES ('delete', old.rowid, old.title, old.category, old.description); \
       INSERT INTO listings_fts(rowid, title, category, description) \
       VALUES (new.rowid, new.title, new.category, new.description); END";

/// As it was before (`m20261122_000007_browsing`).
const SQLITE_FTS_UPDATE_BEFORE: &str =
    "CREATE TRIGGER listings_fts_au AFTER UPDATE ON listings BEGIN \
       INSERT INTO listings_fts(listings_fts, rowid, title, category, description) \
       VALUES ('delete', old.rowid, old.title, old.category, old.description); \
       INSERT INTO listings_fts(rowid, title, category, description) \
       VALUES (new.rowid, new.title, new.category, new.description); END";

fn sqlite_up() -> Vec<String> {
    // SQLite triggers cannot change the row being written: they update it after.
    let own = rule("new.status", "new.provider_id");
    let stored = rule("listings.status", "listings.provider_id");
    let mut sql = vec![
        "ALTER TABLE listings ADD COLUMN visible BOOLEAN NOT NULL DEFAULT FALSE".to_owned(),
        format!(
            "CREATE TRIGGER listings_visible_ai AFTER INSERT ON listings BEGIN \
             UPDATE listings SET visible = {own} WHERE rowid = new.rowid; END"
        ),
        format!(
            "CREATE TRIGGER listings_visible_au AFTER UPDATE OF status, provider_id ON listings \
             BEGIN UPDATE listings SET visible = {own} WHERE rowid = new.rowid; END"
        ),
    ];
    for (table, columns, scope) in INPUTS {
        sql.push(format!(
            "CREATE TRIGGER {table}_visible_au AFTER UPDATE OF {columns} ON {table} \
             BEGIN UPDATE listings SET visible = {stored} WHERE {scope}; END"
        ));
    }
    sql.extend([
        "DROP TRIGGER listings_fts_au".to_owned(),
        SQLITE_FTS_UPDATE.to_owned(),
        format!("UPDATE listings SET visible = {stored}"),
        INDEX.to_owned(),
    ]);
    sql
}

const SQLITE_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS listings_visible_category_idx",
    "DROP TRIGGER IF EXISTS tenants_visible_au",
    "DROP TRIGGER IF EXISTS providers_visible_au",
    "DROP TRIGGER IF EXISTS listings_visible_au",
    "DROP TRIGGER IF EXISTS listings_visible_ai",
    "DROP TRIGGER IF EXISTS listings_fts_au",
    SQLITE_FTS_UPDATE_BEFORE,
    "ALTER TABLE listings DROP COLUMN visible",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DbBackend::Postgres => pg_up(),
            _ => sqlite_up(),
        };
        let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
        exec_all(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => exec_all(manager, PG_DOWN).await,
            _ => exec_all(manager, SQLITE_DOWN).await,
        }
    }
}
