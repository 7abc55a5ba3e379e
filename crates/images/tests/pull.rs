//! Pulling real images from Debian's `docker-registry`: every compression and media type,
//! what ends up in the root, whiteouts and opaque directories, digests, bombs, stand-ins.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use support::{ensure, mode, read, store};
use testwerk_images::{ImageError, PullEvent, PullPolicy};
use testwerk_testregistry::{
    Compression, Entry, ImageConfig, ImageSpec, Layer, Media, Registry, push_standins,
};

fn three_layers(media: Media) -> ImageSpec {
    ImageSpec {
        layers: vec![
            Layer::new(vec![
                Entry::dir("etc"),
                Entry::file("etc/motd", "gzip layer\n").mtime(1_600_000_000),
                Entry::dir("usr/bin"),
                Entry::file("usr/bin/tool", "#!/bin/sh\n").mode(0o4755),
                Entry::dir("ro").mode(0o555).mtime(1_500_000_000),
                Entry::file("ro/inside", "x"),
                Entry::file("owned", "o").owner(1000, 2000),
                Entry::char_device("dev-null", 1, 3),
            ])
            .compression(Compression::Gzip),
            Layer::new(vec![
                Entry::file("etc/motd", "zstd layer\n"),
                Entry::symlink("usr/bin/link", "tool"),
                Entry::symlink("var/run", "/run"),
                Entry::hardlink("usr/bin/hard", "usr/bin/tool"),
                Entry::fifo("pipe").mode(0o600),
                Entry::file(&format!("long/{}", "n".repeat(180)), "long name"),
            ])
            .compression(Compression::Zstd),
            Layer::new(vec![
                // Below an absolute symlink of a lower layer: lands in <root>/run, as in a chroot.
                Entry::file("var/run/app.pid", "42"),
            ])
            .compression(Compression::None),
        ],
        config: ImageConfig {
            // Distinct configs: the same config digest would share one root.
            env: vec!["PATH=/usr/bin:/bin".into(), format!("MEDIA={media:?}")],
            entrypoint: Some(vec!["/usr/bin/tool".into()]),
            cmd: Some(vec!["--flag".into()]),
            working_dir: Some("/srv".into()),
            user: Some("1000:2000".into()),
        },
        media,
    }
}

#[test]
fn gzip_zstd_and_plain_layers_of_oci_and_docker_images_unpack_faithfully() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let store = store(&registry, cache.path());
    for media in [Media::Oci, Media::Docker] {
        let repo = format!("t/{media:?}").to_lowercase();
        let pushed = registry.push(&repo, "1", &three_layers(media));
        let (image, events) = ensure(&store, &pushed.reference, None);
        let image = image.unwrap();
        assert_eq!(image.manifest_digest, pushed.manifest_digest);
        assert_eq!(image.config_digest, pushed.config_digest);
        assert!(image.pulled);
        assert_eq!(image.config.entrypoint, ["/usr/bin/tool"]);
        assert_eq!(image.config.cmd, ["--flag"]);
        assert_eq!(
            image.config.env,
            ["PATH=/usr/bin:/bin".to_owned(), format!("MEDIA={media:?}")]
        );
        assert_eq!(image.config.working_dir.as_deref(), Some("/srv"));
        assert_eq!(image.config.user.as_deref(), Some("1000:2000"));
        let root = &image.root;
        assert_eq!(
            read(root.join("etc/motd")),
            "zstd layer\n",
            "upper layers win"
        );
        assert_eq!(mode(root.join("usr/bin/tool")), 0o4755, "setuid kept");
        assert_eq!(mode(root.join("ro")), 0o555);
        assert_eq!(
            std::fs::metadata(root.join("ro")).unwrap().mtime(),
            1_500_000_000,
            "directory mtimes survive their children"
        );
        assert_eq!(mode(root), 0o755);
        assert_eq!(
            std::fs::read_link(root.join("usr/bin/link")).unwrap(),
            std::path::Path::new("tool")
        );
        assert_eq!(
            std::fs::metadata(root.join("usr/bin/hard")).unwrap().ino(),
            std::fs::metadata(root.join("usr/bin/tool")).unwrap().ino()
        );
        assert!(
            std::fs::symlink_metadata(root.join("pipe"))
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert!(!root.join("dev-null").exists(), "device nodes are skipped");
        assert_eq!(read(root.join("run/app.pid")), "42");
        assert_eq!(
            read(root.join(format!("long/{}", "n".repeat(180)))),
            "long name"
        );
        let owned = std::fs::metadata(root.join("owned")).unwrap();
        if support::is_root() {
            assert_eq!((owned.uid(), owned.gid()), (1000, 2000));
        }
        // Progress: resolving, three downloads, three unpacks, done.
        assert!(matches!(events.first(), Some(PullEvent::Resolving { .. })));
        let unpacked = events
            .iter()
            .filter(|e| matches!(e, PullEvent::Unpacking { .. }))
            .count();
        assert_eq!(unpacked, 3);
        if media == Media::Oci {
            assert!(events.iter().any(|e| matches!(e,
                PullEvent::Layer { index: 2, count: 3, done, total, .. } if done == total)));
        } else {
            // The same layer bytes under Docker media types: the blobs are already here.
            let cached = events
                .iter()
                .filter(|e| matches!(e, PullEvent::LayerCached { .. }))
                .count();
            assert_eq!(cached, 3, "{events:?}");
        }
        assert!(matches!(
            events.last(),
            Some(PullEvent::Done { cached: false, .. })
        ));
        // The JSON beside the root.
        let meta = read(root.parent().unwrap().join("image.json"));
        assert!(meta.contains(&pushed.manifest_digest), "{meta}");
    }
}

#[test]
fn whiteouts_and_opaque_directories_across_layers() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let image = ImageSpec::new(vec![
        Layer::new(vec![
            Entry::file("a/x", "x"),
            Entry::file("a/y", "y"),
            Entry::file("b/old", "old"),
            Entry::file("b/sub/deep", "deep"),
            Entry::file("d/sub/file", "f"),
            Entry::file("keep/k", "k"),
        ]),
        Layer::new(vec![
            Entry::whiteout("a/x"),
            // Made before the marker in the same layer: an opaque marker keeps it.
            Entry::file("b/new", "new"),
            Entry::opaque("b"),
            Entry::file("b/after", "after"),
            Entry::whiteout("d"),
            Entry::whiteout("never-existed"),
        ])
        .compression(Compression::Zstd),
        Layer::new(vec![Entry::file("d/again", "again")]),
    ]);
    let pushed = registry.push("t/wh", "1", &image);
    let cache = tempfile::tempdir().unwrap();
    let root = ensure(&store(&registry, cache.path()), &pushed.reference, None)
        .0
        .unwrap()
        .root;
    assert!(!root.join("a/x").exists());
    assert_eq!(read(root.join("a/y")), "y");
    assert!(!root.join("b/old").exists());
    assert!(!root.join("b/sub").exists());
    assert_eq!(read(root.join("b/new")), "new");
    assert_eq!(read(root.join("b/after")), "after");
    assert!(
        !root.join("d/sub").exists(),
        "a whiteout of a directory removes its tree"
    );
    assert_eq!(read(root.join("d/again")), "again");
    assert_eq!(read(root.join("keep/k")), "k");
    let names: Vec<String> = std::fs::read_dir(root.join("b"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".wh.")), "{names:?}");
}

#[test]
fn a_corrupt_blob_in_the_registry_is_refused_and_nothing_is_kept() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let pushed = registry.push(
        "t/corrupt",
        "1",
        &ImageSpec::new(vec![Layer::new(vec![Entry::file("f", "the real content")])]),
    );
    let layer = &pushed.layers[0];
    let path = registry.blob_path(&layer.digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (result, _) = ensure(&store(&registry, cache.path()), &pushed.reference, None);
    let err = result.unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&layer.digest) && text.contains("t/corrupt"),
        "{text}"
    );
    assert!(text.contains("expected") && text.contains("got"), "{text}");
    let blobs = std::fs::read_dir(cache.path().join("blobs/sha256"))
        .unwrap()
        .count();
    let roots = std::fs::read_dir(cache.path().join("roots"))
        .unwrap()
        .count();
    let temps = std::fs::read_dir(cache.path().join("tmp")).unwrap().count();
    assert_eq!((blobs, roots, temps), (0, 0, 0));
}

#[test]
fn a_tar_bomb_stops_at_the_unpack_limit() {
    let Some(registry) = Registry::start() else {
        return;
    };
    // 4 MiB of zeros: a few KiB gzipped.
    let bomb = Layer::new(vec![Entry::file("zeros", vec![0u8; 4 << 20])]);
    let pushed = registry.push("t/bomb", "1", &ImageSpec::new(vec![bomb]));
    assert!(pushed.layers[0].size < 64 << 10);
    let cache = tempfile::tempdir().unwrap();
    let store = store(&registry, cache.path()).with_unpack_limit(1 << 20);
    let err = ensure(&store, &pushed.reference, None).0.unwrap_err();
    assert!(
        matches!(err, ImageError::TooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert!(err.to_string().contains("tar bomb"), "{err}");
    assert_eq!(
        std::fs::read_dir(cache.path().join("roots"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(cache.path().join("tmp")).unwrap().count(),
        0
    );

    // A 4 MiB name (a GNU long-name header the tar reader holds in memory) is bounded too.
    let name = "n/".repeat(2 << 20);
    let bomb = Layer::new(vec![Entry::file(&name, "x")]);
    let pushed = registry.push("t/namebomb", "1", &ImageSpec::new(vec![bomb]));
    let err = ensure(&store, &pushed.reference, None).0.unwrap_err();
    assert!(matches!(err, ImageError::TooLarge { .. }), "{err:?}");
}

#[test]
fn foreign_and_unknown_layers_are_refused_before_downloading() {
    let Some(registry) = Registry::start() else {
        return;
    };
    for (media_type, says) in [
        (
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "foreign",
        ),
        (
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "foreign",
        ),
        (
            "application/vnd.example.weird",
            "not a container image layer",
        ),
    ] {
        let layer = Layer::new(vec![Entry::file("f", "x")]).media_type(media_type);
        let pushed = registry.push("t/foreign", "1", &ImageSpec::new(vec![layer]));
        let cache = tempfile::tempdir().unwrap();
        let err = ensure(&store(&registry, cache.path()), &pushed.reference, None)
            .0
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, ImageError::UnsupportedMediaType { .. }),
            "{err:?}"
        );
        assert!(text.contains(media_type) && text.contains(says), "{text}");
        assert_eq!(
            std::fs::read_dir(cache.path().join("blobs/sha256"))
                .unwrap()
                .count(),
            0
        );
    }
}

#[test]
fn standins_come_through_a_docker_io_mirror() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(standins) = push_standins(&registry) else {
        return;
    };
    let mut settings = support::settings(&registry);
    settings
        .add_mirror(&format!("docker.io={}", registry.host))
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let store = support::store_in(cache.path(), settings);
    let alpine = ensure(&store, "alpine:3.20", None).0.unwrap();
    assert_eq!(alpine.reference, "docker.io/library/alpine:3.20");
    assert_eq!(alpine.manifest_digest, standins.alpine.manifest_digest);
    assert_eq!(alpine.config.cmd, ["/bin/sh"]);
    assert_eq!(
        std::fs::read_link(alpine.root.join("bin/sh")).unwrap(),
        std::path::Path::new("/bin/busybox")
    );
    assert_eq!(mode(alpine.root.join("tmp")), 0o1777);
    // The root is a working system: its shell runs there (chroot needs root; the runtime's
    // own tests run it in runc).
    if support::is_root() {
        let out = std::process::Command::new("chroot")
            .arg(&alpine.root)
            .args([
                "/bin/sh",
                "-c",
                "cd /tmp && echo hi > f && cat f && ls /usr/bin/env",
            ])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .unwrap();
        // The chroot wrote into the shared root; put it back as it was.
        std::fs::remove_file(alpine.root.join("tmp/f")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hi\n/usr/bin/env\n",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bash = ensure(&store, "bash:5", Some(PullPolicy::IfNotPresent))
        .0
        .unwrap();
    assert_eq!(bash.config.entrypoint, ["docker-entrypoint.sh"]);
    assert!(bash.root.join("usr/local/bin/bash").is_file());
    assert!(bash.root.join("bin/busybox").is_file());
    // The busybox layer was downloaded once, for alpine; bash reused it.
    assert_eq!(
        registry.count(&format!(
            "GET /v2/library/bash/blobs/{}",
            standins.bash.layers[0].digest
        )),
        0
    );
}
