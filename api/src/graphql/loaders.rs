//! Request-scoped dataloaders: every relation field loads through one of these, so a page of N
//! objects costs one `IN (…)` query per relation instead of N.
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{providers, tenants, users};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

pub struct Loaders {
    pub users: DataLoader<UserLoader>,
    pub providers: DataLoader<ProviderLoader>,
    pub providers_by_user: DataLoader<ProviderByUserLoader>,
    pub tenants: DataLoader<TenantLoader>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            users: DataLoader::new(UserLoader { db: db.clone() }, tokio::spawn),
            providers: DataLoader::new(ProviderLoader { db: db.clone() }, tokio::spawn),
            providers_by_user: DataLoader::new(
                ProviderByUserLoader { db: db.clone() },
                tokio::spawn,
            ),
            tenants: DataLoader::new(TenantLoader { db: db.clone() }, tokio::spawn),
        }
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
                    .filter($entity::Column::$column.is_in(keys.iter().cloned()))
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

/// A loader's database failure as an internal error (its text never reaches the client).
pub fn loader_error(err: Arc<sea_orm::DbErr>) -> crate::error::ApiError {
    crate::error::ApiError::Internal(anyhow::Error::new(err))
}
