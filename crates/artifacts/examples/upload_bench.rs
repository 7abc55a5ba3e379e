//! Upload throughput through the real path — the toolkit's client, HTTP on 127.0.0.1, the
//! receiver, folder storage (temp file, fsync, rename) and the store's row — against a plain
//! `std::fs::copy` of the same files (plus an fsync each, as storage does).
//!
//! ```sh
//! cargo run --release -p testwerk-artifacts --example upload_bench [-- <MB>]
//! ```
//!
//! Two sets of the same total size (200 MB by default): one big file, and 100 KB files.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use testwerk_artifacts::{Receiver, Storage, StorageSettings, TokenKey, serve_local};
use testwerk_store::{NewExecution, Store};
use testwerk_toolkit::artifacts::{Options, collect};

const SMALL: usize = 100_000;

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let total = mb * 1_000_000;
    let dir = tempfile::tempdir_in(std::env::var_os("TMPDIR").unwrap_or_else(|| "/var/tmp".into()))
        .unwrap();
    let db = dir.path().join("testwerk.db");
    let store = Arc::new(Store::open(&db).unwrap());
    let storage = Storage::open(&StorageSettings::beside_store(&db)).unwrap();
    let server = serve_local(Receiver::new(
        storage,
        Arc::clone(&store),
        TokenKey::random(),
    ))
    .unwrap();

    let big = dir.path().join("big");
    write(&big.join("one.bin"), total, 1);
    let small = dir.path().join("small");
    for i in 0..total / SMALL {
        write(&small.join(format!("d{}/f{i}.bin", i % 50)), SMALL, i as u8);
    }
    println!(
        "{mb} MB, machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for (label, source) in [
        ("1 file", &big),
        (&*format!("{} files of 100 KB", total / SMALL), &small),
    ] {
        let copy = copy_all(source, &dir.path().join(format!("copy-{}", label.len())));
        let execution = store
            .create_execution(NewExecution::new("bench", "", serde_json::json!({})))
            .unwrap();
        let sink = server.sink(&execution.id);
        let options = Options::parse(vec!["**/*".into()]).unwrap();
        let mut out = Vec::new();
        let started = Instant::now();
        collect(&options, Some(&sink), source, "r1", &mut out).unwrap();
        let upload = started.elapsed();
        let stored: u64 = store
            .artifacts(&execution.id)
            .unwrap()
            .iter()
            .map(|r| r.size)
            .sum();
        assert_eq!(stored as usize, total, "everything stored");
        println!(
            "{label:>24}: upload {:>7.1} MB/s ({:.2} s)   plain copy {:>7.1} MB/s ({:.2} s)   ratio {:.2}",
            rate(total, upload),
            upload.as_secs_f64(),
            rate(total, copy),
            copy.as_secs_f64(),
            upload.as_secs_f64() / copy.as_secs_f64()
        );
    }
}

fn rate(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

fn write(path: &Path, size: usize, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    std::fs::write(path, bytes).unwrap();
}

/// `std::fs::copy` of every file under `from`, each fsync'd as storage does.
fn copy_all(from: &Path, to: &Path) -> Duration {
    let mut files = Vec::new();
    let mut stack = vec![from.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                files.push(p)
            }
        }
    }
    let started = Instant::now();
    for f in files {
        let target = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&f, &target).unwrap();
        std::fs::File::open(&target).unwrap().sync_all().unwrap();
    }
    started.elapsed()
}
