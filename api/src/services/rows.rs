//! Models read by column position from rows whose select list starts with the entity's columns
//! in declaration order (what `Entity::find()` selects, and what a page adds with
//! [`ColumnTrait`] columns in `Column::iter()` order).
//!
//! The derived `FromQueryResult` looks every column up by name, formatting `{prefix}{column}`
//! into a new string first: a browse page of 30 listings with their providers made over a
//! thousand such strings and hash lookups, about a fifth of the server's time per request.
//! Debug builds (every test) check that the names at the positions are the columns read.
use sea_orm::{DbErr, QueryResult};

use entity::{listings, providers};

/// Reads consecutive columns from a starting position.
struct At<'a> {
    row: &'a QueryResult,
    next: usize,
}

impl At<'_> {
    fn get<T: sea_orm::TryGetable>(&mut self) -> Result<T, DbErr> {
        let value = self.row.try_get_by_index(self.next)?;
        self.next += 1;
        Ok(value)
    }
}

/// In debug builds: the row's columns from `at` are `columns`, in order.
#[cfg(debug_assertions)]
fn check_names<C: sea_orm::Iterable + sea_orm::IdenStatic>(
    row: &QueryResult,
    at: usize,
    prefix: &str,
) {
    let names = row.column_names();
    for (i, column) in C::iter().enumerate() {
        let expected = format!("{prefix}{}", column.as_str());
        assert_eq!(
            names.get(at + i).map(String::as_str),
            Some(expected.as_str()),
            "column {} of the row",
            at + i
        );
    }
}

/// A listing from the row's columns from `*at` on; `*at` moves past them.
pub fn listing_at(row: &QueryResult, at: &mut usize) -> Result<listings::Model, DbErr> {
    #[cfg(debug_assertions)]
    check_names::<listings::Column>(row, *at, "");
    let mut c = At { row, next: *at };
    // Field order is the column order of `listings::Column`.
    let model = listings::Model {
        id: c.get()?,
        provider_id: c.get()?,
        slug: c.get()?,
        title: c.get()?,
        description: c.get()?,
        category: c.get()?,
        tier: c.get()?,
        max_pages: c.get()?,
        price_type: c.get()?,
        price_cents: c.get()?,
        currency: c.get()?,
        turnaround_days: c.get()?,
        revisions_included: c.get()?,
        city: c.get()?,
        state: c.get()?,
        status: c.get()?,
        published_at: c.get()?,
        created_at: c.get()?,
        updated_at: c.get()?,
        visible: c.get()?,
    };
    *at = c.next;
    Ok(model)
}

/// A provider from the row's columns from `*at` on, named `{prefix}{column}`; `*at` moves past
/// them.
pub fn provider_at(
    row: &QueryResult,
    at: &mut usize,
    prefix: &str,
) -> Result<providers::Model, DbErr> {
    #[cfg(debug_assertions)]
    check_names::<providers::Column>(row, *at, prefix);
    #[cfg(not(debug_assertions))]
    let _ = prefix;
    let mut c = At { row, next: *at };
    // Field order is the column order of `providers::Column`.
    let model = providers::Model {
        id: c.get()?,
        user_id: c.get()?,
        tenant_id: c.get()?,
        provider_type: c.get()?,
        display_name: c.get()?,
        bio: c.get()?,
        specialties: c.get()?,
        city: c.get()?,
        state: c.get()?,
        status: c.get()?,
        status_reason: c.get()?,
        rating_sum: c.get()?,
        review_count: c.get()?,
        total_orders_completed: c.get()?,
        starting_price_cents: c.get()?,
        starting_price_currency: c.get()?,
        created_at: c.get()?,
        updated_at: c.get()?,
    };
    *at = c.next;
    Ok(model)
}
