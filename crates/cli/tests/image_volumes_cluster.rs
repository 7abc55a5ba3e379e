//! Our binaries as image volumes on the real test cluster (`--image-volumes`).
//!
//! `scripts/cluster up` starts the cluster with Kubernetes' `ImageVolume` feature gate and
//! containerd 2 (which mounts image volumes); `TESTWERK_CLUSTER_IMAGE_VOLUMES=off scripts/cluster
//! up` starts it without the gate, as most clusters of this version run. `scripts/test` runs
//! this file on both: the agent's probe must tell them apart, and the same workflow must pass
//! on each with the layout the cluster allows: no setup container where Pods mount our images,
//! upstream's setup copy where they cannot.
//!
//! Run with `cargo test -p testwerk --features cluster --test image_volumes_cluster` (as root).
#![cfg(feature = "cluster")]

mod agent;

use std::time::{Duration, Instant};

use agent::AgentEnv;
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use kube::api::{Api, ListParams};
use serde_json::Value;

const MINUTE: Duration = Duration::from_secs(60);

/// Three steps in two user images, one of them with a toolkit operation (`artifacts`), so both
/// of our images are needed inside user containers.
const WORKFLOW: &str = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: volumes}
spec:
  container: {image: "alpine:3.22.0", workingDir: /data}
  steps:
  - name: one
    shell: echo one > one.txt && echo one
  - name: two in busybox
    container: {image: "busybox:1.37"}
    shell: cat one.txt && echo two
  - name: three
    shell: echo three
    artifacts: {paths: ["one.txt"]}
"#;

/// Waits until the agent's log says what its image volume probe found.
fn probe_answer(env: &AgentEnv) -> bool {
    let started = Instant::now();
    loop {
        let log = env.log();
        if log.contains("image volumes: supported") {
            return true;
        }
        if log.contains("image volumes: not supported") {
            return false;
        }
        assert!(
            started.elapsed() < 2 * MINUTE,
            "the probe did not answer within 2 minutes:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs [`WORKFLOW`] to the end and returns its Pod's spec (kept by `--cleanup never`).
fn run(env: &AgentEnv) -> (Value, PodSpec) {
    let id = env.submit_ok("volumes.yaml", WORKFLOW, None);
    let doc = env.wait_done(&id, 3 * MINUTE);
    assert_eq!(doc["status"], "passed", "{doc}\n{}", env.log());
    let resource = doc["plan"]["resource"].as_str().expect("resource");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), &env.namespace);
    let list = env
        .rt
        .block_on(
            pods.list(&ListParams::default().labels(&format!("testwerk.io/execution={resource}"))),
        )
        .expect("pods");
    let spec = list
        .items
        .first()
        .and_then(|p| p.spec.clone())
        .expect("the Pod is kept with --cleanup never");
    (doc, spec)
}

fn containers(spec: &PodSpec) -> Vec<(String, Vec<String>)> {
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|c| {
            (
                c.image.clone().unwrap_or_default(),
                c.command.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn image_volumes(spec: &PodSpec) -> Vec<String> {
    spec.volumes
        .iter()
        .flatten()
        .filter_map(|v| v.image.as_ref()?.reference.clone())
        .collect()
}

fn log_lines(env: &AgentEnv, id: &str) -> String {
    env.text(&format!("/v1/executions/{id}/logs"))
}

#[test]
fn the_agent_finds_what_the_cluster_can_mount_and_uses_the_layout_it_allows() {
    let auto = AgentEnv::start_reachable(
        "volumes-auto",
        &["--cleanup", "never", "--image-volumes", "auto"],
    );
    let supported = probe_answer(&auto);
    if let Some(line) = auto.log().lines().find(|l| l.contains("image volumes:")) {
        eprintln!("{line}");
    }
    assert_eq!(
        supported,
        auto.image_volumes,
        "the probe says {supported}, the cluster runs with image volumes {}:\n{}",
        auto.image_volumes,
        auto.log()
    );
    // The probe cleans up after itself.
    let jobs: Api<k8s_openapi::api::batch::v1::Job> =
        Api::namespaced(auto.client.clone(), &auto.namespace);
    let started = Instant::now();
    while auto
        .rt
        .block_on(jobs.list(&ListParams::default()))
        .expect("jobs")
        .items
        .iter()
        .any(|j| {
            j.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("testwerk-image-volume-probe-"))
        })
    {
        assert!(started.elapsed() < MINUTE, "the probe Job was not deleted");
        std::thread::sleep(Duration::from_millis(200));
    }

    let (doc, detected) = run(&auto);
    let id = doc["id"].as_str().expect("id").to_owned();
    let logs = log_lines(&auto, &id);
    for line in ["one", "two", "three"] {
        assert!(
            logs.lines().any(|l| l.ends_with(line)),
            "no line `{line}` in the logs:\n{logs}"
        );
    }
    let artifacts = auto
        .get(&format!("/api/v1/executions/{id}/artifacts"))
        .expect("artifacts");
    assert!(
        artifacts.to_string().contains("one.txt"),
        "the toolkit in a user image uploaded nothing: {artifacts}"
    );

    // The same workflow with upstream's layout, forced.
    let copy = AgentEnv::start_reachable(
        "volumes-off",
        &["--cleanup", "never", "--image-volumes", "off"],
    );
    let (_, copied) = run(&copy);
    assert!(image_volumes(&copied).is_empty());
    let copied_containers = containers(&copied);
    assert_eq!(
        copied_containers[0].1[0], "/init",
        "a setup container of our image copies first: {copied_containers:?}"
    );

    let detected_containers = containers(&detected);
    if supported {
        assert_eq!(
            detected_containers.len() + 1,
            copied_containers.len(),
            "one container fewer: {detected_containers:?} vs {copied_containers:?}"
        );
        for (image, command) in &detected_containers {
            assert!(!image.starts_with("testwerk/"), "{detected_containers:?}");
            assert_eq!(command[0], "/.testwerk-init/init", "{image}");
        }
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            image_volumes(&detected),
            [
                format!("testwerk/init:{version}"),
                format!("testwerk/toolkit:{version}")
            ]
        );
    } else {
        assert_eq!(detected_containers, copied_containers);
        assert!(image_volumes(&detected).is_empty());
        // Told to mount anyway, the agent says why it cannot instead of starting a Pod that
        // finds no `init`.
        let forced = AgentEnv::start("volumes-on", &["--image-volumes", "on"]);
        let (_, answer) = forced.submit("volumes.yaml", WORKFLOW, None);
        let id = answer["id"].as_str().unwrap_or_else(|| panic!("{answer}"));
        let doc = forced.wait_done(id, MINUTE);
        assert_eq!(doc["status"], "failed", "{doc}");
        let reason = doc["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("cannot mount images") && reason.contains("--image-volumes"),
            "{reason}"
        );
        assert!(forced.wait_clean(MINUTE).is_empty(), "objects left behind");
    }
}
