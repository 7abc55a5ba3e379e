//! Stand-ins for `alpine`, `busybox` and `bash`, built from Debian's `busybox-static` (and
//! `bash-static`) like the test cluster's (`busybox_rootfs` in `scripts/cluster`): the same
//! layout and the same config as the originals, so workflows written for them run unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use testwerk_testinputs::available;

use crate::image::{ImageConfig, ImageSpec, Layer, Media, Pushed};
use crate::registry::Registry;
use crate::tarball::Entry;

/// The `PATH` of the originals' configs.
pub const STANDIN_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The tags each stand-in is pushed under (by [`push_standins`]), as in the test cluster plus
/// the ones the corpus names.
pub const ALPINE_TAGS: &[&str] = &[
    "3.20", "3.22.0", "3.22", "3.21.2", "3.21", "3.17.2", "3", "latest",
];
pub const BUSYBOX_TAGS: &[&str] = &["1.36", "1.37", "stable", "latest"];
pub const BASH_TAGS: &[&str] = &["5", "5.2", "alpine3.21", "latest"];

/// The bash stand-in's entrypoint, the test cluster's.
const BASH_ENTRYPOINT: &str = include_str!("../../../cluster/images/bash-entrypoint.sh");

fn busybox_binary() -> Option<PathBuf> {
    let found = std::env::var_os("TESTWERK_BUSYBOX")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/bin/busybox")).filter(|p| p.is_file()));
    available(
        found,
        "busybox (static)",
        "apt-get install -y busybox-static",
    )
}

fn bash_static() -> Option<PathBuf> {
    let found = Some(PathBuf::from("/bin/bash-static")).filter(|p| p.is_file());
    available(found, "bash-static", "apt-get install -y bash-static")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The busybox root filesystem as one layer's entries: `/bin/busybox`, every applet as a
/// symlink to it, `/etc/passwd`, `/etc/group`, `/tmp`. `None` (a counted skip) without
/// busybox-static.
///
/// # Panics
/// When busybox cannot list its applets.
#[track_caller]
pub fn busybox_layer() -> Option<Layer> {
    let busybox = busybox_binary()?;
    let list = Command::new(&busybox)
        .arg("--list-full")
        .output()
        .expect("run busybox --list-full");
    let applets = String::from_utf8_lossy(&list.stdout).into_owned();
    let mut entries = vec![];
    for dir in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "usr/local",
        "usr/local/bin",
        "usr/local/sbin",
        "etc",
        "home",
        "var",
        "dev",
        "proc",
        "sys",
    ] {
        entries.push(Entry::dir(dir));
    }
    entries.push(Entry::dir("root").mode(0o700));
    entries.push(Entry::dir("tmp").mode(0o1777));
    entries.push(Entry::dir("var/tmp").mode(0o1777));
    entries.push(Entry::file("bin/busybox", read(&busybox)).mode(0o755));
    for applet in applets.lines().map(str::trim).filter(|a| !a.is_empty()) {
        if applet != "bin/busybox" {
            entries.push(Entry::symlink(applet, "/bin/busybox"));
        }
    }
    entries.push(Entry::file(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
    ));
    entries.push(Entry::file("etc/group", "root:x:0:root\nnobody:x:65534:\n"));
    entries.push(Entry::file(
        "etc/os-release",
        "NAME=\"testwerk stand-in\"\nID=testwerk-standin\nPRETTY_NAME=\"testwerk stand-in image (Debian busybox-static)\"\n",
    ));
    Some(Layer::new(entries))
}

/// The `busybox` stand-in: the busybox layer, `Cmd ["sh"]`.
#[track_caller]
pub fn busybox_image() -> Option<ImageSpec> {
    Some(ImageSpec {
        layers: vec![busybox_layer()?],
        config: ImageConfig {
            env: vec![STANDIN_PATH.to_owned()],
            cmd: Some(vec!["sh".to_owned()]),
            ..ImageConfig::default()
        },
        media: Media::Oci,
    })
}

/// The `alpine` stand-in: the busybox layer, `Cmd ["/bin/sh"]`, working dir `/`.
#[track_caller]
pub fn alpine_image() -> Option<ImageSpec> {
    Some(ImageSpec {
        layers: vec![busybox_layer()?],
        config: ImageConfig {
            env: vec![STANDIN_PATH.to_owned()],
            cmd: Some(vec!["/bin/sh".to_owned()]),
            working_dir: Some("/".to_owned()),
            ..ImageConfig::default()
        },
        media: Media::Oci,
    })
}

/// The `bash` stand-in: the busybox layer plus `bash-static` as `/usr/local/bin/bash` and the
/// original's `docker-entrypoint.sh`; entrypoint `docker-entrypoint.sh`, `Cmd ["bash"]`.
#[track_caller]
pub fn bash_image() -> Option<ImageSpec> {
    let base = busybox_layer()?;
    let bash = bash_static()?;
    let top = Layer::new(vec![
        Entry::file("usr/local/bin/bash", read(&bash)).mode(0o755),
        Entry::file("usr/local/bin/docker-entrypoint.sh", BASH_ENTRYPOINT).mode(0o755),
    ]);
    Some(ImageSpec {
        layers: vec![base, top],
        config: ImageConfig {
            env: vec![STANDIN_PATH.to_owned(), "_BASH_VERSION=5.2".to_owned()],
            entrypoint: Some(vec!["docker-entrypoint.sh".to_owned()]),
            cmd: Some(vec!["bash".to_owned()]),
            working_dir: Some("/".to_owned()),
            ..ImageConfig::default()
        },
        media: Media::Oci,
    })
}

/// The stand-ins, as pushed by [`push_standins`].
#[derive(Clone, Debug)]
pub struct Standins {
    pub alpine: Pushed,
    pub busybox: Pushed,
    pub bash: Pushed,
}

/// Pushes `library/alpine`, `library/busybox` and `library/bash` stand-ins under every tag in
/// [`ALPINE_TAGS`], [`BUSYBOX_TAGS`], [`BASH_TAGS`]. A run then reaches them as `alpine:3.20`
/// with `--registry-mirror docker.io=<registry.host>` (and `--insecure <registry.host>`).
/// `None` (a counted skip) without busybox-static or bash-static.
#[track_caller]
pub fn push_standins(registry: &Registry) -> Option<Standins> {
    let alpine = alpine_image()?;
    let busybox = busybox_image()?;
    let bash = bash_image()?;
    let push = |repo: &str, tags: &[&str], image: &ImageSpec| {
        let pushed = registry.push(repo, tags[0], image);
        for tag in &tags[1..] {
            registry.tag(repo, &pushed, tag);
        }
        pushed
    };
    Some(Standins {
        alpine: push("library/alpine", ALPINE_TAGS, &alpine),
        busybox: push("library/busybox", BUSYBOX_TAGS, &busybox),
        bash: push("library/bash", BASH_TAGS, &bash),
    })
}
