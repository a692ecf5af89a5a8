//! Browsing: full-text search over listings and providers, and the history of provider status
//! changes. PostgreSQL gets stored `tsvector` columns with GIN indexes; SQLite gets FTS5 tables
//! kept in step by triggers.
use crate::cols::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProviderStatusChanges {
    Table,
    Id,
    ProviderId,
    FromStatus,
    ToStatus,
    Reason,
    ActorId,
    CreatedAt,
}

const PG_UP: &[&str] = &[
    "ALTER TABLE listings ADD COLUMN search tsvector GENERATED ALWAYS AS (\
       setweight(to_tsvector('english', coalesce(title, '')), 'A') || \
       setweight(to_tsvector('english', coalesce(category, '')), 'B') || \
       setweight(to_tsvector('english', coalesce(description, '')), 'C')) STORED",
    "CREATE INDEX listings_search_idx ON listings USING GIN (search)",
    "ALTER TABLE providers ADD COLUMN search tsvector GENERATED ALWAYS AS (\
       setweight(to_tsvector('english', coalesce(display_name, '')), 'A') || \
       setweight(to_tsvector('english', coalesce(specialties, '')), 'B') || \
       setweight(to_tsvector('english', coalesce(bio, '')), 'C')) STORED",
    "CREATE INDEX providers_search_idx ON providers USING GIN (search)",
];

const PG_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS providers_search_idx",
    "ALTER TABLE providers DROP COLUMN IF EXISTS search",
    "DROP INDEX IF EXISTS listings_search_idx",
    "ALTER TABLE listings DROP COLUMN IF EXISTS search",
];

// External-content FTS5 tables over the base tables' rowids; triggers keep them current.
const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE listings_fts USING fts5(title, category, description, \
       content='listings', content_rowid='rowid', tokenize='porter unicode61')",
    "CREATE TRIGGER listings_fts_ai AFTER INSERT ON listings BEGIN \
       INSERT INTO listings_fts(rowid, title, category, description) \
       VALUES (new.rowid, new.title, new.category, new.description); END",
    "CREATE TRIGGER listings_fts_ad AFTER DELETE ON listings BEGIN \
       INSERT INTO listings_fts(listings_fts, rowid, title, category, description) \
       VALUES ('delete', old.rowid, old.title, old.category, old.description); END",
    "CREATE TRIGGER listings_fts_au AFTER UPDATE ON listings BEGIN \
       INSERT INTO listings_fts(listings_fts, rowid, title, category, description) \
       VALUES ('delete', old.rowid, old.title, old.category, old.description); \
       INSERT INTO listings_fts(rowid, title, category, description) \
       VALUES (new.rowid, new.title, new.category, new.description); END",
    "INSERT INTO listings_fts(listings_fts) VALUES ('rebuild')",
    "CREATE VIRTUAL TABLE providers_fts USING fts5(display_name, specialties, bio, \
       content='providers', content_rowid='rowid', tokenize='porter unicode61')",
    "CREATE TRIGGER providers_fts_ai AFTER INSERT ON providers BEGIN \
       INSERT INTO providers_fts(rowid, display_name, specialties, bio) \
       VALUES (new.rowid, new.display_name, new.specialties, new.bio); END",
    "CREATE TRIGGER providers_fts_ad AFTER DELETE ON providers BEGIN \
       INSERT INTO providers_fts(providers_fts, rowid, display_name, specialties, bio) \
       VALUES ('delete', old.rowid, old.display_name, old.specialties, old.bio); END",
    "CREATE TRIGGER providers_fts_au AFTER UPDATE ON providers BEGIN \
       INSERT INTO providers_fts(providers_fts, rowid, display_name, specialties, bio) \
       VALUES ('delete', old.rowid, old.display_name, old.specialties, old.bio); \
       INSERT INTO providers_fts(rowid, display_name, specialties, bio) \
       VALUES (new.rowid, new.display_name, new.specialties, new.bio); END",
    "INSERT INTO providers_fts(providers_fts) VALUES ('rebuild')",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS providers_fts_au",
    "DROP TRIGGER IF EXISTS providers_fts_ad",
    "DROP TRIGGER IF EXISTS providers_fts_ai",
    "DROP TABLE IF EXISTS providers_fts",
    "DROP TRIGGER IF EXISTS listings_fts_au",
    "DROP TRIGGER IF EXISTS listings_fts_ad",
    "DROP TRIGGER IF EXISTS listings_fts_ai",
    "DROP TABLE IF EXISTS listings_fts",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProviderStatusChanges::Table)
                    .col(id(ProviderStatusChanges::Id))
                    .col(ref_id(ProviderStatusChanges::ProviderId))
                    .col(status_null(ProviderStatusChanges::FromStatus))
                    .col(status(ProviderStatusChanges::ToStatus))
                    .col(schema::string_len(ProviderStatusChanges::Reason, 500))
                    .col(ref_id_null(ProviderStatusChanges::ActorId))
                    .col(ts(ProviderStatusChanges::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_provider_status_changes_provider",
                        ProviderStatusChanges::Table,
                        ProviderStatusChanges::ProviderId,
                        Alias::new("providers"),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_provider_status_changes_actor",
                        ProviderStatusChanges::Table,
                        ProviderStatusChanges::ActorId,
                        Alias::new("users"),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "provider_status_changes_provider_idx",
            ProviderStatusChanges::Table,
            vec![
                ProviderStatusChanges::ProviderId.into_iden(),
                ProviderStatusChanges::Id.into_iden(),
            ],
            false,
        )
        .await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => exec_all(manager, PG_UP).await,
            _ => exec_all(manager, SQLITE_UP).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => exec_all(manager, PG_DOWN).await?,
            _ => exec_all(manager, SQLITE_DOWN).await?,
        }
        drop_tables(manager, vec![ProviderStatusChanges::Table.into_iden()]).await
    }
}
