//! # testwerk-images
//!
//! Images on this machine: a content-addressed blob cache shared by runs, digest-verified,
//! layers unpacked into read-only root filesystems. The local runner runs each container of a
//! Pod from the root filesystem of its image (as an overlay's read-only lower layer).
//!
//! ```no_run
//! use testwerk_images::{ImageStore, PullEvent};
//! use testwerk_registry::{RegistryClient, RegistrySettings};
//!
//! let client = RegistryClient::new(RegistrySettings::default())?;
//! let store = ImageStore::open(ImageStore::default_dir().unwrap_or_default(), client)?;
//! let image = store.ensure("alpine:3.20", None, &mut |event: PullEvent| eprintln!("{event:?}"))?;
//! println!("{} at {}", image.manifest_digest, image.root.display());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What `ensure` does
//! 1. **Pull policy** ([`PullPolicy`], Kubernetes' defaulting: `:latest` or no tag → `Always`,
//!    else `IfNotPresent`; an explicit `imagePullPolicy` wins). `Never` uses only this
//!    machine's images; `IfNotPresent` uses them without asking the registry; `Always` asks
//!    for the tag's digest with one `HEAD` and reuses what it has.
//! 2. **Resolve** through `testwerk-registry` (credentials, mirrors, insecure hosts, CA
//!    bundles, platforms): the platform's manifest, its config and its ordered layers. Every
//!    layer's media type is checked first: OCI and Docker v2 tars, uncompressed, gzip or
//!    zstd; foreign and unknown layers are refused with a reason.
//! 3. **Blobs** missing from `blobs/sha256/` are streamed to a temporary file while hashed,
//!    checked against the descriptor's digest and size (a mismatch names image, layer,
//!    expected and actual, and nothing is kept), synced and renamed into place.
//! 4. **Root**: layers are unpacked in order into a temporary directory, each layer's uncompressed stream checked against the
//!    config's `diff_ids`, then the directory is renamed to `roots/<config hex>/` with an
//!    `image.json` (runtime config, manifest and layer digests) beside `rootfs/`. A root is
//!    therefore either complete or absent. One process builds a root (flock on
//!    `locks/<config hex>.lock`); concurrent pulls of the image wait and reuse it.
//! 5. **Bounded**: blobs are read to their declared size and no further; unpacking stops with
//!    [`ImageError::TooLarge`] past a limit (default 8 GiB,
//!    [`ImageStore::with_unpack_limit`]); a full or unwritable disk is an [`ImageError::Io`]
//!    naming the path.
//!
//! ## Unpacking safely
//! A layer is hostile until proven otherwise. Entry names with `..` components or absolute
//! paths are refused ([`ImageError::UnsafeEntry`], naming the entry). Every entry's parent is
//! opened with `openat2(RESOLVE_IN_ROOT)` (Linux 5.6+), so symlinks planted by earlier entries
//! or layers (`etc -> /etc`, `a -> ../../..`, an absolute `var/run -> /run`) resolve inside
//! the root as in a chroot, and the entry is made with `*at` calls that never follow a
//! symlink in its last component; hard links must point at an earlier entry inside the root.
//! Whiteouts: `.wh.<name>` deletes `<name>` of lower layers, `.wh..wh..opq` hides what lower
//! layers put in its directory (entries of the same layer stay). Files, directories,
//! symlinks, hard links and FIFOs keep their modes (setuid included) and mtimes; owners are
//! set when running as root, and an ordinary user keeps its own ids without a word (read-only
//! directories of lower layers are made writable for one layer and restored). Device nodes
//! are skipped: the runtime provides `/dev`.
//!
//! Progress ([`PullEvent`]) is reported through a callback: resolving, each layer's bytes
//! (every MiB), layers already here, unpacking, done (cached or pulled).

mod decompress;
mod error;
mod store;
mod unpack;

pub use decompress::{Compression, layer_compression};
pub use error::ImageError;
pub use store::{DEFAULT_UNPACK_LIMIT, ImageStore, LocalImage, PullEvent, RuntimeConfig};
pub use testwerk_registry::PullPolicy;
