//! [`Storage`]: where artifact bytes live. A folder on this machine (the default, beside the
//! results store) or an S3-compatible bucket through `object_store`.
//!
//! Writes are all or nothing: a folder write goes to a temporary file that is fsync'd and then
//! renamed into place; an S3 write is one PUT or a multipart upload that is aborted on failure.
//! A failure names the storage and the reason (a full disk, an unreachable endpoint), never a
//! credential.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use tokio::io::AsyncWriteExt;

use crate::key::ArtifactKey;
use crate::settings::{S3Settings, StorageSettings};

/// Bytes gathered before one write to a file: fewer, larger writes on the blocking pool.
const FILE_WRITE_CHUNK: usize = 1 << 20;
/// Part size of S3 multipart uploads (S3's minimum is 5 MiB); smaller artifacts are one PUT.
const S3_PART_SIZE: usize = 8 << 20;

/// Why storage did not keep or hand back an artifact.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The disk (or the quota) is full.
    #[error(
        "artifact storage {storage} is full (no space left on device) while writing `{name}`; free some space or configure another storage"
    )]
    Full { storage: String, name: String },
    /// The artifact is larger than the receiver accepts.
    #[error("`{name}` is larger than the {limit}-byte limit of one artifact")]
    TooLarge { name: String, limit: u64 },
    /// The upload broke off (the client went away, or sent a broken body).
    #[error("the upload of `{name}` broke off: {reason}")]
    Body { name: String, reason: String },
    /// No such artifact in storage.
    #[error("artifact storage {storage} has no `{key}`")]
    NotFound { storage: String, key: String },
    /// S3 could not be reached or refused.
    #[error("artifact storage {storage}: {reason}")]
    Remote { storage: String, reason: String },
    /// Another I/O failure of the folder.
    #[error("artifact storage {storage}: {action} {path}: {source}")]
    Io {
        storage: String,
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A stream of an artifact's bytes.
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// Where artifact bytes live.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Backend>,
    description: String,
}

/// Only the description: the S3 client's own `Debug` would show its credentials.
impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Storage").field(&self.description).finish()
    }
}

enum Backend {
    Folder {
        root: PathBuf,
    },
    S3 {
        store: Arc<dyn ObjectStore>,
        prefix: String,
    },
}

impl Storage {
    /// Opens the storage `settings` describe. A folder is created if missing; S3 is not
    /// contacted until the first upload.
    pub fn open(settings: &StorageSettings) -> Result<Storage, StorageError> {
        let description = settings.describe();
        let inner = match settings {
            StorageSettings::Folder { root } => {
                std::fs::create_dir_all(root).map_err(|source| StorageError::Io {
                    storage: description.clone(),
                    action: "cannot create",
                    path: root.clone(),
                    source,
                })?;
                Backend::Folder { root: root.clone() }
            }
            StorageSettings::S3(s3) => {
                // reqwest's TLS takes the process's default provider (see Cargo.toml). Already
                // installed (by us, or by whoever came first) is fine: it is ring too.
                if rustls::crypto::ring::default_provider()
                    .install_default()
                    .is_err()
                {
                    tracing::debug!("a rustls crypto provider was installed already");
                }
                Backend::S3 {
                    store: Arc::new(s3_client(s3).map_err(|e| StorageError::Remote {
                        storage: description.clone(),
                        reason: e,
                    })?),
                    prefix: s3.prefix.clone(),
                }
            }
        };
        Ok(Storage {
            inner: Arc::new(inner),
            description,
        })
    }

    /// Where, for messages: `folder /var/lib/…/artifacts` or `s3://bucket/prefix at URL`.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// The folder of folder storage (which no step may see); `None` for S3.
    pub fn folder(&self) -> Option<&Path> {
        match &*self.inner {
            Backend::Folder { root } => Some(root),
            Backend::S3 { .. } => None,
        }
    }

    /// The file holding `storage_key`, for folder storage; `None` for S3.
    pub fn local_path(&self, storage_key: &str) -> Option<PathBuf> {
        match &*self.inner {
            Backend::Folder { root } => Some(root.join(storage_key)),
            Backend::S3 { .. } => None,
        }
    }

    /// Stores `body` as `key`, at most `limit` bytes, replacing an earlier artifact of the same
    /// key only once the new one is complete. Returns the storage key and the size.
    pub async fn put<S>(
        &self,
        key: &ArtifactKey,
        body: &mut S,
        limit: u64,
    ) -> Result<(String, u64), StorageError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let storage_key = key.to_string();
        let size = match &*self.inner {
            Backend::Folder { root } => self.put_file(root, &storage_key, key, body, limit).await?,
            Backend::S3 { store, prefix } => {
                self.put_object(store, &object_path(prefix, &storage_key), key, body, limit)
                    .await?
            }
        };
        Ok((storage_key, size))
    }

    async fn put_file<S>(
        &self,
        root: &Path,
        storage_key: &str,
        key: &ArtifactKey,
        body: &mut S,
        limit: u64,
    ) -> Result<u64, StorageError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let target = root.join(storage_key);
        let incoming = root.join(".incoming");
        let io = |action: &'static str, path: &Path| {
            let storage = self.description.clone();
            let path = path.to_owned();
            let name = key.name().to_owned();
            move |source: std::io::Error| {
                if is_full(&source) {
                    StorageError::Full { storage, name }
                } else {
                    StorageError::Io {
                        storage,
                        action,
                        path,
                        source,
                    }
                }
            }
        };
        tokio::fs::create_dir_all(&incoming)
            .await
            .map_err(io("cannot create", &incoming))?;
        let temp = incoming.join(temp_name());
        // Removes the partial file whatever happens before the rename.
        let guard = TempFile(Some(temp.clone()));
        let mut file = tokio::fs::File::create(&temp)
            .await
            .map_err(io("cannot create", &temp))?;
        let mut size = 0u64;
        let mut buffer = Vec::with_capacity(FILE_WRITE_CHUNK);
        while let Some(chunk) = body.next().await {
            let chunk = counted(chunk, key, &mut size, limit)?;
            buffer.extend_from_slice(&chunk);
            if buffer.len() >= FILE_WRITE_CHUNK {
                file.write_all(&buffer)
                    .await
                    .map_err(io("cannot write", &temp))?;
                buffer.clear();
            }
        }
        file.write_all(&buffer)
            .await
            .map_err(io("cannot write", &temp))?;
        file.flush().await.map_err(io("cannot write", &temp))?;
        // On disk before it has its name: a crash leaves the old artifact or the new one.
        file.sync_all().await.map_err(io("cannot sync", &temp))?;
        drop(file);
        let dir = target.parent().unwrap_or(root);
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(io("cannot create", dir))?;
        tokio::fs::rename(&temp, &target)
            .await
            .map_err(io("cannot move into place", &target))?;
        guard.disarm();
        let dir = dir.to_owned();
        let sync_dir = tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        sync_dir.map_err(io("cannot sync the folder of", &target))?;
        Ok(size)
    }

    async fn put_object<S>(
        &self,
        store: &Arc<dyn ObjectStore>,
        path: &ObjectPath,
        key: &ArtifactKey,
        body: &mut S,
        limit: u64,
    ) -> Result<u64, StorageError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let remote = |e: object_store::Error| StorageError::Remote {
            storage: self.description.clone(),
            reason: format!("cannot store `{}`: {}", key.name(), describe_remote(&e)),
        };
        let mut writer = BufWriter::with_capacity(Arc::clone(store), path.clone(), S3_PART_SIZE);
        let mut size = 0u64;
        // `abort` is for an upload that never reached `shutdown` (it panics after one).
        let mut shut_down = false;
        let result: Result<(), StorageError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = counted(chunk, key, &mut size, limit)?;
                writer.put(chunk).await.map_err(remote)?;
            }
            shut_down = true;
            writer.shutdown().await.map_err(|e| StorageError::Remote {
                storage: self.description.clone(),
                reason: format!("cannot store `{}`: {}", key.name(), with_causes(&e)),
            })
        }
        .await;
        if let Err(e) = result {
            if shut_down {
                return Err(e);
            }
            // A multipart upload left open costs money until the bucket's lifecycle rule
            // removes it; the error that matters is the first one.
            if let Err(abort) = writer.abort().await {
                tracing::warn!("aborting the upload of {path}: {abort}");
            }
            return Err(e);
        }
        Ok(size)
    }

    /// The bytes stored as `storage_key`.
    pub async fn get(&self, storage_key: &str) -> Result<(u64, ByteStream), StorageError> {
        match &*self.inner {
            Backend::Folder { root } => {
                let path = root.join(storage_key);
                let file = tokio::fs::File::open(&path).await.map_err(|source| {
                    if source.kind() == std::io::ErrorKind::NotFound {
                        StorageError::NotFound {
                            storage: self.description.clone(),
                            key: storage_key.to_owned(),
                        }
                    } else {
                        StorageError::Io {
                            storage: self.description.clone(),
                            action: "cannot open",
                            path: path.clone(),
                            source,
                        }
                    }
                })?;
                let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
                let storage = self.description.clone();
                let stream = tokio_stream_of(file).map_err(move |source| StorageError::Io {
                    storage: storage.clone(),
                    action: "cannot read",
                    path: path.clone(),
                    source,
                });
                Ok((size, stream.boxed()))
            }
            Backend::S3 { store, prefix } => {
                let path = object_path(prefix, storage_key);
                let got = store.get(&path).await.map_err(|e| match e {
                    object_store::Error::NotFound { .. } => StorageError::NotFound {
                        storage: self.description.clone(),
                        key: storage_key.to_owned(),
                    },
                    e => StorageError::Remote {
                        storage: self.description.clone(),
                        reason: format!("cannot read `{storage_key}`: {}", describe_remote(&e)),
                    },
                })?;
                let size = got.meta.size;
                let storage = self.description.clone();
                let stream = got.into_stream().map_err(move |e| StorageError::Remote {
                    storage: storage.clone(),
                    reason: describe_remote(&e),
                });
                Ok((size, stream.boxed()))
            }
        }
    }

    /// A blocking reader of `storage_key`, for code that parses an artifact on a blocking
    /// thread (the [`crate::ArtifactHook`]). Call it from `spawn_blocking`.
    pub fn blocking_reader(
        &self,
        storage_key: &str,
        runtime: tokio::runtime::Handle,
    ) -> Result<Box<dyn Read + Send>, StorageError> {
        if let Some(path) = self.local_path(storage_key) {
            let file = std::fs::File::open(&path).map_err(|source| StorageError::Io {
                storage: self.description.clone(),
                action: "cannot open",
                path,
                source,
            })?;
            return Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, file)));
        }
        let (_, stream) = runtime.block_on(self.get(storage_key))?;
        Ok(Box::new(BlockingStreamReader {
            runtime,
            stream,
            current: Bytes::new(),
        }))
    }
}

/// Reads a [`ByteStream`] from a blocking thread.
struct BlockingStreamReader {
    runtime: tokio::runtime::Handle,
    stream: ByteStream,
    current: Bytes,
}

impl Read for BlockingStreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.runtime.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// The file's bytes as a stream of 64 KiB chunks.
fn tokio_stream_of(
    file: tokio::fs::File,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    use tokio::io::AsyncReadExt;
    futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 1 << 16];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), file)))
    })
}

fn object_path(prefix: &str, storage_key: &str) -> ObjectPath {
    if prefix.is_empty() {
        ObjectPath::from(storage_key)
    } else {
        ObjectPath::from(format!("{prefix}/{storage_key}"))
    }
}

/// The client for `s3`: path-style requests (what MinIO and moto serve), a few quick retries
/// so an unreachable endpoint fails the upload within seconds rather than minutes.
fn s3_client(s3: &S3Settings) -> Result<object_store::aws::AmazonS3, String> {
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
        })
        .with_client_options(
            ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(5))
                .with_timeout(Duration::from_secs(300))
                .with_allow_http(
                    s3.endpoint
                        .as_deref()
                        .is_some_and(|e| e.starts_with("http://")),
                ),
        );
    if let Some(endpoint) = &s3.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false);
    }
    if let Some(c) = &s3.credentials {
        builder = builder
            .with_access_key_id(&c.access_key_id)
            .with_secret_access_key(&c.secret_access_key);
        if let Some(t) = &c.session_token {
            builder = builder.with_token(t);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

/// `object_store`'s message, with the cause chain (a refused connection is several levels
/// down). It carries URLs and S3's error codes, never the keys.
fn describe_remote(e: &object_store::Error) -> String {
    with_causes(e)
}

/// `e` and the causes below it that its message does not already say.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

fn is_full(e: &std::io::Error) -> bool {
    // ENOSPC and EDQUOT.
    e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(28 | 122))
}

fn temp_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}.part",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A temporary file removed on drop unless disarmed.
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Best effort: a partial file we could not remove is garbage in `.incoming`, not a
            // visible artifact.
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!("cannot remove the partial upload {}: {e}", path.display());
            }
        }
    }
}

/// One chunk of an upload's body, counted into `size`: the body's read error, or the size
/// limit, whichever storage receives it.
fn counted(
    chunk: Result<Bytes, std::io::Error>,
    key: &ArtifactKey,
    size: &mut u64,
    limit: u64,
) -> Result<Bytes, StorageError> {
    let chunk = chunk.map_err(|e| StorageError::Body {
        name: key.name().to_owned(),
        reason: e.to_string(),
    })?;
    *size += chunk.len() as u64;
    if *size > limit {
        return Err(StorageError::TooLarge {
            name: key.name().to_owned(),
            limit,
        });
    }
    Ok(chunk)
}
