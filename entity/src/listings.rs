//! Services offered by providers: pricing, turnaround, revisions and publication status.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "listings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub provider_id: String,
    pub slug: String,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub category: String,
    pub tier: Option<CoverageTier>,
    pub max_pages: Option<i32>,
    pub price_type: PriceType,
    pub price_cents: Option<i64>,
    pub currency: String,
    pub turnaround_days: Option<i32>,
    pub revisions_included: i32,
    pub city: Option<String>,
    pub state: Option<String>,
    pub status: ListingStatus,
    pub published_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Whether the public may see it: kept by the database's triggers in the transaction that
    /// changes the listing, its provider or its tenant (migration `listing_visibility`), for
    /// browse queries to filter on. Never written by the services; a model returned by an
    /// insert on SQLite may not show the triggers' value yet.
    pub visible: bool,
}

/// How a listing is priced.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum PriceType {
    #[sea_orm(string_value = "FIXED")]
    Fixed,
    #[sea_orm(string_value = "STARTING_AT")]
    StartingAt,
    #[sea_orm(string_value = "HOURLY")]
    Hourly,
    #[sea_orm(string_value = "DAILY")]
    Daily,
    #[sea_orm(string_value = "CONTACT")]
    Contact,
}

/// Where a listing stands: drafted, on the market, paused or archived.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ListingStatus {
    #[sea_orm(string_value = "DRAFT")]
    Draft,
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    #[sea_orm(string_value = "PAUSED")]
    Paused,
    #[sea_orm(string_value = "ARCHIVED")]
    Archived,
}

/// The depth of a script coverage.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum CoverageTier {
    #[sea_orm(string_value = "CONCEPT_NOTES")]
    ConceptNotes,
    #[sea_orm(string_value = "EARLY_DRAFT")]
    EarlyDraft,
    #[sea_orm(string_value = "POLISH_PROOFREAD")]
    PolishProofread,
    #[sea_orm(string_value = "COMPETITION_READY")]
    CompetitionReady,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::providers::Entity",
        from = "Column::ProviderId",
        to = "super::providers::Column::Id",
        on_update = "Cascade",
        on_delete = "Restrict"
    )]
    Provider,
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Provider.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
