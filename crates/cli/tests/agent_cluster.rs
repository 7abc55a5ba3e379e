//! The Kubernetes agent on the real test cluster (`scripts/cluster`): corpus workflows reach
//! the results they reach locally, failures outside the steps land on the right step, the
//! agent survives being SIGKILLed, and nothing is left behind.
//!
//! Run with `cargo test -p testwerk --features cluster --test agent_cluster` (as root; the
//! harness starts the cluster when it is not running).
#![cfg(feature = "cluster")]

mod agent;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agent::AgentEnv;
use serde_json::{Value, json};
use support::*;

const MINUTE: Duration = Duration::from_secs(60);

fn steps(doc: &Value) -> HashMap<String, (String, String)> {
    doc["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some((
                s["name"].as_str()?.to_owned(),
                (
                    s["status"].as_str().unwrap_or_default().to_owned(),
                    s["error"].as_str().unwrap_or_default().to_owned(),
                ),
            ))
        })
        .collect()
}

#[test]
fn shell_corpus_workflows_reach_their_local_results_on_the_cluster() {
    let Some(compat) = compat_dir() else {
        return;
    };
    let env = AgentEnv::start("corpus", &[]);
    apply_corpus_templates(&env, &compat);
    let files = corpus_files(&compat);
    let mut failures = Vec::new();
    // Six at a time: the node has two cores, and most of these wait on sleeps.
    for chunk in SHELL_CORPUS.chunks(6) {
        let mut running = Vec::new();
        for (name, should_pass, reason) in chunk {
            let file = files
                .get(name)
                .unwrap_or_else(|| panic!("{name} is not in the corpus"));
            let source = std::fs::read_to_string(file).expect("corpus file");
            let id = env.submit_ok(&file.display().to_string(), &source, Some(name));
            running.push((id, *name, *should_pass, *reason));
        }
        for (id, name, should_pass, reason) in running {
            let doc = env.wait_done(&id, 10 * MINUTE);
            let passed = doc["status"] == "passed";
            let explained = should_pass || doc.to_string().contains(reason);
            if passed != should_pass || !explained {
                failures.push(format!("{name}: {}: {}", doc["status"], doc["reason"]));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} workflows ended otherwise than locally:\n{}",
        failures.len(),
        failures.join("\n")
    );
    env.assert_clean();
}

/// Official templates and those of the test suites, as a cluster would have them (the local
/// run reads the same folders with --templates).
fn apply_corpus_templates(env: &AgentEnv, compat: &std::path::Path) {
    let folders = [compat.join("k8s/templates"), compat.join("test")];
    for file in workflow_template_files(&folders) {
        apply_kind(env, &file, "TestWorkflowTemplate");
    }
}

/// Applies the documents of `kind` in `file` (others, and files that are not YAML, are no
/// concern here).
fn apply_kind(env: &AgentEnv, file: &std::path::Path, kind: &str) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap_or_default();
    for value in docs {
        if value["kind"] == kind {
            env.apply_cr(&value);
        }
    }
}

fn workflow_template_files(dirs: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    let mut errors = Vec::new();
    testwerk_cli::pipeline::template_files(dirs, &mut errors)
        .into_iter()
        .filter(|f| {
            std::fs::read_to_string(f).is_ok_and(|t| t.contains("kind: TestWorkflowTemplate"))
        })
        .collect()
}

#[test]
fn the_pod_has_the_containers_the_compiler_planned() {
    let env = AgentEnv::start("containers", &["--cleanup", "never"]);
    let workflow = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: containers}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: one
    shell: echo one
  - name: separate image
    container: {image: "busybox:1.37"}
    shell: echo two
  - name: three
    shell: echo three
"#;
    let id = env.submit_ok("containers.yaml", workflow, None);
    let doc = env.wait_done(&id, 3 * MINUTE);
    assert_eq!(doc["status"], "passed", "{doc}");
    let planned: Vec<(String, String)> = doc["plan"]["containers"]
        .as_array()
        .expect("planned containers")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_owned(),
                c["image"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(planned.len() >= 2, "{planned:?}");
    let resource = doc["plan"]["resource"]
        .as_str()
        .expect("resource")
        .to_owned();
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(env.client.clone(), &env.namespace);
    let list = env
        .rt
        .block_on(pods.list(
            &kube::api::ListParams::default().labels(&format!("testwerk.io/execution={resource}")),
        ))
        .expect("pods");
    let pod = list
        .items
        .first()
        .expect("the Pod is kept with --cleanup never");
    let spec = pod.spec.as_ref().expect("spec");
    let actual: Vec<(String, String)> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect();
    assert_eq!(actual, planned);
    // And the plan is what `testwerk compile` prints for the same execution id.
    let dir = scratch("containers");
    let file = dir.join("containers.yaml");
    std::fs::write(&file, workflow).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args([
            "compile",
            file.to_str().expect("path"),
            "--output",
            "json",
            "--id",
            &resource,
        ])
        .args(["--insecure", "127.0.0.1:15000"])
        .env("XDG_DATA_HOME", &dir)
        .output()
        .expect("testwerk compile");
    let printed = String::from_utf8_lossy(&out.stdout);
    for (name, image) in &planned {
        assert!(
            printed.contains(&format!("\"name\": \"{name}\"")),
            "compile output lacks container {name}"
        );
        assert!(
            printed.contains(image.as_str()),
            "compile output lacks image {image}"
        );
    }
}

#[test]
fn failures_outside_the_steps_are_attributed_to_the_step_they_hit() {
    // A Pod no node will take fails after 10 s instead of the default 2 minutes.
    let env = AgentEnv::start("failures", &["--unschedulable-timeout", "10"]);
    let missing_image = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: missing-image}
spec:
  steps:
  - name: fine
    shell: echo fine
  - name: pull me
    container: {image: "testwerk-tests/does-not-exist:1", workingDir: /}
    run: {command: ["/bin/sh", "-c", "echo never"]}
"#;
    let oom = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: oom}
spec:
  container:
    image: "alpine:3.22.0"
    resources: {limits: {memory: 32Mi}, requests: {memory: 32Mi}}
  steps:
  - name: eat memory
    shell: tail /dev/zero
"#;
    // An optional step that runs out of memory in an init container: the kubelet never starts
    // the next container, so the agent must end the execution instead of waiting forever.
    let oom_optional = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: oom-optional}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: memory hog
    optional: true
    container: {image: "busybox:1.37", resources: {limits: {memory: 24Mi}}}
    shell: tail /dev/zero
  - name: after the hog
    shell: echo after
"#;
    let deleted = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: deleted}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: before
    shell: echo before
  - name: long
    shell: sleep 120
  - name: after
    shell: echo after
"#;
    let deadline = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: deadline}
spec:
  job: {activeDeadlineSeconds: 8}
  container: {image: "alpine:3.22.0"}
  steps:
  - name: slow
    shell: sleep 120
  - name: never
    shell: echo never
"#;
    let unschedulable = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: unschedulable}
spec:
  pod: {nodeSelector: {testwerk.io/no-such-node: "true"}}
  container: {image: "alpine:3.22.0"}
  steps:
  - name: wait for a node
    shell: echo never
"#;
    let image_id = env.submit_ok("missing-image.yaml", missing_image, None);
    let unschedulable_id = env.submit_ok("unschedulable.yaml", unschedulable, None);
    let oom_id = env.submit_ok("oom.yaml", oom, None);
    let oom_optional_id = env.submit_ok("oom-optional.yaml", oom_optional, None);
    let deleted_id = env.submit_ok("deleted.yaml", deleted, None);
    let deadline_id = env.submit_ok("deadline.yaml", deadline, None);

    env.wait_step_running(&deleted_id, "long", 3 * MINUTE);
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(env.client.clone(), &env.namespace);
    let list = env
        .rt
        .block_on(
            pods.list(&kube::api::ListParams::default().labels("testwerk.io/execution=deleted-1")),
        )
        .expect("pods");
    let pod = list
        .items
        .first()
        .and_then(|p| p.metadata.name.clone())
        .expect("the Pod of deleted-1");
    env.rt
        .block_on(pods.delete(&pod, &kube::api::DeleteParams::default()))
        .expect("delete the Pod");

    let doc = env.wait_done(&image_id, 3 * MINUTE);
    assert_eq!(doc["status"], "failed", "{doc}");
    let s = steps(&doc);
    assert_eq!(s["fine"].0, "passed", "{doc}");
    assert_eq!(s["pull me"].0, "failed", "{doc}");
    assert!(
        s["pull me"].1.contains("testwerk-tests/does-not-exist:1")
            && s["pull me"].1.contains("cannot be pulled"),
        "{doc}"
    );
    // What the kubelet said is kept with the execution: a warning about the pull, on the
    // container of the step, stored once.
    let events = env
        .get(&format!("/v1/executions/{image_id}/events"))
        .expect("events");
    let events = events.as_array().expect("a list");
    let pull_warnings: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["warning"] == true
                && e["object"]
                    .as_str()
                    .is_some_and(|o| o.starts_with("Pod/") && o.contains(" container "))
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("testwerk-tests/does-not-exist:1"))
        })
        .collect();
    assert!(
        !pull_warnings.is_empty(),
        "no pull warning among {events:#?}"
    );
    let mut keys: Vec<(String, u64)> = events
        .iter()
        .map(|e| {
            (
                e["uid"].as_str().unwrap_or_default().to_owned(),
                e["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let total = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), total, "an event stored twice: {events:#?}");

    let doc = env.wait_done(&oom_id, 3 * MINUTE);
    assert_eq!(doc["status"], "failed", "{doc}");
    let s = steps(&doc);
    assert_eq!(s["eat memory"].0, "failed", "{doc}");
    assert!(
        s["eat memory"].1.contains("OOMKilled") && s["eat memory"].1.contains("32Mi"),
        "{doc}"
    );

    let doc = env.wait_done(&oom_optional_id, 3 * MINUTE);
    assert_eq!(doc["status"], "aborted", "{doc}");
    let s = steps(&doc);
    assert_eq!(s["memory hog"].0, "failed", "{doc}");
    assert!(s["memory hog"].1.contains("OOMKilled"), "{doc}");
    assert_eq!(s["after the hog"].0, "aborted", "{doc}");
    assert!(s["after the hog"].1.contains("ran out of memory"), "{doc}");

    let doc = env.wait_done(&deleted_id, 3 * MINUTE);
    assert_eq!(doc["status"], "aborted", "{doc}");
    let s = steps(&doc);
    assert_eq!(s["before"].0, "passed", "{doc}");
    assert_eq!(s["long"].0, "aborted", "{doc}");
    assert!(s["long"].1.contains("the Pod was deleted"), "{doc}");
    assert_eq!(s["after"].0, "skipped", "{doc}");

    let doc = env.wait_done(&unschedulable_id, 3 * MINUTE);
    assert_eq!(doc["status"], "failed", "{doc}");
    let s = steps(&doc);
    assert_eq!(s["wait for a node"].0, "failed", "{doc}");
    assert!(
        s["wait for a node"].1.contains("cannot be scheduled")
            && s["wait for a node"].1.contains("waited 10 s"),
        "{doc}"
    );
    let events = env
        .get(&format!("/v1/executions/{unschedulable_id}/events"))
        .expect("events");
    assert!(
        events.as_array().is_some_and(|list| list
            .iter()
            .any(|e| e["reason"] == "FailedScheduling" && e["warning"] == true)),
        "the scheduler's warning is kept: {events:#}"
    );

    let doc = env.wait_done(&deadline_id, 3 * MINUTE);
    assert_eq!(doc["status"], "aborted", "{doc}");
    let s = steps(&doc);
    assert_eq!(s["slow"].0, "aborted", "{doc}");
    assert!(s["slow"].1.contains("timed out after 8 seconds"), "{doc}");
    assert_eq!(s["never"].0, "skipped", "{doc}");

    env.assert_clean();
}

/// A small pseudo-random sequence; the seed is printed so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn the_agent_survives_sigkill_and_finishes_every_execution() {
    let mut env = AgentEnv::start("crash", &[]);
    let seed = std::env::var("TESTWERK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(7)
        });
    eprintln!("crash test seed: {seed} (TESTWERK_CRASH_SEED={seed} replays it)");
    let mut random = Lcg(seed);
    let mut ids = Vec::new();
    for k in 0..5 {
        let workflow = format!(
            r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {{name: crash-{k}}}
spec:
  container: {{image: "alpine:3.22.0"}}
  steps:
  - name: first
    shell: 'for i in 1 2 3; do echo "crash-{k} first $i"; sleep 1; done'
  - name: second
    shell: 'echo "crash-{k} second"; sleep 2'
  - name: in its own container
    container: {{image: "busybox:1.37"}}
    shell: 'for i in 1 2 3; do echo "crash-{k} third $i"; sleep 1; done'
  - name: last
    shell: 'echo "crash-{k} last"'
"#
        );
        ids.push((
            k,
            env.submit_ok(&format!("crash-{k}.yaml"), &workflow, None),
        ));
    }
    for round in 0..5 {
        let wait = Duration::from_millis(500 + random.next(3500));
        std::thread::sleep(wait);
        eprintln!("crash round {round}: SIGKILL after {wait:?}");
        env.kill_agent();
        std::thread::sleep(Duration::from_millis(random.next(2000)));
        env.start_agent();
    }
    for (k, id) in &ids {
        let doc = env.wait_done(id, 5 * MINUTE);
        assert_eq!(doc["status"], "passed", "crash-{k}: {doc}");
        let s = steps(&doc);
        for name in ["first", "second", "in its own container", "last"] {
            assert_eq!(
                s.get(name).map(|x| x.0.as_str()),
                Some("passed"),
                "crash-{k} step {name}: {doc}"
            );
        }
        let logs = env.text(&format!("/v1/executions/{id}/logs"));
        for line in [
            format!("crash-{k} first 1"),
            format!("crash-{k} first 2"),
            format!("crash-{k} first 3"),
            format!("crash-{k} second"),
            format!("crash-{k} third 1"),
            format!("crash-{k} third 2"),
            format!("crash-{k} third 3"),
            format!("crash-{k} last"),
        ] {
            let count = logs.lines().filter(|l| *l == line).count();
            assert_eq!(
                count, 1,
                "crash-{k}: `{line}` appears {count} times in the log:\n{logs}"
            );
        }
    }
    env.assert_clean();
    let jobs = env.log().matches("creating Job").count();
    assert_eq!(
        jobs,
        0,
        "the agent reported failures creating Jobs:\n{}",
        env.log()
    );
}

#[test]
fn a_testworkflowexecution_object_starts_an_execution_and_mirrors_its_status() {
    let env = AgentEnv::start("twe", &[]);
    // Created a moment before the run that uses it: the agent's watch may not have it yet,
    // and the run must find it all the same.
    env.apply_cr(&json!({
        "apiVersion": "testworkflows.testkube.io/v1", "kind": "TestWorkflowTemplate",
        "metadata": {"name": "greeter"},
        "spec": {"steps": [{"name": "greet", "shell": "echo greeted"}]},
    }));
    env.apply_cr(&json!({
        "apiVersion": "testworkflows.testkube.io/v1", "kind": "TestWorkflow",
        "metadata": {"name": "from-cr"},
        "spec": {"container": {"image": "alpine:3.22.0"},
                 "use": [{"name": "greeter"}],
                 "config": {"word": {"type": "string", "default": "plain"}},
                 "steps": [{"name": "say", "shell": "echo said {{ config.word }}"}]},
    }));
    env.apply_cr(&json!({
        "apiVersion": "testworkflows.testkube.io/v1", "kind": "TestWorkflowExecution",
        "metadata": {"name": "run-from-cr"},
        "spec": {"testWorkflow": {"name": "from-cr"}, "executionRequest": {"config": {"word": "fancy"}}},
    }));
    let started = Instant::now();
    let status = loop {
        let object = env
            .get_cr("TestWorkflowExecution", "run-from-cr")
            .expect("the object");
        let status = object.data.get("status").cloned().unwrap_or(Value::Null);
        if status["phase"] == "passed" || status["phase"] == "failed" {
            break status;
        }
        assert!(
            started.elapsed() < 3 * MINUTE,
            "no final status: {status}\n{}",
            env.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(status["phase"], "passed", "{status}");
    assert_eq!(status["generation"], 1, "{status}");
    let id = status["executionId"].as_str().expect("executionId");
    let logs = env.text(&format!("/v1/executions/{id}/logs"));
    assert!(
        logs.contains("greeted") && logs.contains("said fancy"),
        "{logs}"
    );

    // The same workflow by name through the API, with its default config.
    let (code, body) = env.post("/v1/test-workflows/from-cr/executions");
    assert_eq!(code, 201, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let doc = env.wait_done(&id, 3 * MINUTE);
    assert_eq!(doc["status"], "passed", "{doc}");
    let logs = env.text(&format!("/v1/executions/{id}/logs"));
    assert!(
        logs.contains("greeted") && logs.contains("said plain"),
        "{logs}"
    );
    env.assert_clean();
}

#[test]
fn abort_pause_and_resume_through_the_api() {
    let env = AgentEnv::start("control", &[]);
    let workflow = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: ticking}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: tick
    shell: 'i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo "tick $i"; sleep 0.1; done'
  - name: after
    shell: echo after
"#;
    let id = env.submit_ok("ticking.yaml", workflow, None);
    env.wait_step_running(&id, "tick", 3 * MINUTE);
    std::thread::sleep(Duration::from_secs(2));
    let (status, answer) = env.post(&format!("/v1/executions/{id}/pause"));
    assert_eq!(status, 200, "pause: {answer}");
    std::thread::sleep(Duration::from_millis(500));
    let count = |env: &AgentEnv| {
        env.text(&format!("/v1/executions/{id}/logs"))
            .lines()
            .filter(|l| l.starts_with("tick "))
            .count()
    };
    let paused_at = count(&env);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(count(&env), paused_at, "the log grew while paused");
    let doc = env
        .get(&format!("/v1/executions/{id}"))
        .expect("the execution");
    assert_eq!(steps(&doc)["tick"].0, "paused", "{doc}");
    let (status, answer) = env.post(&format!("/v1/executions/{id}/resume"));
    assert_eq!(status, 200, "resume: {answer}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        count(&env) > paused_at,
        "the log did not grow after resuming"
    );
    // Abort from the command line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["abort", &id, "--server", &env.url("")])
        .env("TESTWERK_TOKEN", &env.tokens.runner)
        .output()
        .expect("testwerk abort");
    assert!(
        out.status.success(),
        "testwerk abort: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = env.wait_done(&id, 2 * MINUTE);
    assert_eq!(doc["status"], "aborted", "{doc}");
    let s = steps(&doc);
    assert_eq!(s["tick"].0, "aborted", "{doc}");
    assert_eq!(s["after"].0, "skipped", "{doc}");
    env.assert_clean();
}

#[test]
fn run_with_server_shows_the_live_view_and_exits_with_the_result() {
    let env = AgentEnv::start("run-server", &[]);
    let dir = scratch("run-server");
    let passing = dir.join("passing.yaml");
    std::fs::write(
        &passing,
        r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: remote-pass}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: greet
    shell: echo "hello from the cluster"
"#,
    )
    .expect("write");
    let failing = dir.join("failing.yaml");
    std::fs::write(
        &failing,
        r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: remote-fail}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: break
    shell: exit 3
"#,
    )
    .expect("write");
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_testwerk"))
            .env("TESTWERK_TOKEN", &env.tokens.runner)
            .args([
                "run",
                file.to_str().expect("path"),
                "--server",
                &env.url(""),
                "--tag",
                "team=payments",
            ])
            .env("NO_COLOR", "1")
            .output()
            .expect("testwerk run --server")
    };
    let out = run(&passing);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("hello from the cluster"), "{stdout}");
    assert!(
        stdout.contains("PASS") && stdout.contains("greet"),
        "{stdout}"
    );
    let out = run(&failing);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // Both carry the tag given with --tag, and the API finds them by it (and by two tags).
    let tagged = |query: &str| -> Vec<String> {
        env.get(&format!("/v1/executions?{query}"))
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e["workflow"].as_str().map(str::to_owned))
            .collect()
    };
    let mut found = tagged("tag=team=payments");
    found.sort();
    assert_eq!(found, ["remote-fail", "remote-pass"]);
    assert!(tagged("tag=team=payments&tag=tier=1").is_empty());
    assert_eq!(
        tagged("tag=team=payments&workflow=remote-pass"),
        ["remote-pass"]
    );
    let (status, doc) = env.submit_tagged("t.yaml", "x", &json!({"testwerk.io/parent": "p"}));
    assert_eq!(status, 422, "{doc}");
    assert!(doc.to_string().contains("testwerk's own"), "{doc}");
    assert!(
        stdout.contains("FAIL") && stdout.contains("exit code 3"),
        "{stdout}"
    );
    // A workflow with a mistake is refused with the file, line and field.
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        "kind: TestWorkflow\napiVersion: testworkflows.testkube.io/v1\nmetadata: {name: broken}\nspec:\n  steps:\n  - shel: echo\n",
    )
    .expect("write");
    let out = run(&broken);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("broken.yaml:6") && stderr.contains("shel"),
        "{stderr}"
    );
}

/// A `run --server` client shown the live view of a workflow printing numbered lines.
fn spawn_client(env: &AgentEnv, file: &std::path::Path, timeout: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .env("TESTWERK_TOKEN", &env.tokens.runner)
        .args([
            "run",
            file.to_str().expect("path"),
            "--server",
            &env.url(""),
            "--reconnect-timeout",
            timeout,
        ])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("testwerk run --server")
}

#[test]
fn run_with_server_follows_through_an_agent_restart_and_exits_with_the_result() {
    let mut env = AgentEnv::start("reconnect", &[]);
    let dir = scratch("reconnect");
    let file = dir.join("counting.yaml");
    std::fs::write(
        &file,
        r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: counting}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: count
    shell: 'for i in $(seq 1 60); do echo "counted $i"; sleep 0.2; done'
  - name: after
    shell: echo "counted done"
"#,
    )
    .expect("write");
    let client = spawn_client(&env, &file, "90");
    // Killed while the step prints, back a few seconds later on the same port.
    env.wait_for_log_line("counting-1", "counted 5", 3 * MINUTE);
    env.kill_agent();
    std::thread::sleep(Duration::from_secs(3));
    env.start_agent();
    let out = client.wait_with_output().expect("the client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("lost the agent"), "{stdout}");
    for i in (1..=60).map(|i| i.to_string()).chain(["done".to_owned()]) {
        let shown = stdout
            .lines()
            .filter(|l| l.trim_end().ends_with(&format!("counted {i}")))
            .count();
        assert_eq!(shown, 1, "`counted {i}` shown {shown} times:\n{stdout}");
    }
    assert!(stdout.contains("PASSED counting-1"), "{stdout}");

    // An agent that does not come back: exit 4, naming the execution.
    let client = spawn_client(&env, &file, "5");
    env.wait_for_log_line("counting-2", "counted 3", 3 * MINUTE);
    env.kill_agent();
    let started = Instant::now();
    let out = client.wait_with_output().expect("the client");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("could not reach it again within 5 s") && stderr.contains("counting-2"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    env.start_agent();
    let id = env
        .get("/v1/executions/counting-2")
        .and_then(|d| d["id"].as_str().map(str::to_owned))
        .expect("the second execution");
    let doc = env.wait_done(&id, 3 * MINUTE);
    assert_eq!(doc["status"], "passed", "{doc}");
    env.assert_clean();
}

#[test]
fn git_and_tarball_content_reach_the_pod_through_a_mirror_with_a_token_never_shown() {
    use testwerk_testcontent::{Auth, FileServer, GitServer, Repos, ServerOptions, tar};
    const TOKEN: &str = "tok-cluster-4e3d2c1b";
    let cluster = testwerk_testcluster::ensure_up().unwrap_or_else(|e| panic!("test cluster: {e}"));
    let Some(repos) = Repos::new() else { return };
    let repo = repos.create("org/app");
    repo.write("tests/check.sh", "echo checked-on-the-cluster\n")
        .write("docs/readme.txt", "docs\n");
    repo.commit("main");
    // Pods reach this machine at the bridge's address, not at 127.0.0.1.
    let Some(git) = GitServer::start_with(
        repos.root(),
        ServerOptions {
            auth: Auth::Basic {
                user: "me".into(),
                token: TOKEN.into(),
            },
            listen: cluster.host_address,
            ..Default::default()
        },
    ) else {
        return;
    };
    let files = FileServer::start_on(cluster.host_address);
    let url = files.add(
        "/suite.tar.gz",
        tar::gzip(&tar::build(&[tar::file(
            "run.sh",
            b"echo from-the-tarball\n",
        )])),
    );
    let mirror = format!("https://github.com/={}", git.base_url());
    let env = AgentEnv::start("content", &["--git-mirror", &mirror]);
    let source = format!(
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: content\nspec:\n  content:\n    git:\n      uri: https://github.com/org/app\n      username: me\n      token: {TOKEN}\n      paths: [tests]\n    tarball:\n    - url: {url}\n      path: /data/suite\n    files:\n    - path: /data/run.sh\n      content: echo ran-the-file\n      mode: 0755\n  container:\n    image: alpine:3.22.0\n  steps:\n  - name: Check\n    shell: sh /data/repo/tests/check.sh && test ! -e /data/repo/docs && sh /data/suite/run.sh && /data/run.sh\n"
    );
    let id = env.submit_ok("content.yaml", &source, None);
    let doc = env.wait_done(&id, 5 * MINUTE);
    let logs = env.text(&format!("/v1/executions/{id}/logs"));
    assert_eq!(doc["status"], "passed", "{doc}\n{logs}\n{}", env.log());
    assert!(logs.contains("checked-on-the-cluster"), "{logs}");
    assert!(logs.contains("from-the-tarball"), "{logs}");
    assert!(
        logs.contains("ran-the-file"),
        "content.files, mode 0755: {logs}"
    );
    assert!(
        git.served()
            .iter()
            .any(|s| s.status == 200 && s.authorization.is_some()),
        "the Pod fetched from the mirror with the token"
    );
    assert_eq!(files.hits(), vec!["/suite.tar.gz".to_owned()]);
    for text in [logs.as_str(), &doc.to_string(), &env.log()] {
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
    }
    let store = std::fs::read(env.dir.join("agent.db")).unwrap_or_default();
    assert!(
        !store.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "the token is in the agent's store"
    );
    env.assert_clean();
}

#[test]
fn content_corpus_workflows_keep_artifacts_and_test_cases_on_the_cluster() {
    let Some(compat) = compat_dir() else {
        return;
    };
    let Some(upstream) = testwerk_testcontent::testkube_repo_dir() else {
        return;
    };
    let cluster = testwerk_testcluster::ensure_up().unwrap_or_else(|e| panic!("test cluster: {e}"));
    // The python and curl stand-ins, into the cluster's registry (alpine is there already).
    let registry = testwerk_testregistry::Registry::existing(&cluster.registry);
    let Some(_pushed) = testwerk_testregistry::push_corpus_standins(&registry) else {
        return;
    };
    let Some(repos) = testwerk_testcontent::Repos::new() else {
        return;
    };
    repos.from_tree("kubeshop/testkube", &upstream);
    let Some(git) = testwerk_testcontent::GitServer::start_with(
        repos.root(),
        testwerk_testcontent::ServerOptions {
            listen: cluster.host_address,
            ..Default::default()
        },
    ) else {
        return;
    };
    let mirror = format!("https://github.com/={}", git.base_url());
    let env = AgentEnv::start_reachable("content-corpus", &["--git-mirror", &mirror]);
    for file in workflow_template_files(&[compat.join("test")]) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap_or_default();
        for value in docs {
            if value["kind"] == "TestWorkflowTemplate" {
                env.apply_cr(&value);
            }
        }
    }
    let names: Vec<&'static str> = CONTENT_CORPUS.iter().map(|(n, _, _)| *n).collect();
    let files = files_declaring(&compat, &names);
    let mut running = Vec::new();
    for (name, should_pass, has_cases) in CONTENT_CORPUS {
        let file = files
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the corpus"));
        let source = std::fs::read_to_string(file).expect("corpus file");
        let id = env.submit_ok(&file.display().to_string(), &source, Some(name));
        running.push((id, name, should_pass, has_cases));
    }
    let mut failures = Vec::new();
    for (id, name, should_pass, has_cases) in running {
        let doc = env.wait_done(&id, 10 * MINUTE);
        if (doc["status"] == "passed") != should_pass {
            let logs = env.text(&format!("/v1/executions/{id}/logs"));
            failures.push(format!(
                "{name}: {}: {}\n{}",
                doc["status"],
                doc["reason"],
                tail(&logs)
            ));
            continue;
        }
        let artifacts = env
            .get(&format!("/api/v1/executions/{id}/artifacts"))
            .unwrap_or_default();
        let kept = artifacts.as_array().map_or(0, Vec::len);
        if has_cases.is_some() && kept == 0 {
            failures.push(format!("{name}: no artifacts kept: {artifacts}"));
        }
        let tests = env
            .get(&format!("/v1/executions/{id}/tests"))
            .unwrap_or_default();
        let cases = tests["cases"].as_array().map_or(0, Vec::len);
        if let Some(expect_cases) = has_cases
            && (cases > 0) != expect_cases
        {
            failures.push(format!("{name}: {cases} test cases stored: {tests}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} content corpus workflows ended otherwise than expected on the cluster:\n{}\n{}",
        failures.len(),
        CONTENT_CORPUS.len(),
        failures.join("\n\n"),
        env.log()
    );
    env.assert_clean();
}

#[test]
fn artifacts_reach_s3_through_the_agent_and_their_report_becomes_test_cases() {
    let Some(moto) = testwerk_testinputs::moto::Moto::start() else {
        return;
    };
    moto.create_bucket("cluster-artifacts");
    const KEY: &str = "s3-secret-key-5d4c3b";
    let env = AgentEnv::start_reachable_with_env(
        "s3",
        &[
            "--artifacts",
            "s3://cluster-artifacts/agent",
            "--s3-endpoint",
            &moto.endpoint,
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", KEY),
        ],
    );
    let report = "<testsuite name='s'><testcase classname='c' name='ok'/><testcase classname='c' name='bad'><failure message='boom'/></testcase></testsuite>";
    let source = format!(
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: to-s3\nspec:\n  container:\n    image: alpine:3.22.0\n    workingDir: /data/out\n  steps:\n  - name: Test\n    shell: echo \"{report}\" > junit.xml && head -c 3000000 /dev/zero > big.bin\n    artifacts:\n      paths: ['*']\n"
    );
    let id = env.submit_ok("to-s3.yaml", &source, None);
    let doc = env.wait_done(&id, 5 * MINUTE);
    let logs = env.text(&format!("/v1/executions/{id}/logs"));
    assert_eq!(doc["status"], "passed", "{doc}\n{logs}\n{}", env.log());
    let keys = moto.keys("cluster-artifacts");
    assert!(
        keys.iter().any(|k| k.ends_with("junit.xml"))
            && keys.iter().any(|k| k.ends_with("big.bin")),
        "both files are in the bucket: {keys:?}"
    );
    let listed = env
        .get(&format!("/api/v1/executions/{id}/artifacts"))
        .unwrap_or_default();
    assert!(listed.to_string().contains("big.bin"), "{listed}");
    assert!(listed.to_string().contains("3000000"), "sizes: {listed}");
    let tests = env
        .get(&format!("/v1/executions/{id}/tests"))
        .unwrap_or_default();
    assert_eq!(tests["cases"].as_array().map_or(0, Vec::len), 2, "{tests}");
    for text in [logs.as_str(), &env.log(), &doc.to_string()] {
        assert!(!text.contains(KEY), "the S3 key leaked: {text}");
    }
    env.assert_clean();
}

/// The children of execution `id`, by the API's `?parent=` filter.
fn children_of(env: &AgentEnv, id: &str) -> Vec<Value> {
    env.get(&format!("/v1/executions?parent={id}"))
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn parallel_services_and_execute_run_as_child_executions_the_agent_creates() {
    let env = AgentEnv::start_reachable("children", &[]);
    env.apply_cr(&json!({
        "apiVersion": "testworkflows.testkube.io/v1", "kind": "TestWorkflow",
        "metadata": {"name": "child-ok", "labels": {"suite": "smoke"}},
        "spec": {"container": {"image": "alpine:3.22.0"},
                 "config": {"word": {"type": "string", "default": "plain"}},
                 "steps": [{"shell": "echo child-ok says {{ config.word }}"}]},
    }));
    env.apply_cr(&json!({
        "apiVersion": "testworkflows.testkube.io/v1", "kind": "TestWorkflow",
        "metadata": {"name": "child-bad", "labels": {"suite": "smoke"}},
        "spec": {"container": {"image": "alpine:3.22.0"},
                 "steps": [{"shell": "echo child-bad fails; exit 4"}]},
    }));
    let source = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: family}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: fan out
    parallel:
      count: 2
      matrix:
        os: [linux, bsd]
      shell: echo "worker {{ index }}/{{ count }} os={{ matrix.os }} shard={{ shardIndex }}"
  - name: two replicas on one port
    services:
      web:
        count: 2
        image: "busybox:1.37"
        shell: mkdir -p /www && echo "served by {{ index }}" > /www/index.html && exec httpd -f -p 8080 -h /www
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
        timeout: 90s
    steps:
    - shell: wget -qO- http://{{ services.web.0.ip }}:8080/ && wget -qO- http://{{ services.web.1.ip }}:8080/
  - name: by name
    execute:
      workflows:
      - name: child-ok
        config: {word: fancy}
  - name: by selector
    optional: true
    execute:
      workflows:
      - selector: {matchLabels: {suite: smoke}}
  - name: async
    execute:
      async: true
      workflows:
      - name: child-ok
  - name: never ready
    optional: true
    services:
      silent:
        image: "busybox:1.37"
        shell: sleep 600
        readinessProbe:
          tcpSocket: {port: 9999}
        timeout: 10s
    steps:
    - shell: echo never
"#;
    let id = env.submit_ok("family.yaml", source, None);
    let doc = env.wait_done(&id, 8 * MINUTE);
    let logs = env.text(&format!("/v1/executions/{id}/logs"));
    assert_eq!(doc["status"], "passed", "{doc}\n{logs}\n{}", env.log());
    let s = steps(&doc);
    assert_eq!(s["fan out"].0, "passed", "{logs}");
    assert_eq!(s["by name"].0, "passed", "{logs}");
    assert_eq!(
        s["by selector"].0, "failed",
        "a failing child fails its step: {logs}"
    );
    assert!(
        logs.contains("1 of 2 executions did not pass: child-bad failed"),
        "{logs}"
    );
    assert!(
        logs.contains("served by 0") && logs.contains("served by 1"),
        "{logs}"
    );
    assert!(
        logs.contains("silent 0: not ready within 10 s (its readinessProbe never passed)"),
        "{logs}"
    );
    assert!(logs.contains("child-ok says fancy"), "{logs}");
    let kids = children_of(&env, &id);
    let kind = |k: &Value| {
        k["tags"]["testwerk.io/child"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        kids.iter().filter(|k| kind(k) == "worker").count(),
        4,
        "{kids:#?}"
    );
    assert_eq!(
        kids.iter().filter(|k| kind(k) == "service").count(),
        3,
        "{kids:#?}"
    );
    assert_eq!(s["async"].0, "passed", "{logs}");
    assert!(
        logs.contains("execute: 1 started, not waited for (async)"),
        "{logs}"
    );
    let executed: Vec<&Value> = kids.iter().filter(|k| kind(k) == "execution").collect();
    assert_eq!(executed.len(), 4, "{kids:#?}");
    // The async one goes on after its step (and may outlive the parent): it too passes.
    let mut ended: Vec<(String, String)> = executed
        .iter()
        .map(|k| {
            let done = env.wait_done(k["id"].as_str().unwrap_or_default(), 5 * MINUTE);
            (
                done["workflow"].as_str().unwrap_or_default().to_owned(),
                done["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    ended.sort();
    assert_eq!(
        ended,
        [
            ("child-bad".to_owned(), "failed".to_owned()),
            ("child-ok".to_owned(), "passed".to_owned()),
            ("child-ok".to_owned(), "passed".to_owned()),
            ("child-ok".to_owned(), "passed".to_owned()),
        ]
    );
    let mut lines = Vec::new();
    for k in kids.iter().filter(|k| kind(k) == "worker") {
        assert_eq!(k["status"], "passed", "{k}");
        let text = env.text(&format!(
            "/v1/executions/{}/logs",
            k["id"].as_str().unwrap_or_default()
        ));
        lines.extend(
            text.lines()
                .filter(|l| l.starts_with("worker "))
                .map(str::to_owned),
        );
    }
    lines.sort();
    assert_eq!(
        lines,
        [
            "worker 0/4 os=linux shard=0",
            "worker 1/4 os=linux shard=1",
            "worker 2/4 os=bsd shard=0",
            "worker 3/4 os=bsd shard=1",
        ]
    );
    // Services are stopped (aborted) when their step ends, never left running.
    for k in kids.iter().filter(|k| kind(k) == "service") {
        assert_eq!(k["status"], "aborted", "{k}");
    }
    env.assert_clean();
}

/// Test code may read its execution's token (the toolkit's settings are in the Pod's
/// environment). With it, the agent starts only the children the workflow declares: a worker
/// with a Pod of its own making (the node's root mounted), a service, or a workflow no
/// `execute` names are refused, whatever the token. The harness reads the settings from the
/// execution's Secret, as test code able to read them would have them.
#[test]
fn a_token_read_by_test_code_starts_only_the_children_its_workflow_declares() {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, ListParams};

    let env = AgentEnv::start_reachable("children-forged", &[]);
    // A workflow of the namespace the parent does not `execute`.
    env.apply_cr(&json!({
        "apiVersion": "testworkflows.testkube.io/v1", "kind": "TestWorkflow",
        "metadata": {"name": "admin-tasks"},
        "spec": {"container": {"image": "alpine:3.22.0"}, "steps": [{"shell": "echo admin"}]},
    }));
    let source = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: forge}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: declared
    parallel:
      count: 1
      shell: echo the declared worker runs
  - name: meanwhile
    shell: sleep 45
"#;
    let id = env.submit_ok("forge.yaml", source, None);
    env.wait_step_running(&id, "meanwhile", 5 * MINUTE);
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.namespace);
    let listed = env
        .rt
        .block_on(secrets.list(&ListParams::default()))
        .expect("the namespace's Secrets");
    let settings: Value = listed
        .items
        .iter()
        .filter(|s| {
            s.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.ends_with("-toolkit"))
        })
        .find_map(|s| {
            s.data
                .as_ref()?
                .get(testwerk_bundle::env::TOOLKIT_SECRET_KEY)
        })
        .and_then(|bytes| serde_json::from_slice(&bytes.0).ok())
        .expect("the execution's toolkit settings");
    let url = settings["children"]["url"]
        .as_str()
        .expect("a children URL");
    let token = settings["children"]["token"].as_str().expect("a token");
    let http: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let ask = |body: &Value, token: &str| {
        let mut answer = http
            .post(url)
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(body)
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = answer.status().as_u16();
        (
            status,
            answer.body_mut().read_to_string().unwrap_or_default(),
        )
    };
    let escape = json!({
        "apiVersion": "testworkflows.testkube.io/v1", "kind": "TestWorkflow",
        "metadata": {"name": "r1-1"},
        "spec": {
            "pod": {"volumes": [{"name": "node", "hostPath": {"path": "/"}}]},
            "container": {"image": "alpine:3.22.0",
                          "volumeMounts": [{"name": "node", "mountPath": "/node"}]},
            "steps": [{"shell": "cat /node/etc/hostname"}],
        },
    });
    let forged = [
        json!({"kind": "worker", "parentRef": "r1", "workflow": {"document": escape}}),
        json!({"kind": "service", "parentRef": "r1", "workflow": {"document": escape}}),
        json!({"kind": "execution", "parentRef": "r1", "workflow": {"named": "admin-tasks"}}),
    ];
    for body in &forged {
        let (status, said) = ask(body, token);
        assert_eq!(status, 403, "{body}: {said}");
        assert!(
            said.contains("only the workers, services and workflows its steps declare"),
            "{said}"
        );
        let (status, said) = ask(body, "not-the-token");
        assert_eq!(status, 401, "{said}");
    }
    let doc = env.wait_done(&id, 5 * MINUTE);
    let logs = env.text(&format!("/v1/executions/{id}/logs"));
    assert_eq!(doc["status"], "passed", "{doc}\n{logs}\n{}", env.log());
    assert!(logs.contains("the declared worker runs"), "{logs}");
    let kids = children_of(&env, &id);
    assert_eq!(kids.len(), 1, "only the declared worker: {kids:#?}");
    assert!(
        env.log().contains("child refused"),
        "the agent logs refusals"
    );
    env.assert_clean();
}

/// Files travel as artifacts of the parent through the agent: `transfer` to every worker and
/// to a service, `fetch` back from each worker, and an executed workflow's `tarball` (its URL
/// in the child's config).
#[test]
fn transfer_fetch_and_tarball_carry_files_between_pods_through_the_agent() {
    let env = AgentEnv::start_reachable("children-files", &[]);
    env.apply_cr(&json!({
        "apiVersion": "testworkflows.testkube.io/v1", "kind": "TestWorkflow",
        "metadata": {"name": "consumer"},
        "spec": {
            "config": {"url": {"type": "string"}},
            "content": {"tarball": [{"url": "{{ config.url }}", "path": "/got"}]},
            "container": {"image": "alpine:3.22.0"},
            "steps": [{"shell": "echo \"consumer got $(cat /got/hello.txt)\" && test ! -e /got/worker-0.txt"}],
        },
    }));
    let source = r#"
apiVersion: testworkflows.testkube.io/v1
kind: TestWorkflow
metadata: {name: files}
spec:
  container:
    image: alpine:3.22.0
    volumeMounts: [{name: d, mountPath: /data}]
  pod:
    volumes: [{name: d, emptyDir: {}}]
  steps:
  - name: make
    shell: mkdir -p /data/in /data/out && echo from-the-parent > /data/in/hello.txt
  - name: fan out
    parallel:
      count: 2
      transfer: [{from: /data/in}]
      fetch: [{from: /data/in, files: ['worker-*.txt'], to: /data/out}]
      shell: echo "worker {{ index }} got $(cat /data/in/hello.txt)" > /data/in/worker-{{ index }}.txt
  - name: fetched
    shell: cat /data/out/worker-0.txt /data/out/worker-1.txt && test ! -e /data/out/hello.txt
  - name: a service serving transferred files
    services:
      site:
        image: busybox:1.37
        transfer: [{from: /data/in, files: [hello.txt], to: /www}]
        shell: exec httpd -f -p 8081 -h /www
        readinessProbe:
          tcpSocket: {port: 8081}
          periodSeconds: 1
        timeout: 90s
    shell: echo "service served $(wget -qO- http://{{ services.site.0.ip }}:8081/hello.txt)"
  - name: execute with a tarball
    execute:
      workflows:
      - name: consumer
        tarball: {data: {from: /data/in, files: [hello.txt]}}
        config: {url: '{{ tarball.data.url }}'}
"#;
    let id = env.submit_ok("files.yaml", source, None);
    let doc = env.wait_done(&id, 8 * MINUTE);
    let logs = env.text(&format!("/v1/executions/{id}/logs"));
    assert_eq!(doc["status"], "passed", "{doc}\n{logs}\n{}", env.log());
    for line in [
        "worker 0 got from-the-parent",
        "worker 1 got from-the-parent",
        "service served from-the-parent",
        "consumer got from-the-parent",
    ] {
        assert!(logs.contains(line), "{line}: {logs}");
    }
    assert_eq!(children_of(&env, &id).len(), 4);
    env.assert_clean();
}

#[test]
fn a_parallel_step_survives_the_agent_being_killed_while_its_workers_run() {
    let mut env = AgentEnv::start_reachable("children-crash", &[]);
    let source = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: crash-fan}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: fan out
    parallel:
      count: 2
      shell: for i in 1 2 3 4 5 6; do echo "worker {{ index }} tick $i"; sleep 1; done
  - name: after
    shell: echo after the workers
"#;
    let id = env.submit_ok("crash-fan.yaml", source, None);
    // Once the workers run, the agent dies and comes back.
    let started = Instant::now();
    while children_of(&env, &id).len() < 2 {
        assert!(started.elapsed() < 3 * MINUTE, "no workers: {}", env.log());
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(2));
    env.kill_agent();
    std::thread::sleep(Duration::from_secs(2));
    env.start_agent();
    let doc = env.wait_done(&id, 5 * MINUTE);
    let logs = env.text(&format!("/v1/executions/{id}/logs"));
    assert_eq!(doc["status"], "passed", "{doc}\n{logs}\n{}", env.log());
    assert!(logs.contains("after the workers"), "{logs}");
    let kids = children_of(&env, &id);
    assert_eq!(kids.len(), 2, "no duplicate workers: {kids:#?}");
    for k in &kids {
        assert_eq!(k["status"], "passed", "{k}");
        let text = env.text(&format!(
            "/v1/executions/{}/logs",
            k["id"].as_str().unwrap_or_default()
        ));
        assert_eq!(
            text.lines().filter(|l| l.contains(" tick ")).count(),
            6,
            "{text}"
        );
    }
    env.assert_clean();
}

/// The text between `{key}=[` and `]` on the stored log line that has it.
fn logged(logs: &str, key: &str) -> String {
    let start = format!("{key}=[");
    logs.lines()
        .find_map(|l| {
            let rest = &l[l.find(&start)? + start.len()..];
            Some(rest[..rest.find(']')?].to_owned())
        })
        .unwrap_or_else(|| panic!("no `{start}…]` line in the log:\n{logs}"))
}

#[test]
fn execution_variables_resolve_to_the_execution_in_a_real_pod() {
    let env = AgentEnv::start("variables", &[]);
    // In a script, and in a container's variable (which the bundle resolves, not the shell).
    let workflow = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: facts}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: show
    shell: |
      echo "id=[{{ execution.id }}]"
      echo "name=[{{ execution.name }}]"
      echo "number=[{{ execution.number }}]"
      echo "scheduled=[{{ execution.scheduledAt }}]"
      echo "namespace=[{{ namespace }}]"
  - name: in its own container
    container:
      image: "busybox:1.37"
      env: [{name: RUN_NAME, value: "{{ execution.name }} in {{ namespace }}"}]
    shell: echo "env=[$RUN_NAME]"
"#;
    let submitted = testwerk_store::Timestamp::now();
    let first = env.submit_ok("facts.yaml", workflow, None);
    let second = env.submit_ok("facts.yaml", workflow, None);
    let mut numbers = Vec::new();
    for id in [&first, &second] {
        let doc = env.wait_done(id, 3 * MINUTE);
        let logs = env.text(&format!("/v1/executions/{id}/logs"));
        assert_eq!(doc["status"], "passed", "{doc}\n{logs}");
        assert_eq!(logged(&logs, "id"), doc["id"].as_str().expect("id"));
        let name = doc["name"].as_str().expect("name");
        assert_eq!(logged(&logs, "name"), name);
        let number = doc["number"].as_u64().expect("number");
        assert_eq!(logged(&logs, "number"), number.to_string());
        assert_eq!(name, format!("facts-{number}"));
        assert_eq!(logged(&logs, "namespace"), env.namespace);
        assert_eq!(logged(&logs, "env"), format!("{name} in {}", env.namespace));
        // When the agent recorded it: RFC 3339, a moment after the test submitted it.
        let scheduled = logged(&logs, "scheduled");
        let at: testwerk_store::Timestamp = scheduled
            .parse()
            .unwrap_or_else(|e| panic!("scheduledAt `{scheduled}` is not RFC 3339: {e}"));
        assert_eq!(scheduled, doc["created_at"].as_str().expect("created_at"));
        let after = at.unix_millis() - submitted.unix_millis();
        assert!(
            (-1_000..60_000).contains(&after),
            "scheduledAt {scheduled} is {after} ms after the submission"
        );
        numbers.push(number);
    }
    assert_eq!(numbers[1], numbers[0] + 1, "the next number: {numbers:?}");
    env.assert_clean();
}

#[test]
fn an_agent_whose_store_is_full_keeps_the_execution_unfinished_and_completes_it_with_room() {
    // Declared before the agent: dropped (unmounted) after it, even on a panic.
    let Some(fs) = testwerk_testinputs::tmpfs::Tmpfs::mount("32m") else {
        return;
    };
    let store = fs.dir.join("agent.db");
    let mut env = AgentEnv::start_with_store("full-store", &[], &store);
    // More lines than the agent holds in memory while the store refuses them (20,000): the
    // ones beyond are lost to the recorder, and only reading the Pod's log again fills them in.
    const LINES: usize = 30_000;
    let workflow = format!(
        r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {{name: chatty}}
spec:
  container: {{image: "alpine:3.22.0"}}
  steps:
  - name: talk
    shell: awk 'BEGIN {{ for (i = 1; i <= {LINES}; i++) printf "said %d {pad}\n", i }}'
  - name: after
    shell: echo "talked"
"#,
        pad = "x".repeat(80)
    );
    // Run by a `run --server` client, as a user would, which must wait for the store rather
    // than report the agent lost.
    let dir = scratch("full-store");
    let file = dir.join("chatty.yaml");
    std::fs::write(&file, &workflow).expect("write");
    let client = spawn_client(&env, &file, "300");
    // Read as it comes: 30,000 lines would fill the pipe and stall the client.
    let client = std::thread::spawn(move || client.wait_with_output());
    let started = Instant::now();
    let id = loop {
        if let Some(doc) = env.get("/v1/executions/chatty-1") {
            break doc["id"].as_str().expect("id").to_owned();
        }
        assert!(started.elapsed() < MINUTE, "no execution:\n{}", env.log());
        std::thread::sleep(Duration::from_millis(100));
    };
    let filler = fs.fill_up();

    // The agent says what it could not store and why, naming the store. The Pod must end
    // first: on a node busy with the other cluster tests' Pods (the corpus tests start dozens)
    // that took over 3 minutes once; alone it takes about 30 s.
    let started = Instant::now();
    while !env.log().contains("the execution stays unfinished") {
        assert!(
            started.elapsed() < 8 * MINUTE,
            "the agent never gave up on the full store:\n{}",
            env.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = env.log();
    assert!(
        log.contains(&format!(
            "the disk holding the results store {} is full",
            store.display()
        )),
        "{log}"
    );
    assert!(log.contains("log lines"), "what was not stored: {log}");
    // Never finished-with-holes: unfinished, its Job and Pod kept to read again; the agent
    // runs and answers.
    let doc = env
        .get(&format!("/v1/executions/{id}"))
        .expect("the API answers");
    assert!(
        matches!(doc["status"].as_str(), Some("queued" | "running")),
        "{doc}"
    );
    // And the API says why, with the store's file and its full disk.
    let why = doc["storeError"].as_str().unwrap_or_default();
    eprintln!("storeError while the disk is full: {why}");
    assert!(
        why.contains("log lines")
            && why.contains(&format!(
                "the disk holding the results store {} is full",
                store.display()
            ))
            && why.contains("stays unfinished"),
        "{doc}"
    );
    assert!(
        !env.leftovers().is_empty(),
        "the execution's objects are kept"
    );
    assert_eq!(env.text("/v1/health"), "ok");
    assert!(env.agent_alive(), "{}", env.log());

    // Room again: the next attempt reads the Pod's log from the start and stores the rest.
    std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("{}: {e}", filler.display()));
    let doc = env.wait_done(&id, 3 * MINUTE);
    let logs = env.text(&format!("/v1/executions/{id}/logs"));
    assert_eq!(doc["status"], "passed", "{doc}\n{}", env.log());
    assert!(
        doc.get("storeError").is_none(),
        "the trouble is over: {doc}"
    );
    let said: Vec<usize> = logs
        .lines()
        .filter_map(|l| l.strip_prefix("said ")?.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(
        said,
        (1..=LINES).collect::<Vec<_>>(),
        "every line once, in order"
    );
    assert!(logs.lines().any(|l| l == "talked"), "{}", tail(&logs));
    let s = steps(&doc);
    assert_eq!(s["talk"].0, "passed", "{doc}");
    assert_eq!(s["after"].0, "passed", "{doc}");
    env.assert_clean();
    assert!(env.agent_alive());
    assert!(!env.log().contains("panicked"), "{}", env.log());

    // The client waited for the store, said why, and showed every line once.
    let out = client
        .join()
        .unwrap_or_else(|_| panic!("the client thread"))
        .expect("the client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}\n{stderr}", tail(&stdout));
    assert!(
        stdout.contains("cannot store the results yet") && stdout.contains("is full"),
        "{}",
        tail(&stdout)
    );
    assert!(!stdout.contains("lost the agent"), "{}", tail(&stdout));
    let mut shown = vec![0u32; LINES + 1];
    for l in stdout.lines() {
        if let Some(n) = l
            .find("said ")
            .and_then(|at| l[at + 5..].split(' ').next()?.parse::<usize>().ok())
            .filter(|n| *n <= LINES)
        {
            shown[n] += 1;
        }
    }
    let wrong: Vec<(usize, u32)> = (1..=LINES)
        .filter(|n| shown[*n] != 1)
        .map(|n| (n, shown[n]))
        .take(10)
        .collect();
    assert!(
        wrong.is_empty(),
        "lines shown other than once (line, times): {wrong:?}\n{}",
        tail(&stdout)
    );
    assert!(stdout.contains("PASSED chatty-1"), "{}", tail(&stdout));
}

#[test]
fn a_plan_too_big_for_the_annotation_reaches_the_pod_in_a_config_map() {
    let env = AgentEnv::start("plan-config-map", &[]);
    // A script of 300 KiB: the plan holding it is over the 256 KiB of annotations, and the
    // script over the 128 KiB an argument may have (init runs it from a file).
    let mut script = String::from("echo first-line-ran\n");
    while script.len() < 300 * 1024 {
        script.push_str(": padding-padding-padding-padding-padding-padding-padding\n");
    }
    script.push_str("echo last-line-ran $((6 * 7))\n");
    let indented: String = script.lines().map(|l| format!("      {l}\n")).collect();
    let workflow = format!(
        "kind: TestWorkflow\napiVersion: testworkflows.testkube.io/v1\nmetadata: {{name: big-plan}}\nspec:\n  container: {{image: \"alpine:3.22.0\"}}\n  steps:\n  - name: long\n    shell: |\n{indented}  - name: wait\n    shell: sleep 8\n  - name: after\n    container: {{image: \"busybox:1.37\"}}\n    shell: echo after-ran\n"
    );
    let id = env.submit_ok("big-plan.yaml", &workflow, None);
    env.wait_step_running(&id, "wait", 3 * MINUTE);
    let doc = env.get(&format!("/v1/executions/{id}")).expect("execution");
    let resource = doc["plan"]["resource"]
        .as_str()
        .expect("resource")
        .to_owned();
    let plan_map = format!("{resource}-plan");

    // While it runs: the ConfigMap holds the plan, the Pod mounts it, no annotation has it.
    let maps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.client.clone(), &env.namespace);
    let map = env
        .rt
        .block_on(maps.get_opt(&plan_map))
        .expect("read the ConfigMap")
        .unwrap_or_else(|| panic!("no ConfigMap {plan_map} while the execution runs"));
    let binary = map.binary_data.unwrap_or_default();
    let plan = binary.get("plan").expect("the plan in the ConfigMap");
    assert!(
        !plan.0.is_empty() && plan.0.len() < 1024 * 1024,
        "{} bytes",
        plan.0.len()
    );
    assert!(binary.contains_key("signature"), "{:?}", binary.keys());
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(env.client.clone(), &env.namespace);
    let list = env
        .rt
        .block_on(pods.list(
            &kube::api::ListParams::default().labels(&format!("testwerk.io/execution={resource}")),
        ))
        .expect("pods");
    let pod = list.items.first().expect("the execution's Pod");
    let annotations = pod.metadata.annotations.clone().unwrap_or_default();
    assert!(
        !annotations.contains_key("testwerk.io/plan"),
        "the plan is not in an annotation"
    );
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.clone())
        .unwrap_or_default();
    assert!(
        volumes
            .iter()
            .any(|v| v.config_map.as_ref().is_some_and(|c| c.name == plan_map)),
        "the Pod mounts {plan_map}: {volumes:?}"
    );

    let doc = env.wait_done(&id, 3 * MINUTE);
    let logs = env.text(&format!("/v1/executions/{id}/logs"));
    assert_eq!(doc["status"], "passed", "{doc}\n{}", tail(&logs));
    let s = steps(&doc);
    assert_eq!(s.len(), 3, "{doc}");
    for (name, (status, _)) in &s {
        assert_eq!(status, "passed", "step {name}: {doc}");
    }
    for line in ["first-line-ran", "last-line-ran 42", "after-ran"] {
        assert!(logs.lines().any(|l| l == line), "{line}: {}", tail(&logs));
    }
    env.assert_clean();
    assert!(
        env.rt
            .block_on(maps.get_opt(&plan_map))
            .expect("read the ConfigMap")
            .is_none(),
        "{plan_map} is left after clean-up"
    );
}

#[test]
fn corpus_workflows_with_parallel_services_and_execute_reach_their_local_results_on_the_cluster() {
    let Some(compat) = compat_dir() else {
        return;
    };
    let env = AgentEnv::start_reachable("corpus-children", &[]);
    apply_corpus_templates(&env, &compat);
    let names: Vec<&'static str> = CHILDREN_CORPUS.iter().map(|(n, _)| *n).collect();
    let files = files_declaring(&compat, &names);
    // `execute` runs the namespace's TestWorkflows: those of the same files, as a cluster
    // that holds the suite has them.
    let mut sources: Vec<&std::path::PathBuf> = files.values().collect();
    sources.sort();
    sources.dedup();
    for file in sources {
        apply_kind(&env, file, "TestWorkflow");
    }
    let mut failures = Vec::new();
    // Four at a time: each may start a dozen Pods on a two-core node.
    for chunk in CHILDREN_CORPUS.chunks(4) {
        let mut running = Vec::new();
        for (name, should_pass) in chunk {
            let file = files
                .get(name)
                .unwrap_or_else(|| panic!("{name} is not in the corpus"));
            let source = std::fs::read_to_string(file).expect("corpus file");
            let id = env.submit_ok(&file.display().to_string(), &source, Some(name));
            running.push((id, *name, *should_pass));
        }
        for (id, name, should_pass) in running {
            let doc = env.wait_done(&id, 10 * MINUTE);
            if (doc["status"] == "passed") != should_pass {
                let logs = env.text(&format!("/v1/executions/{id}/logs"));
                let tail: Vec<&str> = logs.lines().rev().take(15).collect();
                failures.push(format!(
                    "{name}: {}: {}\n{}",
                    doc["status"],
                    doc["reason"],
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} workflows ended otherwise than expected:\n{}",
        failures.len(),
        CHILDREN_CORPUS.len(),
        failures.join("\n\n")
    );
    env.assert_clean();
}

/// Who may use the agent is RBAC's call: no token is 401, a token without the verb is 403,
/// `testwerk-viewer` reads and `testwerk-runner` runs. The toolkit's own routes and
/// `/v1/health` are not the gate's business.
#[test]
fn the_api_and_the_ui_let_in_only_tokens_rbac_allows() {
    let env = AgentEnv::start("auth", &[]);
    let t = env.tokens.clone();
    assert_eq!(env.status_as(None, "GET", "/v1/health"), 200);
    assert_eq!(env.status_as(None, "GET", "/v1/executions"), 401);
    assert_eq!(env.status_as(None, "POST", "/v1/executions"), 401);
    assert_eq!(env.status_as(None, "GET", "/"), 401);
    assert_eq!(
        env.status_as(Some("not-a-token"), "GET", "/v1/executions"),
        401
    );
    assert_eq!(env.status_as(Some(&t.nobody), "GET", "/v1/executions"), 403);
    assert_eq!(env.status_as(Some(&t.nobody), "GET", "/"), 403);
    assert_eq!(env.status_as(Some(&t.viewer), "GET", "/v1/executions"), 200);
    assert_eq!(env.status_as(Some(&t.viewer), "GET", "/"), 200);
    assert_eq!(
        env.status_as(Some(&t.viewer), "POST", "/v1/executions"),
        403
    );
    assert_eq!(
        env.status_as(Some(&t.viewer), "POST", "/v1/executions/x/abort"),
        403
    );
    // The runner may: the API answers about the execution rather than about the caller.
    assert_eq!(
        env.status_as(Some(&t.runner), "POST", "/v1/executions/x/abort"),
        409
    );
    // The document lists the API, the UI and the toolkit's routes.
    let doc = env.get("/v1/openapi.json").unwrap_or_default();
    for path in [
        "/v1/executions",
        "/v1/executions/{id}/follow",
        "/executions/{id}",
        "/api/v1/executions/{parent}/children",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not in {doc}");
    }
    // No token ever reaches the agent's log.
    for token in [&t.runner, &t.viewer, &t.nobody] {
        assert!(
            !env.log().contains(token.as_str()),
            "a token is in the agent's log"
        );
    }
}

/// Headless Chromium against the agent: log in with a Kubernetes token, see the list, an
/// execution's steps, log and test cases, and a running execution finish without a reload.
#[test]
fn a_browser_follows_executions_in_the_agents_ui() {
    let Some(mut browser) = testwerk_testbrowser::Browser::start() else {
        return;
    };
    let env = AgentEnv::start_reachable("browser", &[]);
    let report = "<testsuite name='web'><testcase classname='shop' name='checkout'><failure message='price mismatch'/></testcase><testcase classname='shop' name='browse'/></testsuite>";
    let source = format!(
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: shop\nspec:\n  container:\n    image: alpine:3.22.0\n    workingDir: /data/out\n  steps:\n  - name: Run the suite\n    shell: echo \"{report}\" > junit.xml && echo 'suite ran'\n    artifacts:\n      paths: ['*.xml']\n"
    );
    let id = env.submit_ok("shop.yaml", &source, None);
    let doc = env.wait_done(&id, 5 * MINUTE);
    assert_eq!(doc["status"], "passed", "{doc}\n{}", env.log());
    let name = doc["name"].as_str().unwrap_or_default().to_owned();
    let wait = Duration::from_secs(60);

    browser.goto(&env.url(&format!("/login?token={}&next=/", env.tokens.viewer)));
    browser.wait_for("document.querySelector('#rows') !== null", wait);
    let rows = browser.text("#rows");
    assert!(rows.contains(&name), "{rows}");

    browser.goto(&env.url(&format!("/executions/{id}")));
    let steps = browser.text("#steps");
    assert!(
        steps.contains("Run the suite") && steps.contains("passed"),
        "{steps}"
    );
    let log = browser.text("#log");
    assert!(
        log.contains("suite ran") && log.contains("▸ Upload artifacts"),
        "{log}"
    );
    let first_case = browser.text("#cases tr:nth-child(2)");
    assert!(
        first_case.contains("shop.checkout") && first_case.contains("price mismatch"),
        "{first_case}"
    );

    // A run that is still going when its page opens.
    let slow = "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: slow\nspec:\n  container:\n    image: alpine:3.22.0\n  steps:\n  - name: Take a while\n    shell: echo 'started'; sleep 6; echo 'finished after a while'\n";
    let id = env.submit_ok("slow.yaml", slow, None);
    env.wait_for_log_line(&id, "started", 3 * MINUTE);
    browser.goto(&env.url(&format!("/executions/{id}")));
    browser.eval("window.samePage = true");
    assert!(
        browser.text("#status").contains("running"),
        "{}",
        browser.text("#status")
    );
    browser.wait_for(
        "document.querySelector('#status').textContent.includes('passed') \
         && document.querySelector('#log').textContent.includes('finished after a while') \
         && window.samePage",
        Duration::from_secs(120),
    );
    env.wait_done(&id, MINUTE);
    env.assert_clean();
}

/// A queued execution's interval as the store has it: (started, finished) in milliseconds.
fn ran_between(doc: &Value) -> (i64, i64) {
    let millis = |field: &str| {
        doc[field]
            .as_str()
            .and_then(|t| t.parse::<testwerk_store::Timestamp>().ok())
            .map(testwerk_store::Timestamp::unix_millis)
            .unwrap_or_else(|| panic!("no {field}: {doc}"))
    };
    (millis("started_at"), millis("finished_at"))
}

/// The most intervals that overlap at any moment.
fn most_at_once(intervals: &[(i64, i64)]) -> usize {
    intervals
        .iter()
        .map(|(start, _)| {
            intervals
                .iter()
                .filter(|(s, f)| s <= start && start < f)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// The queue on the real cluster, with the agent's store in PostgreSQL: `--max-running 2`
/// and a workflow limited to one at a time by `spec.concurrency`; the agent is SIGKILLed
/// while executions wait, and the new one starts each waiting execution once, in turn.
#[test]
fn the_queue_keeps_both_limits_starts_the_oldest_first_and_survives_a_kill() {
    let Some(postgres) = testwerk_testpostgres::server() else {
        return;
    };
    let db = postgres.database();
    let url = db.url.clone();
    let mut env =
        AgentEnv::start_with_store("queue", &["--max-running", "2"], std::path::Path::new(&url));
    let workflow = |name: &str, limit: &str| {
        format!(
            "kind: TestWorkflow\napiVersion: testworkflows.testkube.io/v1\nmetadata: {{name: {name}}}\nspec:\n{limit}  container: {{image: \"busybox:1.37\"}}\n  steps:\n  - shell: sleep 3\n"
        )
    };
    let limited = workflow("queue-limited", "  concurrency: {max: 1}\n");
    let free = workflow("queue-free", "");
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(("limited", env.submit_ok("limited.yaml", &limited, None)));
        ids.push(("free", env.submit_ok("free.yaml", &free, None)));
    }
    let queue = env.get("/v1/queue").expect("the queue");
    let queued = queue["queued"].as_array().cloned().unwrap_or_default();
    assert!(queued.len() >= 3, "6 submitted, at most 2 run: {queue}");
    assert_eq!(queue["maxRunning"], 2, "{queue}");
    let positions: Vec<u64> = queued
        .iter()
        .filter_map(|q| q["position"].as_u64())
        .collect();
    assert_eq!(
        positions,
        (1..=queued.len() as u64).collect::<Vec<_>>(),
        "{queue}"
    );

    env.kill_agent();
    env.start_agent();

    let mut limited_runs = Vec::new();
    let mut all_runs = Vec::new();
    for (kind, id) in &ids {
        let doc = env.wait_done(id, 5 * MINUTE);
        assert_eq!(doc["status"], "passed", "{doc}\n{}", env.log());
        let interval = ran_between(&doc);
        all_runs.push(interval);
        if *kind == "limited" {
            limited_runs.push(interval);
        }
    }
    assert!(
        most_at_once(&all_runs) <= 2,
        "--max-running 2: {all_runs:?}"
    );
    assert_eq!(
        most_at_once(&limited_runs),
        1,
        "concurrency max 1: {limited_runs:?}"
    );
    assert!(
        limited_runs.windows(2).all(|w| w[0].0 <= w[1].0),
        "the oldest starts first: {limited_runs:?}"
    );
    let listed = env.get("/v1/executions?limit=100").expect("the list");
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(6),
        "each submission ran once: {listed}"
    );
    let stored = postgres
        .sql(
            &db.name,
            "SELECT count(*) FROM executions WHERE status = 'passed'",
        )
        .ok();
    assert_eq!(
        stored.as_deref(),
        Some("6"),
        "the results are in PostgreSQL"
    );
    env.assert_clean();
}

/// A burst of 500 submissions (upstream's kubeshop/testkube#8290 stalled on such bursts):
/// each is accepted at once, queued behind `--max-running`, and the queue drains without
/// stalling: executions keep finishing, minute after minute, until all 500 passed.
#[test]
fn a_burst_of_500_submissions_is_queued_and_drained_without_stalling() {
    const BURST: usize = 500;
    let env = AgentEnv::start("burst", &["--max-running", "20"]);
    let workflow = "kind: TestWorkflow\napiVersion: testworkflows.testkube.io/v1\nmetadata: {name: burst}\nspec:\n  container: {image: \"busybox:1.37\"}\n  steps:\n  - shell: \"true\"\n";
    let submitted = Instant::now();
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                s.spawn(|| {
                    (0..BURST / 10)
                        .map(|_| env.submit_ok("burst.yaml", workflow, None))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| panic!("a submitter panicked")))
            .collect()
    });
    let submit_time = submitted.elapsed();
    assert_eq!(ids.len(), BURST);
    let queued = env.get("/v1/queue").expect("the queue");
    eprintln!(
        "burst: {BURST} submissions accepted in {:.1} s ({:.0}/s); {} queued right after",
        submit_time.as_secs_f64(),
        BURST as f64 / submit_time.as_secs_f64(),
        queued["queued"].as_array().map_or(0, Vec::len)
    );

    let finished = |env: &AgentEnv| -> usize {
        let list = env
            .get(&format!(
                "/v1/executions?limit={}&workflow=burst",
                BURST + 10
            ))
            .unwrap_or_default();
        list.as_array()
            .map(|l| {
                l.iter()
                    .filter(|e| !matches!(e["status"].as_str(), Some("queued" | "running")))
                    .count()
            })
            .unwrap_or(0)
    };
    let mut last = (Instant::now(), finished(&env));
    while last.1 < BURST {
        std::thread::sleep(Duration::from_secs(5));
        let now = finished(&env);
        if now > last.1 {
            last = (Instant::now(), now);
        }
        assert!(
            last.0.elapsed() < MINUTE,
            "the queue stalled at {}/{BURST} finished for a minute: {:?}\n{}",
            last.1,
            env.get("/v1/queue"),
            env.log()
        );
    }
    let drained = submitted.elapsed();
    eprintln!(
        "burst: all {BURST} finished {:.0} s after the first submission ({:.2} executions/s at --max-running 20)",
        drained.as_secs_f64(),
        BURST as f64 / drained.as_secs_f64()
    );
    let list = env
        .get(&format!(
            "/v1/executions?limit={}&workflow=burst",
            BURST + 10
        ))
        .unwrap_or_default();
    let statuses: HashMap<String, usize> =
        list.as_array()
            .into_iter()
            .flatten()
            .fold(HashMap::new(), |mut m, e| {
                *m.entry(e["status"].as_str().unwrap_or("?").to_owned())
                    .or_default() += 1;
                m
            });
    assert_eq!(statuses.get("passed"), Some(&BURST), "{statuses:?}");
    let left = env.wait_clean(3 * MINUTE);
    assert!(left.is_empty(), "objects left behind: {left:?}");
}

/// Two replicas with `--leader-election` over one PostgreSQL store: the leader runs the
/// workflow's `@every 3s` schedule once per tick; a submission to the follower is started by
/// the leader; the leader is SIGKILLed mid-execution and the follower takes over within 15 s,
/// finishing the execution with every log line exactly once.
#[test]
fn a_second_replica_takes_over_a_killed_leader_and_each_tick_runs_once() {
    let Some(postgres) = testwerk_testpostgres::server() else {
        return;
    };
    let db = postgres.database();
    let url = db.url.clone();
    let mut env =
        AgentEnv::start_with_store("ha", &["--leader-election"], std::path::Path::new(&url));
    let replica = env.start_replica("agent-2.log");
    let wait_for = |what: &str, log: &dyn Fn() -> String, timeout: Duration| {
        let started = Instant::now();
        while !log().contains(what) {
            assert!(
                started.elapsed() < timeout,
                "no `{what}` within {timeout:?}:\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        started.elapsed()
    };
    wait_for("leading", &|| env.log(), MINUTE);
    assert!(!env.log_of("agent-2.log").contains("leading"), "one leader");
    let ready = |address: &str| {
        agent::client_with(None)
            .get(&format!("http://{address}/v1/ready"))
            .call()
            .map(|a| a.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(
        ready(env.address.as_deref().unwrap_or_default()),
        200,
        "the leader is ready"
    );
    assert_eq!(ready(&replica.address), 503, "a standby is not");

    // A schedule, run by the leader once per tick.
    env.apply_cr(&json!({
        "apiVersion": "testworkflows.testkube.io/v1", "kind": "TestWorkflow",
        "metadata": {"name": "ha-cron"},
        "spec": {
            "config": {"greeting": {"type": "string", "default": "hi"}},
            "events": [{"cronjob": {"cron": "@every 3s", "config": {"greeting": "tick"}}}],
            "container": {"image": "busybox:1.37"},
            "steps": [{"shell": "echo {{ config.greeting }}"}]
        }
    }));
    std::thread::sleep(Duration::from_secs(10));
    let scheduled = |env: &AgentEnv| -> Vec<Value> {
        env.get("/v1/executions?limit=100&workflow=ha-cron")
            .and_then(|l| l.as_array().cloned())
            .unwrap_or_default()
    };
    let ticks: Vec<String> = scheduled(&env)
        .iter()
        .filter_map(|e| {
            e["tags"]["testwerk.io/cron-tick"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(
        ticks.len() >= 2,
        "three ticks in 10 s: {ticks:?}\n{}",
        env.log()
    );
    let distinct: std::collections::BTreeSet<&String> = ticks.iter().collect();
    assert_eq!(distinct.len(), ticks.len(), "a tick ran twice: {ticks:?}");
    let ha_cron = scheduled(&env);
    let first = ha_cron
        .last()
        .and_then(|e| e["id"].as_str())
        .unwrap_or_default();
    let doc = env.wait_done(first, 2 * MINUTE);
    assert_eq!(doc["status"], "passed", "{doc}");
    assert!(
        env.text(&format!("/v1/executions/{first}/logs"))
            .contains("tick"),
        "the event's config"
    );

    // A long execution, submitted to the follower, started by the leader.
    let workflow = "kind: TestWorkflow\napiVersion: testworkflows.testkube.io/v1\nmetadata: {name: ha-long}\nspec:\n  container: {image: \"busybox:1.37\"}\n  steps:\n  - shell: for i in $(seq 1 40); do echo line-$i; sleep 0.5; done\n";
    let answer = agent::client_with(Some(&env.tokens.runner))
        .post(&format!("http://{}/v1/executions", replica.address))
        .send_json(json!({"source": workflow, "file": "long.yaml"}));
    let mut answer = answer.unwrap_or_else(|e| panic!("the follower refused: {e}"));
    assert_eq!(answer.status().as_u16(), 201);
    let created: Value = answer.body_mut().read_json().unwrap_or_default();
    let id = created["id"].as_str().expect("an id").to_owned();
    env.wait_for_log_line(&id, "line-5", 2 * MINUTE);

    env.kill_agent();
    let killed = Instant::now();
    let took_over = wait_for("leading", &|| env.log_of("agent-2.log"), MINUTE);
    eprintln!(
        "failover: the follower leads {:.1} s after the leader's SIGKILL",
        took_over.as_secs_f64()
    );
    assert!(took_over < Duration::from_secs(15), "took {took_over:?}");
    eprintln!(
        "failover: {:.1} s from the kill",
        killed.elapsed().as_secs_f64()
    );
    let standby_ready = Instant::now();
    while ready(&replica.address) != 200 {
        assert!(
            standby_ready.elapsed() < Duration::from_secs(5),
            "the new leader is ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    env.switch_to(replica);
    // The schedule's workflow goes away: no more ticks while the rest finishes.
    env.delete_cr("TestWorkflow", "ha-cron");

    let doc = env.wait_done(&id, 3 * MINUTE);
    assert_eq!(doc["status"], "passed", "{doc}\n{}", env.log());
    let log = env.text(&format!("/v1/executions/{id}/logs"));
    for i in 1..=40 {
        let line = format!("line-{i}");
        let times = log
            .lines()
            .filter(|l| l.trim_end().ends_with(&line))
            .count();
        assert_eq!(times, 1, "{line} appears {times} times:\n{log}");
    }
    env.assert_clean();
}
