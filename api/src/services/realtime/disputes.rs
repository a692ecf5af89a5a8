//! `disputeUpdated`: every change of every dispute, for admins, on the same resumable loop
//! as the other streams, keyed by the change's time and the dispute's id.
use entity::disputes;
use futures_util::Stream;
use sea_orm::EntityTrait;

use super::{follow, Source, StreamAuth, BACKLOG_PAGE};
use crate::error::{ApiError, ApiResult};
use crate::events::{Delivery, Notice, Topic};
use crate::services::{disputes as dispute_service, Viewer};
use crate::state::AppState;

/// A state of a dispute as `disputeUpdated` sends it. Its key orders the changes: the time of
/// the change, then the dispute's id.
pub struct StreamedDispute {
    pub dispute: disputes::Model,
    key: String,
}

impl StreamedDispute {
    fn new(dispute: disputes::Model) -> StreamedDispute {
        let key = change_key(dispute.updated_at, &dispute.id);
        StreamedDispute { dispute, key }
    }
}

fn change_key(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!("{:020}:{id}", at.timestamp_micros().max(0))
}

struct DisputeSource;

impl Source for DisputeSource {
    type Row = StreamedDispute;
    type Cursor = String;

    const REMEMBER_LIVE: bool = true;

    fn row_id(row: &Self::Row) -> &str {
        &row.key
    }

    fn cursor_of(row: &Self::Row) -> String {
        row.key.clone()
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
        cursor: &String,
    ) -> ApiResult<Vec<Self::Row>> {
        if !viewer.is_admin() {
            return Err(ApiError::Forbidden("admins only".to_owned()));
        }
        let (micros, id) = cursor.split_once(':').unwrap_or((cursor, ""));
        let since = micros
            .parse::<i64>()
            .ok()
            .and_then(chrono::DateTime::from_timestamp_micros)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a bad dispute cursor")))?;
        Ok(
            dispute_service::changed_since(&state.db.reader, since, id, BACKLOG_PAGE)
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
    let cursor = change_key(state.now(), "");
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
