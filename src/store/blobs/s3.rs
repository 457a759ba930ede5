//! Blobs in an S3-compatible object store (Garage, MinIO, AWS S3), for
//! several nodes sharing one store (DESIGN §11). Keys are
//! `<prefix>/ab/<sha256>`; an object is written whole by one PUT (small
//! parts) or a multipart upload (large ones), so no reader ever sees part
//! of one, and a PUT acknowledged is durable: no sync to run before the
//! commit. Requests go through the hub's own reqwest (native TLS) and are
//! signed (SigV4) with openssl, so no second TLS or crypto stack.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::{CryptoProvider, DigestAlgorithm, DigestContext, HmacContext, Signer, SigningAlgorithm};
use object_store::path::Path as Key;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use super::BlobsConfig;

/// Parts of a multipart upload (S3 wants at least 5 MiB but for the last).
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// The memory the uploads of spilled parts of all requests share, apart
/// from the intake budget: what holds it is an upload under way, which
/// always ends, so no upload waits on bytes held by a request that is
/// itself waiting (as it could within the intake budget).
pub const UPLOAD_MEMORY: usize = 2 * PART_BYTES;

/// An S3 bucket (and prefix) holding blobs.
#[derive(Debug)]
pub struct ObjectBlobs {
    store: AmazonS3,
    prefix: String,
    /// Buffers of uploads read from files ([`UPLOAD_MEMORY`]).
    buffers: super::MemoryBudget,
    /// `s3://bucket/prefix at endpoint`, for messages.
    pub location: String,
}

impl ObjectBlobs {
    /// The store `config` names (`url = "s3://bucket/prefix"`); credentials
    /// and region from the configuration or else the usual `AWS_*`
    /// variables of the environment.
    pub fn connect(config: &BlobsConfig) -> anyhow::Result<ObjectBlobs> {
        let url = config.url.as_deref().unwrap_or_default();
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| anyhow::anyhow!("blobs.url must be s3://bucket/prefix, not {url:?}"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        anyhow::ensure!(!bucket.is_empty(), "blobs.url names no bucket: {url:?}");
        let prefix = prefix.trim_matches('/').to_owned();
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_crypto_provider(Arc::new(OpensslCrypto))
            .with_virtual_hosted_style_request(false)
            .with_retry(RetryConfig { max_retries: 4, retry_timeout: Duration::from_secs(20), ..Default::default() })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    // A download streams to a client at its pace: 100 MiB at
                    // 200 KB/s takes over eight minutes.
                    .with_timeout(Duration::from_secs(15 * 60)),
            );
        if let Some(e) = &config.endpoint {
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        }
        if let Some(r) = &config.region {
            b = b.with_region(r);
        }
        if let Some(k) = &config.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &config.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        let store = b.build()?;
        let endpoint = config.endpoint.clone().unwrap_or_else(|| "AWS".into());
        Ok(ObjectBlobs {
            store,
            prefix,
            buffers: super::MemoryBudget::new(UPLOAD_MEMORY),
            location: format!("{url} at {endpoint}"),
        })
    }

    fn key(&self, name: &str) -> Key {
        if self.prefix.is_empty() { Key::from(name) } else { Key::from(format!("{}/{name}", self.prefix)) }
    }

    /// The key of blob `sha`.
    pub fn blob_key(&self, sha: &str) -> Key {
        self.key(&format!("{}/{sha}", &sha[..2]))
    }

    /// The marker object that names this store (see `Blobs::identity`).
    pub fn marker(&self) -> Key {
        self.key(super::MARKER)
    }

    /// The object's size, or `None` when it does not exist.
    pub async fn size(&self, key: &Key) -> io::Result<Option<u64>> {
        match self.store.head(key).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    pub async fn put(&self, key: &Key, bytes: Vec<u8>) -> io::Result<()> {
        self.store.put(key, PutPayload::from(bytes)).await.map(|_| ()).map_err(io_error)
    }

    /// Uploads the file at `path` under `key`, `PART_BYTES` at a time, or
    /// in one PUT when it is smaller (each buffer within [`UPLOAD_MEMORY`]).
    pub async fn put_file(&self, key: &Key, path: &std::path::Path) -> io::Result<()> {
        let budget = &self.buffers;
        use tokio::io::AsyncReadExt;
        let mut file = tokio::fs::File::open(path).await?;
        let len = file.metadata().await?.len();
        if len <= PART_BYTES as u64 {
            let _permit = budget.take(len as usize).await;
            let mut bytes = Vec::with_capacity(len as usize);
            file.read_to_end(&mut bytes).await?;
            return self.put(key, bytes).await;
        }
        let mut upload = self.store.put_multipart(key).await.map_err(io_error)?;
        let sent = async {
            loop {
                let permit = budget.take(PART_BYTES).await;
                let mut part = Vec::with_capacity(PART_BYTES);
                (&mut file).take(PART_BYTES as u64).read_to_end(&mut part).await?;
                if part.is_empty() {
                    break;
                }
                upload.put_part(PutPayload::from(part)).await.map_err(io_error)?;
                drop(permit);
            }
            upload.complete().await.map_err(io_error)
        }
        .await;
        if let Err(e) = sent {
            if let Err(abort) = upload.abort().await {
                tracing::warn!(%abort, %key, "cannot abort a failed multipart upload");
            }
            return Err(e);
        }
        Ok(())
    }

    /// The object's bytes as a stream, and its size.
    pub async fn get(&self, key: &Key) -> io::Result<(super::BlobReader, u64)> {
        let got = self.store.get(key).await.map_err(io_error)?;
        let size = got.meta.size;
        let stream = got.into_stream().map_err(io_error);
        Ok((Box::pin(tokio_util::io::StreamReader::new(stream)), size))
    }

    /// Removes the object (absent already is no error).
    pub async fn delete(&self, key: &Key) -> io::Result<()> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    /// Whether any object but the marker is under the prefix (a restore
    /// goes into an empty store).
    pub async fn any_blob(&self) -> io::Result<bool> {
        let mut list = self.store.list(Some(&self.key("")));
        while let Some(meta) = list.try_next().await.map_err(io_error)? {
            if meta.location != self.marker() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// An object store error as an I/O error: not found kept as such, refused
/// credentials as [`io::ErrorKind::PermissionDenied`] (a configuration to
/// fix), and whatever else is left after the client's own retries (no
/// connection, a timeout, the store's 5xx) as [`io::ErrorKind::NotConnected`]:
/// the store is not answering, so the hub answers 503 and a client sends
/// again later.
fn io_error(e: object_store::Error) -> io::Error {
    use object_store::Error as E;
    let kind = match &e {
        E::NotFound { .. } => io::ErrorKind::NotFound,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => io::ErrorKind::PermissionDenied,
        E::Generic { .. } => io::ErrorKind::NotConnected,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.to_string())
}

/// SHA-256 and HMAC-SHA256 for SigV4, with openssl.
#[derive(Debug)]
struct OpensslCrypto;

impl CryptoProvider for OpensslCrypto {
    fn digest(&self, algorithm: DigestAlgorithm) -> object_store::Result<Box<dyn DigestContext>> {
        match algorithm {
            DigestAlgorithm::Sha256 => Ok(Box::new(Digest(Some(openssl::sha::Sha256::new()), [0; 32]))),
            _ => Err(unsupported("digest")),
        }
    }

    fn hmac(&self, algorithm: DigestAlgorithm, secret: &[u8]) -> object_store::Result<Box<dyn HmacContext>> {
        match algorithm {
            DigestAlgorithm::Sha256 => Ok(Box::new(Hmac::new(secret))),
            _ => Err(unsupported("hmac")),
        }
    }

    fn sign(&self, _: SigningAlgorithm, _: &[u8]) -> object_store::Result<Box<dyn Signer>> {
        // RS256 is for Google service accounts, never used for S3.
        Err(unsupported("RS256 signatures"))
    }
}

fn unsupported(what: &str) -> object_store::Error {
    object_store::Error::NotSupported { source: format!("{what} other than SHA-256 is not provided").into() }
}

struct Digest(Option<openssl::sha::Sha256>, [u8; 32]);

impl DigestContext for Digest {
    fn update(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.0 {
            h.update(data);
        }
    }

    fn finish(&mut self) -> object_store::Result<&[u8]> {
        if let Some(h) = self.0.take() {
            self.1 = h.finish();
        }
        Ok(&self.1)
    }
}

/// HMAC-SHA256 (RFC 2104) over openssl's SHA-256.
struct Hmac {
    inner: Option<openssl::sha::Sha256>,
    outer_key: [u8; 64],
    out: [u8; 32],
}

impl Hmac {
    fn new(secret: &[u8]) -> Hmac {
        let mut key = [0u8; 64];
        if secret.len() > 64 {
            key[..32].copy_from_slice(&openssl::sha::sha256(secret));
        } else {
            key[..secret.len()].copy_from_slice(secret);
        }
        let mut inner = openssl::sha::Sha256::new();
        inner.update(&key.map(|b| b ^ 0x36));
        Hmac { inner: Some(inner), outer_key: key.map(|b| b ^ 0x5c), out: [0; 32] }
    }
}

impl HmacContext for Hmac {
    fn update(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.inner {
            h.update(data);
        }
    }

    fn finish(&mut self) -> object_store::Result<&[u8]> {
        if let Some(h) = self.inner.take() {
            let mut outer = openssl::sha::Sha256::new();
            outer.update(&self.outer_key);
            outer.update(&h.finish());
            self.out = outer.finish();
        }
        Ok(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hmac(key: &[u8], data: &[u8]) -> String {
        let mut h = Hmac::new(key);
        h.update(data);
        hex::encode(h.finish().unwrap())
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // Test cases 1, 2 and 6 (a key longer than the block).
        assert_eq!(hmac(&[0x0b; 20], b"Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        assert_eq!(
            hmac(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hmac(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
