//! Lookup benchmarks against a real `docker-registry` on 127.0.0.1 (same harness as the tests).
//!
//! - warm lookup (metadata in memory): target < 1 ms;
//! - warm lookup from the durable cache (SQLite; a new process's first lookup);
//! - cold lookup (one fetch: manifest + config blob over HTTP);
//! - 100 concurrent cold lookups of one image: target one manifest and one config fetch at the
//!   registry, counted in its access log.
//!
//! `cargo bench -p testwerk-registry --bench lookup`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use support::*;
use testwerk_registry::{
    Environment, HostSettings, LookupRequest, Origin, PullPolicy, PullSecret, RegistryClient,
    RegistrySettings, SqliteCache,
};

fn settings(registry: &Registry) -> RegistrySettings {
    let mut s = RegistrySettings {
        environment: Environment::empty().with("AWS_EC2_METADATA_DISABLED", "true"),
        cloud_credentials: false,
        ..Default::default()
    };
    s.hosts.insert(
        registry.host.clone(),
        HostSettings {
            plain_http: true,
            ..Default::default()
        },
    );
    s
}

fn concurrent_cold(registry: &Registry, image: &str, rounds: usize) {
    let manifests = || registry.count("GET /v2/bench/app/manifests/");
    let blobs = || registry.count("GET /v2/bench/app/blobs/");
    for round in 1..=rounds {
        let (m0, b0) = (manifests(), blobs());
        let client = RegistryClient::new(settings(registry)).unwrap();
        let barrier = Arc::new(Barrier::new(100));
        let started = Instant::now();
        let threads: Vec<_> = (0..100)
            .map(|_| {
                let (client, barrier, image) = (client.clone(), barrier.clone(), image.to_owned());
                std::thread::spawn(move || {
                    barrier.wait();
                    client
                        .lookup(&LookupRequest::new(&image).pull_policy(PullPolicy::IfNotPresent))
                        .map(|l| l.origin)
                })
            })
            .collect();
        let origins: Vec<Origin> = threads
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .collect();
        let elapsed = started.elapsed();
        let (m, b) = (manifests() - m0, blobs() - b0);
        println!(
            "100 concurrent cold lookups, round {round}: {m} manifest fetch(es) and {b} config \
             fetch(es) at the registry (target: 1 and 1), {} answered from the registry fetch, \
             all done in {:.1} ms {}",
            origins.iter().filter(|o| **o == Origin::Registry).count(),
            elapsed.as_secs_f64() * 1e3,
            if m == 1 && b == 1 {
                "— OK"
            } else {
                "— MISSED"
            }
        );
    }
}

fn benches(c: &mut Criterion) {
    let Some(registry) = Registry::start(Auth::Anonymous, None) else {
        println!("docker-registry is missing: no lookup benchmark ran");
        return;
    };
    let push = Pusher::new(&registry, None, None);
    push.image("bench/app", "1", &TestImage::default(), Media::Oci);
    let image = format!("{}/bench/app:1", registry.host);
    let request = LookupRequest::new(&image).pull_policy(PullPolicy::IfNotPresent);

    concurrent_cold(&registry, &image, 3);

    // Warm: the answer is in memory.
    let warm = RegistryClient::new(settings(&registry)).unwrap();
    warm.lookup(&request).unwrap();
    let n = 100_000;
    let started = Instant::now();
    for _ in 0..n {
        black_box(warm.lookup(black_box(&request)).unwrap());
    }
    let per = started.elapsed() / n;
    println!(
        "warm lookup (memory): {:.2} µs per lookup over {n} lookups (target < 1 ms) {}",
        per.as_secs_f64() * 1e6,
        if per < Duration::from_millis(1) {
            "— OK"
        } else {
            "— MISSED"
        }
    );
    c.bench_function("warm lookup (memory)", |b| {
        b.iter(|| warm.lookup(black_box(&request)).unwrap())
    });

    warm_with_credentials(c);

    // Durable: a new client (a new process) whose SQLite cache has the image.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("images.db");
    let durable_settings = || {
        let mut s = settings(&registry);
        s.durable = Some(Arc::new(SqliteCache::open(&db).unwrap()));
        s
    };
    RegistryClient::new(durable_settings())
        .unwrap()
        .lookup(&request)
        .unwrap();
    c.bench_function("warm lookup (durable SQLite cache, fresh client)", |b| {
        b.iter_batched(
            || RegistryClient::new(durable_settings()).unwrap(),
            |client| {
                let found = client.lookup(&request).unwrap();
                assert_eq!(found.origin, Origin::Durable);
                found
            },
            BatchSize::PerIteration,
        )
    });

    // Cold: a fresh client fetches manifest and config over HTTP.
    c.bench_function("cold lookup (manifest + config over HTTP)", |b| {
        b.iter_batched(
            || RegistryClient::new(settings(&registry)).unwrap(),
            |client| client.lookup(&request).unwrap(),
            BatchSize::PerIteration,
        )
    });
}

/// The same warm path for a private image read with a pull secret: the answer is kept for
/// that credential (a salted fingerprint per lookup), and the registry sees no request.
fn warm_with_credentials(c: &mut Criterion) {
    let users = vec![("alice".to_owned(), "wonderland".to_owned())];
    let Some(registry) = Registry::start(Auth::Basic(users), None) else {
        return;
    };
    let push = Pusher::new(
        &registry,
        None,
        Some(format!("Basic {}", B64.encode("alice:wonderland"))),
    );
    push.image("bench/private", "1", &TestImage::default(), Media::Oci);
    let image = format!("{}/bench/private:1", registry.host);
    let auth = B64.encode("alice:wonderland");
    let json = format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.host);
    let data = [(".dockerconfigjson".to_owned(), json.into_bytes())].into();
    let secrets =
        [PullSecret::from_secret("s", Some("kubernetes.io/dockerconfigjson"), &data).unwrap()];
    let request = LookupRequest::new(&image)
        .pull_policy(PullPolicy::IfNotPresent)
        .pull_secrets(&secrets);
    let client = RegistryClient::new(settings(&registry)).unwrap();
    assert_eq!(client.lookup(&request).unwrap().origin, Origin::Registry);
    let before = registry.requests().len();
    let n = 100_000;
    let started = Instant::now();
    for _ in 0..n {
        black_box(client.lookup(black_box(&request)).unwrap());
    }
    let per = started.elapsed() / n;
    let requests = registry.requests().len() - before;
    println!(
        "warm lookup with a pull secret (memory): {:.2} µs per lookup over {n} lookups, {requests} \
         request(s) at the registry (target < 1 ms, 0 requests) {}",
        per.as_secs_f64() * 1e6,
        if per < Duration::from_millis(1) && requests == 0 {
            "— OK"
        } else {
            "— MISSED"
        }
    );
    c.bench_function("warm lookup with a pull secret (memory)", |b| {
        b.iter(|| client.lookup(black_box(&request)).unwrap())
    });
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
