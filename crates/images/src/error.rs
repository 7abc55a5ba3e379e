//! Why an image could not be made available, naming the image and what would fix it. Never a
//! password or token: registry errors come from `testwerk-registry`, which keeps them out.

use std::path::PathBuf;

use testwerk_registry::LookupError;

/// A failed [`ImageStore::ensure`](crate::ImageStore::ensure) or
/// [`ImageStore::open`](crate::ImageStore::open).
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "image {reference} is not on this machine and imagePullPolicy is Never; pull it once \
         with `testwerk image pull {reference}` or change the policy"
    )]
    NotCached { reference: String },
    /// The registry could not be reached (refused, DNS, TLS, timeout).
    #[error("pulling {reference}: {source}{}", hint(source))]
    Unreachable {
        reference: String,
        #[source]
        source: LookupError,
    },
    #[error("pulling {reference}: {source}{}", hint(source))]
    NotFound {
        reference: String,
        #[source]
        source: LookupError,
    },
    #[error("pulling {reference}: {source}{}", hint(source))]
    Unauthorized {
        reference: String,
        #[source]
        source: LookupError,
    },
    /// Any other registry answer (rate limit, server error, unusable manifest).
    #[error("pulling {reference}: {source}{}", hint(source))]
    Registry {
        reference: String,
        #[source]
        source: LookupError,
    },
    /// Content that is not what its descriptor says: nothing of it is kept.
    #[error(
        "pulling {reference}: {what} {digest} does not match its descriptor: expected {expected}, \
         got {actual}; the registry (or a proxy) served corrupt content, nothing of it was kept"
    )]
    DigestMismatch {
        reference: String,
        /// `layer 2/3`, `config`, `uncompressed layer 1/3 (diff_id)`.
        what: String,
        digest: String,
        expected: String,
        actual: String,
    },
    #[error("image {reference}: layer {digest} has media type `{media_type}`, which {reason}")]
    UnsupportedMediaType {
        reference: String,
        digest: String,
        media_type: String,
        reason: String,
    },
    /// A layer entry that would write outside the root, or cannot be represented.
    #[error(
        "image {reference}: layer {digest} has an unsafe entry `{entry}`: {reason}; the image was not unpacked"
    )]
    UnsafeEntry {
        reference: String,
        digest: String,
        entry: String,
        reason: String,
    },
    /// A layer that is not a valid (compressed) tar.
    #[error("image {reference}: layer {digest} cannot be read: {reason}")]
    BadLayer {
        reference: String,
        digest: String,
        reason: String,
    },
    #[error(
        "image {reference}: unpacking stopped at {limit} bytes (the limit of uncompressed layer \
         data); a layer expands too much (a tar bomb?) or the limit is too low for this image \
         (ImageStore::with_unpack_limit)"
    )]
    TooLarge { reference: String, limit: u64 },
    /// A file of the cache could not be read or written: the path says which.
    #[error("image cache {}: {source}{}", path.display(), io_hint(source))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("image reference `{reference}`: {reason}")]
    Reference { reference: String, reason: String },
}

fn hint(e: &LookupError) -> String {
    e.hint().map_or_else(String::new, |h| format!(" ({h})"))
}

fn io_hint(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(28) => {
            " (the disk holding the image cache is full: free space or choose another cache directory)"
        }
        Some(13 | 30) => " (the image cache is not writable: choose another cache directory)",
        _ => "",
    }
}

impl ImageError {
    /// Sorts a registry error by what the user can do about it.
    pub(crate) fn from_registry(reference: &str, source: LookupError) -> Self {
        let reference = reference.to_owned();
        match source {
            LookupError::Reference(e) => Self::Reference {
                reference,
                reason: e.to_string(),
            },
            LookupError::Unreachable { .. } => Self::Unreachable { reference, source },
            LookupError::NotFound { .. } => Self::NotFound { reference, source },
            LookupError::Refused { .. } | LookupError::Credentials { .. } => {
                Self::Unauthorized { reference, source }
            }
            other => Self::Registry {
                reference,
                source: other,
            },
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
