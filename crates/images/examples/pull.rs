//! Benchmark: pulling from a local `docker-registry` into an empty store (cold), unpacking
//! again from cached blobs, and `ensure` of an image that is here (`IfNotPresent`: no
//! network; `Always`: one `HEAD`).
//!
//! ```text
//! cargo run --release -p testwerk-images --example pull
//! ```
//!
//! The image: the busybox stand-in layer (gzip), 2,000 files of 4 KiB (zstd) and four files of
//! 16 MiB (gzip) — barely compressible content, so the rates are not flattered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use testwerk_images::{ImageStore, PullPolicy};
use testwerk_registry::{Environment, HostSettings, RegistryClient, RegistrySettings};
use testwerk_testregistry::{Compression, Entry, ImageSpec, Layer, Registry, busybox_layer};

/// Pseudo-random bytes (xorshift): deterministic, and gzip cannot shrink them much.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let Some(registry) = Registry::start() else {
        eprintln!("docker-registry is missing: apt-get install -y docker-registry");
        return;
    };
    let Some(base) = busybox_layer() else {
        eprintln!("busybox-static is missing: apt-get install -y busybox-static");
        return;
    };
    let small: Vec<Entry> = (0..2000)
        .map(|i| Entry::file(&format!("data/small/{:03}/{i}", i % 100), noise(4096, i)))
        .collect();
    let large: Vec<Entry> = (0..4)
        .map(|i| Entry::file(&format!("data/large/{i}"), noise(16 << 20, 1000 + i)))
        .collect();
    let image = ImageSpec::new(vec![
        base,
        Layer::new(small).compression(Compression::Zstd),
        Layer::new(large).compression(Compression::Gzip),
    ]);
    let built = Instant::now();
    let pushed = registry.push("bench/app", "1", &image);
    let compressed: u64 = pushed.layers.iter().map(|l| l.size).sum();
    let uncompressed: u64 = pushed.layers.iter().map(|l| l.tar_size).sum();
    eprintln!(
        "image built and pushed in {:.1?}: {} layers, {:.1} MB compressed, {:.1} MB of tar",
        built.elapsed(),
        pushed.layers.len(),
        compressed as f64 / 1e6,
        uncompressed as f64 / 1e6
    );

    let mut hosts = BTreeMap::new();
    hosts.insert(
        registry.host.clone(),
        HostSettings {
            plain_http: true,
            ..HostSettings::default()
        },
    );
    let settings = RegistrySettings {
        hosts,
        cloud_credentials: false,
        environment: Environment::empty(),
        ..RegistrySettings::default()
    };
    let mut cold = Vec::new();
    let mut unpack_only = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let store =
            ImageStore::open(dir.path(), RegistryClient::new(settings.clone()).unwrap()).unwrap();
        let t = Instant::now();
        let local = store.ensure(&pushed.reference, None, &mut |_| {}).unwrap();
        cold.push(t.elapsed());
        assert!(local.pulled);
        // Again from the blobs already here: only the unpack.
        std::fs::remove_dir_all(dir.path().join("roots")).unwrap();
        std::fs::create_dir(dir.path().join("roots")).unwrap();
        let t = Instant::now();
        store
            .ensure(&pushed.reference, Some(PullPolicy::Always), &mut |_| {})
            .unwrap();
        unpack_only.push(t.elapsed());
    }
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path(), RegistryClient::new(settings).unwrap()).unwrap();
    store.ensure(&pushed.reference, None, &mut |_| {}).unwrap();
    let mut cached = Vec::new();
    let mut always = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let local = store
            .ensure(
                &pushed.reference,
                Some(PullPolicy::IfNotPresent),
                &mut |_| {},
            )
            .unwrap();
        cached.push(t.elapsed());
        assert!(!local.pulled);
        let t = Instant::now();
        store
            .ensure(&pushed.reference, Some(PullPolicy::Always), &mut |_| {})
            .unwrap();
        always.push(t.elapsed());
    }
    let cold = median(cold);
    let unpack = median(unpack_only);
    let mb = uncompressed as f64 / 1e6;
    println!(
        "cold pull (download {:.1} MB, verify, unpack {:.1} MB): {:.0} ms, {:.0} MB/s of tar",
        compressed as f64 / 1e6,
        mb,
        cold.as_secs_f64() * 1e3,
        mb / cold.as_secs_f64()
    );
    println!(
        "unpack from cached blobs (decompress, diff_id, write): {:.0} ms, {:.0} MB/s of tar",
        unpack.as_secs_f64() * 1e3,
        mb / unpack.as_secs_f64()
    );
    println!(
        "ensure of an image that is here: IfNotPresent {:.0} µs, Always (one HEAD) {:.0} µs (medians of 200)",
        median(cached).as_secs_f64() * 1e6,
        median(always).as_secs_f64() * 1e6
    );
}
