//! Order files: presigned uploads for the parties of an order, the check of what arrived before
//! a key is attached to a delivery or an order, and short-lived download URLs.
use chrono::{DateTime, Utc};
use entity::{orders, uploads};
use http::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum as _, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};

use super::orders::{load, order_with_roles};
use super::Viewer;
use crate::domain::file::{self, FileRefusal, Purpose};
use crate::domain::order::OrderStatus;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
use crate::ids::{self, Kind};
use crate::state::AppState;

pub struct NewUpload<'a> {
    pub order_id: &'a str,
    pub purpose: Purpose,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub byte_size: i64,
}

/// Where and how the client uploads, valid until `expires_at`.
pub struct PresignedUpload {
    pub key: String,
    pub url: String,
    pub method: &'static str,
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// A stored file as an order or a delivery keeps it.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub key: String,
    pub file_name: String,
    pub content_type: String,
    pub byte_size: i64,
}

fn refused(refusal: FileRefusal) -> ApiError {
    match refusal {
        FileRefusal::Invalid(field, message) => ApiError::refused(Refusal::invalid(field, message)),
        FileRefusal::TooLarge(max) => ApiError::refused(Refusal::on_input(
            "byteSize",
            RefusalCode::LimitExceeded,
            format!("the file may be at most {max} bytes"),
        )),
    }
}

/// Statuses in which a purpose's file may be uploaded and attached.
fn open_for(purpose: Purpose, status: OrderStatus) -> bool {
    match purpose {
        Purpose::DeliveryReport => {
            matches!(status, OrderStatus::Claimed | OrderStatus::InProgress)
        }
        Purpose::OrderScript => matches!(
            status,
            OrderStatus::Placed
                | OrderStatus::PaymentHeld
                | OrderStatus::Claimed
                | OrderStatus::InProgress
        ),
    }
}

/// The order, if the viewer is the party who uploads files of this purpose and the order is
/// still open for them.
async fn order_for_upload(
    state: &AppState,
    viewer: &Viewer,
    order_id: &str,
    purpose: Purpose,
) -> ApiResult<orders::Model> {
    viewer.user()?;
    let (order, roles) = order_with_roles(state, viewer, order_id).await?;
    let (allowed, who) = match purpose {
        Purpose::DeliveryReport => (roles.provider, "the order's provider"),
        Purpose::OrderScript => (roles.buyer, "the order's buyer"),
    };
    if !allowed {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::NotAllowed,
            format!("only {who} uploads this file"),
        )));
    }
    let current = order.status;
    if !open_for(purpose, current) {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::InvalidState,
            format!(
                "cannot attach this file to an order that is {}",
                current.to_value()
            ),
        )));
    }
    Ok(order)
}

/// A presigned PUT for one new, uniquely keyed object, recorded so that it is used once and
/// must match what was declared (type signed into the URL, size at most the declared one).
pub async fn create_upload(
    state: &AppState,
    viewer: &Viewer,
    request: NewUpload<'_>,
) -> ApiResult<PresignedUpload> {
    let user = viewer.user()?;
    let order = order_for_upload(state, viewer, request.order_id, request.purpose).await?;
    let declared = file::declare(
        request.purpose,
        request.file_name,
        request.content_type,
        request.byte_size,
    )
    .map_err(refused)?;
    let id = ids::new_id(Kind::Upload);
    let key = file::key(&order.id, request.purpose, &id, &declared.file_name);
    let now = state.now();
    let expires_at = now + file::upload_ttl();
    uploads::ActiveModel {
        id: Set(id),
        order_id: Set(order.id.clone()),
        purpose: Set(request.purpose.segment().to_owned()),
        uploader_id: Set(user.id.clone()),
        object_key: Set(key.clone()),
        file_name: Set(declared.file_name.clone()),
        content_type: Set(declared.content_type.to_owned()),
        byte_size: Set(i64::try_from(declared.byte_size).unwrap_or(i64::MAX)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        attached_at: Set(None),
        final_key: Set(None),
    }
    .insert(&state.db.writer)
    .await?;
    let url = state
        .storage
        .signed_put(
            &key,
            declared.content_type,
            now,
            expires_at,
            &state.public_base_url(),
        )
        .await?;
    Ok(PresignedUpload {
        key,
        url,
        method: "PUT",
        headers: vec![("Content-Type".to_owned(), declared.content_type.to_owned())],
        expires_at,
    })
}

/// The upload recorded under `key`, if any.
pub async fn upload_at(state: &AppState, key: &str) -> ApiResult<Option<uploads::Model>> {
    Ok(uploads::Entity::find()
        .filter(uploads::Column::ObjectKey.eq(key))
        .one(&state.db.reader)
        .await?)
}

/// The content type recorded for an attached (frozen) object, if it was attached through an
/// upload record.
pub async fn attached_type(state: &AppState, final_key: &str) -> ApiResult<Option<String>> {
    Ok(uploads::Entity::find()
        .filter(uploads::Column::FinalKey.eq(final_key))
        .one(&state.db.reader)
        .await?
        .map(|u| u.content_type))
}

fn invalid_key(message: impl Into<String>) -> ApiError {
    ApiError::refused(Refusal::invalid("fileKey", message))
}

/// What was uploaded under `key`, checked and frozen: the key was issued by createUpload for
/// this order and purpose and has not been attached before; the object is copied to a key no
/// URL can write to, and that copy is checked (not empty, at most the declared size and the
/// purpose's limit). The upload is spent by `spend_upload` in the attaching transaction.
pub async fn check_upload(
    state: &AppState,
    order: &orders::Model,
    purpose: Purpose,
    key: &str,
) -> ApiResult<StoredFile> {
    let issued = file::file_name_in_key(key, &order.id, purpose).is_some();
    let upload = match upload_at(state, key).await? {
        Some(upload)
            if issued && upload.order_id == order.id && upload.purpose == purpose.segment() =>
        {
            upload
        }
        _ => {
            return Err(invalid_key(
                "this key was not issued by createUpload for this order and purpose",
            ))
        }
    };
    if upload.attached_at.is_some() {
        return Err(invalid_key(
            "this upload is already attached; its URL is spent: create a new upload",
        ));
    }
    if state.storage.size(key).await?.is_none() {
        return Err(invalid_key("nothing has been uploaded under this key"));
    }
    let frozen = file::frozen_key(&order.id, &upload.id, &upload.file_name);
    state.storage.copy(key, &frozen).await?;
    let size = state.storage.size(&frozen).await?.unwrap_or(0);
    let limit = purpose.max_bytes().min(upload.byte_size.max(0) as u64);
    let refusal = if size == 0 {
        Some(invalid_key("the uploaded file is empty"))
    } else if size > limit {
        Some(ApiError::refused(Refusal::on_input(
            "fileKey",
            RefusalCode::LimitExceeded,
            format!(
                "the uploaded file is {size} bytes; at most {limit} were declared and are accepted"
            ),
        )))
    } else {
        None
    };
    if let Some(refusal) = refusal {
        if let Err(err) = state.storage.delete(&frozen).await {
            tracing::warn!(error = ?err, key = frozen, "removing a refused copy failed");
        }
        return Err(refusal);
    }
    Ok(StoredFile {
        key: frozen,
        file_name: upload.file_name,
        content_type: upload.content_type,
        byte_size: i64::try_from(size).unwrap_or(i64::MAX),
    })
}

/// Spends the upload at `key` inside the transaction that attaches its frozen copy: a second
/// attach of the same upload (even a concurrent one) is refused.
pub async fn spend_upload<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    frozen_key: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let spent = uploads::Entity::update_many()
        .col_expr(uploads::Column::AttachedAt, Expr::value(now))
        .col_expr(uploads::Column::FinalKey, Expr::value(frozen_key))
        .filter(uploads::Column::ObjectKey.eq(key))
        .filter(uploads::Column::AttachedAt.is_null())
        .exec(conn)
        .await?;
    if spent.rows_affected != 1 {
        return Err(invalid_key(
            "this upload is already attached; its URL is spent: create a new upload",
        ));
    }
    Ok(())
}

/// Uploads never attached, a day after their URL expired: their objects and rows go (what a
/// client uploaded and abandoned would otherwise stay in storage for good). An object the
/// store fails to delete keeps its row, for the next run. How many went.
pub async fn sweep_unattached(state: &AppState, now: DateTime<Utc>) -> ApiResult<usize> {
    use sea_orm::{QueryOrder, QuerySelect};
    let stale = uploads::Entity::find()
        .filter(uploads::Column::AttachedAt.is_null())
        .filter(uploads::Column::ExpiresAt.lt(now - chrono::Duration::days(1)))
        .order_by_asc(uploads::Column::ExpiresAt)
        .limit(100)
        .all(&state.db.reader)
        .await?;
    let mut swept = 0;
    for upload in stale {
        if let Err(err) = state.storage.delete(&upload.object_key).await {
            tracing::warn!(error = ?err, key = upload.object_key, "removing an abandoned upload failed");
            continue;
        }
        // Only if still unattached: an attach that raced the sweep keeps its row.
        let gone = uploads::Entity::delete_many()
            .filter(uploads::Column::Id.eq(upload.id))
            .filter(uploads::Column::AttachedAt.is_null())
            .exec(&state.db.writer)
            .await?;
        swept += gone.rows_affected as usize;
    }
    Ok(swept)
}

/// After the attaching transaction committed: the writable original is no longer needed.
pub async fn discard_original(state: &AppState, key: &str) {
    if let Err(err) = state.storage.delete(key).await {
        tracing::warn!(error = ?err, key, "removing an attached upload's original failed");
    }
}

/// Attaches the buyer's uploaded script to the order (replacing an earlier one) while the
/// order has not been delivered.
pub async fn attach_order_script(
    state: &AppState,
    viewer: &Viewer,
    order_id: &str,
    key: &str,
) -> ApiResult<orders::Model> {
    let order = order_for_upload(state, viewer, order_id, Purpose::OrderScript).await?;
    let stored = check_upload(state, &order, Purpose::OrderScript, key).await?;
    let now = state.now();
    let txn = state.db.writer.begin().await?;
    spend_upload(&txn, key, &stored.key, now).await?;
    // Guarded by the status read: a delivery that raced ahead wins and this is refused.
    let updated = orders::Entity::update_many()
        .col_expr(orders::Column::ScriptFileKey, Expr::value(stored.key))
        .col_expr(
            orders::Column::ScriptFileName,
            Expr::value(stored.file_name),
        )
        .col_expr(
            orders::Column::ScriptContentType,
            Expr::value(stored.content_type),
        )
        .col_expr(
            orders::Column::ScriptByteSize,
            Expr::value(stored.byte_size),
        )
        .col_expr(orders::Column::UpdatedAt, Expr::value(now))
        .filter(orders::Column::Id.eq(order.id.clone()))
        .filter(orders::Column::Status.eq(order.status))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::Conflict,
            "the order changed meanwhile; read it again",
        )));
    }
    txn.commit().await?;
    discard_original(state, key).await;
    load(&state.db.reader, &order.id).await
}

/// A short-lived GET for a stored file.
pub async fn download_url(state: &AppState, key: &str) -> ApiResult<String> {
    let now = state.now();
    Ok(state
        .storage
        .signed_url(
            Method::GET,
            key,
            now,
            now + file::download_ttl(),
            &state.public_base_url(),
        )
        .await?)
}
