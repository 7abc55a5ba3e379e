//! `testwerk image pull` against Debian's `docker-registry` holding the busybox stand-ins,
//! reached as `docker.io` through `--registry-mirror`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use testwerk_testregistry::{Registry, push_standins};

fn pull(args: &[&str], home: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .arg("image")
        .arg("pull")
        .args(args)
        // No ~/.docker/config.json or durable metadata cache of the user's.
        .env("HOME", home)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("DOCKER_CONFIG")
        .output()
        .expect("run testwerk")
}

#[test]
fn image_pull_prints_progress_and_the_root_then_reuses_it() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(standins) = push_standins(&registry) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("images");
    let mirror = format!("docker.io={}", registry.host);
    let args = [
        "busybox:1.36",
        "--registry-mirror",
        &mirror,
        "--insecure",
        &registry.host,
        "--cache",
        cache.to_str().unwrap(),
    ];
    let out = pull(&args, home.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("resolving docker.io/library/busybox:1.36"),
        "{stderr}"
    );
    assert!(
        stderr.contains("layer 1/1") && stderr.contains("unpacking layer 1/1"),
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!("manifest: {}", standins.busybox.manifest_digest)),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("pulled"), "{stdout}");
    let root = stdout
        .lines()
        .find_map(|l| l.strip_prefix("root: "))
        .expect("a root line");
    assert!(root.starts_with(cache.to_str().unwrap()), "{root}");
    assert!(std::path::Path::new(root).join("bin/busybox").is_file());

    let again = pull(&args, home.path());
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert!(stdout.contains("cached: nothing to pull"), "{stdout}");

    let missing = pull(
        &[
            "busybox:0.0-missing",
            "--registry-mirror",
            &mirror,
            "--insecure",
            &registry.host,
            "--cache",
            cache.to_str().unwrap(),
        ],
        home.path(),
    );
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("busybox:0.0-missing") && stderr.contains("check the image name"),
        "{stderr}"
    );
}
