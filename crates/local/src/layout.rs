//! The execution directory: one folder per Pod volume, and what each container sees.
//!
//! ```text
//! <execution dir>/
//!   volumes/<volume name>/     emptyDirs and ConfigMap contents
//!   bin/                       /.testwerk-bin for our "images": the host's shell
//!   root-<n>/                  the (empty) root directory container n is built in
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, PodSpec};
use testwerk_bundle::Bundle;
use testwerk_protocol::paths;

use crate::LocalError;
use crate::sandbox::{Bind, SandboxSpec, host_binds};

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
            // Every container may run as another user, as in a Pod with an fsGroup.
            set_mode(&path, 0o777)?;
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

/// What container `index` sees: the host read-only, its volumes, and our programs where our
/// images would have them.
pub fn sandbox_for(
    dir: &Path,
    index: usize,
    container: &Container,
    volumes: &BTreeMap<String, PathBuf>,
    programs: &Programs,
) -> Result<SandboxSpec, LocalError> {
    let mut binds = host_binds().map_err(|e| LocalError::io(Path::new("/"), e))?;
    let bin = dir.join("bin");
    if !bin.exists() {
        fs::create_dir_all(&bin).map_err(|e| LocalError::io(&bin, e))?;
        // Our images carry busybox here. The host's busybox behaves like the shell of the
        // images (alpine, busybox) that most workflows name; without it, its /bin/sh stands in.
        let shell = if Path::new(BUSYBOX).is_file() {
            BUSYBOX
        } else {
            "/bin/sh"
        };
        std::os::unix::fs::symlink(shell, bin.join("sh")).map_err(|e| LocalError::io(&bin, e))?;
    }
    binds.push(Bind {
        source: bin,
        target: paths::IMAGE_BIN_DIR.into(),
        read_only: true,
    });
    binds.push(Bind {
        source: programs.init.clone(),
        target: paths::IMAGE_INIT.into(),
        read_only: true,
    });
    binds.push(Bind {
        source: programs.toolkit.clone(),
        target: paths::IMAGE_TOOLKIT.into(),
        read_only: true,
    });
    let mut mounts: Vec<_> = container.volume_mounts.iter().flatten().collect();
    // Parents first, so `/data/repo` lands inside `/data`.
    mounts.sort_by_key(|m| m.mount_path.matches('/').count());
    for m in mounts {
        let volume = volumes.get(&m.name).ok_or_else(|| {
            LocalError::Unsupported(format!(
                "container {} mounts unknown volume `{}`",
                container.name, m.name
            ))
        })?;
        let source = match &m.sub_path {
            Some(sub) if !sub.is_empty() => volume.join(sub),
            _ => volume.clone(),
        };
        if !under_own_dirs(&m.mount_path) {
            return Err(LocalError::Unsupported(format!(
                "volume `{}` is mounted at {}; locally, mounts must be under /data, /tmp, /testkube or a new top-level directory",
                m.name, m.mount_path
            )));
        }
        binds.push(Bind {
            source,
            target: m.mount_path.clone().into(),
            read_only: m.read_only.unwrap_or(false),
        });
    }
    binds.extend(mask_execution_dir(dir)?);
    Ok(SandboxSpec {
        root: dir.join(format!("root-{index}")),
        binds,
    })
}

/// An empty directory over the execution's own directory, last: the host is visible
/// read-only inside, and this one holds the run's control file (with the protocol token),
/// the sandbox specs and the other containers' views, none of which a step may read. Not
/// needed when the directory lies under a path the sandbox replaces (e.g. `/tmp`).
fn mask_execution_dir(dir: &Path) -> Result<Option<Bind>, LocalError> {
    let dir = fs::canonicalize(dir).map_err(|e| LocalError::io(dir, e))?;
    let first = dir
        .components()
        .nth(1)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    if under_own_dirs(&first) {
        return Ok(None);
    }
    let empty = dir.join("masked");
    fs::create_dir_all(&empty).map_err(|e| LocalError::io(&empty, e))?;
    Ok(Some(Bind {
        source: empty,
        target: dir,
        read_only: true,
    }))
}

/// A mount path we can create without touching the host: under a replaced directory, or a
/// new top-level directory that the host does not have.
fn under_own_dirs(path: &str) -> bool {
    let first = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    matches!(first, "tmp" | "data" | "testkube" | ".testwerk")
        || !Path::new("/").join(first).exists()
}
