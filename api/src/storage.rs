//! Files through object_store: a local directory by default (uploads and downloads through the
//! server's own HMAC-signed `/files/…` URLs), or S3/MinIO (`STORAGE_URL=s3://bucket`) with
//! presigned URLs from the store's `Signer`. Either way the client talks to the storage
//! directly with a short-lived URL, and the API checks what arrived (HEAD) before using it.
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::Method;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::config::Settings;

type HmacSha256 = Hmac<Sha256>;

/// The largest object the local `/files/` endpoint accepts (the largest purpose's limit).
pub const MAX_OBJECT_BYTES: u64 = 50 * 1024 * 1024;

pub struct Storage {
    store: Arc<dyn ObjectStore>,
    signing: Signing,
}

enum Signing {
    /// URLs to this server's `/files/` routes, signed with a key derived from the JWT secret.
    Local { key: Vec<u8> },
    S3 {
        store: Arc<AmazonS3>,
        /// for presigned PUTs that sign Content-Type as well as the host
        bucket: rusty_s3::Bucket,
    },
}

impl Storage {
    /// The origin browsers upload to and download from when it is not this server's own
    /// (S3): a page's Content-Security-Policy must let it connect there.
    pub fn foreign_origin(&self) -> Option<String> {
        match &self.signing {
            Signing::Local { .. } => None,
            Signing::S3 { bucket, .. } => {
                Some(bucket.object_url("x").origin().ascii_serialization())
            }
        }
    }

    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let url = settings.storage_url.trim();
        if let Some(bucket) = url.strip_prefix("s3://") {
            let bucket = bucket.trim_end_matches('/');
            anyhow::ensure!(!bucket.is_empty(), "STORAGE_URL s3:// needs a bucket name");
            let s3 = &settings.s3;
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(s3.region.clone());
            if let Some(endpoint) = s3.endpoint.as_deref().filter(|e| !e.is_empty()) {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(id) = &s3.access_key_id {
                builder = builder.with_access_key_id(id.expose_secret());
            }
            if let Some(secret) = &s3.secret_access_key {
                builder = builder.with_secret_access_key(secret.expose_secret());
            }
            let endpoint = s3
                .endpoint
                .as_deref()
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", s3.region));
            let presigner = rusty_s3::Bucket::new(
                endpoint.parse().context("S3_ENDPOINT is not a URL")?,
                rusty_s3::UrlStyle::Path,
                bucket.to_owned(),
                s3.region.clone(),
            )
            .context("configuring S3 presigned URLs")?;
            let s3 = Arc::new(builder.build().context("configuring S3 storage")?);
            return Ok(Self {
                store: s3.clone(),
                signing: Signing::S3 {
                    store: s3,
                    bucket: presigner,
                },
            });
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("opening local storage at {dir}"))?;
        let mut mac = HmacSha256::new_from_slice(settings.jwt_secret.expose_secret().as_bytes())
            .context("file signing key")?;
        mac.update(b"marketplace file URLs v1");
        Ok(Self {
            store: Arc::new(store),
            signing: Signing::Local {
                key: mac.finalize().into_bytes().to_vec(),
            },
        })
    }

    /// A URL that lets its holder `method` the object at `key` until `expires_at`.
    pub async fn signed_url(
        &self,
        method: Method,
        key: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        base_url: &str,
    ) -> anyhow::Result<String> {
        match &self.signing {
            Signing::Local { .. } => {
                let expires = expires_at.timestamp();
                let signature = self.local_signature(&method, key, expires);
                Ok(format!(
                    "{base_url}/files/{key}?expires={expires}&signature={signature}"
                ))
            }
            Signing::S3 { store, .. } => {
                let ttl = (expires_at - now)
                    .to_std()
                    .context("an expiry in the past")?;
                let url = store
                    .signed_url(method, &Path::from(key), ttl)
                    .await
                    .context("presigning an S3 URL")?;
                Ok(url.to_string())
            }
        }
    }

    /// A URL that lets its holder PUT the object at `key` until `expires_at`, with exactly
    /// this Content-Type. S3 checks the type itself: it is one of the signed headers. The local
    /// `/files/` route checks it against the upload's record.
    pub async fn signed_put(
        &self,
        key: &str,
        content_type: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        base_url: &str,
    ) -> anyhow::Result<String> {
        let Signing::S3 { store, bucket } = &self.signing else {
            return self
                .signed_url(Method::PUT, key, now, expires_at, base_url)
                .await;
        };
        use rusty_s3::S3Action as _;
        let ttl = (expires_at - now)
            .to_std()
            .context("an expiry in the past")?;
        let credential = store
            .credentials()
            .get_credential()
            .await
            .context("S3 credentials")?;
        let credentials = match &credential.token {
            Some(token) => rusty_s3::Credentials::new_with_token(
                credential.key_id.clone(),
                credential.secret_key.clone(),
                token.clone(),
            ),
            None => {
                rusty_s3::Credentials::new(credential.key_id.clone(), credential.secret_key.clone())
            }
        };
        let mut action = bucket.put_object(Some(&credentials), key);
        action
            .headers_mut()
            .insert("content-type", content_type.to_owned());
        let signed_at =
            jiff::Timestamp::from_second(now.timestamp()).context("signing time out of range")?;
        Ok(action.sign_with_time(ttl, &signed_at).to_string())
    }

    /// Copies the object at `from` to `to` (a key no URL writes to), replacing what is there.
    pub async fn copy(&self, from: &str, to: &str) -> anyhow::Result<()> {
        self.store
            .copy(&Path::from(from), &Path::from(to))
            .await
            .with_context(|| format!("copying {from} to {to}"))
    }

    /// Removes the object at `key`; nothing there is fine.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(anyhow::Error::new(err).context(format!("deleting {key}"))),
        }
    }

    fn local_mac(&self, method: &Method, key: &str, expires: i64) -> Option<HmacSha256> {
        let Signing::Local { key: secret } = &self.signing else {
            return None;
        };
        let mut mac = HmacSha256::new_from_slice(secret).ok()?;
        mac.update(format!("{method}\n{key}\n{expires}").as_bytes());
        Some(mac)
    }

    fn local_signature(&self, method: &Method, key: &str, expires: i64) -> String {
        self.local_mac(method, key, expires)
            .map(|mac| hex::encode(mac.finalize().into_bytes()))
            .unwrap_or_default()
    }

    /// Whether a local `/files/` URL is genuine (compared in constant time) and unexpired.
    pub fn verify_local(
        &self,
        method: &Method,
        key: &str,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> bool {
        if now.timestamp() > expires {
            return false;
        }
        let (Some(mac), Ok(signature)) =
            (self.local_mac(method, key, expires), hex::decode(signature))
        else {
            return false;
        };
        mac.verify_slice(&signature).is_ok()
    }

    /// The stored size of the object at `key`, or None when nothing is there.
    pub async fn size(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match self.store.head(&Path::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(anyhow::Error::new(err).context(format!("checking {key}"))),
        }
    }

    pub async fn put(&self, key: &str, body: bytes::Bytes) -> anyhow::Result<()> {
        self.store
            .put(&Path::from(key), PutPayload::from(body))
            .await
            .with_context(|| format!("storing {key}"))?;
        Ok(())
    }

    /// Stores a body as it streams in, never holding more than a part (5 MiB) of it: more than
    /// `max_bytes` aborts the upload and stores nothing. `Ok(false)` when it was too large.
    pub async fn put_stream(
        &self,
        key: &str,
        body: axum::body::Body,
        max_bytes: u64,
    ) -> anyhow::Result<bool> {
        use futures_util::StreamExt;
        let upload = self
            .store
            .put_multipart(&Path::from(key))
            .await
            .with_context(|| format!("starting the upload of {key}"))?;
        let mut writer = object_store::WriteMultipart::new(upload);
        let mut stream = body.into_data_stream();
        let mut received: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(err) => {
                    let _ = writer.abort().await;
                    return Err(anyhow::anyhow!("reading the upload of {key}: {err}"));
                }
            };
            received += chunk.len() as u64;
            if received > max_bytes {
                let _ = writer.abort().await;
                return Ok(false);
            }
            writer
                .wait_for_capacity(2)
                .await
                .with_context(|| format!("uploading {key}"))?;
            writer.write(&chunk);
        }
        writer
            .finish()
            .await
            .with_context(|| format!("finishing the upload of {key}"))?;
        Ok(true)
    }

    /// The object's bytes as a stream, or None when nothing is there.
    pub async fn get(
        &self,
        key: &str,
    ) -> anyhow::Result<
        Option<futures_util::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>>,
    > {
        match self.store.get(&Path::from(key)).await {
            Ok(found) => Ok(Some(found.into_stream())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(anyhow::Error::new(err).context(format!("reading {key}"))),
        }
    }
}
