//! What every request shares: settings, the database, token keys and the clock.
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::JwtKeys;
use crate::config::Settings;
use crate::db::Db;
use crate::payments::PaymentGateway;

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
    pub gateway: Arc<dyn PaymentGateway>,
}

impl AppState {
    pub fn new(settings: Settings, db: Db, gateway: Arc<dyn PaymentGateway>) -> Self {
        let jwt = JwtKeys::new(&settings.jwt_secret, settings.access_token_ttl);
        Self {
            settings: Arc::new(settings),
            db,
            jwt,
            clock: Arc::new(SystemClock),
            gateway,
        }
    }

    /// Where links handed out by the server point: PUBLIC_BASE_URL, else the bind address.
    pub fn public_base_url(&self) -> String {
        match &self.settings.public_base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.settings.bind_addr),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
