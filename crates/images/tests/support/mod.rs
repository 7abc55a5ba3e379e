//! A store talking plain HTTP to a test registry, and small file-system probes.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use testwerk_images::{ImageError, ImageStore, LocalImage, PullEvent, PullPolicy};
use testwerk_registry::{Environment, HostSettings, RegistryClient, RegistrySettings};
use testwerk_testregistry::Registry;

pub fn settings(registry: &Registry) -> RegistrySettings {
    let mut hosts = BTreeMap::new();
    hosts.insert(
        registry.host.clone(),
        HostSettings {
            plain_http: true,
            ..HostSettings::default()
        },
    );
    RegistrySettings {
        hosts,
        cloud_credentials: false,
        environment: Environment::empty(),
        ..RegistrySettings::default()
    }
}

pub fn store_in(dir: &Path, settings: RegistrySettings) -> ImageStore {
    ImageStore::open(dir, RegistryClient::new(settings).unwrap()).unwrap()
}

pub fn store(registry: &Registry, dir: &Path) -> ImageStore {
    store_in(dir, settings(registry))
}

/// `ensure` collecting its events.
pub fn ensure(
    store: &ImageStore,
    reference: &str,
    policy: Option<PullPolicy>,
) -> (Result<LocalImage, ImageError>, Vec<PullEvent>) {
    let mut events = Vec::new();
    let result = store.ensure(reference, policy, &mut |e| events.push(e));
    (result, events)
}

pub fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("read {}: {e}", path.as_ref().display()))
}

pub fn mode(path: impl AsRef<Path>) -> u32 {
    std::fs::symlink_metadata(path.as_ref()).unwrap().mode() & 0o7777
}

/// Every path below `dir` (relative), sorted: what a test compares before and after.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p: PathBuf = e.path();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        out.push(format!(
            "{} {:o} {}",
            p.strip_prefix(base).unwrap().display(),
            meta.mode(),
            meta.len()
        ));
        if meta.is_dir() {
            walk(base, &p, out);
        }
    }
}

pub fn is_root() -> bool {
    rustix_euid() == 0
}

fn rustix_euid() -> u32 {
    // The test's own euid, from /proc (no libc dependency in tests).
    read("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX)
}
