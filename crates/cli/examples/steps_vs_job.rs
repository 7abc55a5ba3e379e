//! A 3-step workflow against bare Jobs doing the same, start to finish, on the real test
//! cluster (`scripts/cluster up`, with image volumes), rounds alternating:
//!
//! 1. the workflow (three `shell` steps in `alpine:3.22.0`), submitted to an agent with
//!    `--image-volumes on` (3 containers: init and the toolkit mounted, no setup container);
//! 2. the same, to an agent with `--image-volumes off` (4 containers: upstream's layout, a
//!    setup container copying `init` and the shell first);
//! 3. a bare Job of `alpine:3.22.0` whose one container runs the three commands;
//! 4. a bare Job with three containers in sequence (two init containers and the main one),
//!    each running one command: the same Pod shape as the workflow, without testwerk.
//!
//! Our times run from the submission until the agent reports the execution done (compiled,
//! Secrets and Job created, every container followed, every step and log line stored); a bare
//! Job's from its creation until the Job controller reports it succeeded, and, for comparison,
//! until its Pod's phase is `Succeeded` (the Job controller adds its own delay after that).
//!
//! `scripts/cluster up` first, then (as scripts/test builds the static toolkit the Pods run):
//! `cargo run --release -p testwerk --features cluster --example steps_vs_job`

#[path = "../tests/agent/mod.rs"]
mod agent;

use std::time::{Duration, Instant};

use agent::AgentEnv;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};

const ROUNDS: usize = 5;

const THREE_STEPS: &str = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: three}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: one
    shell: echo one
  - name: two
    shell: echo two
  - name: three
    shell: echo three
"#;

fn container(name: &str, script: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "image": "alpine:3.22.0",
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", script],
    })
}

fn bare_job(name: &str, three_containers: bool) -> Job {
    let pod = if three_containers {
        serde_json::json!({
            "restartPolicy": "Never",
            "initContainers": [container("one", "echo one"), container("two", "echo two")],
            "containers": [container("three", "echo three")],
        })
    } else {
        serde_json::json!({
            "restartPolicy": "Never",
            "containers": [container("steps", "echo one; echo two; echo three")],
        })
    };
    serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": pod}},
    }))
    .expect("a Job")
}

/// Creates a bare Job and waits until it has succeeded: (until its Pod has, until the Job
/// controller says so).
fn bare(env: &AgentEnv, name: &str, three_containers: bool) -> (Duration, Duration) {
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), &env.namespace);
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), &env.namespace);
    let selector = ListParams::default().labels(&format!("job-name={name}"));
    let started = Instant::now();
    env.rt
        .block_on(jobs.create(&PostParams::default(), &bare_job(name, three_containers)))
        .expect("a bare Job is created");
    let mut pod_done = None;
    loop {
        if pod_done.is_none() {
            let phase = env
                .rt
                .block_on(pods.list(&selector))
                .ok()
                .and_then(|l| l.items.into_iter().next()?.status?.phase);
            if phase.as_deref() == Some("Succeeded") {
                pod_done = Some(started.elapsed());
            }
        }
        let job = env.rt.block_on(jobs.get(name)).ok();
        let status = job.and_then(|j| j.status).unwrap_or_default();
        if status.succeeded == Some(1) {
            let job_done = started.elapsed();
            return (pod_done.unwrap_or(job_done), job_done);
        }
        assert!(status.failed.is_none(), "the bare Job {name} failed");
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the bare Job {name} did not finish in 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Submits the workflow and waits until the agent reports it done.
fn workflow(env: &AgentEnv) -> Duration {
    let started = Instant::now();
    let id = env.submit_ok("three.yaml", THREE_STEPS, None);
    let doc = env.wait_done_quickly(&id, Duration::from_secs(300));
    assert_eq!(doc["status"], "passed", "{doc}");
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64()
}

fn main() {
    let mounted = AgentEnv::start("bench-steps-on", &["--image-volumes", "on"]);
    let copied = AgentEnv::start("bench-steps-off", &["--image-volumes", "off"]);
    // Warm up: images on the node, each agent has compiled once.
    let _ = bare(&copied, "warm-1", false);
    let _ = bare(&copied, "warm-3", true);
    let _ = workflow(&mounted);
    let _ = workflow(&copied);
    let mut times: [Vec<Duration>; 6] = Default::default();
    for round in 0..ROUNDS {
        let a = workflow(&mounted);
        let b = workflow(&copied);
        let (c_pod, c_job) = bare(&copied, &format!("bare-1-{round}"), false);
        let (d_pod, d_job) = bare(&copied, &format!("bare-3-{round}"), true);
        println!(
            "round {}: image volumes {:.2} s, setup copy {:.2} s; bare Job of 1 container {:.2} s (Pod succeeded {:.2} s), of 3 containers {:.2} s (Pod {:.2} s)",
            round + 1,
            a.as_secs_f64(),
            b.as_secs_f64(),
            c_job.as_secs_f64(),
            c_pod.as_secs_f64(),
            d_job.as_secs_f64(),
            d_pod.as_secs_f64()
        );
        for (i, t) in [a, b, c_job, c_pod, d_job, d_pod].into_iter().enumerate() {
            times[i].push(t);
        }
    }
    let [on, off, one, one_pod, three, three_pod] = times.map(median);
    println!(
        "3-step workflow, submission to done, median of {ROUNDS}: image volumes {on:.2} s, setup copy {off:.2} s"
    );
    println!(
        "bare Job doing the same, creation to the Job succeeded (to its Pod succeeded): 1 container {one:.2} s ({one_pod:.2} s), 3 containers {three:.2} s ({three_pod:.2} s)"
    );
    println!(
        "ratios against a bare Job of 1 container: image volumes {:.2}x, setup copy {:.2}x (against its Pod: {:.2}x, {:.2}x); of 3 containers: {:.2}x, {:.2}x ({:.2}x, {:.2}x); one node, 2 cores",
        on / one,
        off / one,
        on / one_pod,
        off / one_pod,
        on / three,
        off / three,
        on / three_pod,
        off / three_pod
    );
}
