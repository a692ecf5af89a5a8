//! The first page of several providers' listings at once, for `Provider.listings` inside a
//! page of providers or listings (a dataloader batches the providers of one request).
use entity::listings;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, EntityTrait, Order, QueryFilter, QuerySelect, QueryTrait};

use super::browse::{visible_listing, BrowseCursor, Keyed, Visibility};
use crate::pagination::{Page, PageRequest};

/// The first page (newest first) of several providers' listings in one query: what
/// `Provider.listings` shows for each provider of a page, which would otherwise cost a page
/// query and a count per provider. Each provider's rows are numbered and counted with window
/// functions (SQLite and PostgreSQL both have them); the same rows, order and cursors as
/// [`listings_page`] with the NEWEST sort and a provider filter.
pub async fn first_listing_pages(
    conn: &impl ConnectionTrait,
    visibility: Visibility,
    provider_ids: &[String],
    first: u64,
) -> Result<std::collections::HashMap<String, Page<Keyed<listings::Model>>>, sea_orm::DbErr> {
    use sea_orm::sea_query::{Alias, Asterisk, Query};
    let backend = conn.get_database_backend();
    let mut inner = listings::Entity::find().filter(crate::db::one_of(
        backend,
        listings::Column::ProviderId,
        provider_ids.iter().cloned(),
    ));
    if visibility == Visibility::Public {
        inner = inner.filter(visible_listing());
    }
    let inner = inner
        .expr_as(
            Expr::cust(
                "ROW_NUMBER() OVER (PARTITION BY listings.provider_id ORDER BY listings.id DESC)",
            ),
            "page_row",
        )
        .expr_as(
            Expr::cust("COUNT(*) OVER (PARTITION BY listings.provider_id)"),
            "page_total",
        )
        .into_query();
    let page = PageRequest::<BrowseCursor> { first, after: None };
    let fetch = i64::try_from(page.fetch_limit()).unwrap_or(i64::MAX);
    let numbered = Alias::new("numbered");
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, numbered.clone())
        .and_where(Expr::col((numbered.clone(), Alias::new("page_row"))).lte(fetch))
        .order_by((numbered.clone(), Alias::new("provider_id")), Order::Asc)
        .order_by((numbered, Alias::new("page_row")), Order::Asc)
        .to_owned();
    let rows = conn.query_all(backend.build(&outer)).await?;
    let mut grouped: std::collections::HashMap<String, (Vec<Keyed<listings::Model>>, u64)> =
        std::collections::HashMap::new();
    for row in rows {
        // `SELECT *` of the inner query: the listing's columns come first.
        let model = super::rows::listing_at(&row, &mut 0)?;
        let total: i64 = row.try_get("", "page_total")?;
        let entry = grouped
            .entry(model.provider_id.clone())
            .or_insert_with(|| (Vec::new(), u64::try_from(total).unwrap_or(0)));
        let id = model.id.clone();
        entry.0.push(Keyed {
            row: model,
            cursor: BrowseCursor {
                s: "NEWEST".to_owned(),
                k: serde_json::Value::Null,
                id,
            },
        });
    }
    Ok(provider_ids
        .iter()
        .map(|provider| {
            let (rows, total) = grouped.remove(provider).unwrap_or_default();
            (provider.clone(), Page::from_overfetch(rows, &page, total))
        })
        .collect())
}
