//! Stand-ins for tools Debian does not package, built once from their own registries into a
//! cache and then layered like the others: `postman/newman` (npm) on Node.js, `grafana/k6`
//! (the Go module proxy).
//!
//! The cache is `$TESTWERK_STANDIN_CACHE`, else `~/.cache/testwerk/standins`; a tool is built
//! the first time a test needs it (newman ≈ 15 s with `npm`; k6 several minutes with `go`)
//! and reused after. Without `npm` (or `node`) or `go`, the stand-in is a counted skip.

use std::path::PathBuf;
use std::process::Command;

use testwerk_testinputs::{available, which};

use crate::host_files::HostFiles;
use crate::image::{ImageConfig, ImageSpec, Media};
use crate::standin::{STANDIN_PATH, busybox_layer};
use crate::tarball::Entry;

/// The newman release the stand-in is built from (the corpus runs `6-alpine`).
pub const NEWMAN_VERSION: &str = "6.2.2";
/// `postman/newman` tags the corpus names.
pub const NEWMAN_TAGS: &[&str] = &["6-alpine", "alpine", "6", "latest"];

/// The k6 release the stand-in is built from; it stands in for every tag the corpus names.
pub const K6_VERSION: &str = "1.1.0";
/// `grafana/k6` tags the corpus names (`1.3.0-with-browser` is left out: no browser here).
pub const K6_TAGS: &[&str] = &["1.1.0", "0.49.0", "0.43.1", "master", "latest"];

/// The pytest the corpus's pytest project pins (`requirements.txt`: `pytest==8.3.3`); the
/// Python stand-in carries it, with its dependencies, so that the workflow's `pip install -r
/// requirements.txt` finds everything installed and needs no network.
pub const CORPUS_PYTEST: &str = "8.3.3";

/// Where built tools are kept.
pub fn standin_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("TESTWERK_STANDIN_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/testwerk/standins")
}

/// Runs `command` to build `what`, panicking with its output when it fails (a broken build is
/// a broken test machine, not a skip).
fn build(what: &str, command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("build {what}: cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "build {what}: {command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `node_modules` holding newman [`NEWMAN_VERSION`], installed from npm the first time.
#[track_caller]
pub fn newman_modules() -> Option<PathBuf> {
    let dir = standin_cache().join(format!("newman-{NEWMAN_VERSION}"));
    let modules = dir.join("node_modules");
    if !modules.join("newman/bin/newman.js").is_file() {
        let npm = available(which("npm"), "npm", "apt-get install -y nodejs npm")?;
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        build(
            "newman",
            Command::new(npm)
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--omit=dev",
                    "--prefix",
                ])
                .arg(&dir)
                .arg(format!("newman@{NEWMAN_VERSION}")),
        );
    }
    Some(modules)
}

/// A `site-packages` tree holding pytest [`CORPUS_PYTEST`] and its dependencies, installed
/// from PyPI with this machine's pip the first time.
#[track_caller]
pub fn corpus_pytest_site() -> Option<PathBuf> {
    let site = standin_cache().join(format!("pytest-{CORPUS_PYTEST}/site"));
    if !site
        .join(format!("pytest-{CORPUS_PYTEST}.dist-info"))
        .is_dir()
    {
        let python = available(
            Some(PathBuf::from("/usr/bin/python3")).filter(|p| p.is_file()),
            "Debian's python3",
            "apt-get install -y python3-pip",
        )?;
        build(
            "pytest",
            Command::new(python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                // Into a directory of its own, not the system: Debian's marker is about that.
                .args(["--no-compile", "--break-system-packages", "--target"])
                .arg(&site)
                .arg(format!("pytest=={CORPUS_PYTEST}")),
        );
    }
    Some(site)
}

/// The `k6` binary [`K6_VERSION`], built with `go install` the first time (static, no cgo).
#[track_caller]
pub fn k6_binary() -> Option<PathBuf> {
    let dir = standin_cache().join(format!("k6-{K6_VERSION}"));
    let binary = dir.join("k6");
    if !binary.is_file() {
        let go = which("go")
            .or_else(|| Some(PathBuf::from("/usr/local/go/bin/go")).filter(|p| p.is_file()));
        let go = available(
            go,
            "go",
            "install Go (https://go.dev/dl), as scripts/cluster does",
        )?;
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        build(
            "k6",
            Command::new(go)
                .args(["install", &format!("go.k6.io/k6@v{K6_VERSION}")])
                .env("GOBIN", &dir)
                .env("CGO_ENABLED", "0")
                .env("GOFLAGS", "-modcacherw"),
        );
    }
    Some(binary)
}

/// The `postman/newman` stand-in: busybox, this machine's `node` (with its libraries) as
/// `/usr/local/bin/node`, newman and its modules in `/usr/local/lib/node_modules`, `newman`
/// in `/usr/local/bin`; entrypoint `newman`, working directory `/etc/newman`, as the original.
#[track_caller]
pub fn newman_image() -> Option<ImageSpec> {
    let base = busybox_layer()?;
    let node = available(which("node"), "node", "apt-get install -y nodejs")?;
    let modules = newman_modules()?;
    let mut files = HostFiles::new();
    files.add_tree_as(&node, "/usr/local/bin/node");
    files.add_tree_as(&modules, "/usr/local/lib/node_modules");
    files.add_libraries();
    files.put(Entry::symlink(
        "usr/local/bin/newman",
        "../lib/node_modules/newman/bin/newman.js",
    ));
    files.put(Entry::dir("etc/newman"));
    Some(ImageSpec {
        layers: vec![base, files.layer()],
        config: ImageConfig {
            env: vec![STANDIN_PATH.to_owned()],
            entrypoint: Some(vec!["newman".to_owned()]),
            working_dir: Some("/etc/newman".to_owned()),
            ..ImageConfig::default()
        },
        media: Media::Oci,
    })
}

/// The `grafana/k6` stand-in: busybox and k6 [`K6_VERSION`] as `/usr/bin/k6`; entrypoint
/// `k6`, working directory `/home/k6`, user `12345:12345` (`k6`), as the original.
#[track_caller]
pub fn k6_image() -> Option<ImageSpec> {
    let base = busybox_layer()?;
    let k6 = k6_binary()?;
    let mut files = HostFiles::new();
    files.add_tree_as(&k6, "/usr/bin/k6");
    files.add_libraries();
    files.put(Entry::file(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\nk6:x:12345:12345::/home/k6:/sbin/nologin\n",
    ));
    files.put(Entry::file(
        "etc/group",
        "root:x:0:root\nnobody:x:65534:\nk6:x:12345:k6\n",
    ));
    files.put(Entry::dir("home/k6").owner(12345, 12345));
    Some(ImageSpec {
        layers: vec![base, files.layer()],
        config: ImageConfig {
            env: vec![STANDIN_PATH.to_owned()],
            entrypoint: Some(vec!["k6".to_owned()]),
            working_dir: Some("/home/k6".to_owned()),
            user: Some("12345:12345".to_owned()),
            ..ImageConfig::default()
        },
        media: Media::Oci,
    })
}
