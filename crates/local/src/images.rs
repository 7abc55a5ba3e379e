//! The seam to image storage: the runner asks for an image's root directory and metadata,
//! and never talks to a registry itself. The CLI adapts its image store to [`ImageRoots`].

use std::path::PathBuf;

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
    /// The root of `image`, pulled if `pull_policy` (the container's `imagePullPolicy` as
    /// written; `None`: Kubernetes' default for the reference, which the store applies) says
    /// so; `progress` hears what happens (pulling, cached), once a line. The error says what
    /// is missing and how to fix it.
    fn root(
        &self,
        image: &str,
        pull_policy: Option<&str>,
        progress: &mut dyn FnMut(String),
    ) -> Result<ImageRoot, String>;
}
