//! A full disk: the image store on a 2 MiB tmpfs (mounted in a private mount namespace by
//! `unshare`, so the host sees nothing) cannot take a 4 MiB layer. The pull fails naming the
//! path and saying the disk is full, and keeps nothing half-written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::store_in;
use testwerk_images::ImageError;
use testwerk_testinputs::{available, which};
use testwerk_testregistry::{Compression, Entry, ImageSpec, Layer, Registry};

const CHILD_HOST: &str = "TESTWERK_IMAGES_FULL_HOST";
const CHILD_CACHE: &str = "TESTWERK_IMAGES_FULL_CACHE";

fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// In the child, on the tmpfs: the pull, whose error is printed for the parent.
fn child(host: &str, cache: &Path) {
    let mut settings = testwerk_registry::RegistrySettings {
        cloud_credentials: false,
        environment: testwerk_registry::Environment::empty(),
        ..Default::default()
    };
    settings.hosts.insert(
        host.to_owned(),
        testwerk_registry::HostSettings {
            plain_http: true,
            ..Default::default()
        },
    );
    let store = store_in(cache, settings);
    let err = store
        .ensure(&format!("{host}/t/full:1"), None, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, ImageError::Io { .. }), "{err:?}");
    println!("ERROR: {err}");
    let left: Vec<String> = ["blobs/sha256", "roots", "tmp"]
        .iter()
        .flat_map(|d| std::fs::read_dir(cache.join(d)).unwrap())
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    println!("LEFT: {left:?}");
}

#[test]
fn a_full_disk_names_the_path_and_keeps_nothing() {
    if let (Ok(host), Ok(cache)) = (std::env::var(CHILD_HOST), std::env::var(CHILD_CACHE)) {
        child(&host, Path::new(&cache));
        return;
    }
    let Some(unshare) = available(
        which("unshare").filter(|_| support::is_root()),
        "unshare as root (a tmpfs in a private mount namespace)",
        "run the tests as root with util-linux installed",
    ) else {
        return;
    };
    let Some(registry) = Registry::start() else {
        return;
    };
    let layer = Layer::new(vec![Entry::file("big", noise(4 << 20))]).compression(Compression::None);
    registry.push("t/full", "1", &ImageSpec::new(vec![layer]));
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=2m testwerk-full {} && exec \"$0\" --exact \
         a_full_disk_names_the_path_and_keeps_nothing --nocapture",
        cache.display()
    );
    let out = Command::new(unshare)
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .arg(std::env::current_exe().unwrap())
        .env(CHILD_HOST, &registry.host)
        .env(CHILD_CACHE, &cache)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let error = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ERROR: "))
        .unwrap_or_else(|| panic!("{stdout}\n{stderr}"));
    assert!(error.contains(&cache.display().to_string()), "{error}");
    assert!(
        error.contains("the disk holding the image cache is full"),
        "{error}"
    );
    assert!(
        stdout.contains("LEFT: []"),
        "nothing half-written is kept: {stdout}"
    );
    // The host never saw the tmpfs.
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
}
