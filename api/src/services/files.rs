//! Order files: presigned uploads for the parties of an order, the check of what arrived before
//! a key is attached to a delivery or an order, and short-lived download URLs.
use chrono::{DateTime, Utc};
use entity::orders;
use http::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveEnum as _, ColumnTrait, EntityTrait, QueryFilter};

use super::orders::{load, order_with_roles};
use super::Viewer;
use crate::domain::file::{self, FileRefusal, Purpose};
use crate::domain::order::OrderStatus;
use crate::error::{ApiError, ApiResult, Refusal, RefusalCode};
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

/// A presigned PUT for one new, uniquely keyed object.
pub async fn create_upload(
    state: &AppState,
    viewer: &Viewer,
    request: NewUpload<'_>,
) -> ApiResult<PresignedUpload> {
    let order = order_for_upload(state, viewer, request.order_id, request.purpose).await?;
    let declared = file::declare(
        request.purpose,
        request.file_name,
        request.content_type,
        request.byte_size,
    )
    .map_err(refused)?;
    let token = uuid::Uuid::new_v4().simple().to_string();
    let key = file::key(&order.id, request.purpose, &token, &declared.file_name);
    let now = state.now();
    let expires_at = now + file::upload_ttl();
    let url = state
        .storage
        .signed_url(Method::PUT, &key, now, expires_at, &state.public_base_url())
        .await?;
    Ok(PresignedUpload {
        key,
        url,
        method: "PUT",
        headers: vec![("Content-Type".to_owned(), declared.content_type.to_owned())],
        expires_at,
    })
}

/// What is stored under `key`, checked: the key was made for this order and purpose, the
/// object exists, and its size is within the purpose's limit.
pub async fn check_upload(
    state: &AppState,
    order: &orders::Model,
    purpose: Purpose,
    key: &str,
) -> ApiResult<StoredFile> {
    let Some(name) = file::file_name_in_key(key, &order.id, purpose) else {
        return Err(ApiError::refused(Refusal::invalid(
            "fileKey",
            "this key was not issued by createUpload for this order and purpose",
        )));
    };
    let content_type = file::served_type(name).unwrap_or("application/octet-stream");
    let size = state.storage.size(key).await?.ok_or_else(|| {
        ApiError::refused(Refusal::invalid(
            "fileKey",
            "nothing has been uploaded under this key",
        ))
    })?;
    if size == 0 {
        return Err(ApiError::refused(Refusal::invalid(
            "fileKey",
            "the uploaded file is empty",
        )));
    }
    if size > purpose.max_bytes() {
        return Err(ApiError::refused(Refusal::on_input(
            "fileKey",
            RefusalCode::LimitExceeded,
            format!(
                "the uploaded file is {size} bytes; at most {} are accepted",
                purpose.max_bytes()
            ),
        )));
    }
    Ok(StoredFile {
        key: key.to_owned(),
        file_name: name.to_owned(),
        content_type: content_type.to_owned(),
        byte_size: i64::try_from(size).unwrap_or(i64::MAX),
    })
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
        .exec(&state.db.writer)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::refused(Refusal::new(
            RefusalCode::Conflict,
            "the order changed meanwhile; read it again",
        )));
    }
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
