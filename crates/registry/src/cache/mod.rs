//! Caches: tag → digest for a while (tags move), digest → metadata forever (digests do not).
//! In memory for this process, and durable behind [`DurableCache`] (SQLite locally; the agent
//! can keep it in the cluster). Every entry is kept per repository and per access
//! ([`access`]): who fetched it decides whom it may answer.

pub(crate) mod access;
pub mod durable;
pub(crate) mod flight;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

pub use durable::{DurableCache, SqliteCache};

use crate::lookup::ImageInfo;

/// What a tag pointed at, and when we asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagEntry {
    pub digest: String,
    /// Unix seconds.
    pub resolved_at: u64,
}

/// The key metadata is kept under: `registry/repository@digest|platform|access`. A digest
/// names an index or a manifest, and an index answers differently per platform; the
/// repository is part of the key because a registry serves a digest only in the repositories
/// that hold it (and another registry's name must never be answered from this one's fetch);
/// the access says whose fetch it was.
pub(crate) fn image_key(name: &str, digest: &str, platform: &str, access: &str) -> String {
    format!("{name}@{digest}|{platform}|{access}")
}

/// The key a tag's digest is kept under: `registry/repository:tag|access`.
pub(crate) fn tag_key(tagged_name: &str, access: &str) -> String {
    format!("{tagged_name}|{access}")
}

#[derive(Default)]
pub(crate) struct MemoryCache {
    tags: RwLock<HashMap<String, TagEntry>>,
    images: RwLock<HashMap<String, Arc<ImageInfo>>>,
}

impl MemoryCache {
    pub fn tag(&self, reference: &str) -> Option<TagEntry> {
        self.tags.read().ok()?.get(reference).cloned()
    }

    pub fn put_tag(&self, reference: &str, entry: TagEntry) {
        if let Ok(mut tags) = self.tags.write() {
            tags.insert(reference.to_owned(), entry);
        }
    }

    pub fn image(&self, key: &str) -> Option<Arc<ImageInfo>> {
        self.images.read().ok()?.get(key).cloned()
    }

    pub fn put_image(&self, key: &str, info: Arc<ImageInfo>) {
        if let Ok(mut images) = self.images.write() {
            images.insert(key.to_owned(), info);
        }
    }
}
