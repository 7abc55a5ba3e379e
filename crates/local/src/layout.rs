//! The execution directory: one folder per Pod volume, and what each container sees.
//!
//! ```text
//! <execution dir>/
//!   volumes/<volume name>/     emptyDirs and ConfigMap contents
//!   bin/                       /.testwerk-bin of our own images: busybox and its `sh`
//!   own-root/                  `/` of our own images (and of every container in host mode):
//!                              mount points only, read-only; runc binds the rest into it
//!   c<n>/config.json           container n's OCI bundle …
//!   c<n>/rootfs, upper, work   … and its overlay over the image's root (image mode)
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::PodSpec;
use testwerk_bundle::Bundle;
use testwerk_protocol::paths;

use crate::LocalError;
use crate::oci::spec::Mount;

/// Prepares the volume folders of the Pod and returns where each volume lives.
pub fn prepare_volumes(
    dir: &Path,
    bundle: &Bundle,
    pod: &PodSpec,
) -> Result<BTreeMap<String, PathBuf>, LocalError> {
    let mut out = BTreeMap::new();
    for volume in pod.volumes.iter().flatten() {
        let path = dir.join("volumes").join(&volume.name);
        fs::create_dir_all(&path).map_err(|e| LocalError::io(&path, e))?;
        if volume.empty_dir.is_some() {
            // Every container may run as another user: group-owned by the fsGroup and
            // group-writable with setgid, as the kubelet makes them, and open to all besides
            // (containers without the fsGroup run as other users too).
            if let Some(group) = pod.security_context.as_ref().and_then(|s| s.fs_group)
                && rustix::process::geteuid().is_root()
            {
                let gid = rustix::process::Gid::from_raw(group as u32);
                rustix::fs::chown(&path, None, Some(gid))
                    .map_err(|e| LocalError::io(&path, e.into()))?;
            }
            set_mode(&path, 0o2777)?;
        } else if let Some(cm) = &volume.config_map {
            let source = bundle
                .config_maps
                .iter()
                .find(|c| c.metadata.name.as_deref() == Some(cm.name.as_str()))
                .ok_or_else(|| LocalError::Unsupported(format!(
                    "volume `{}` uses ConfigMap `{}`, which the workflow does not create; only its own content files work locally",
                    volume.name, cm.name
                )))?;
            let text = source.data.iter().flatten().map(|(k, v)| (k, v.as_bytes()));
            let binary = source
                .binary_data
                .iter()
                .flatten()
                .map(|(k, v)| (k, v.0.as_slice()));
            for (key, value) in text.chain(binary) {
                let file = path.join(key);
                fs::write(&file, value).map_err(|e| LocalError::io(&file, e))?;
                set_mode(&file, cm.default_mode.map_or(0o644, |m| m as u32))?;
            }
        } else {
            return Err(LocalError::Unsupported(format!(
                "volume `{}` is neither an emptyDir nor one of the workflow's own files; the local runner cannot provide it",
                volume.name
            )));
        }
        out.insert(volume.name.clone(), path);
    }
    Ok(out)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), LocalError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| LocalError::io(path, e))
}

/// Debian's `busybox-static` (or `busybox`) installs here.
pub const BUSYBOX: &str = "/bin/busybox";

/// Where our own programs come from on this machine.
#[derive(Clone, Debug)]
pub struct Programs {
    /// The static `testwerk-init`.
    pub init: PathBuf,
    /// The `testwerk` binary (the toolkit).
    pub toolkit: PathBuf,
}

/// Top-level entries of this machine never shown in host mode: the execution's volumes
/// replace the first four, runc provides the kernel's file systems, and `/run` holds the
/// sockets of this machine's daemons (a read-only mount does not stop `connect`).
const HOST_LEFT_OUT: [&str; 9] = [
    "tmp",
    "data",
    "testkube",
    ".testwerk",
    "proc",
    "sys",
    "dev",
    "run",
    "lost+found",
];

/// What our own images hold, on this machine: `/init`, `/toolkit` and `/.testwerk-bin`
/// (busybox and its `sh`), plus, in host mode, every top-level directory of this machine
/// read-only. Returns the root directory (mount points only, used read-only by every
/// container) and the mounts that fill it.
pub fn own_root(
    dir: &Path,
    programs: &Programs,
    host: bool,
) -> Result<(PathBuf, Vec<Mount>), LocalError> {
    let root = dir.join("own-root");
    let bin = dir.join("bin");
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| LocalError::io(&p, e)
    };
    fs::create_dir_all(&root).map_err(io(&root))?;
    fs::create_dir_all(&bin).map_err(io(&bin))?;
    let mut mounts = Vec::new();
    if host {
        let entries = fs::read_dir("/").map_err(io(Path::new("/")))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(Path::new("/")))?;
            let name = entry.file_name();
            let Some(text) = name.to_str() else { continue };
            if HOST_LEFT_OUT.contains(&text) {
                continue;
            }
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            let inside = root.join(&name);
            if kind.is_symlink() {
                // `/bin -> usr/bin` on merged-/usr systems: the same link inside.
                if inside.symlink_metadata().is_err() {
                    let target = fs::read_link(entry.path()).map_err(io(&entry.path()))?;
                    std::os::unix::fs::symlink(target, &inside).map_err(io(&inside))?;
                }
            } else if kind.is_dir() {
                fs::create_dir_all(&inside).map_err(io(&inside))?;
                names.push(text.to_owned());
            }
        }
        names.sort();
        for name in names {
            let path = format!("/{name}");
            mounts.push(Mount::bind(&path, &path, true));
        }
    }
    // The shell of our images is busybox; without it (host mode only) the host's sh stands in.
    let busybox = Path::new(BUSYBOX).is_file();
    let sh = bin.join("sh");
    if sh.symlink_metadata().is_err() {
        let target = if busybox { "busybox" } else { "/bin/sh" };
        std::os::unix::fs::symlink(target, &sh).map_err(io(&sh))?;
    }
    if busybox {
        mount_point_file(&bin.join("busybox"))?;
    } else if !host {
        return Err(LocalError::Setup(
            "our own images need busybox for their shell: install it with `apt-get install busybox-static` (or run with --host)".into(),
        ));
    }
    mounts.push(Mount::bind(
        &bin.display().to_string(),
        paths::IMAGE_BIN_DIR,
        true,
    ));
    if busybox {
        mounts.push(Mount::bind(
            BUSYBOX,
            &format!("{}/busybox", paths::IMAGE_BIN_DIR),
            true,
        ));
    }
    for (program, at) in [
        (&programs.init, paths::IMAGE_INIT),
        (&programs.toolkit, paths::IMAGE_TOOLKIT),
    ] {
        mount_point_file(&root.join(at.trim_start_matches('/')))?;
        mounts.push(Mount::bind(&program.display().to_string(), at, true));
    }
    Ok((root, mounts))
}

/// An empty file for runc to bind a file over.
fn mount_point_file(path: &Path) -> Result<(), LocalError> {
    if path.symlink_metadata().is_err() {
        fs::write(path, b"").map_err(|e| LocalError::io(path, e))?;
    }
    Ok(())
}

/// In host mode a volume may only appear where nothing of this machine is: under the
/// execution's own top-level directories or at a new top-level one (the rest is read-only).
pub fn host_mount_allowed(path: &str) -> bool {
    let first = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    matches!(first, "tmp" | "data" | "testkube" | ".testwerk" | "run")
        || !Path::new("/").join(first).exists()
}
