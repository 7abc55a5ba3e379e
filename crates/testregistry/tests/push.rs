//! The registry starts, takes images and gives them back; our tars are tars GNU tar reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use testwerk_testregistry::{
    Auth, Compression, Entry, ImageSpec, Layer, Registry, push_standins, sha256, tar,
};

#[test]
fn gnu_tar_reads_our_tars_with_long_names_links_and_modes() {
    let long = format!("d/{}", "n".repeat(150));
    let bytes = tar(&[
        Entry::dir("d"),
        Entry::file(&long, "x").mode(0o4755).owner(1000, 1000),
        Entry::symlink("d/l", &format!("/{}", "t".repeat(120))),
        Entry::hardlink("d/h", &long),
        Entry::fifo("d/f"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.tar");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("tar").arg("-tvf").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains(&long), "{listing}");
    assert!(listing.contains("-rwsr-xr-x 1000/1000"), "{listing}");
    assert!(listing.contains(&"t".repeat(120)), "{listing}");
    assert!(listing.contains("d/h link to"), "{listing}");
    assert!(listing.lines().any(|l| l.starts_with('p')), "{listing}");
}

#[test]
fn pushed_images_are_served_by_tag_and_digest() {
    let Some(registry) = Registry::start_with(Auth::Basic(vec![("u".into(), "p".into())])) else {
        return;
    };
    let image = ImageSpec::new(vec![
        Layer::new(vec![Entry::file("a", "1")]).compression(Compression::Zstd),
        Layer::new(vec![Entry::whiteout("a")]).compression(Compression::None),
    ]);
    let pushed = registry.push("t/app", "v1", &image);
    assert_eq!(pushed.layers.len(), 2);
    assert_eq!(
        pushed.layers[0].media_type,
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    let stored = std::fs::read(registry.blob_path(&pushed.layers[0].digest)).unwrap();
    assert_eq!(sha256(&stored), pushed.layers[0].digest);
    assert!(registry.count("PUT /v2/t/app/manifests/v1") == 1);
    // Unauthenticated reads are refused: the htpasswd config is live.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent
        .get(format!("{}/v2/t/app/manifests/v1", registry.base()))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[test]
fn standins_are_pushed_under_every_tag() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(standins) = push_standins(&registry) else {
        return;
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for (repo, tag, digest) in [
        ("library/alpine", "3.20", &standins.alpine.manifest_digest),
        ("library/alpine", "latest", &standins.alpine.manifest_digest),
        ("library/busybox", "1.36", &standins.busybox.manifest_digest),
        ("library/bash", "5", &standins.bash.manifest_digest),
    ] {
        let r = agent
            .head(format!("{}/v2/{repo}/manifests/{tag}", registry.base()))
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{repo}:{tag}");
        let served = r
            .headers()
            .get("docker-content-digest")
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(served, digest.as_str(), "{repo}:{tag}");
    }
    assert_eq!(standins.bash.layers.len(), 2);
    assert!(
        standins.busybox.layers[0].tar_size > 1_000_000,
        "busybox itself is in the layer"
    );
}
