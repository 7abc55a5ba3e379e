//! The image store: which image a reference names on this machine, pulling what is missing.
//!
//! ```text
//! <cache>/blobs/sha256/<hex>        verified blobs (layers), shared by every image
//! <cache>/roots/<config hex>/rootfs the flattened root filesystem of one image config
//! <cache>/roots/<config hex>/image.json  its runtime config, manifest and layer digests
//! <cache>/refs/<hash>.json          reference + platform -> digests (IfNotPresent, Never)
//! <cache>/locks/<config hex>.lock   flock: one process builds a root, the others wait
//! <cache>/tmp/                      blobs being downloaded, roots being built
//! ```
//!
//! A root is named by its config digest. That is sound because every layer's uncompressed
//! content is checked against the config's `rootfs.diff_ids` while unpacking: a config digest
//! then fixes the whole filesystem, whatever compression or manifest brought it.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};
use testwerk_registry::{
    BlobDescriptor, ImageConfig, ImageReference, LookupError, LookupRequest, PullPolicy,
    RegistryClient, ResolvedImage,
};

use crate::decompress::{decoder, layer_compression};
use crate::error::ImageError;
use crate::unpack::{Budget, Root, UnpackError, remove_tree};

/// Unpacked data an image may have by default: 8 GiB.
pub const DEFAULT_UNPACK_LIMIT: u64 = 8 << 30;

/// How a container starts in an image (its config's `Env`, `Entrypoint`, `Cmd`, `WorkingDir`,
/// `User`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfig {
    pub env: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
}

impl From<ImageConfig> for RuntimeConfig {
    fn from(c: ImageConfig) -> Self {
        Self {
            env: c.env,
            entrypoint: c.entrypoint,
            cmd: c.cmd,
            working_dir: c.working_dir,
            user: c.user.map(|u| u.0),
        }
    }
}

/// An image on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalImage {
    /// The normalised reference, e.g. `docker.io/library/alpine:3.20`.
    pub reference: String,
    /// What the reference named when it was resolved (an index or a manifest).
    pub digest: String,
    /// The platform's image manifest.
    pub manifest_digest: String,
    pub config_digest: String,
    /// The root filesystem: shared by every container of the image and by concurrent runs,
    /// so it must only ever be mounted read-only (an overlay's lower layer).
    pub root: PathBuf,
    pub config: RuntimeConfig,
    /// Compressed size of the layers.
    pub size: u64,
    /// Whether this call pulled anything (blobs or the root), or found it all here.
    pub pulled: bool,
}

/// What [`ImageStore::ensure`] is doing, for a progress display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullEvent {
    /// Asking the registry what the reference names.
    Resolving { reference: String },
    /// Downloading layer `index` (from 1) of `count`: `done` of `total` bytes.
    Layer {
        index: usize,
        count: usize,
        digest: String,
        done: u64,
        total: u64,
    },
    /// Layer `index` of `count` is already here.
    LayerCached {
        index: usize,
        count: usize,
        digest: String,
        size: u64,
    },
    /// Unpacking layer `index` of `count` into the root.
    Unpacking { index: usize, count: usize },
    /// The image is ready; `cached`: nothing had to be pulled.
    Done { reference: String, cached: bool },
}

/// The images of this machine, in one cache directory. Cheap to share between threads
/// (`&ImageStore`); processes sharing a directory coordinate through lock files.
pub struct ImageStore {
    dir: PathBuf,
    client: RegistryClient,
    unpack_limit: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefRecord {
    reference: String,
    platform: String,
    digest: String,
    manifest_digest: String,
    config_digest: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RootRecord {
    config_digest: String,
    manifest_digest: String,
    layers: Vec<String>,
    /// Compressed size of the layers.
    size: u64,
    config: RuntimeConfig,
}

/// Names temporary files and directories uniquely within this process.
static UNIQUE: AtomicU64 = AtomicU64::new(0);

impl ImageStore {
    /// `$XDG_CACHE_HOME/testwerk/images`, else `~/.cache/testwerk/images`.
    pub fn default_dir() -> Option<PathBuf> {
        std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|base| base.join("testwerk/images"))
    }

    /// Opens (creating) the store in `dir`, checking it is writable.
    pub fn open(dir: impl Into<PathBuf>, client: RegistryClient) -> Result<Self, ImageError> {
        let dir = dir.into();
        for sub in ["blobs/sha256", "roots", "refs", "locks", "tmp"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|e| ImageError::io(&path, e))?;
        }
        clean_stale(&dir.join("tmp"));
        let probe = dir.join(format!("tmp/probe-{}", std::process::id()));
        File::create(&probe)
            .and_then(|mut f| f.write_all(b"ok"))
            .map_err(|e| ImageError::io(&probe, e))?;
        std::fs::remove_file(&probe).map_err(|e| ImageError::io(&probe, e))?;
        Ok(Self {
            dir,
            client,
            unpack_limit: DEFAULT_UNPACK_LIMIT,
        })
    }

    /// Sets how much uncompressed layer data (file contents plus 512 bytes per entry) one
    /// image may unpack to; past it, unpacking stops with [`ImageError::TooLarge`].
    #[must_use]
    pub fn with_unpack_limit(mut self, bytes: u64) -> Self {
        self.unpack_limit = bytes;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// [`ensure_request`](Self::ensure_request) of `reference` with no pull secrets;
    /// `policy` `None` is Kubernetes' default (`Always` for `:latest` or no tag).
    pub fn ensure(
        &self,
        reference: &str,
        policy: Option<PullPolicy>,
        progress: &mut dyn FnMut(PullEvent),
    ) -> Result<LocalImage, ImageError> {
        let mut request = LookupRequest::new(reference);
        request.pull_policy = policy;
        self.ensure_request(&request, progress)
    }

    /// Makes the image available on this machine as its pull policy says:
    /// - `Never`: only what is here; absent, [`ImageError::NotCached`];
    /// - `IfNotPresent`: what is here, without asking the registry; else a pull;
    /// - `Always`: asks the registry what the reference names now (one `HEAD`), reuses the
    ///   root and blobs it already has, and pulls the rest.
    pub fn ensure_request(
        &self,
        request: &LookupRequest<'_>,
        progress: &mut dyn FnMut(PullEvent),
    ) -> Result<LocalImage, ImageError> {
        let image = request.image;
        let reference = ImageReference::parse(image).map_err(|e| ImageError::Reference {
            reference: image.to_owned(),
            reason: e.to_string(),
        })?;
        let platform = request
            .platform
            .unwrap_or(self.client.platform())
            .to_string();
        let policy = request
            .pull_policy
            .unwrap_or_else(|| PullPolicy::kubernetes_default(&reference));
        let normalised = reference.to_string();
        let record = self.read_ref(&normalised, &platform);
        let here = record.as_ref().and_then(|r| self.local(r).ok().flatten());
        let mut announced = false;
        match policy {
            PullPolicy::Never | PullPolicy::IfNotPresent => {
                if let Some(local) = here {
                    progress(PullEvent::Done {
                        reference: normalised,
                        cached: true,
                    });
                    return Ok(local);
                }
                if policy == PullPolicy::Never {
                    return Err(ImageError::NotCached {
                        reference: image.to_owned(),
                    });
                }
            }
            PullPolicy::Always => {
                if let Some(local) = here {
                    announced = true;
                    progress(PullEvent::Resolving {
                        reference: normalised.clone(),
                    });
                    let current = self
                        .client
                        .current_digest(request)
                        .map_err(|e| ImageError::from_registry(image, e))?;
                    if current.as_deref() == Some(local.digest.as_str()) {
                        progress(PullEvent::Done {
                            reference: normalised,
                            cached: true,
                        });
                        return Ok(local);
                    }
                }
            }
        }
        if !announced {
            progress(PullEvent::Resolving {
                reference: normalised.clone(),
            });
        }
        let resolved = self
            .client
            .resolve(request)
            .map_err(|e| ImageError::from_registry(image, e))?;
        let local = self.pull(request, &resolved, progress)?;
        self.write_ref(&RefRecord {
            reference: normalised.clone(),
            platform,
            digest: resolved.digest.clone(),
            manifest_digest: resolved.manifest_digest.clone(),
            config_digest: resolved.config_digest.clone(),
        })?;
        progress(PullEvent::Done {
            reference: normalised,
            cached: !local.pulled,
        });
        Ok(local)
    }

    /// The image a reference record points at, when its root is complete.
    fn local(&self, record: &RefRecord) -> Result<Option<LocalImage>, ImageError> {
        let Some(hex) = hex_of(&record.config_digest) else {
            return Ok(None);
        };
        let dir = self.dir.join("roots").join(hex);
        let meta = dir.join("image.json");
        let text = match std::fs::read(&meta) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ImageError::io(&meta, e)),
        };
        let Ok(root) = serde_json::from_slice::<RootRecord>(&text) else {
            return Ok(None);
        };
        Ok(Some(LocalImage {
            reference: record.reference.clone(),
            digest: record.digest.clone(),
            manifest_digest: record.manifest_digest.clone(),
            config_digest: record.config_digest.clone(),
            root: dir.join("rootfs"),
            config: root.config,
            size: root.size,
            pulled: false,
        }))
    }

    fn ref_path(&self, reference: &str, platform: &str) -> PathBuf {
        let key = sha256_hex(format!("{reference}|{platform}").as_bytes());
        self.dir.join("refs").join(format!("{key}.json"))
    }

    fn read_ref(&self, reference: &str, platform: &str) -> Option<RefRecord> {
        let text = std::fs::read(self.ref_path(reference, platform)).ok()?;
        serde_json::from_slice::<RefRecord>(&text)
            .ok()
            .filter(|r| r.reference == reference && r.platform == platform)
    }

    fn write_ref(&self, record: &RefRecord) -> Result<(), ImageError> {
        let path = self.ref_path(&record.reference, &record.platform);
        let text =
            serde_json::to_vec_pretty(record).map_err(|e| ImageError::io(&path, e.into()))?;
        self.write_atomically(&path, &text)
    }

    fn temp_path(&self, what: &str) -> PathBuf {
        let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
        self.dir
            .join("tmp")
            .join(format!("{what}-{}-{n}", std::process::id()))
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
        let temp = self.temp_path("file");
        let written = File::create(&temp)
            .and_then(|mut f| {
                f.write_all(bytes)?;
                f.sync_all()
            })
            .map_err(|e| ImageError::io(&temp, e));
        if let Err(e) =
            written.and_then(|()| std::fs::rename(&temp, path).map_err(|e| ImageError::io(path, e)))
        {
            // The temporary file is ours and useless now; the error that matters is `e`.
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        Ok(())
    }

    /// Blobs and root of a resolved image: whatever is missing is fetched and built, under
    /// the root's lock so concurrent pulls of one image build it once.
    fn pull(
        &self,
        request: &LookupRequest<'_>,
        resolved: &ResolvedImage,
        progress: &mut dyn FnMut(PullEvent),
    ) -> Result<LocalImage, ImageError> {
        let image = request.image;
        let config_hex = hex_of(&resolved.config_digest).ok_or_else(|| ImageError::Registry {
            reference: image.to_owned(),
            source: LookupError::Invalid {
                registry: resolved.reference.clone(),
                what: "the image manifest".to_owned(),
                reason: format!("config digest `{}` is not sha256", resolved.config_digest),
            },
        })?;
        // Every layer must be one we can unpack before anything is downloaded.
        let mut compressions = Vec::new();
        for layer in &resolved.layers {
            compressions.push(layer_compression(layer.media_type.as_deref()).map_err(
                |reason| ImageError::UnsupportedMediaType {
                    reference: image.to_owned(),
                    digest: layer.digest.clone(),
                    media_type: layer.media_type.clone().unwrap_or_default(),
                    reason,
                },
            )?);
        }
        let config =
            ImageConfig::from_blob(&resolved.config).map_err(|reason| ImageError::Registry {
                reference: image.to_owned(),
                source: LookupError::Invalid {
                    registry: resolved.reference.clone(),
                    what: format!("image config {}", resolved.config_digest),
                    reason,
                },
            })?;
        let diff_ids = diff_ids(&resolved.config);
        if diff_ids.len() != resolved.layers.len() {
            return Err(ImageError::BadLayer {
                reference: image.to_owned(),
                digest: resolved.config_digest.clone(),
                reason: format!(
                    "the config lists {} layers (rootfs.diff_ids), the manifest {}",
                    diff_ids.len(),
                    resolved.layers.len()
                ),
            });
        }

        let lock_path = self.dir.join("locks").join(format!("{config_hex}.lock"));
        let lock = File::create(&lock_path).map_err(|e| ImageError::io(&lock_path, e))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| ImageError::io(&lock_path, e.into()))?;

        let root_dir = self.dir.join("roots").join(config_hex);
        let size = resolved.layers.iter().map(|l| l.size).sum();
        let local = |pulled| LocalImage {
            reference: resolved.reference.clone(),
            digest: resolved.digest.clone(),
            manifest_digest: resolved.manifest_digest.clone(),
            config_digest: resolved.config_digest.clone(),
            root: root_dir.join("rootfs"),
            config: RuntimeConfig::from(config.clone()),
            size,
            pulled,
        };
        if root_dir.join("image.json").is_file() {
            return Ok(local(false));
        }
        let count = resolved.layers.len();
        let mut blobs = Vec::new();
        for (i, layer) in resolved.layers.iter().enumerate() {
            blobs.push(self.blob(request, layer, i + 1, count, progress)?);
        }
        let record = RootRecord {
            config_digest: resolved.config_digest.clone(),
            manifest_digest: resolved.manifest_digest.clone(),
            layers: resolved.layers.iter().map(|l| l.digest.clone()).collect(),
            size,
            config: RuntimeConfig::from(config.clone()),
        };
        let build = self.temp_path("root");
        let built = self.build_root(
            image,
            &build,
            resolved,
            &compressions,
            &diff_ids,
            &blobs,
            &record,
            progress,
        );
        let placed = built.and_then(|()| match std::fs::rename(&build, &root_dir) {
            Ok(()) => Ok(()),
            // Another store (without our lock file: an older cache) got there first.
            Err(_) if root_dir.join("image.json").is_file() => Ok(()),
            Err(e) => Err(ImageError::io(&root_dir, e)),
        });
        if build.exists()
            && let Err(e) = remove_tree(&build)
        {
            tracing::warn!(path = %build.display(), error = %e, "cannot remove a temporary root");
        }
        placed?;
        drop(lock);
        Ok(local(true))
    }

    /// The verified blob of `layer` in the cache, downloading it when it is not there.
    fn blob(
        &self,
        request: &LookupRequest<'_>,
        layer: &BlobDescriptor,
        index: usize,
        count: usize,
        progress: &mut dyn FnMut(PullEvent),
    ) -> Result<PathBuf, ImageError> {
        let image = request.image;
        let hex = hex_of(&layer.digest).ok_or_else(|| ImageError::UnsupportedMediaType {
            reference: image.to_owned(),
            digest: layer.digest.clone(),
            media_type: layer.media_type.clone().unwrap_or_default(),
            reason: "has a digest that is not sha256".to_owned(),
        })?;
        let path = self.dir.join("blobs/sha256").join(hex);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == layer.size) {
            progress(PullEvent::LayerCached {
                index,
                count,
                digest: layer.digest.clone(),
                size: layer.size,
            });
            return Ok(path);
        }
        let temp = self.temp_path("blob");
        let result = self.download(request, layer, index, count, &temp, &path, progress);
        if result.is_err() {
            // Nothing of a failed download is kept; the download's error is the one to report.
            let _ = std::fs::remove_file(&temp);
        }
        result.map(|()| path)
    }

    #[allow(clippy::too_many_arguments)]
    fn download(
        &self,
        request: &LookupRequest<'_>,
        layer: &BlobDescriptor,
        index: usize,
        count: usize,
        temp: &Path,
        path: &Path,
        progress: &mut dyn FnMut(PullEvent),
    ) -> Result<(), ImageError> {
        let file = File::create(temp).map_err(|e| ImageError::io(temp, e))?;
        let mut sink = HashingWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            hash: Context::new(&SHA256),
            written: 0,
            reported: 0,
            error: None,
            progress: &mut |done| {
                progress(PullEvent::Layer {
                    index,
                    count,
                    digest: layer.digest.clone(),
                    done,
                    total: layer.size,
                });
            },
        };
        let fetched = self.client.fetch_blob(request, layer, &mut sink);
        if let Some(e) = sink.error.take() {
            return Err(ImageError::io(temp, e));
        }
        fetched.map_err(|e| ImageError::from_registry(request.image, e))?;
        let written = sink.written;
        let actual = format!("sha256:{}", hex(sink.hash.clone().finish().as_ref()));
        (sink.progress)(written);
        if written != layer.size || actual != layer.digest {
            return Err(ImageError::DigestMismatch {
                reference: request.image.to_owned(),
                what: format!("layer {index}/{count}"),
                digest: layer.digest.clone(),
                expected: format!("{} ({} bytes)", layer.digest, layer.size),
                actual: format!("{actual} ({written} bytes)"),
            });
        }
        let file = sink
            .out
            .into_inner()
            .map_err(|e| ImageError::io(temp, e.into_error()))?;
        file.sync_all().map_err(|e| ImageError::io(temp, e))?;
        std::fs::rename(temp, path).map_err(|e| ImageError::io(path, e))
    }

    #[allow(clippy::too_many_arguments)]
    fn build_root(
        &self,
        image: &str,
        build: &Path,
        resolved: &ResolvedImage,
        compressions: &[crate::decompress::Compression],
        diff_ids: &[String],
        blobs: &[PathBuf],
        record: &RootRecord,
        progress: &mut dyn FnMut(PullEvent),
    ) -> Result<(), ImageError> {
        let rootfs = build.join("rootfs");
        std::fs::create_dir_all(&rootfs).map_err(|e| ImageError::io(&rootfs, e))?;
        // The root directory of a container is 0755 whatever our umask is.
        use std::os::unix::fs::PermissionsExt;
        for dir in [build, rootfs.as_path()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| ImageError::io(dir, e))?;
        }
        let root =
            Root::open(&rootfs).map_err(|e| unpack_error(image, "", self.unpack_limit, e))?;
        let mut budget = Budget {
            remaining: self.unpack_limit,
        };
        let count = resolved.layers.len();
        for (i, layer) in resolved.layers.iter().enumerate() {
            progress(PullEvent::Unpacking {
                index: i + 1,
                count,
            });
            let blob = &blobs[i];
            let file = File::open(blob).map_err(|e| ImageError::io(blob, e))?;
            let tar = decoder(compressions[i], BufReader::with_capacity(1 << 20, file));
            let mut reader = HashingReader {
                inner: tar,
                hash: Context::new(&SHA256),
            };
            root.apply_layer(&mut reader, &mut budget)
                .map_err(|e| unpack_error(image, &layer.digest, self.unpack_limit, e))?;
            // The rest of the stream (end-of-archive padding) is part of the diff_id; bounded
            // by the budget like the entries.
            let rest = io::copy(
                &mut (&mut reader).take(budget.remaining.saturating_add(1)),
                &mut io::sink(),
            )
            .map_err(|e| ImageError::BadLayer {
                reference: image.to_owned(),
                digest: layer.digest.clone(),
                reason: e.to_string(),
            })?;
            if rest > budget.remaining {
                return Err(ImageError::TooLarge {
                    reference: image.to_owned(),
                    limit: self.unpack_limit,
                });
            }
            budget.remaining -= rest;
            let actual = format!("sha256:{}", hex(reader.hash.finish().as_ref()));
            if actual != diff_ids[i] {
                // A blob that passed its digest once and no longer unpacks to its diff_id was
                // damaged on disk (or never matched its config): drop it so a retry fetches it.
                if let Err(e) = std::fs::remove_file(blob) {
                    tracing::warn!(path = %blob.display(), error = %e, "cannot remove a bad blob");
                }
                return Err(ImageError::DigestMismatch {
                    reference: image.to_owned(),
                    what: format!("uncompressed layer {}/{count} (diff_id)", i + 1),
                    digest: layer.digest.clone(),
                    expected: diff_ids[i].clone(),
                    actual,
                });
            }
        }
        let meta = build.join("image.json");
        let text =
            serde_json::to_vec_pretty(record).map_err(|e| ImageError::io(&meta, e.into()))?;
        File::create(&meta)
            .and_then(|mut f| {
                f.write_all(&text)?;
                f.sync_all()
            })
            .map_err(|e| ImageError::io(&meta, e))
    }
}

/// Temporary blobs and roots a crashed process left (older than a day: a pull in progress
/// touches its files far more often) are removed; failing that only wastes space.
fn clean_stale(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    let day = std::time::Duration::from_secs(24 * 3600);
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if !stale {
            continue;
        }
        let removed = if path.is_dir() {
            remove_tree(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if let Err(e) = removed {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove a stale temporary file");
        }
    }
}

fn unpack_error(image: &str, digest: &str, limit: u64, e: UnpackError) -> ImageError {
    match e {
        UnpackError::Unsafe { entry, reason } => ImageError::UnsafeEntry {
            reference: image.to_owned(),
            digest: digest.to_owned(),
            entry,
            reason,
        },
        UnpackError::Bad(reason) => ImageError::BadLayer {
            reference: image.to_owned(),
            digest: digest.to_owned(),
            reason,
        },
        UnpackError::TooLarge => ImageError::TooLarge {
            reference: image.to_owned(),
            limit,
        },
        UnpackError::Io { path, source } => ImageError::Io { path, source },
    }
}

/// `rootfs.diff_ids` of a config blob (empty when it has none).
fn diff_ids(config: &[u8]) -> Vec<String> {
    #[derive(Deserialize)]
    struct Config {
        #[serde(default)]
        rootfs: Option<RootFs>,
    }
    #[derive(Deserialize)]
    struct RootFs {
        #[serde(default)]
        diff_ids: Vec<String>,
    }
    serde_json::from_slice::<Config>(config)
        .ok()
        .and_then(|c| c.rootfs)
        .map(|r| r.diff_ids)
        .unwrap_or_default()
}

/// The hex of a `sha256:<64 hex>` digest, when it is one (it becomes a file name).
fn hex_of(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&SHA256, bytes).as_ref())
}

/// Writes a download to its file while hashing it; keeps the file's own error (with which
/// the store names the path) instead of the registry client's summary of it.
struct HashingWriter<'a, W: Write> {
    out: W,
    hash: Context,
    written: u64,
    reported: u64,
    error: Option<io::Error>,
    progress: &'a mut dyn FnMut(u64),
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Err(e) = self.out.write_all(buf) {
            let summary = io::Error::new(e.kind(), e.to_string());
            self.error = Some(e);
            return Err(summary);
        }
        self.hash.update(buf);
        self.written += buf.len() as u64;
        if self.written - self.reported >= 1 << 20 {
            self.reported = self.written;
            (self.progress)(self.written);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Hashes what is read through it (the uncompressed layer, for its diff_id).
struct HashingReader<R> {
    inner: R,
    hash: Context,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}
