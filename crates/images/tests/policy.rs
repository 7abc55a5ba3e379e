//! Pull policies, reuse, credentials, failures and concurrency against the real registry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use support::{ensure, settings, store, store_in};
use testwerk_images::{ImageError, ImageStore, PullEvent, PullPolicy};
use testwerk_registry::RegistryClient;
use testwerk_testregistry::{Auth, Compression, Entry, ImageSpec, Layer, Registry, free_port};

fn two_layers(top: &str) -> ImageSpec {
    ImageSpec::new(vec![
        Layer::new(vec![Entry::file("base", "shared base")]),
        Layer::new(vec![Entry::file("top", top)]).compression(Compression::Zstd),
    ])
}

#[test]
fn never_uses_only_this_machine_and_if_not_present_needs_no_registry() {
    let Some(mut registry) = Registry::start() else {
        return;
    };
    let pushed = registry.push("t/app", "1.0", &two_layers("v1"));
    let cache = tempfile::tempdir().unwrap();
    let store = store(&registry, cache.path());

    let err = ensure(&store, &pushed.reference, Some(PullPolicy::Never))
        .0
        .unwrap_err();
    assert!(matches!(err, ImageError::NotCached { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "image {} is not on this machine and imagePullPolicy is Never",
            pushed.reference
        )) && text.contains(&format!("testwerk image pull {}", pushed.reference)),
        "{text}"
    );
    assert_eq!(registry.count("GET /v2/"), 0, "Never asks nobody");

    // `:1.0` defaults to IfNotPresent: pulled once.
    let pulled = ensure(&store, &pushed.reference, None).0.unwrap();
    assert!(pulled.pulled);
    registry.stop();

    let (again, events) = ensure(&store, &pushed.reference, None);
    let again = again.unwrap();
    assert!(!again.pulled);
    assert_eq!(again.root, pulled.root);
    assert_eq!(
        events,
        [PullEvent::Done {
            reference: pushed.reference.clone(),
            cached: true
        }]
    );
    let never = ensure(&store, &pushed.reference, Some(PullPolicy::Never))
        .0
        .unwrap();
    assert_eq!(never.manifest_digest, pushed.manifest_digest);
    assert_eq!(
        std::fs::read_to_string(never.root.join("top")).unwrap(),
        "v1"
    );

    // Always must ask, and the registry is gone: an error naming it, not the stale image.
    let err = ensure(&store, &pushed.reference, Some(PullPolicy::Always))
        .0
        .unwrap_err();
    assert!(matches!(err, ImageError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&registry.host), "{err}");
}

#[test]
fn always_asks_for_the_digest_and_reuses_blobs_and_roots() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let first = registry.push("t/moving", "latest", &two_layers("v1"));
    let cache = tempfile::tempdir().unwrap();
    let store = store(&registry, cache.path());
    let blob_gets = || registry.count("GET /v2/t/moving/blobs/");

    let one = ensure(&store, &first.reference, None).0.unwrap();
    assert!(one.pulled);
    let after_first = blob_gets();
    assert_eq!(after_first, 3, "two layers and the config");

    // Unchanged tag: one HEAD, nothing else.
    let heads = registry.count("HEAD /v2/t/moving/manifests/latest");
    let (same, _) = ensure(&store, &first.reference, None);
    let same = same.unwrap();
    assert!(!same.pulled);
    assert_eq!(
        registry.count("HEAD /v2/t/moving/manifests/latest"),
        heads + 1
    );
    assert_eq!(blob_gets(), after_first);

    // The tag moves to an image sharing the base layer: only the new layer and config come.
    let second = registry.push("t/moving", "latest", &two_layers("v2"));
    let (two, events) = ensure(&store, &second.reference, None);
    let two = two.unwrap();
    assert!(two.pulled);
    assert_eq!(two.manifest_digest, second.manifest_digest);
    assert_ne!(two.root, one.root);
    assert_eq!(std::fs::read_to_string(two.root.join("top")).unwrap(), "v2");
    assert_eq!(
        blob_gets(),
        after_first + 2,
        "the new layer and the new config"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PullEvent::LayerCached { index: 1, .. }))
    );
    // The old root is still there for runs using it.
    assert_eq!(std::fs::read_to_string(one.root.join("top")).unwrap(), "v1");
}

#[test]
fn basic_auth_through_a_docker_config() {
    let Some(registry) =
        Registry::start_with(Auth::Basic(vec![("puller".into(), "s3cret-pw".into())]))
    else {
        return;
    };
    let pushed = registry.push("t/private", "1", &two_layers("private"));
    let cache = tempfile::tempdir().unwrap();

    let err = ensure(&store(&registry, cache.path()), &pushed.reference, None)
        .0
        .unwrap_err();
    assert!(matches!(err, ImageError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("--docker-config"), "{err}");

    let config = cache.path().join("config.json");
    // base64 of `puller:s3cret-pw`.
    let auth = "cHVsbGVyOnMzY3JldC1wdw==";
    std::fs::write(
        &config,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.host),
    )
    .unwrap();
    let mut with_config = settings(&registry);
    with_config.docker_configs = vec![config];
    let image = ensure(
        &store_in(&cache.path().join("c2"), with_config),
        &pushed.reference,
        None,
    )
    .0
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(image.root.join("top")).unwrap(),
        "private"
    );
    let errors = format!("{err} {err:?}");
    assert!(!errors.contains("s3cret-pw"), "no password in errors");
}

#[test]
fn an_unreachable_registry_fails_fast_naming_the_host() {
    let cache = tempfile::tempdir().unwrap();
    let host = format!("127.0.0.1:{}", free_port());
    let mut settings = testwerk_registry::RegistrySettings {
        cloud_credentials: false,
        environment: testwerk_registry::Environment::empty(),
        ..Default::default()
    };
    settings.hosts.insert(
        host.clone(),
        testwerk_registry::HostSettings {
            plain_http: true,
            ..Default::default()
        },
    );
    let store = store_in(cache.path(), settings);
    let started = Instant::now();
    let err = ensure(&store, &format!("{host}/t/app:1"), None)
        .0
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, ImageError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&host) && text.contains("connection refused"),
        "{text}"
    );
}

#[test]
fn two_concurrent_ensures_both_succeed_and_unpack_once() {
    let Some(registry) = Registry::start() else {
        return;
    };
    // A few MiB so the two pulls overlap.
    let big: Vec<u8> = (0..6u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let image = ImageSpec::new(vec![
        Layer::new(vec![Entry::file("big", big)]),
        Layer::new(vec![Entry::file("small", "s")]),
    ]);
    let pushed = registry.push("t/concurrent", "1", &image);
    let cache = tempfile::tempdir().unwrap();
    // Two stores on one directory, as two `testwerk run` processes would have.
    let stores: Vec<ImageStore> = (0..2)
        .map(|_| {
            ImageStore::open(
                cache.path(),
                RegistryClient::new(settings(&registry)).unwrap(),
            )
            .unwrap()
        })
        .collect();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .iter()
            .map(|store| s.spawn(|| ensure(store, &pushed.reference, None)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut unpacks = 0;
    let mut roots = Vec::new();
    for (result, events) in results {
        let image = result.unwrap();
        roots.push(image.root.clone());
        unpacks += events
            .iter()
            .filter(|e| matches!(e, PullEvent::Unpacking { .. }))
            .count();
        assert_eq!(
            std::fs::read_to_string(image.root.join("small")).unwrap(),
            "s"
        );
    }
    assert_eq!(roots[0], roots[1]);
    assert_eq!(unpacks, 2, "one build of two layers, not two");
    assert_eq!(
        registry.count(&format!(
            "GET /v2/t/concurrent/blobs/{}",
            pushed.layers[0].digest
        )),
        1,
        "the big layer is downloaded once"
    );
    assert_eq!(
        std::fs::read_dir(cache.path().join("roots"))
            .unwrap()
            .count(),
        1
    );
    assert_eq!(
        std::fs::read_dir(cache.path().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn an_unusable_cache_directory_is_named() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let client = RegistryClient::new(testwerk_registry::RegistrySettings {
        cloud_credentials: false,
        environment: testwerk_registry::Environment::empty(),
        ..Default::default()
    })
    .unwrap();
    let err = ImageStore::open(file.join("images"), client).err().unwrap();
    assert!(matches!(err, ImageError::Io { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
}
