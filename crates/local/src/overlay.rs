//! The writable layer of a container in image mode: an overlay mount whose lower directory
//! is the image's shared, read-only root, and whose upper and work directories belong to the
//! container (in the execution directory). Mounted by us rather than by runc, because runc
//! takes its root as a directory; unmounted when the container is deleted (or by its
//! watchdog when the runner dies).

use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};

use crate::LocalError;

/// A mounted overlay; unmounted on drop.
pub struct Overlay {
    pub rootfs: PathBuf,
}

impl Overlay {
    /// Mounts `lower` with a fresh writable layer under `bundle` at `bundle/rootfs`.
    pub fn mount(lower: &Path, bundle: &Path) -> Result<Overlay, LocalError> {
        let rootfs = bundle.join("rootfs");
        let upper = bundle.join("upper");
        let work = bundle.join("work");
        for d in [&rootfs, &upper, &work] {
            std::fs::create_dir_all(d).map_err(|e| LocalError::io(d, e))?;
        }
        for p in [lower, &upper, &work] {
            let text = p.display().to_string();
            // Overlay options are comma- and colon-separated; such a path cannot be named.
            if text.contains([',', ':']) {
                return Err(LocalError::Unsupported(format!(
                    "{text}: a path with `,` or `:` cannot be an overlay layer; move the store or the image cache"
                )));
            }
        }
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        let options = std::ffi::CString::new(options)
            .map_err(|_| LocalError::Internal("a NUL byte in an overlay path".into()))?;
        rustix::mount::mount(
            "overlay",
            &rootfs,
            "overlay",
            MountFlags::empty(),
            Some(options.as_c_str()),
        )
        .map_err(|e| {
                LocalError::Setup(format!(
                    "cannot mount the container's writable layer over {} ({e}); image mode needs root (or run with --host)",
                    lower.display()
                ))
            })?;
        Ok(Overlay { rootfs })
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        if let Err(e) = rustix::mount::unmount(&self.rootfs, UnmountFlags::DETACH) {
            tracing::warn!("cannot unmount {}: {e}", self.rootfs.display());
        }
    }
}
