//! `disputeUpdated`: every change of every dispute, for admins, on the same resumable loop
//! as the other streams, positioned by the change's place in commit order (`change_seq`).
use entity::disputes;
use futures_util::Stream;
use sea_orm::EntityTrait;

use super::{follow, Source, StreamAuth, BACKLOG_PAGE};
use crate::error::{ApiError, ApiResult};
use crate::events::{Delivery, Notice, Topic};
use crate::services::{disputes as dispute_service, Viewer};
use crate::state::AppState;

/// A state of a dispute as `disputeUpdated` sends it, known by its change's position: two
/// notices that load the same state are sent once.
pub struct StreamedDispute {
    pub dispute: disputes::Model,
    key: String,
}

impl StreamedDispute {
    fn new(dispute: disputes::Model) -> StreamedDispute {
        let key = dispute.change_seq.to_string();
        StreamedDispute { dispute, key }
    }
}

struct DisputeSource;

impl Source for DisputeSource {
    type Row = StreamedDispute;
    type Cursor = i64;

    const REMEMBER_LIVE: bool = true;

    fn row_id(row: &Self::Row) -> &str {
        &row.key
    }

    fn cursor_of(row: &Self::Row) -> i64 {
        row.dispute.change_seq
    }

    fn announced(notice: &Notice) -> Option<&str> {
        match notice {
            Notice::Dispute { id, .. } => Some(id),
            _ => None,
        }
    }

    async fn after(
        &self,
        state: &AppState,
        viewer: &Viewer,
        cursor: &i64,
    ) -> ApiResult<Vec<Self::Row>> {
        if !viewer.is_admin() {
            return Err(ApiError::Forbidden("admins only".to_owned()));
        }
        Ok(
            dispute_service::changed_after(&state.db.reader, *cursor, BACKLOG_PAGE)
                .await?
                .into_iter()
                .map(StreamedDispute::new)
                .collect(),
        )
    }

    async fn live(
        &self,
        state: &AppState,
        viewer: &Viewer,
        delivery: &Delivery,
        id: &str,
    ) -> ApiResult<Option<Self::Row>> {
        let loaded = delivery
            .shared(|| async {
                Ok(disputes::Entity::find_by_id(id.to_owned())
                    .one(&state.db.reader)
                    .await?)
            })
            .await?;
        // Admins only, decided for every change: a demoted admin stops receiving.
        Ok(loaded
            .as_ref()
            .as_ref()
            .filter(|_| viewer.is_admin())
            .map(|d| StreamedDispute::new(d.clone())))
    }
}

/// Every change of every dispute, for admins, from now on; when the bus may have missed
/// notices, the disputes changed since the last one sent are read again.
pub async fn dispute_changes(
    state: AppState,
    auth: StreamAuth,
) -> ApiResult<impl Stream<Item = ApiResult<StreamedDispute>> + Send + 'static> {
    let viewer = auth.viewer(&state).await?;
    let user = viewer.admin()?.clone();
    let rx = state
        .events
        .subscribe(vec![Topic::Disputes, Topic::User(user.id.clone())]);
    // After subscribing: a change that commits in between is both live and after the mark.
    let cursor = dispute_service::latest_change(&state.db.reader).await?;
    Ok(follow(
        state,
        auth,
        viewer,
        rx,
        cursor,
        false,
        DisputeSource,
    ))
}
