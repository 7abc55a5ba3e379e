//! Image mode end to end through `testwerk run`: stand-in images pushed to Debian's
//! `docker-registry`, pulled through `--registry-mirror docker.io=…` into the image store,
//! and run by runc from their unpacked roots; `imagePullPolicy` decides what is fetched.

mod support;

use std::process::Command;

use support::*;
use testwerk_testregistry::{Registry, push_standins};

const WORKFLOW: &str = "apiVersion: testworkflows.testkube.io/v1
kind: TestWorkflow
metadata:
  name: images
spec:
  steps:
  - name: Alpine
    container:
      image: alpine:3.20
    shell: test -e /etc/os-release && echo alpine > /data/alpine-ran && cat /data/alpine-ran
  - name: Bash
    container:
      image: bash:5.2
    shell: bash -c 'echo \"bash ${BASH_VERSION:+has a version}\"' && cat /data/alpine-ran
";

#[test]
fn images_come_from_the_registry_once_and_then_from_the_store() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(_standins) = push_standins(&registry) else {
        return;
    };
    let dir = scratch("local-images");
    let file = dir.join("images.yaml");
    std::fs::write(&file, WORKFLOW).unwrap_or_else(|e| panic!("{e}"));
    let mirror = format!("docker.io={}", registry.host);
    let cache = dir.join("images");
    let run = || {
        testwerk_run(
            &dir.join("db"),
            &[
                file.to_str().unwrap_or_default(),
                "--registry-mirror",
                &mirror,
                "--insecure",
                &registry.host,
                "--image-cache",
                cache.to_str().unwrap_or_default(),
            ],
        )
    };
    let (code, out, err) = run();
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("image mode"), "the mode is named: {out}");
    assert!(out.contains("bash has a version"), "{out}");
    // The bash step reads what the alpine container wrote to the shared /data.
    assert_eq!(out.matches("│ alpine").count(), 2, "{out}");
    assert!(
        out.contains("alpine:3.20: pulled") && out.contains("bash:5.2: pulled"),
        "pull progress is shown: {out}"
    );
    let pulls = registry.requests();
    // Again: both tags name what is here (IfNotPresent), so nothing is fetched.
    let (code, out, err) = run();
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(!out.contains("pulled"), "{out}");
    assert_eq!(registry.requests(), pulls, "no request to the registry");
}

#[test]
fn pull_policy_never_runs_only_what_is_here_and_says_so() {
    let dir = scratch("local-images-never");
    let file = dir.join("never.yaml");
    std::fs::write(
        &file,
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: never\nspec:\n  container:\n    imagePullPolicy: Never\n  steps:\n  - name: Absent\n    container:\n      image: alpine:3.20\n    shell: echo never\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let cache = dir.join("images");
    let (code, out, err) = testwerk_run(
        &dir.join("db"),
        &[
            file.to_str().unwrap_or_default(),
            "--image-cache",
            cache.to_str().unwrap_or_default(),
        ],
    );
    let text = format!("{out}\n{err}");
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("alpine:3.20") && text.contains("Never") && !text.contains("│ never"),
        "{text}"
    );
}

/// Every path under `dir` (not following links).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}

#[test]
fn an_ordinary_user_runs_image_mode_on_a_writable_root_that_leaves_the_image_alone() {
    let setpriv = testwerk_testinputs::available(
        testwerk_testinputs::which("setpriv"),
        "setpriv",
        "apt-get install -y util-linux",
    );
    let Some(setpriv) = setpriv else { return };
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(_standins) = push_standins(&registry) else {
        return;
    };
    let dir = scratch("local-images-rootless");
    // nobody must be able to write its store and image cache and read the workflow.
    std::fs::set_permissions(&*dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .unwrap_or_else(|e| panic!("{e}"));
    let marker = format!("tw-rootless-{}", std::process::id());
    let file = dir.join("rootless.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: rootless\nspec:\n  steps:\n  - name: Own root\n    container:\n      image: alpine:3.20\n    shell: |\n      echo UID $(id -u)\n      touch /{marker} && echo WROTE-ROOT\n      rm /etc/os-release && echo REMOVED-FROM-IMAGE\n      mkdir -p /usr/{marker} && echo inside > /usr/{marker}/f && cat /usr/{marker}/f\n      echo shared > /data/shared\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mirror = format!("docker.io={}", registry.host);
    let cache = dir.join("images");
    let run = || {
        let mut cmd = if rustix::process::geteuid().is_root() {
            let mut c = Command::new(&setpriv);
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_testwerk"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_testwerk"))
        };
        let out = cmd
            .arg("run")
            .arg(&file)
            .args(["--registry-mirror", &mirror, "--insecure", &registry.host])
            .arg("--image-cache")
            .arg(&cache)
            .arg("--keep")
            .arg("--store")
            .arg(dir.join("db"))
            .env("HOME", &*dir)
            .env("TESTWERK_INIT", init_binary())
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };
    let (code, text) = run();
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("image mode") && text.contains("rootless"),
        "{text}"
    );
    assert!(text.contains("UID 0"), "the user is root inside: {text}");
    assert!(
        text.contains("WROTE-ROOT") && text.contains("REMOVED-FROM-IMAGE"),
        "{text}"
    );
    assert!(text.contains("│ inside"), "{text}");
    // init took the run's control socket through runc (it warns and goes on without one).
    assert!(!text.contains("no control endpoint"), "{text}");

    // The image's root on disk is as it was pulled: the step's changes stayed in its layer.
    let image_files = walk(&cache);
    let releases: Vec<_> = image_files
        .iter()
        .filter(|p| p.ends_with("etc/os-release"))
        .collect();
    assert!(
        !releases.is_empty(),
        "no unpacked image root in {}",
        cache.display()
    );
    assert!(
        !image_files
            .iter()
            .any(|p| p.to_string_lossy().contains(&marker)),
        "the step wrote into the image's root"
    );
    // The layer holds them, with the deletion as a whiteout, all owned by the user outside.
    let run_dir = dir.join("runs/rootless-1");
    let upper = walk(&run_dir)
        .into_iter()
        .find(|p| p.ends_with(&marker) && p.parent().is_some_and(|d| d.ends_with("upper")))
        .unwrap_or_else(|| {
            panic!(
                "no {marker} in a writable layer under {}",
                run_dir.display()
            )
        });
    let owner = |p: &std::path::Path| {
        std::os::unix::fs::MetadataExt::uid(
            &std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
    };
    let expected = if rustix::process::geteuid().is_root() {
        65534
    } else {
        rustix::process::geteuid().as_raw()
    };
    assert_eq!(owner(&upper), expected);
    let whiteout = upper
        .parent()
        .map(|u| u.join("etc/os-release"))
        .unwrap_or_default();
    assert!(
        std::os::unix::fs::FileTypeExt::is_char_device(
            &std::fs::symlink_metadata(&whiteout)
                .unwrap_or_else(|e| panic!("{}: {e}", whiteout.display()))
                .file_type()
        ),
        "the deletion is a whiteout in the layer"
    );
    // Nothing of this machine changed, and nothing was mounted on it (runc mounted the layer
    // inside the container's namespaces).
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(
        !mounts.contains(&*dir.to_string_lossy()),
        "a mount was left on this machine: {mounts}"
    );
    assert!(!std::path::Path::new("/").join(&marker).exists());
    assert!(!std::path::Path::new("/usr").join(&marker).exists());
    assert_eq!(owner(&run_dir.join("volumes/tw-data/shared")), expected);
}
