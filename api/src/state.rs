//! What every request shares: settings, the database, token keys and the clock.
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::JwtKeys;
use crate::config::Settings;
use crate::db::Db;
use crate::events::EventBus;
use crate::faults::Faults;
use crate::payments::PaymentGateway;
use crate::storage::Storage;
use crate::throttle::Buckets;

/// Time as the services see it; tests and jobs inject their own.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, plus an offset that only tests move (to reach deadlines without sleeping).
#[derive(Default)]
pub struct SystemClock {
    offset_secs: std::sync::atomic::AtomicI64,
}

impl SystemClock {
    /// Moves this clock forward; every reader of the application's clock sees it at once.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_secs
            .fetch_add(by.num_seconds(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = self.offset_secs.load(std::sync::atomic::Ordering::SeqCst);
        Utc::now() + chrono::Duration::seconds(offset)
    }
}

/// What every request shares, behind one pointer: a clone (every request, socket and
/// subscription holds one) is one reference count, not a copy of every handle and key.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub jwt: JwtKeys,
    pub clock: Arc<dyn Clock>,
    /// The same clock as `clock`, for tests that move time forward.
    pub system_clock: Arc<SystemClock>,
    pub gateway: Arc<dyn PaymentGateway>,
    pub storage: Arc<Storage>,
    /// Notices of committed changes, for subscriptions.
    pub events: EventBus,
    /// The threads that hash and check passwords.
    pub passwords: crate::auth::PasswordWorkers,
    /// Query-cost budgets, per user or (anonymous) per IP address.
    pub query_budgets: Arc<Buckets>,
    /// `login`/`register` attempts per IP address and per email address.
    pub auth_by_ip: Arc<Buckets>,
    pub auth_by_email: Arc<Buckets>,
    /// Test-only fault hooks (set through `/__faults/…` when FAULT_INJECTION is on).
    pub faults: Arc<Faults>,
    /// Automatic persisted queries and the optional allowlist.
    pub persisted: Arc<crate::persisted::PersistedQueries>,
    /// Subscriptions running their start at once: see [`Shared::STREAM_STARTS`].
    pub stream_starts: tokio::sync::Semaphore,
}

impl Shared {
    /// How many subscriptions run their start (authorization, `after`, the start mark) at once.
    /// Thousands of sockets subscribing in one burst would otherwise all hold a start's state
    /// and its queries' buffers while they wait for a database connection, and the allocator
    /// keeps that peak as resident memory (10,000 subscribers: about 50 MiB).
    pub const STREAM_STARTS: usize = 32;
}

impl AppState {
    pub fn new(
        settings: Settings,
        db: Db,
        gateway: Arc<dyn PaymentGateway>,
    ) -> anyhow::Result<Self> {
        let jwt = JwtKeys::new(&settings.jwt_secret, settings.access_token_ttl);
        let system_clock = Arc::new(SystemClock::default());
        let storage = Arc::new(Storage::from_settings(&settings)?);
        let events = EventBus::new(db.backend, settings.subscriber_buffer);
        // As many hashes at once as there are cores: more would only wait for CPU while
        // holding 19 MiB each.
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let passwords = crate::auth::PasswordWorkers::start(cores.min(8))?;
        let per_min = |n: u32| Arc::new(Buckets::new(i64::from(n), i64::from(n) * 1000 / 60));
        let query_budgets = Arc::new(Buckets::new(
            i64::from(settings.query_budget),
            i64::from(settings.query_budget_restore_per_sec) * 1000,
        ));
        let auth_by_ip = per_min(settings.auth_attempts_per_ip_per_min);
        let auth_by_email = per_min(settings.auth_attempts_per_email_per_min);
        let allowlist = match &settings.persisted_queries_allowlist {
            Some(path) => Some(crate::persisted::PersistedQueries::load_allowlist(path)?),
            None => None,
        };
        let persisted = Arc::new(crate::persisted::PersistedQueries::new(allowlist));
        Ok(Self(Arc::new(Shared {
            settings: Arc::new(settings),
            db,
            jwt,
            clock: system_clock.clone(),
            system_clock,
            gateway,
            storage,
            events,
            passwords,
            query_budgets,
            auth_by_ip,
            auth_by_email,
            faults: Arc::new(Faults::default()),
            persisted,
            stream_starts: tokio::sync::Semaphore::new(Shared::STREAM_STARTS),
        })))
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
