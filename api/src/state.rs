//! What every request shares: settings, the database, token keys and the clock.
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::JwtKeys;
use crate::config::Settings;
use crate::db::Db;

/// Time as the services see it; tests and jobs inject their own.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub jwt: JwtKeys,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    pub fn new(settings: Settings, db: Db) -> Self {
        let jwt = JwtKeys::new(&settings.jwt_secret, settings.access_token_ttl);
        Self {
            settings: Arc::new(settings),
            db,
            jwt,
            clock: Arc::new(SystemClock),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
