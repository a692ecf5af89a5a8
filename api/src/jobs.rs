//! Runs the order timers (`services::orders::timers`) on an interval; the rules and queries
//! live in the services.
use std::time::Duration;

pub use crate::services::orders::timers::{run_once, Report};
use crate::state::AppState;

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
