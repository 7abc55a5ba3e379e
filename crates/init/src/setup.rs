//! The setup step: copy our binaries into the shared volume, for containers running user
//! images (which have neither `init`, nor the toolkit, nor a shell of ours).
//!
//! Locally (or in a misbuilt image) the sources may not exist: each copy reports what is
//! missing, and a failed setup ends `init` with exit code 155.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use testwerk_protocol::paths;
use testwerk_protocol::plan::SetupCopies;

use crate::settings::Settings;

/// The outcome of one copy, for the log.
pub struct Copy {
    /// `Configuring init process`
    pub what: &'static str,
    /// `Err`: why it failed; `Ok(false)`: not asked for.
    pub result: Result<bool, String>,
}

/// Runs the copies the plan asks for (or, from image volumes, the links).
pub fn run(copies: SetupCopies, settings: &Settings) -> Vec<Copy> {
    let internal = &settings.internal_dir;
    let prepare = || -> Result<(), String> {
        crate::outputs::shared_dir(internal)
            .map_err(|e| format!("cannot create {}: {e}", internal.display()))
    };
    // (what, asked, source in our image, source in the image volume, name in the shared dir)
    let items: [(&'static str, bool, &Path, &str, &str); 3] = [
        (
            "Configuring init process",
            copies.init,
            &settings.image_init,
            paths::VOLUME_INIT,
            "init",
        ),
        (
            "Configuring toolkit",
            copies.toolkit,
            &settings.image_toolkit,
            paths::VOLUME_TOOLKIT,
            "toolkit",
        ),
        (
            "Configuring shell",
            copies.binaries,
            &settings.image_bin_dir,
            paths::VOLUME_BIN_DIR,
            "bin",
        ),
    ];
    items
        .into_iter()
        .map(|(what, asked, image_path, volume_path, name)| Copy {
            what,
            result: asked
                .then(|| {
                    prepare().and_then(|()| {
                        let to = internal.join(name);
                        if copies.from_volumes {
                            link(Path::new(volume_path), &to)
                        } else if name == "bin" {
                            copy_dir(image_path, &to)
                        } else {
                            copy_file(image_path, &to)
                        }
                    })
                })
                .transpose()
                .map(|done| done.is_some()),
        })
        .collect()
}

/// Links `to` to a binary in an image volume, which every container of the Pod mounts at the
/// same place; a missing one means the cluster did not mount the volume.
fn link(from: &Path, to: &Path) -> Result<(), String> {
    if fs::symlink_metadata(from).is_err() {
        return Err(format!(
            "{} does not exist: the image volume is not mounted (does this cluster support \
             Kubernetes image volumes? run the agent with --image-volumes=off)",
            from.display()
        ));
    }
    let _ = fs::remove_file(to);
    std::os::unix::fs::symlink(from, to)
        .map_err(|e| format!("cannot link {} to {}: {e}", to.display(), from.display()))
}

fn copy_file(from: &Path, to: &Path) -> Result<(), String> {
    if !from.exists() {
        return Err(format!(
            "{} does not exist (is this our image? set TW_IMAGE_* to run elsewhere)",
            from.display()
        ));
    }
    fs::copy(from, to)
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot make {} executable: {e}", to.display()))
}

/// Copies a directory of binaries, keeping symbolic links (busybox applets are links).
fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    if !from.is_dir() {
        return Err(format!(
            "{} is not a directory (is this our image? set TW_IMAGE_BIN_DIR to run elsewhere)",
            from.display()
        ));
    }
    let fail =
        |e: std::io::Error| format!("cannot copy {} to {}: {e}", from.display(), to.display());
    fs::create_dir_all(to).map_err(fail)?;
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).map_err(fail)?;
    for entry in fs::read_dir(from).map_err(fail)? {
        let entry = entry.map_err(fail)?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type().map_err(fail)?;
        if kind.is_symlink() {
            let target = fs::read_link(&src).map_err(fail)?;
            let _ = fs::remove_file(&dst);
            std::os::unix::fs::symlink(target, &dst).map_err(fail)?;
        } else if kind.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(fail)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_what_is_asked_and_reports_missing_sources() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        fs::write(root.join("init"), "#!/bin/sh\n").expect("w");
        fs::create_dir(root.join("bin")).expect("mkdir");
        fs::write(root.join("bin/busybox"), "bb").expect("w");
        std::os::unix::fs::symlink("busybox", root.join("bin/sh")).expect("link");
        let settings = Settings::from_env(|v| match v {
            "TW_INTERNAL_DIR" => Some(root.join("internal").into()),
            "TW_IMAGE_INIT" => Some(root.join("init").into()),
            "TW_IMAGE_TOOLKIT" => Some(root.join("missing").into()),
            "TW_IMAGE_BIN_DIR" => Some(root.join("bin").into()),
            _ => None,
        })
        .expect("settings");
        let all = SetupCopies {
            init: true,
            toolkit: true,
            binaries: true,
            from_volumes: false,
        };
        let results: Vec<_> = run(all, &settings).into_iter().map(|c| c.result).collect();
        assert_eq!(results[0], Ok(true));
        assert!(matches!(&results[1], Err(e) if e.contains("missing")));
        assert_eq!(results[2], Ok(true));
        assert_eq!(
            fs::read_link(root.join("internal/bin/sh")).expect("link"),
            Path::new("busybox")
        );
        let none: Vec<_> = run(SetupCopies::default(), &settings)
            .into_iter()
            .map(|c| c.result)
            .collect();
        assert_eq!(none, [Ok(false), Ok(false), Ok(false)]);
    }

    #[test]
    fn from_image_volumes_links_instead_of_copying() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        fs::create_dir(root.join("volume")).expect("mkdir");
        fs::write(root.join("volume/init"), "#!/bin/sh\n").expect("w");
        link(&root.join("volume/init"), &root.join("init")).expect("link");
        assert_eq!(
            fs::read_link(root.join("init")).expect("link"),
            root.join("volume/init")
        );
        // Linking again (a retried setup) replaces the link.
        link(&root.join("volume/init"), &root.join("init")).expect("relink");
        let missing = link(&root.join("volume/toolkit"), &root.join("toolkit"));
        assert!(
            matches!(&missing, Err(e) if e.contains("image volume is not mounted")
                && e.contains("--image-volumes=off")),
            "{missing:?}"
        );
    }

    #[test]
    fn a_setup_from_volumes_that_are_not_mounted_fails_naming_them() {
        let dir = tempfile::tempdir().expect("tmp");
        let settings = Settings::from_env(|v| {
            (v == "TW_INTERNAL_DIR").then(|| dir.path().join("internal").into())
        })
        .expect("settings");
        let copies = SetupCopies {
            init: true,
            toolkit: false,
            binaries: true,
            from_volumes: true,
        };
        let results: Vec<_> = run(copies, &settings)
            .into_iter()
            .map(|c| c.result)
            .collect();
        assert!(
            matches!(&results[0], Err(e) if e.contains(paths::VOLUME_INIT)),
            "{results:?}"
        );
        assert_eq!(results[1], Ok(false));
        assert!(
            matches!(&results[2], Err(e) if e.contains(paths::VOLUME_BIN_DIR)),
            "{results:?}"
        );
    }
}
