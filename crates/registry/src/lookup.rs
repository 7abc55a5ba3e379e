//! What a lookup asks for and what it answers.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::auth::PullSecret;
use crate::imageconfig::ImageConfig;
use crate::platform::Platform;
use crate::reference::ImageReference;

/// A container's `imagePullPolicy`, as it applies to metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PullPolicy {
    /// Resolve the tag at the registry every time (the digest's metadata may still be cached).
    Always,
    /// Use the cached tag while it is younger than the tag TTL.
    IfNotPresent,
    /// Never contact the registry: metadata comes from the cache or nowhere.
    Never,
}

impl PullPolicy {
    /// `Always`, `IfNotPresent` or `Never`, as Kubernetes spells them.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "Always" => Ok(Self::Always),
            "IfNotPresent" => Ok(Self::IfNotPresent),
            "Never" => Ok(Self::Never),
            other => Err(format!(
                "imagePullPolicy `{other}` must be Always, IfNotPresent or Never"
            )),
        }
    }

    /// Kubernetes' default: `Always` for `:latest` or no tag, else `IfNotPresent`.
    pub fn kubernetes_default(reference: &ImageReference) -> Self {
        match (reference.digest(), reference.tag()) {
            (Some(_), _) => Self::IfNotPresent,
            (None, None | Some("latest")) => Self::Always,
            (None, Some(_)) => Self::IfNotPresent,
        }
    }
}

/// One lookup: the image as a pod names it, with the pod's pull policy and pull secrets.
#[derive(Clone, Copy, Debug)]
pub struct LookupRequest<'a> {
    pub image: &'a str,
    /// `None`: Kubernetes' default for the reference.
    pub pull_policy: Option<PullPolicy>,
    /// The pod's `imagePullSecrets`, decoded, in order.
    pub pull_secrets: &'a [PullSecret],
    /// `None`: the client's target platform.
    pub platform: Option<&'a Platform>,
}

impl<'a> LookupRequest<'a> {
    pub fn new(image: &'a str) -> Self {
        Self {
            image,
            pull_policy: None,
            pull_secrets: &[],
            platform: None,
        }
    }

    #[must_use]
    pub fn pull_policy(mut self, policy: PullPolicy) -> Self {
        self.pull_policy = Some(policy);
        self
    }

    #[must_use]
    pub fn pull_secrets(mut self, secrets: &'a [PullSecret]) -> Self {
        self.pull_secrets = secrets;
        self
    }

    #[must_use]
    pub fn platform(mut self, platform: &'a Platform) -> Self {
        self.platform = Some(platform);
        self
    }
}

/// An image's metadata and the digests it was read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageInfo {
    /// The normalised reference, e.g. `docker.io/library/alpine:3.20`.
    pub reference: String,
    /// Digest of what the reference names: an index or a manifest.
    pub digest: String,
    /// Digest of the platform's image manifest (equal to `digest` for single-platform images).
    pub manifest_digest: String,
    pub config_digest: String,
    /// Media type of `digest`'s manifest.
    pub media_type: String,
    /// The platform the metadata is for.
    pub platform: Platform,
    pub config: ImageConfig,
    /// Unix seconds.
    pub fetched_at: u64,
}

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Origin {
    /// This process's cache.
    Memory,
    /// The durable cache (SQLite, or the caller's).
    Durable,
    /// The registry, now (or a concurrent lookup of the same image that was).
    Registry,
}

/// A lookup's answer.
#[derive(Clone, Debug)]
pub struct Lookup {
    pub info: Arc<ImageInfo>,
    pub origin: Origin,
}
