//! As an ordinary user: files keep the user's own ids (silently), modes (setuid included) and
//! read-only directories are still faithful, and whiteouts still reach into read-only
//! directories of lower layers. Run as root, the test re-runs itself as `nobody` (setpriv).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{mode, read, store_in};
use testwerk_testinputs::{available, which};
use testwerk_testregistry::{Entry, ImageSpec, Layer, Registry};

const CHILD_HOST: &str = "TESTWERK_IMAGES_ROOTLESS_HOST";
const CHILD_CACHE: &str = "TESTWERK_IMAGES_ROOTLESS_CACHE";
const NOBODY: u32 = 65534;

fn image() -> ImageSpec {
    ImageSpec::new(vec![
        Layer::new(vec![
            Entry::dir("ro").mode(0o555),
            Entry::file("ro/gone", "lower"),
            Entry::file("ro/stays", "lower"),
            Entry::file("suid", "x").mode(0o4755).owner(1000, 2000),
        ]),
        Layer::new(vec![Entry::whiteout("ro/gone")]),
    ])
}

/// The pull itself, as whoever runs it; prints the root for the parent.
fn pull(host: &str, cache: &Path) -> PathBuf {
    let registry_settings = {
        let mut s = testwerk_registry::RegistrySettings {
            cloud_credentials: false,
            environment: testwerk_registry::Environment::empty(),
            ..Default::default()
        };
        s.hosts.insert(
            host.to_owned(),
            testwerk_registry::HostSettings {
                plain_http: true,
                ..Default::default()
            },
        );
        s
    };
    let store = store_in(cache, registry_settings);
    store
        .ensure(&format!("{host}/t/rootless:1"), None, &mut |_| {})
        .unwrap()
        .root
}

#[test]
fn an_ordinary_user_unpacks_with_its_own_ids() {
    if let (Ok(host), Ok(cache)) = (std::env::var(CHILD_HOST), std::env::var(CHILD_CACHE)) {
        pull(&host, Path::new(&cache));
        return;
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    registry.push("t/rootless", "1", &image());
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let (root, uid) = if support::is_root() {
        let Some(setpriv) = available(which("setpriv"), "setpriv", "apt-get install -y util-linux")
        else {
            return;
        };
        std::os::unix::fs::chown(t.path(), Some(NOBODY), Some(NOBODY)).unwrap();
        let out = Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "an_ordinary_user_unpacks_with_its_own_ids",
                "--nocapture",
            ])
            .env(CHILD_HOST, &registry.host)
            .env(CHILD_CACHE, &cache)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let roots: Vec<PathBuf> = std::fs::read_dir(cache.join("roots"))
            .unwrap()
            .map(|e| e.unwrap().path().join("rootfs"))
            .collect();
        assert_eq!(roots.len(), 1);
        (roots[0].clone(), NOBODY)
    } else {
        let uid = std::fs::metadata(t.path()).unwrap().uid();
        (pull(&registry.host, &cache), uid)
    };
    let suid = std::fs::metadata(root.join("suid")).unwrap();
    assert_eq!(suid.uid(), uid, "our own uid, not the layer's 1000");
    assert_eq!(mode(root.join("suid")), 0o4755);
    assert_eq!(mode(root.join("ro")), 0o555);
    assert!(!root.join("ro/gone").exists());
    assert_eq!(read(root.join("ro/stays")), "lower");
}
