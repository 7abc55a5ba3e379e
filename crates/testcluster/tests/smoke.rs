//! The test cluster end to end, with plain Kubernetes objects: a Job with the stand-in
//! `alpine` image completes and its log is readable, a failing Job reports its exit code, an
//! OOM-killed container reports 137, testwerk's own images run.
//!
//! Run with `cargo test -p testwerk-testcluster --features cluster` (as root: the harness
//! starts the cluster through `scripts/cluster up` when it is not running).
#![cfg(feature = "cluster")]

use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams, PropagationPolicy};
use serde_json::json;
use testwerk_testcluster::{Cluster, ensure_up};

const TIMEOUT: Duration = Duration::from_secs(180);

async fn client() -> (Cluster, Client) {
    let cluster = ensure_up().unwrap_or_else(|e| panic!("test cluster: {e}"));
    let client = cluster
        .client()
        .await
        .unwrap_or_else(|e| panic!("client: {e}"));
    (cluster, client)
}

/// A Job of one Pod that runs `script` with `/bin/sh -c` in `image`, never retried.
fn job(name: &str, image: &str, script: &str, memory_limit: Option<&str>) -> Job {
    job_with_shell(name, image, "/bin/sh", script, memory_limit)
}

fn job_with_shell(
    name: &str,
    image: &str,
    shell: &str,
    script: &str,
    memory_limit: Option<&str>,
) -> Job {
    let mut container = json!({
        "name": "main",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": [shell, "-c", script],
    });
    if let Some(limit) = memory_limit {
        container["resources"] =
            json!({ "limits": { "memory": limit }, "requests": { "memory": limit } });
    }
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": name, "labels": { "testwerk.io/test": "smoke" } },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": { "labels": { "testwerk.io/test": "smoke" } },
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 1,
                    "automountServiceAccountToken": false,
                    "containers": [container],
                },
            },
        },
    }))
    .expect("a valid Job")
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{name}-{}-{:x}", std::process::id(), nanos % 0xfffff)
}

/// Creates the Job, waits until it has the condition `Complete` or `Failed`, returns which one
/// with its Pod.
async fn run(client: &Client, job: Job) -> (String, String, Pod) {
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let name = job.metadata.name.clone().expect("named");
    jobs.create(&PostParams::default(), &job)
        .await
        .unwrap_or_else(|e| panic!("creating Job {name}: {e}"));
    let start = Instant::now();
    loop {
        let job = jobs
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("reading Job {name}: {e}"));
        let finished = job
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| {
                cs.iter()
                    .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
                    .cloned()
            });
        if let Some(condition) = finished {
            let list = pods
                .list(&ListParams::default().labels(&format!("job-name={name}")))
                .await
                .unwrap_or_else(|e| panic!("listing the Pods of {name}: {e}"));
            let pod = list
                .items
                .into_iter()
                .next()
                .unwrap_or_else(|| panic!("Job {name} has no Pod"));
            let reason = condition.reason.unwrap_or_default();
            eprintln!(
                "Job {name}: {} ({reason}) after {:.1}s",
                condition.type_,
                start.elapsed().as_secs_f64()
            );
            return (condition.type_, reason, pod);
        }
        if start.elapsed() > TIMEOUT {
            let list = pods
                .list(&ListParams::default().labels(&format!("job-name={name}")))
                .await
                .ok();
            let statuses = list.map(|l| {
                l.items
                    .into_iter()
                    .map(|p| format!("{:?}", p.status))
                    .collect::<Vec<_>>()
            });
            panic!(
                "Job {name} did not finish in {TIMEOUT:?}: {:?}; Pods: {statuses:?}",
                job.status
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn terminated(pod: &Pod) -> ContainerStateTerminated {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.clone())
        .unwrap_or_else(|| panic!("no terminated container in {:?}", pod.status))
}

async fn cleanup(client: &Client, name: &str) {
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    let _ = jobs.delete(name, &params).await;
}

#[tokio::test]
async fn job_with_the_alpine_stand_in_completes_and_its_log_is_readable() {
    let (_, client) = client().await;
    let name = unique("smoke-echo");
    let (condition, _, pod) = run(
        &client,
        job(
            &name,
            "alpine:3.22.0",
            "echo \"hello from $(hostname)\"; echo \"second line\"; ls /bin/sh",
            None,
        ),
    )
    .await;
    assert_eq!(condition, "Complete");
    assert_eq!(terminated(&pod).exit_code, 0);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod_name = pod.metadata.name.clone().expect("named");
    let log = pods
        .logs(&pod_name, &LogParams::default())
        .await
        .expect("the Pod's log");
    assert_eq!(
        log,
        format!("hello from {pod_name}\nsecond line\n/bin/sh\n")
    );
    cleanup(&client, &name).await;
}

#[tokio::test]
async fn failing_job_reports_the_exit_code() {
    let (_, client) = client().await;
    let name = unique("smoke-fail");
    let (condition, reason, pod) = run(
        &client,
        job(&name, "busybox:latest", "echo failing >&2; exit 3", None),
    )
    .await;
    assert_eq!(condition, "Failed");
    assert_eq!(reason, "BackoffLimitExceeded");
    let state = terminated(&pod);
    assert_eq!(state.exit_code, 3, "{state:?}");
    assert_eq!(state.reason.as_deref(), Some("Error"), "{state:?}");
    cleanup(&client, &name).await;
}

#[tokio::test]
async fn oom_killed_container_reports_137() {
    let (_, client) = client().await;
    let name = unique("smoke-oom");
    // dd allocates a 256 MiB buffer and fills it, far over the 32 MiB limit. It replaces the
    // shell, so that the container's main process is the one killed (a shell would survive).
    let script = "echo allocating; exec dd if=/dev/zero of=/dev/null bs=256M count=1";
    let (condition, _, pod) = run(&client, job(&name, "alpine:3.22.0", script, Some("32Mi"))).await;
    assert_eq!(condition, "Failed");
    let state = terminated(&pod);
    assert_eq!(state.exit_code, 137, "{state:?}");
    assert_eq!(state.reason.as_deref(), Some("OOMKilled"), "{state:?}");
    cleanup(&client, &name).await;
}

#[tokio::test]
async fn testwerk_images_carry_init_and_busybox() {
    let own_images = !std::env::var("TESTWERK_SKIP_OWN_IMAGES").is_ok_and(|v| v == "1");
    if testwerk_testinputs::available(
        own_images.then_some(()),
        "testwerk's own images in the test cluster (TESTWERK_SKIP_OWN_IMAGES=1)",
        "scripts/cluster up without TESTWERK_SKIP_OWN_IMAGES",
    )
    .is_none()
    {
        return;
    }
    let (cluster, client) = client().await;
    let name = unique("smoke-own");
    // Our images have no /bin/sh: the shell is /.testwerk-bin/sh.
    let job = job_with_shell(
        &name,
        &cluster.init_image(),
        "/.testwerk-bin/sh",
        "test -x /init && test -x /.testwerk-bin/sh && echo own image ok",
        None,
    );
    let (condition, _, pod) = run(&client, job).await;
    assert_eq!(condition, "Complete", "{:?}", pod.status);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let log = pods
        .logs(
            &pod.metadata.name.clone().expect("named"),
            &LogParams::default(),
        )
        .await
        .expect("log");
    assert_eq!(log, "own image ok\n");
    cleanup(&client, &name).await;
}

#[tokio::test]
async fn registry_serves_the_stand_ins() {
    let (cluster, _) = client().await;
    for (repo, tag) in [
        ("library/alpine", "3.22.0"),
        ("library/alpine", "3.21.2"),
        ("library/alpine", "3.17.2"),
        ("library/busybox", "latest"),
        ("library/bash", "alpine3.21"),
        ("pause", "3.10.1"),
    ] {
        let body = http_get(&cluster.registry, &format!("/v2/{repo}/tags/list"));
        assert!(
            body.contains(&format!("\"{tag}\"")),
            "{repo}:{tag} missing in the registry: {body}"
        );
    }
}

/// A plain HTTP/1.0 GET on 127.0.0.1 (the registry speaks HTTP there).
fn http_get(host: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(host).unwrap_or_else(|e| panic!("connecting to {host}: {e}"));
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}
