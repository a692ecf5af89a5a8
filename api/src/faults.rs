//! Test-only fault hooks (`POST /__faults/…`, mounted when FAULT_INJECTION is on; refused in
//! production): points where a test makes the server stop or pause as if the process died or
//! stalled there.
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use crate::state::AppState;

pub fn routes<S>(state: AppState) -> Router<S> {
    Router::new()
        .route("/__faults/panic", post(fault_panic))
        .route("/__faults/stop-after-commit", post(fault_stop_after_commit))
        .route("/__faults/stop-after-intent", post(fault_stop_after_intent))
        .route(
            "/__faults/hold-before-commit",
            post(fault_hold_before_commit),
        )
        .route("/__faults/hold-after-commit", post(fault_hold_after_commit))
        .route("/__faults/pause-sequencer", post(fault_pause_sequencer))
        .with_state(state)
}

/// Points where a test can make the server stop as if the process died there, or pause.
#[derive(Default, Debug)]
pub struct Faults {
    stop_after_commit: std::sync::atomic::AtomicBool,
    stop_after_intent: std::sync::atomic::AtomicBool,
    /// In the next order transition, after its event is written and before it commits: a
    /// concurrent transition then has every chance to commit first.
    pub hold_before_commit: Hold,
    /// In the next order transition, right after it commits and before it hands its notices
    /// to the bus.
    pub hold_after_commit: Hold,
    /// Milliseconds since the UNIX epoch until which the background sequencer runs no round.
    sequencer_paused_until_ms: std::sync::atomic::AtomicU64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Faults {
    /// Arms a one-shot stop right after `placeOrder` commits, before the authorization.
    pub fn arm_stop_after_commit(&self) {
        self.stop_after_commit
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// True once after arming: the caller stops there.
    pub fn stop_after_commit(&self) -> bool {
        self.stop_after_commit
            .swap(false, std::sync::atomic::Ordering::SeqCst)
    }

    /// Arms a one-shot stop right after a STRIPE order's intent is stored, before the order
    /// follows it.
    pub fn arm_stop_after_intent(&self) {
        self.stop_after_intent
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// True once after arming: the caller stops there.
    pub fn stop_after_intent(&self) -> bool {
        self.stop_after_intent
            .swap(false, std::sync::atomic::Ordering::SeqCst)
    }

    /// Pauses the replica's background sequencer for `ms` (PostgreSQL): events committed
    /// meanwhile stay pending unless a request numbers them itself.
    pub fn pause_sequencer(&self, ms: u64) {
        self.sequencer_paused_until_ms.store(
            now_ms().saturating_add(ms),
            std::sync::atomic::Ordering::SeqCst,
        );
    }

    /// How long the background sequencer is still paused.
    pub fn sequencer_pause(&self) -> std::time::Duration {
        let until = self
            .sequencer_paused_until_ms
            .load(std::sync::atomic::Ordering::SeqCst);
        std::time::Duration::from_millis(until.saturating_sub(now_ms()))
    }
}

/// A one-shot pause: armed with a length, taken once by the next caller.
#[derive(Default, Debug)]
pub struct Hold(std::sync::atomic::AtomicU64);

impl Hold {
    pub fn arm(&self, ms: u64) {
        self.0.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// Pauses once after arming.
    pub async fn take(&self) {
        let ms = self.0.swap(0, std::sync::atomic::Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }
}

/// Test-only: a handler that panics, to prove what a client gets from one.
#[allow(clippy::panic)]
async fn fault_panic() -> Response {
    panic!("fault injection: a handler panicked on purpose")
}

/// Test-only: the next `placeOrder` stops right after its commit, as if the process died.
async fn fault_stop_after_commit(State(state): State<AppState>) -> Response {
    state.faults.arm_stop_after_commit();
    StatusCode::NO_CONTENT.into_response()
}

/// Test-only: the next STRIPE order stops right after its intent is stored, before it follows
/// the intent, as if the process died there.
async fn fault_stop_after_intent(State(state): State<AppState>) -> Response {
    state.faults.arm_stop_after_intent();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(serde::Deserialize)]
struct HoldFor {
    ms: u64,
}

impl HoldFor {
    /// The length asked for, at most 10 s.
    fn bounded(&self) -> u64 {
        self.ms.min(10_000)
    }
}

/// Test-only: the next order transition pauses `ms` (at most 10 s) between writing its event
/// and committing.
async fn fault_hold_before_commit(
    State(state): State<AppState>,
    Query(hold): Query<HoldFor>,
) -> Response {
    arm(&state.faults.hold_before_commit, hold)
}

fn arm(hold: &Hold, length: HoldFor) -> Response {
    hold.arm(length.bounded());
    StatusCode::NO_CONTENT.into_response()
}

/// Test-only: the background sequencer runs no round for `ms` (at most 10 s).
async fn fault_pause_sequencer(
    State(state): State<AppState>,
    Query(hold): Query<HoldFor>,
) -> Response {
    state.faults.pause_sequencer(hold.bounded());
    StatusCode::NO_CONTENT.into_response()
}

/// Test-only: the next order transition pauses `ms` (at most 10 s) between its commit and
/// handing its notices to the bus.
async fn fault_hold_after_commit(
    State(state): State<AppState>,
    Query(hold): Query<HoldFor>,
) -> Response {
    arm(&state.faults.hold_after_commit, hold)
}
