//! Image mode end to end through `testwerk run`: stand-in images pushed to Debian's
//! `docker-registry`, pulled through `--registry-mirror docker.io=…` into the image store,
//! and run by runc from their unpacked roots; `imagePullPolicy` decides what is fetched.

mod support;

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
