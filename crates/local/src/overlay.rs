//! The writable layer of a container in image mode: an overlay whose lower directory is the
//! image's shared, read-only root, and whose upper and work directories belong to the
//! container (in the execution directory).
//!
//! runc mounts it: it is the first mount of the container's `config.json`, on the container's
//! root (`destination: /`, over the empty directory runc is given as the root), made inside
//! the container's mount namespace and, rootless, inside its user namespace, which Linux allows
//! for overlayfs since 5.11. So nothing is mounted on this machine (nothing to unmount when a
//! container ends or its runner dies), and image mode works as an ordinary user. Rootless, the
//! overlay keeps its own attributes (opaque directories, redirects) in `user.overlay.*`
//! (`userxattr`), since a user namespace may not write `trusted.*` ones.

use std::path::{Path, PathBuf};

use crate::LocalError;
use crate::oci::spec::Mount;

/// The first Linux whose overlayfs mounts in a user namespace.
pub const ROOTLESS_KERNEL: (u32, u32) = (5, 11);

/// A container's overlay: runc's root directory and the mount that covers it.
pub struct Overlay {
    /// The (empty) directory runc takes as the container's root.
    pub rootfs: PathBuf,
    /// The overlay on `/`, to be the container's first mount.
    pub mount: Mount,
}

impl Overlay {
    /// Prepares a fresh writable layer under `bundle` over `lower`.
    pub fn prepare(lower: &Path, bundle: &Path, rootless: bool) -> Result<Overlay, LocalError> {
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
        let mut options = vec![
            format!("lowerdir={}", lower.display()),
            format!("upperdir={}", upper.display()),
            format!("workdir={}", work.display()),
        ];
        if rootless {
            options.push("userxattr".to_owned());
        }
        Ok(Overlay {
            rootfs,
            mount: Mount {
                destination: "/".to_owned(),
                kind: "overlay".to_owned(),
                source: "overlay".to_owned(),
                options,
            },
        })
    }
}

/// Whether this machine lets an ordinary user run image mode: overlayfs in a user namespace
/// (Linux 5.11), and user namespaces at all. The error says what is missing.
pub fn check_rootless() -> Result<(), LocalError> {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    check_kernel(&release)?;
    crate::runc::check_user_namespaces()
}

fn check_kernel(release: &str) -> Result<(), LocalError> {
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().ok());
    let version = match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor),
        // An unreadable version: let the mount itself tell.
        _ => return Ok(()),
    };
    if version < ROOTLESS_KERNEL {
        return Err(LocalError::Setup(format!(
            "image mode as an ordinary user needs Linux {}.{} or later (overlayfs mounted in a user namespace); this machine runs {release}: run testwerk as root, or use --host",
            ROOTLESS_KERNEL.0, ROOTLESS_KERNEL.1
        )));
    }
    Ok(())
}

/// What to do about a runc error line saying the overlay could not be mounted (`None` for any
/// other line): the kernel's reasons are terse (`invalid argument`).
pub fn explain_failure(runc_line: &str, rootless: bool) -> Option<String> {
    if !runc_line.contains(r#"mounting \"overlay\" to rootfs at \"/\""#) {
        return None;
    }
    let who = if rootless {
        format!(
            "as an ordinary user it needs Linux {}.{} or later with overlayfs in user namespaces; ",
            ROOTLESS_KERNEL.0, ROOTLESS_KERNEL.1
        )
    } else {
        String::new()
    };
    Some(format!(
        "the container's writable layer (overlayfs over the image's root) could not be mounted: {who}the store's directory (its runs/) must be on a file system overlayfs can write to (ext4, xfs, btrfs, tmpfs; not an overlay or NFS), or use --host"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_overlay_mount_is_explained() {
        let line = r#"time="2026-12-03T23:39:45Z" level=error msg="runc run failed: unable to start container process: error during container init: error mounting \"overlay\" to rootfs at \"/\": mount overlay:/ (via /proc/self/fd/7): invalid argument""#;
        let hint = explain_failure(line, true).expect("explained");
        assert!(
            hint.contains("Linux 5.11") && hint.contains("--host"),
            "{hint}"
        );
        assert!(
            !explain_failure(line, false)
                .expect("explained")
                .contains("5.11")
        );
        assert_eq!(explain_failure("step output", true), None);
    }

    #[test]
    fn kernels_before_5_11_are_refused_with_what_is_needed() {
        assert!(check_kernel("6.18.44-fc-v1147").is_ok());
        assert!(check_kernel("5.11.0").is_ok());
        let err = check_kernel("5.10.0-28-amd64")
            .expect_err("too old")
            .to_string();
        assert!(
            err.contains("Linux 5.11") && err.contains("5.10.0-28-amd64"),
            "{err}"
        );
        assert!(err.contains("--host"), "{err}");
        assert!(check_kernel("4.19.0").is_err());
        assert!(check_kernel("weird").is_ok());
    }

    #[test]
    fn the_overlay_covers_the_root_and_rootless_uses_user_xattrs() {
        let bundle = std::env::temp_dir().join(format!("tw-overlay-{}", std::process::id()));
        let lower = bundle.join("lower");
        let o = Overlay::prepare(&lower, &bundle, true).expect("prepared");
        assert_eq!(o.mount.destination, "/");
        assert_eq!(o.mount.kind, "overlay");
        assert!(o.mount.options.contains(&"userxattr".to_owned()));
        assert!(o.rootfs.is_dir() && bundle.join("upper").is_dir());
        let o = Overlay::prepare(&lower, &bundle, false).expect("prepared");
        assert!(!o.mount.options.contains(&"userxattr".to_owned()));
        assert!(Overlay::prepare(Path::new("/a:b"), &bundle, false).is_err());
        std::fs::remove_dir_all(&bundle).expect("clean");
    }
}
