//! Prometheus metrics (`/metrics`) through the `metrics` facade: GraphQL operations by
//! operation and outcome with latency histograms, errors by code, the database pool, live
//! websockets and subscriptions, timer runs and their lag, and Stripe webhook events by type
//! and result. One recorder per process (tests run many apps in one process and share it).
use std::sync::OnceLock;
use std::time::Instant;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Latency buckets, in seconds, for every `*_seconds` histogram.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process's recorder once; later calls return the same handle.
pub fn install() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            STARTED.get_or_init(Instant::now);
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    describe_counter!(
        "graphql_operations_total",
        "GraphQL operations by operation (type:first root field) and outcome (ok or error)"
    );
    describe_histogram!(
        "graphql_operation_duration_seconds",
        Unit::Seconds,
        "Time to answer a GraphQL operation, by operation"
    );
    describe_counter!("graphql_errors_total", "GraphQL errors by extensions.code");
    describe_gauge!(
        "db_pool_connections",
        "Database pool connections by pool (writer/reader) and state (idle/in_use)"
    );
    describe_gauge!("websocket_connections", "Open websocket connections");
    describe_gauge!(
        "subscriptions_active",
        "Subscriptions (websocket operations) running"
    );
    describe_gauge!(
        "event_bus_subscribers",
        "Streams registered on this replica's event bus (subscriptions past their start)"
    );
    describe_counter!("timer_runs_total", "Runs of the order timers, by result");
    describe_counter!(
        "timer_actions_total",
        "What the order timers did, by action"
    );
    describe_histogram!(
        "timer_run_duration_seconds",
        Unit::Seconds,
        "Time one run of the order timers took"
    );
    describe_gauge!(
        "timer_lag_seconds",
        Unit::Seconds,
        "Seconds since the order timers last completed a run (since start when they have not)"
    );
    describe_counter!(
        "stripe_webhook_events_total",
        "Signed Stripe webhook events by type and result"
    );
}

/// The text a Prometheus scrape reads; gauges read at scrape time are set first.
pub fn render(state: &AppState) -> Option<String> {
    let handle = install()?;
    for (pool, conn) in [("writer", &state.db.writer), ("reader", &state.db.reader)] {
        if let Some((size, idle)) = crate::db::pool_use(conn) {
            gauge!("db_pool_connections", "pool" => pool, "state" => "idle").set(idle as f64);
            gauge!("db_pool_connections", "pool" => pool, "state" => "in_use")
                .set(size.saturating_sub(u32::try_from(idle).unwrap_or(u32::MAX)) as f64);
        }
    }
    let since = LAST_TIMER_RUN
        .get()
        .and_then(|m| m.lock().ok().map(|t| *t))
        .flatten()
        .or_else(|| STARTED.get().copied())
        .map(|t| t.elapsed().as_secs_f64())
        .unwrap_or(0.0);
    gauge!("timer_lag_seconds").set(since);
    gauge!("event_bus_subscribers").set(state.events.stats().subscribers as f64);
    handle.run_upkeep();
    Some(handle.render())
}

static LAST_TIMER_RUN: OnceLock<std::sync::Mutex<Option<Instant>>> = OnceLock::new();

/// Records one run of the order timers.
pub fn timer_run(started: Instant, result: &crate::error::ApiResult<crate::jobs::Report>) {
    metrics::histogram!("timer_run_duration_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Ok(report) => {
            counter!("timer_runs_total", "result" => "ok").increment(1);
            for (action, n) in [
                ("expired_unpaid", report.expired_unpaid),
                ("released_unclaimed", report.released_unclaimed),
                ("auto_completed", report.auto_completed),
                ("marked_late", report.marked_late),
                ("ledger_retried", report.ledger_retried),
                ("holds_released", report.holds_released),
                ("authorizations_resumed", report.authorizations_resumed),
                ("uploads_swept", report.uploads_swept),
            ] {
                counter!("timer_actions_total", "action" => action).increment(n as u64);
            }
            if let Ok(mut last) = LAST_TIMER_RUN
                .get_or_init(|| std::sync::Mutex::new(None))
                .lock()
            {
                *last = Some(Instant::now());
            }
        }
        Err(_) => counter!("timer_runs_total", "result" => "error").increment(1),
    }
}

/// A signed Stripe event and what became of it (applied, duplicate, ignored, failed).
pub fn webhook_event(event_type: &str, result: &'static str) {
    counter!("stripe_webhook_events_total", "type" => event_type.to_owned(), "result" => result)
        .increment(1);
}

/// A GraphQL operation answered.
pub fn operation(label: &str, started: Instant, error_codes: &[String]) {
    let outcome = if error_codes.is_empty() {
        "ok"
    } else {
        "error"
    };
    counter!("graphql_operations_total", "operation" => label.to_owned(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("graphql_operation_duration_seconds", "operation" => label.to_owned())
        .record(started.elapsed().as_secs_f64());
    for code in error_codes {
        counter!("graphql_errors_total", "code" => code.clone()).increment(1);
    }
}

/// Counts something live (a websocket, a subscription) while the guard lives.
pub struct Live(&'static str);

impl Live {
    pub fn new(name: &'static str) -> Live {
        gauge!(name).increment(1.0);
        Live(name)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        gauge!(self.0).decrement(1.0);
    }
}
