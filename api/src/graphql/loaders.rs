//! Request-scoped dataloaders: every relation field loads through one of these, so a page of N
//! objects costs one `IN (…)` query per relation instead of N.
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{
    chargebacks, contacts, deliveries, disputes, invoice_events, invoice_line_items, invoices,
    listings, message_threads, order_events, orders, payments, providers, reviews, tenant_members,
    tenants, users,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

pub struct Loaders {
    pub users: DataLoader<UserLoader, HashMapCache>,
    pub providers: DataLoader<ProviderLoader, HashMapCache>,
    pub providers_by_user: DataLoader<ProviderByUserLoader, HashMapCache>,
    pub tenants: DataLoader<TenantLoader, HashMapCache>,
    pub listings: DataLoader<ListingLoader, HashMapCache>,
    /// an order's events, oldest first
    pub order_events: DataLoader<OrderEventsLoader, HashMapCache>,
    /// an order's deliveries, by revision
    pub deliveries: DataLoader<DeliveriesLoader, HashMapCache>,
    /// orders by id, for objects that point at one the viewer may already read
    pub orders: DataLoader<OrderLoader, HashMapCache>,
    /// an order's disputes, oldest first
    pub disputes: DataLoader<DisputesLoader, HashMapCache>,
    /// an order's review (one at most)
    pub reviews_by_order: DataLoader<ReviewByOrderLoader, HashMapCache>,
    /// message threads by id
    pub threads: DataLoader<ThreadLoader, HashMapCache>,
    /// an order's chargeback (one at most)
    pub chargebacks_by_order: DataLoader<ChargebackByOrderLoader, HashMapCache>,
    /// an order's invoice (one at most)
    pub invoices_by_order: DataLoader<InvoiceByOrderLoader, HashMapCache>,
    /// an invoice's lines, by position
    pub invoice_lines: DataLoader<InvoiceLinesLoader, HashMapCache>,
    /// an invoice's payments, oldest first
    pub invoice_payments: DataLoader<InvoicePaymentsLoader, HashMapCache>,
    /// an invoice's event log, oldest first
    pub invoice_events: DataLoader<InvoiceEventsLoader, HashMapCache>,
    /// contacts by id
    pub contacts: DataLoader<ContactLoader, HashMapCache>,
    /// (tenant, user) pairs that are memberships
    pub memberships: DataLoader<MembershipLoader, HashMapCache>,
    /// (tenant, user) pairs where the user has an order with the tenant
    pub buyers_of_tenant: DataLoader<BuyerOfTenantLoader, HashMapCache>,
    /// the first page of a provider's listings, by (provider, everything visible, size)
    pub provider_listings: DataLoader<ProviderListingsLoader, HashMapCache>,
}

fn cached<K, T>(loader: T) -> DataLoader<T, HashMapCache>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    T: Loader<K>,
{
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}

impl Loaders {
    /// Loaders for one HTTP request: rows are cached for the request, so a connection can
    /// prefetch its relations in one batch and the field resolvers find them.
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            users: cached(UserLoader { db: db.clone() }),
            providers: cached(ProviderLoader { db: db.clone() }),
            providers_by_user: cached(ProviderByUserLoader { db: db.clone() }),
            tenants: cached(TenantLoader { db: db.clone() }),
            listings: cached(ListingLoader { db: db.clone() }),
            order_events: cached(OrderEventsLoader { db: db.clone() }),
            deliveries: cached(DeliveriesLoader { db: db.clone() }),
            orders: cached(OrderLoader { db: db.clone() }),
            disputes: cached(DisputesLoader { db: db.clone() }),
            reviews_by_order: cached(ReviewByOrderLoader { db: db.clone() }),
            threads: cached(ThreadLoader { db: db.clone() }),
            chargebacks_by_order: cached(ChargebackByOrderLoader { db: db.clone() }),
            invoices_by_order: cached(InvoiceByOrderLoader { db: db.clone() }),
            invoice_lines: cached(InvoiceLinesLoader { db: db.clone() }),
            invoice_payments: cached(InvoicePaymentsLoader { db: db.clone() }),
            invoice_events: cached(InvoiceEventsLoader { db: db.clone() }),
            contacts: cached(ContactLoader { db: db.clone() }),
            memberships: cached(MembershipLoader { db: db.clone() }),
            buyers_of_tenant: cached(BuyerOfTenantLoader { db: db.clone() }),
            provider_listings: cached(ProviderListingsLoader { db: db.clone() }),
        }
    }

    /// Loaders for a long-lived websocket connection: batching without a cache, so no answer
    /// is older than its request.
    pub fn uncached(db: &DatabaseConnection) -> Self {
        let loaders = Self::new(db);
        loaders.users.enable_all_cache(false);
        loaders.providers.enable_all_cache(false);
        loaders.providers_by_user.enable_all_cache(false);
        loaders.tenants.enable_all_cache(false);
        loaders.listings.enable_all_cache(false);
        loaders.order_events.enable_all_cache(false);
        loaders.deliveries.enable_all_cache(false);
        loaders.orders.enable_all_cache(false);
        loaders.disputes.enable_all_cache(false);
        loaders.reviews_by_order.enable_all_cache(false);
        loaders.threads.enable_all_cache(false);
        loaders.chargebacks_by_order.enable_all_cache(false);
        loaders.invoices_by_order.enable_all_cache(false);
        loaders.invoice_lines.enable_all_cache(false);
        loaders.invoice_payments.enable_all_cache(false);
        loaders.invoice_events.enable_all_cache(false);
        loaders.contacts.enable_all_cache(false);
        loaders.memberships.enable_all_cache(false);
        loaders.buyers_of_tenant.enable_all_cache(false);
        loaders.provider_listings.enable_all_cache(false);
        loaders
    }
}

/// Declares a loader of `$entity` rows keyed by the string column `$column`.
macro_rules! loader_by {
    ($name:ident, $entity:ident, $column:ident, $key:ident) => {
        pub struct $name {
            db: DatabaseConnection,
        }

        impl Loader<String> for $name {
            type Value = $entity::Model;
            type Error = Arc<sea_orm::DbErr>;

            async fn load(
                &self,
                keys: &[String],
            ) -> Result<HashMap<String, $entity::Model>, Self::Error> {
                let rows = $entity::Entity::find()
                    .filter(crate::db::one_of(
                        self.db.get_database_backend(),
                        $entity::Column::$column,
                        keys.iter().cloned(),
                    ))
                    .all(&self.db)
                    .await
                    .map_err(Arc::new)?;
                Ok(rows.into_iter().map(|r| (r.$key.clone(), r)).collect())
            }
        }
    };
}

loader_by!(UserLoader, users, Id, id);
loader_by!(ProviderLoader, providers, Id, id);
loader_by!(ProviderByUserLoader, providers, UserId, user_id);
loader_by!(TenantLoader, tenants, Id, id);
loader_by!(ListingLoader, listings, Id, id);
loader_by!(OrderLoader, orders, Id, id);
loader_by!(ReviewByOrderLoader, reviews, OrderId, order_id);
loader_by!(ThreadLoader, message_threads, Id, id);
loader_by!(ChargebackByOrderLoader, chargebacks, OrderId, order_id);
loader_by!(ContactLoader, contacts, Id, id);

/// Memberships by (tenant, user): a pair is in the answer when the user is a member.
pub struct MembershipLoader {
    db: DatabaseConnection,
}

impl Loader<(String, String)> for MembershipLoader {
    type Value = ();
    type Error = Arc<sea_orm::DbErr>;

    async fn load(
        &self,
        keys: &[(String, String)],
    ) -> Result<HashMap<(String, String), ()>, Self::Error> {
        let rows = tenant_members::Entity::find()
            .filter(crate::db::one_of(
                self.db.get_database_backend(),
                tenant_members::Column::TenantId,
                keys.iter().map(|k| k.0.clone()),
            ))
            .filter(crate::db::one_of(
                self.db.get_database_backend(),
                tenant_members::Column::UserId,
                keys.iter().map(|k| k.1.clone()),
            ))
            .all(&self.db)
            .await
            .map_err(Arc::new)?;
        Ok(rows
            .into_iter()
            .map(|m| ((m.tenant_id, m.user_id), ()))
            .filter(|(pair, _)| keys.contains(pair))
            .collect())
    }
}

/// Invoices by the order they bill (`order_id` is optional on invoices).
pub struct InvoiceByOrderLoader {
    db: DatabaseConnection,
}

impl Loader<String> for InvoiceByOrderLoader {
    type Value = invoices::Model;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, invoices::Model>, Self::Error> {
        let rows = invoices::Entity::find()
            .filter(crate::db::one_of(
                self.db.get_database_backend(),
                invoices::Column::OrderId,
                keys.iter().cloned(),
            ))
            .all(&self.db)
            .await
            .map_err(Arc::new)?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Some((r.order_id.clone()?, r)))
            .collect())
    }
}

/// The first page of providers' listings, newest first: one query per (visibility, size)
/// for a whole page of providers.
pub struct ProviderListingsLoader {
    db: DatabaseConnection,
}

/// A provider's first listing page, shared by the fields that asked for it.
pub type ListingPage =
    Arc<crate::pagination::Page<crate::services::browse::Keyed<listings::Model>>>;

impl Loader<(String, bool, u64)> for ProviderListingsLoader {
    type Value = ListingPage;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(
        &self,
        keys: &[(String, bool, u64)],
    ) -> Result<HashMap<(String, bool, u64), ListingPage>, Self::Error> {
        use crate::services::browse::Visibility;
        use crate::services::provider_listings::first_listing_pages;
        let mut groups: HashMap<(bool, u64), Vec<String>> = HashMap::new();
        for (provider, all, first) in keys {
            groups
                .entry((*all, *first))
                .or_default()
                .push(provider.clone());
        }
        let mut found = HashMap::new();
        for ((all, first), providers) in groups {
            let visibility = if all {
                Visibility::All
            } else {
                Visibility::Public
            };
            let pages = first_listing_pages(&self.db, visibility, &providers, first)
                .await
                .map_err(Arc::new)?;
            for (provider, page) in pages {
                found.insert((provider, all, first), Arc::new(page));
            }
        }
        Ok(found)
    }
}

/// (tenant, buyer) pairs with at least one order between them.
pub struct BuyerOfTenantLoader {
    db: DatabaseConnection,
}

impl Loader<(String, String)> for BuyerOfTenantLoader {
    type Value = ();
    type Error = Arc<sea_orm::DbErr>;

    async fn load(
        &self,
        keys: &[(String, String)],
    ) -> Result<HashMap<(String, String), ()>, Self::Error> {
        use sea_orm::QuerySelect;
        let pairs: Vec<(String, String)> = orders::Entity::find()
            .select_only()
            .column(orders::Column::TenantId)
            .column(orders::Column::BuyerId)
            .distinct()
            .filter(crate::db::one_of(
                self.db.get_database_backend(),
                orders::Column::TenantId,
                keys.iter().map(|k| k.0.clone()),
            ))
            .filter(crate::db::one_of(
                self.db.get_database_backend(),
                orders::Column::BuyerId,
                keys.iter().map(|k| k.1.clone()),
            ))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(Arc::new)?;
        Ok(pairs
            .into_iter()
            .filter(|pair| keys.contains(pair))
            .map(|pair| (pair, ()))
            .collect())
    }
}

/// Declares a loader of every `$entity` row whose `$column` is the key, grouped by key in
/// `$order` order (one `IN (…)` query for a whole page of parents).
macro_rules! loader_group_by {
    ($name:ident, $entity:ident, $column:ident, $key:ident, $order:ident) => {
        pub struct $name {
            db: DatabaseConnection,
        }

        impl Loader<String> for $name {
            type Value = Vec<$entity::Model>;
            type Error = Arc<sea_orm::DbErr>;

            async fn load(
                &self,
                keys: &[String],
            ) -> Result<HashMap<String, Vec<$entity::Model>>, Self::Error> {
                let rows = $entity::Entity::find()
                    .filter(crate::db::one_of(
                        self.db.get_database_backend(),
                        $entity::Column::$column,
                        keys.iter().cloned(),
                    ))
                    .order_by_asc($entity::Column::$order)
                    .all(&self.db)
                    .await
                    .map_err(Arc::new)?;
                let mut grouped: HashMap<String, Vec<$entity::Model>> = HashMap::new();
                for row in rows {
                    grouped.entry(row.$key.clone()).or_default().push(row);
                }
                Ok(grouped)
            }
        }
    };
}

loader_group_by!(OrderEventsLoader, order_events, OrderId, order_id, Id);
loader_group_by!(DeliveriesLoader, deliveries, OrderId, order_id, Revision);
loader_group_by!(DisputesLoader, disputes, OrderId, order_id, Id);
loader_group_by!(
    InvoiceLinesLoader,
    invoice_line_items,
    InvoiceId,
    invoice_id,
    Position
);
loader_group_by!(InvoicePaymentsLoader, payments, InvoiceId, invoice_id, Id);
loader_group_by!(
    InvoiceEventsLoader,
    invoice_events,
    InvoiceId,
    invoice_id,
    Id
);

/// A loader's database failure as an internal error (its text never reaches the client).
pub fn loader_error(err: Arc<sea_orm::DbErr>) -> crate::error::ApiError {
    crate::error::ApiError::Internal(anyhow::Error::new(err))
}
