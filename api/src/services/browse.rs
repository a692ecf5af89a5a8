//! Browsing: the listings and providers connections with their filters, sort keys, keyset
//! cursors and full-text search, the category counts, and provider earnings.
//!
//! Every sort is a keyset over (sort key, id): the key is an integer (or, for NAME, text) that
//! the query selects as `sort_key`, so the cursor of each row is exact and pages never skip or
//! repeat rows when others are inserted meanwhile.
use entity::ledger_entries::{LedgerKind, LedgerStatus};
use entity::{ledger_entries, listings, orders, providers};
use sea_orm::sea_query::{Expr, Func, SimpleExpr};
use sea_orm::ActiveEnum as _;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    IdenStatic, Iterable, JoinType, Order, PaginatorTrait, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, QueryTrait, RelationTrait, Select, Value,
};
use serde::{Deserialize, Serialize};

use super::Viewer;
use crate::domain::listing::{CoverageTier, PriceType, CATEGORIES};
use crate::domain::order;
use crate::domain::seller::{ProviderStatus, ProviderType};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;

/// The cursor of a browse connection: which sort it belongs to, the row's key and id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrowseCursor {
    pub s: String,
    pub k: serde_json::Value,
    pub id: String,
}

/// A row of a browse page with its cursor.
#[derive(Debug, Clone)]
pub struct Keyed<T> {
    pub row: T,
    pub cursor: BrowseCursor,
}

/// A listing of a browse page, with its provider when the page was asked to bring it along:
/// joining providers for their columns costs the page query a primary-key lookup per row and
/// saves the provider lookup a nested `provider` would cost.
#[derive(Debug, Clone)]
pub struct ListingRow {
    pub listing: listings::Model,
    pub provider: Option<providers::Model>,
}

/// Prefix of the provider columns a listings page brings along (`p__id`, `p__display_name`…;
/// no listing column starts with it).
const PROVIDER_PREFIX: &str = "p__";

impl FromQueryResult for ListingRow {
    /// By position: the listing's columns first, then the provider's when the page selected
    /// them (`listings_page` adds them in `providers::Column` order).
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        debug_assert!(pre.is_empty(), "a listings page row has no prefix");
        let mut at = 0;
        let listing = super::rows::listing_at(res, &mut at)?;
        let provider = match res.try_get_by_index::<Option<String>>(at) {
            Ok(Some(_)) => Some(super::rows::provider_at(res, &mut at, PROVIDER_PREFIX)?),
            _ => None,
        };
        Ok(ListingRow { listing, provider })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingSort {
    Relevance,
    Newest,
    Price,
    Turnaround,
    Rating,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderSort {
    Rating,
    CompletedOrders,
    Newest,
    Name,
}

#[derive(Debug, Default, Clone)]
pub struct ListingFilter {
    pub query: Option<String>,
    pub category: Option<String>,
    pub tier: Option<CoverageTier>,
    pub price_type: Option<PriceType>,
    pub min_price_cents: Option<i64>,
    pub max_price_cents: Option<i64>,
    pub max_turnaround_days: Option<i32>,
    pub provider_id: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub min_rating: Option<f64>,
}

#[derive(Debug, Default, Clone)]
pub struct ProviderFilter {
    pub query: Option<String>,
    pub status: Option<ProviderStatus>,
    pub provider_type: Option<ProviderType>,
    pub specialty: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub min_rating: Option<f64>,
}

/// Which listings a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// ACTIVE listings of ACTIVE providers whose tenant can take orders.
    Public,
    /// Everything (admins; owners looking at their own provider).
    All,
}

impl Visibility {
    /// Browsing: admins see every listing, everyone else the public ones.
    pub fn for_browsing(viewer: &Viewer) -> Visibility {
        if viewer.is_admin() {
            Visibility::All
        } else {
            Visibility::Public
        }
    }

    /// One provider's listings: the inactive ones only when asked for and only to the
    /// provider's own user and admins; anyone else asking still gets the public ones.
    pub fn for_provider(
        viewer: &Viewer,
        provider: &providers::Model,
        include_inactive: bool,
    ) -> Visibility {
        if include_inactive && viewer.is_self_or_admin(&provider.user_id) {
            Visibility::All
        } else {
            Visibility::Public
        }
    }
}

/// Search terms of free text: letters and digits only, at most 10 terms of 50 characters.
fn search_terms(query: Option<&str>) -> ApiResult<Vec<String>> {
    let Some(query) = query else {
        return Ok(Vec::new());
    };
    if query.chars().count() > 200 {
        return Err(ApiError::BadInput(
            "query must be at most 200 characters".into(),
        ));
    }
    Ok(query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .take(10)
        .map(|t| t.chars().take(50).collect::<String>().to_lowercase())
        .collect())
}

/// The full-text match and rank of `table` for the terms: every term must match (as a prefix).
/// PostgreSQL: the stored `search` tsvector (GIN-indexed); SQLite: the `<table>_fts` FTS5 table.
fn full_text(backend: DbBackend, table: &str, terms: &[String]) -> (SimpleExpr, SimpleExpr) {
    match backend {
        DbBackend::Postgres => {
            let tsquery = terms
                .iter()
                .map(|t| format!("{t}:*"))
                .collect::<Vec<_>>()
                .join(" & ");
            (
                Expr::cust_with_values(
                    format!("{table}.search @@ to_tsquery('english', $1)"),
                    [tsquery.clone()],
                ),
                Expr::cust_with_values(
                    format!(
                        "CAST(ts_rank({table}.search, to_tsquery('english', $1)) * 1000000 AS BIGINT)"
                    ),
                    [tsquery],
                ),
            )
        }
        _ => {
            let fts = terms
                .iter()
                .map(|t| format!("\"{t}\"*"))
                .collect::<Vec<_>>()
                .join(" ");
            (
                Expr::cust_with_values(
                    format!("{table}.rowid IN (SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ?)"),
                    [fts.clone()],
                ),
                Expr::cust_with_values(
                    format!(
                        "(SELECT CAST(-bm25({table}_fts) * 1000000 AS INTEGER) FROM {table}_fts \
                         WHERE {table}_fts MATCH ? AND {table}_fts.rowid = {table}.rowid)"
                    ),
                    [fts],
                ),
            )
        }
    }
}

/// The Bayesian rating in thousandths (`domain::review::bayesian_thousandths`, in SQL): an
/// integer sort key in which one 5-star review does not outrank forty at 4.8.
fn rating_key() -> SimpleExpr {
    use crate::domain::review::{PRIOR_MEAN_THOUSANDTHS, PRIOR_WEIGHT};
    Expr::cust(format!(
        "((providers.rating_sum * 1000 + {}) / (providers.review_count + {}))",
        PRIOR_WEIGHT * PRIOR_MEAN_THOUSANDTHS,
        PRIOR_WEIGHT
    ))
}

fn min_rating_condition(min_rating: f64) -> ApiResult<Condition> {
    if !(0.0..=5.0).contains(&min_rating) {
        return Err(ApiError::BadInput(
            "minRating must be between 0 and 5".into(),
        ));
    }
    let hundredths = (min_rating * 100.0).round() as i64;
    // avg >= min  ⇔  rating_sum * 100 >= min_hundredths * review_count (integers only)
    let count = || Expr::col((providers::Entity, providers::Column::ReviewCount));
    Ok(Condition::all().add(count().gt(0)).add(
        Expr::expr(Expr::col((providers::Entity, providers::Column::RatingSum)).mul(100))
            .gte(Expr::expr(count()).mul(hundredths)),
    ))
}

fn lower_eq(col: SimpleExpr, value: &str) -> SimpleExpr {
    Expr::expr(Func::lower(col)).eq(value.trim().to_lowercase())
}

/// How a page is ordered: the sort's name (kept in cursors), its key expression (None: by id
/// alone), the id column, the direction, and whether the key is text.
struct KeysetSort {
    name: &'static str,
    key: Option<SimpleExpr>,
    id_col: SimpleExpr,
    descending: bool,
    text_key: bool,
}

/// Orders `query` by (key, id) in the direction asked, continues after the page's cursor,
/// selects the key as `sort_key`, and returns the rows with their cursors.
async fn keyset_page<E, R>(
    conn: &impl ConnectionTrait,
    backend: DbBackend,
    mut query: Select<E>,
    sort: KeysetSort,
    page: &PageRequest<BrowseCursor>,
    total: u64,
) -> ApiResult<Page<Keyed<R>>>
where
    E: EntityTrait,
    R: FromQueryResult,
{
    let KeysetSort {
        name: sort_name,
        key,
        id_col,
        descending,
        text_key,
    } = sort;
    let cmp = |a: SimpleExpr, b: SimpleExpr| {
        if descending {
            Expr::expr(a).lt(b)
        } else {
            Expr::expr(a).gt(b)
        }
    };
    if let Some(after) = &page.after {
        if after.s != sort_name {
            return Err(ApiError::BadInput(
                "the cursor belongs to another sort order".into(),
            ));
        }
        let after_id: SimpleExpr = Expr::value(after.id.clone());
        let condition = match &key {
            None => cmp(id_col.clone(), after_id),
            Some(key) => {
                let value: Value = match (&after.k, text_key) {
                    (serde_json::Value::String(s), true) => s.clone().into(),
                    (serde_json::Value::Number(n), false) => n
                        .as_i64()
                        .ok_or_else(|| ApiError::BadInput("the cursor is not valid".into()))?
                        .into(),
                    _ => return Err(ApiError::BadInput("the cursor is not valid".into())),
                };
                let value = SimpleExpr::Value(value);
                cmp(key.clone(), value.clone()).or(Expr::expr(key.clone())
                    .eq(value)
                    .and(cmp(id_col.clone(), after_id)))
            }
        };
        query = query.filter(condition);
    }
    let order = if descending { Order::Desc } else { Order::Asc };
    if let Some(key) = &key {
        query = query
            .column_as(key.clone(), "sort_key")
            .order_by(key.clone(), order.clone());
    }
    query = query.order_by(id_col, order).limit(page.fetch_limit());
    let rows = conn.query_all(query.build(backend)).await?;
    let mut keyed = Vec::with_capacity(rows.len());
    for row in rows {
        let model = R::from_query_result(&row, "")?;
        let id: String = row.try_get("", "id")?;
        let k = match &key {
            None => serde_json::Value::Null,
            Some(_) if text_key => serde_json::Value::from(row.try_get::<String>("", "sort_key")?),
            Some(_) => serde_json::Value::from(row.try_get::<i64>("", "sort_key")?),
        };
        keyed.push(Keyed {
            row: model,
            cursor: BrowseCursor {
                s: sort_name.to_owned(),
                k,
                id,
            },
        });
    }
    Ok(Page::from_overfetch(keyed, page, total))
}

/// Listings the caller may see, filtered, sorted and paged; with `with_providers`, each with
/// its provider, read by the same statement.
#[allow(clippy::too_many_arguments)]
pub async fn listings_page(
    state: &AppState,
    visibility: Visibility,
    filter: &ListingFilter,
    sort: ListingSort,
    reverse: bool,
    page: &PageRequest<BrowseCursor>,
    count: bool,
    with_providers: bool,
) -> ApiResult<Page<Keyed<ListingRow>>> {
    let backend = state.db.backend;
    let mut query = listings::Entity::find();
    // Providers join only when a filter or the sort reads them; otherwise the count (when
    // asked for) is a scan of the visible listings' index alone, and the page joins them
    // below for their columns.
    let reads_providers = filter.min_rating.is_some() || sort == ListingSort::Rating;
    if reads_providers {
        query = query.join(JoinType::InnerJoin, listings::Relation::Provider.def());
    }
    if visibility == Visibility::Public {
        query = query.filter(visible_listing());
    }
    let col = |c: listings::Column| Expr::col((listings::Entity, c));
    if let Some(category) = &filter.category {
        // Bounded and free of control characters (PostgreSQL cannot compare NUL at all).
        let category = crate::domain::clean_text(category, "category", 1, 100, false)
            .map_err(|e| ApiError::BadInput(e.0))?;
        query = query.filter(col(listings::Column::Category).eq(category.to_lowercase()));
    }
    if let Some(tier) = &filter.tier {
        query = query.filter(col(listings::Column::Tier).eq(tier.to_value()));
    }
    if let Some(price_type) = &filter.price_type {
        query = query.filter(col(listings::Column::PriceType).eq(price_type.to_value()));
    }
    if let Some(min) = filter.min_price_cents {
        query = query.filter(col(listings::Column::PriceCents).gte(min));
    }
    if let Some(max) = filter.max_price_cents {
        query = query.filter(col(listings::Column::PriceCents).lte(max));
    }
    if let Some(days) = filter.max_turnaround_days {
        query = query.filter(col(listings::Column::TurnaroundDays).lte(days));
    }
    if let Some(provider_id) = &filter.provider_id {
        query = query.filter(col(listings::Column::ProviderId).eq(provider_id.as_str()));
    }
    if let Some(city) = &filter.city {
        query = query.filter(lower_eq(col(listings::Column::City).into(), city));
    }
    if let Some(region) = &filter.state {
        query = query.filter(lower_eq(col(listings::Column::State).into(), region));
    }
    if let Some(min) = filter.min_rating {
        query = query.filter(min_rating_condition(min)?);
    }
    let terms = search_terms(filter.query.as_deref())?;
    let mut rank = None;
    if !terms.is_empty() {
        let (matches, score) = full_text(backend, "listings", &terms);
        query = query.filter(matches);
        rank = Some(score);
    }
    let (name, key, descending) = match sort {
        ListingSort::Relevance => match rank {
            Some(rank) => ("RELEVANCE", Some(rank), true),
            None => ("NEWEST", None, true),
        },
        ListingSort::Newest => ("NEWEST", None, true),
        ListingSort::Price => (
            "PRICE",
            Some(Expr::cust(
                "COALESCE(listings.price_cents, 9223372036854775807)",
            )),
            false,
        ),
        ListingSort::Turnaround => (
            "TURNAROUND",
            Some(Expr::cust(
                "CAST(COALESCE(listings.turnaround_days, 2147483647) AS BIGINT)",
            )),
            false,
        ),
        ListingSort::Rating => ("RATING", Some(rating_key()), true),
    };
    let sort = KeysetSort {
        name,
        key,
        id_col: col(listings::Column::Id).into(),
        descending: descending != reverse,
        text_key: false,
    };
    // The count (when asked for) is built before the provider columns join the selection.
    let counting = count.then(|| query.clone());
    if with_providers {
        if !reads_providers {
            query = query.join(JoinType::InnerJoin, listings::Relation::Provider.def());
        }
        for column in providers::Column::iter() {
            query = query.column_as(
                Expr::col((providers::Entity, column)),
                format!("{PROVIDER_PREFIX}{}", column.as_str()),
            );
        }
    }
    paged(&state.db.reader, backend, query, counting, sort, page).await
}

/// The page, and its total only when it is asked for (`counting`, the query to count: a count
/// over every matching row costs far more than the page): the two statements run side by side.
async fn paged<E, R>(
    conn: &sea_orm::DatabaseConnection,
    backend: DbBackend,
    query: Select<E>,
    counting: Option<Select<E>>,
    sort: KeysetSort,
    page: &PageRequest<BrowseCursor>,
) -> ApiResult<Page<Keyed<R>>>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
    R: FromQueryResult + Send + Sync,
{
    let Some(counting) = counting else {
        return keyset_page(conn, backend, query, sort, page, 0).await;
    };
    let counting = counting.count(conn);
    let (total, rows) = tokio::join!(counting, keyset_page(conn, backend, query, sort, page, 0));
    let mut rows = rows?;
    rows.total_count = total?;
    Ok(rows)
}

/// Listings the public may see: `listings.visible`, which the database's triggers keep (see
/// `services::listings::publicly_visible` for the rule). The bare column, as the partial index
/// `listings_visible_category_idx` is written, so both databases use it.
pub(super) fn visible_listing() -> SimpleExpr {
    Expr::col((listings::Entity, listings::Column::Visible)).into()
}

/// Providers the caller may see: ACTIVE ones, or any status for admins.
pub async fn providers_page(
    state: &AppState,
    viewer: &Viewer,
    filter: &ProviderFilter,
    sort: ProviderSort,
    reverse: bool,
    page: &PageRequest<BrowseCursor>,
    count: bool,
) -> ApiResult<Page<Keyed<providers::Model>>> {
    let backend = state.db.backend;
    let col = |c: providers::Column| Expr::col((providers::Entity, c));
    let mut query = providers::Entity::find();
    match (viewer.is_admin(), filter.status) {
        (true, Some(status)) => {
            query = query.filter(col(providers::Column::Status).eq(status.to_value()))
        }
        (true, None) => {}
        (false, status) => {
            // The public sees ACTIVE providers only; asking for another status finds none.
            query =
                query.filter(col(providers::Column::Status).eq(ProviderStatus::Active.to_value()));
            if let Some(status) = status.filter(|s| *s != ProviderStatus::Active) {
                query = query.filter(col(providers::Column::Status).eq(status.to_value()));
            }
        }
    }
    if let Some(kind) = &filter.provider_type {
        query = query.filter(col(providers::Column::ProviderType).eq(kind.to_value()));
    }
    if let Some(specialty) = &filter.specialty {
        // Specialties are a JSON array of strings: match one whole element, ignoring case.
        let needle = serde_json::to_string(&specialty.trim().to_lowercase()).unwrap_or_default();
        let pattern = crate::db::contains(&needle);
        query = query
            .filter(Expr::expr(Func::lower(col(providers::Column::Specialties))).like(pattern));
    }
    if let Some(city) = &filter.city {
        query = query.filter(lower_eq(col(providers::Column::City).into(), city));
    }
    if let Some(region) = &filter.state {
        query = query.filter(lower_eq(col(providers::Column::State).into(), region));
    }
    if let Some(min) = filter.min_rating {
        query = query.filter(min_rating_condition(min)?);
    }
    let terms = search_terms(filter.query.as_deref())?;
    if !terms.is_empty() {
        let (matches, _) = full_text(backend, "providers", &terms);
        query = query.filter(matches);
    }
    let (name, key, descending, text) = match sort {
        ProviderSort::Rating => ("RATING", Some(rating_key()), true, false),
        ProviderSort::CompletedOrders => (
            "COMPLETED_ORDERS",
            Some(Expr::cust(
                "CAST(providers.total_orders_completed AS BIGINT)",
            )),
            true,
            false,
        ),
        ProviderSort::Newest => ("NEWEST", None, true, false),
        ProviderSort::Name => (
            "NAME",
            Some(Expr::cust("LOWER(providers.display_name)")),
            false,
            true,
        ),
    };
    let sort = KeysetSort {
        name,
        key,
        id_col: col(providers::Column::Id).into(),
        descending: descending != reverse,
        text_key: text,
    };
    let counting = count.then(|| query.clone());
    paged(&state.db.reader, backend, query, counting, sort, page).await
}

/// Counts of publicly visible listings per category, every category listed.
pub async fn categories(state: &AppState) -> ApiResult<Vec<(String, i64)>> {
    let counts: Vec<(String, i64)> = listings::Entity::find()
        .select_only()
        .column(listings::Column::Category)
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "n")
        .filter(visible_listing())
        .group_by(listings::Column::Category)
        .into_tuple()
        .all(&state.db.reader)
        .await?;
    Ok(CATEGORIES
        .iter()
        .map(|c| {
            let n = counts
                .iter()
                .find(|(name, _)| name == c)
                .map_or(0, |(_, n)| *n);
            ((*c).to_owned(), n)
        })
        .collect())
}

/// A provider's money: what the ledger says was transferred, kept as fees and refunded, and
/// what captured orders still owe.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Earnings {
    pub currency: String,
    pub paid_out: i64,
    pub pending: i64,
    pub platform_fees: i64,
    /// commission on MANUAL orders, paid outside the platform, that the tenant owes
    pub platform_fees_owed: i64,
    pub refunded: i64,
    pub completed_orders: i32,
}

/// A provider's money, for its own user and admins; `None` for anyone else.
pub async fn earnings(
    state: &AppState,
    viewer: &Viewer,
    provider: &providers::Model,
) -> ApiResult<Option<Earnings>> {
    if !viewer.is_self_or_admin(&provider.user_id) {
        return Ok(None);
    }
    let conn = &state.db.reader;
    let sums: Vec<(LedgerKind, LedgerStatus, i64)> = ledger_entries::Entity::find()
        .select_only()
        .column(ledger_entries::Column::Kind)
        .column(ledger_entries::Column::Status)
        .column_as(
            Expr::cust("CAST(SUM(ledger_entries.amount_cents) AS BIGINT)"),
            "total",
        )
        .join(JoinType::InnerJoin, ledger_entries::Relation::Order.def())
        .filter(Expr::col((orders::Entity, orders::Column::ProviderId)).eq(provider.id.as_str()))
        .filter(ledger_entries::Column::Status.is_in([LedgerStatus::Succeeded, LedgerStatus::Owed]))
        .group_by(ledger_entries::Column::Kind)
        .group_by(ledger_entries::Column::Status)
        .into_tuple()
        .all(conn)
        .await?;
    let sum_of = |kind: LedgerKind, status: LedgerStatus| {
        sums.iter()
            .find(|(k, s, _)| *k == kind && *s == status)
            .map_or(0, |(_, _, v)| *v)
    };
    let pending: Option<i64> = orders::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(orders.provider_payout_cents), 0) AS BIGINT)"),
            "pending",
        )
        .filter(orders::Column::ProviderId.eq(provider.id.as_str()))
        .filter(
            orders::Column::Status.is_in(
                order::all_statuses()
                    .into_iter()
                    .filter(|s| order::is_captured_open(*s)),
            ),
        )
        .into_tuple()
        .one(conn)
        .await?;
    Ok(Some(Earnings {
        currency: provider
            .starting_price_currency
            .clone()
            .unwrap_or_else(|| "USD".to_owned()),
        // Net of payouts taken back, and of commission given up, after chargebacks.
        paid_out: sum_of(LedgerKind::Transfer, LedgerStatus::Succeeded)
            - sum_of(LedgerKind::TransferReversal, LedgerStatus::Succeeded),
        pending: pending.unwrap_or(0),
        platform_fees: sum_of(LedgerKind::Fee, LedgerStatus::Succeeded)
            - sum_of(LedgerKind::FeeReversal, LedgerStatus::Succeeded),
        platform_fees_owed: sum_of(LedgerKind::Fee, LedgerStatus::Owed),
        refunded: sum_of(LedgerKind::Refund, LedgerStatus::Succeeded),
        completed_orders: provider.total_orders_completed,
    }))
}
