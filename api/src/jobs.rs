//! Runs the order timers (`services::orders::timers`) on an interval; the rules and queries
//! live in the services.
use std::time::Duration;

pub use crate::services::orders::timers::Report;
use crate::state::AppState;

/// One run of the order timers, counted in the metrics.
pub async fn run_once(state: &AppState) -> crate::error::ApiResult<Report> {
    let started = std::time::Instant::now();
    let result = crate::services::orders::timers::run_once(state).await;
    crate::observability::timer_run(started, &result);
    result
}

/// Runs the timers every `interval` until the process ends, logging what each run did.
pub fn spawn(state: AppState, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            match run_once(&state).await {
                Ok(report) if report != Report::default() => tracing::info!(?report, "timers ran"),
                Ok(_) => tracing::debug!("timers ran; nothing due"),
                Err(err) => tracing::error!(error = ?err, "timers failed; next run retries"),
            }
        }
    });
}
