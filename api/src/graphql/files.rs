//! Files in GraphQL: presigned uploads, the buyer's script on an order, and attachments with
//! short-lived download URLs (reachable only through orders and deliveries, which only their
//! parties and admins can see).
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};

use super::errors::{into_payload, Payload, UserError};
use super::orders::{Order, OrderPayload};
use super::scalars::{BigInt, DateTime};
use super::ContextExt;
use crate::domain::file::Purpose;
use crate::services::files::{self as service, NewUpload, StoredFile};

/// A stored file of an order or a delivery.
pub struct FileAttachment(pub StoredFile);

impl FileAttachment {
    /// From the four columns an order or a delivery keeps; None unless all are set.
    pub fn from_columns(
        key: Option<&String>,
        name: Option<&String>,
        content_type: Option<&String>,
        byte_size: Option<i64>,
    ) -> Option<Self> {
        Some(FileAttachment(StoredFile {
            key: key?.clone(),
            file_name: name?.clone(),
            content_type: content_type?.clone(),
            byte_size: byte_size?,
        }))
    }
}

#[Object]
impl FileAttachment {
    async fn key(&self) -> &str {
        &self.0.key
    }
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    async fn byte_size(&self) -> BigInt {
        BigInt(self.0.byte_size)
    }
    /// short-lived signed URL; only for the order's buyer, provider and admins
    async fn download_url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(service::download_url(ctx.state()?, &self.0.key).await?)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "UploadPurpose")]
pub enum UploadPurposeGql {
    DeliveryReport,
    OrderScript,
}

impl From<UploadPurposeGql> for Purpose {
    fn from(value: UploadPurposeGql) -> Self {
        match value {
            UploadPurposeGql::DeliveryReport => Purpose::DeliveryReport,
            UploadPurposeGql::OrderScript => Purpose::OrderScript,
        }
    }
}

#[derive(InputObject)]
pub struct CreateUploadInput {
    pub order_id: ID,
    pub purpose: UploadPurposeGql,
    pub file_name: String,
    pub content_type: String,
    pub byte_size: BigInt,
}

#[derive(SimpleObject)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

#[derive(SimpleObject)]
pub struct PresignedUpload {
    pub key: String,
    pub url: String,
    pub method: String,
    pub headers: Vec<HttpHeader>,
    pub expires_at: DateTime,
}

#[derive(SimpleObject)]
pub struct CreateUploadPayload {
    pub upload: Option<PresignedUpload>,
    pub user_errors: Vec<UserError>,
}

impl Payload for CreateUploadPayload {
    fn refused(user_errors: Vec<UserError>) -> Self {
        CreateUploadPayload {
            upload: None,
            user_errors,
        }
    }
}

#[derive(InputObject)]
pub struct AttachOrderScriptInput {
    pub order_id: ID,
    pub file_key: String,
}

#[derive(Default)]
pub struct FilesMutation;

#[Object]
impl FilesMutation {
    /// A presigned PUT (15 minutes) for a DELIVERY_REPORT (the provider, while CLAIMED or
    /// IN_PROGRESS; ≤ 25 MiB) or an ORDER_SCRIPT (the buyer, before delivery; ≤ 50 MiB) of type
    /// pdf, docx, fdx, fountain, txt or md. Send the returned headers with the upload, then
    /// pass the key to deliverOrder or attachOrderScript.
    async fn create_upload(
        &self,
        ctx: &Context<'_>,
        input: CreateUploadInput,
    ) -> async_graphql::Result<CreateUploadPayload> {
        let result = service::create_upload(
            ctx.state()?,
            ctx.viewer(),
            NewUpload {
                order_id: &input.order_id,
                purpose: input.purpose.into(),
                file_name: &input.file_name,
                content_type: &input.content_type,
                byte_size: input.byte_size.0,
            },
        )
        .await;
        into_payload(result, |upload| CreateUploadPayload {
            upload: Some(PresignedUpload {
                key: upload.key,
                url: upload.url,
                method: upload.method.to_owned(),
                headers: upload
                    .headers
                    .into_iter()
                    .map(|(name, value)| HttpHeader { name, value })
                    .collect(),
                expires_at: upload.expires_at.into(),
            }),
            user_errors: Vec::new(),
        })
    }

    /// The buyer attaches an uploaded script (checked in storage) before delivery.
    async fn attach_order_script(
        &self,
        ctx: &Context<'_>,
        input: AttachOrderScriptInput,
    ) -> async_graphql::Result<OrderPayload> {
        let result = service::attach_order_script(
            ctx.state()?,
            ctx.viewer(),
            &input.order_id,
            &input.file_key,
        )
        .await;
        into_payload(result, |order| OrderPayload {
            order: Some(Order::from(order)),
            user_errors: Vec::new(),
        })
    }
}
