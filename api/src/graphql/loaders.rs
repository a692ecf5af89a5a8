//! Request-scoped dataloaders: every relation field loads through one of these, so a page of N
//! objects costs one `IN (…)` query per relation instead of N.
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use entity::users;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

pub struct Loaders {
    pub users: DataLoader<UserLoader>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            users: DataLoader::new(UserLoader { db: db.clone() }, tokio::spawn),
        }
    }
}

pub struct UserLoader {
    db: DatabaseConnection,
}

impl Loader<String> for UserLoader {
    type Value = users::Model;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, users::Model>, Self::Error> {
        let rows = users::Entity::find()
            .filter(users::Column::Id.is_in(keys.iter().cloned()))
            .all(&self.db)
            .await
            .map_err(Arc::new)?;
        Ok(rows.into_iter().map(|u| (u.id.clone(), u)).collect())
    }
}

/// A loader's database failure as an internal error (its text never reaches the client).
pub fn loader_error(err: Arc<sea_orm::DbErr>) -> crate::error::ApiError {
    crate::error::ApiError::Internal(anyhow::Error::new(err))
}
