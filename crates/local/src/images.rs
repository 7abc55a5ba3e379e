//! The seam to image storage: the runner asks for an image's root directory and metadata,
//! and never talks to a registry itself. The CLI adapts its image store to [`ImageRoots`].

use std::path::PathBuf;

/// `imagePullPolicy`, as the kubelet reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    /// Only what is already cached; an absent image is an error that says so.
    Never,
}

impl PullPolicy {
    /// Kubernetes' default: `Always` for `:latest` or no tag, else `IfNotPresent`.
    pub fn of(policy: Option<&str>, image: &str) -> PullPolicy {
        match policy {
            Some("Always") => PullPolicy::Always,
            Some("Never") => PullPolicy::Never,
            Some("IfNotPresent") => PullPolicy::IfNotPresent,
            _ => {
                let name = image.rsplit('/').next().unwrap_or(image);
                let pinned =
                    image.contains('@') || (name.contains(':') && !name.ends_with(":latest"));
                if pinned {
                    PullPolicy::IfNotPresent
                } else {
                    PullPolicy::Always
                }
            }
        }
    }
}

/// An image unpacked on this machine: read-only, shared by every container and run that uses
/// it (each container writes to its own overlay layer above it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageRoot {
    pub root: PathBuf,
    /// The image's `Env`, `NAME=value`.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    /// The image's `User`: `uid`, `uid:gid`, `name` or `name:group`.
    pub user: Option<String>,
}

/// Where image roots come from.
pub trait ImageRoots: Send + Sync {
    /// The root of `image`, pulled if `policy` says so; `progress` hears what happens
    /// (pulling, cached), once a line. The error says what is missing and how to fix it.
    fn root(
        &self,
        image: &str,
        policy: PullPolicy,
        progress: &mut dyn FnMut(String),
    ) -> Result<ImageRoot, String>;
}
