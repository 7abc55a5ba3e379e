//! `parallel`, `services` and `execute` through `testwerk run`: each child is an execution of
//! its own (a `testwerk run` process the run starts when its toolkit asks), tagged with its
//! parent, and its result decides the parent's step. Host mode (the machine's programs), so
//! that services can be Python's HTTP server; image mode is covered at the end.

mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    file.display().to_string()
}

/// `executions show <id> --output json`.
fn show(db: &Path, id: &str) -> Value {
    let (code, out, err) = testwerk_with_store(db, &["executions", "show", id, "--output", "json"]);
    assert_eq!(code, Some(0), "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn children(doc: &Value) -> Vec<Value> {
    doc["children"].as_array().cloned().unwrap_or_default()
}

/// The log of execution `id`, as text.
fn log(db: &Path, id: &str) -> String {
    let (code, out, err) = testwerk_with_store(db, &["logs", id]);
    assert_eq!(code, Some(0), "{err}");
    out
}

const HEADER: &str = "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n";

#[test]
fn count_matrix_and_shards_give_each_worker_its_indices() {
    let dir = scratch("children-strategy");
    let db = dir.join("db");
    let file = write(
        &dir,
        "fan.yaml",
        &format!(
            "{HEADER}  name: fan\nspec:\n  container: {{image: busybox:1.36}}\n  steps:\n  - name: fan out\n    parallel:\n      count: 2\n      matrix:\n        browser: [chrome, firefox]\n      shards:\n        files: [a, b, c]\n      shell: echo \"I am {{{{ index }}}}/{{{{ count }}}} browser={{{{ matrix.browser }}}} shard={{{{ shardIndex }}}}/{{{{ shardCount }}}} files={{{{ join(shard.files, '+') }}}}\"\n  - name: after\n    shell: echo after\n"
        ),
    );
    let (code, out, err) = testwerk_run(&db, &["--host", &file]);
    assert_eq!(code, Some(0), "{}\n{err}", tail(&out));
    let doc = show(&db, "fan-1");
    let kids = children(&doc);
    assert_eq!(kids.len(), 4, "{doc:#}");
    let mut seen: Vec<String> = Vec::new();
    for kid in &kids {
        assert_eq!(kid["status"], "passed", "{kid:#}");
        assert_eq!(kid["tags"]["testwerk.io/child"], "worker", "{kid:#}");
        assert_eq!(kid["tags"]["testwerk.io/parent"], doc["id"], "{kid:#}");
        let text = log(&db, kid["id"].as_str().unwrap_or_default());
        let line = text
            .lines()
            .find(|l| l.contains("I am "))
            .unwrap_or_else(|| panic!("no worker line in {text}"));
        seen.push(line[line.find("I am ").unwrap_or(0)..].to_owned());
    }
    seen.sort();
    // Instance i is shard i % 2 of combination i / 2; the first shard takes the extra file.
    assert_eq!(
        seen,
        [
            "I am 0/4 browser=chrome shard=0/2 files=a+b",
            "I am 1/4 browser=chrome shard=1/2 files=c",
            "I am 2/4 browser=firefox shard=0/2 files=a+b",
            "I am 3/4 browser=firefox shard=1/2 files=c",
        ]
    );
    // `logs --child N` reads the Nth child as `executions show` lists it, or one by name.
    let (code, listed, err) = testwerk_with_store(&db, &["logs", "fan-1", "--child", "3"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(listed.contains("I am "), "{listed}");
    let third = kids[2]["name"].as_str().unwrap_or_default();
    let (_, by_name, _) = testwerk_with_store(&db, &["logs", "fan-1", "--child", third]);
    assert_eq!(by_name, listed);
    let (code, _, err) = testwerk_with_store(&db, &["logs", "fan-1", "--child", "9"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("has no child `9`; its children: 1 "), "{err}");
    // The parent's log follows the workers, each line under its worker's label.
    assert!(out.contains("[worker 4/4]"), "{out}");
    assert!(out.contains("workers: all 4 passed"), "{out}");
}

#[test]
fn fail_fast_stops_the_other_workers_and_a_failing_worker_fails_the_step() {
    let dir = scratch("children-failfast");
    let db = dir.join("db");
    let file = write(
        &dir,
        "ff.yaml",
        &format!(
            "{HEADER}  name: ff\nspec:\n  container: {{image: busybox:1.36}}\n  steps:\n  - name: fan out\n    parallel:\n      count: 3\n      parallelism: 2\n      failFast: true\n      shell: if [ {{{{ index }}}} = 0 ]; then exit 7; fi; sleep 60\n  - name: never\n    shell: echo never\n"
        ),
    );
    let started = std::time::Instant::now();
    let (code, out, err) = testwerk_run(&db, &["--host", &file]);
    assert_eq!(code, Some(1), "{}\n{err}", tail(&out));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(45),
        "failFast did not stop the sleeping worker: {:?}",
        started.elapsed()
    );
    assert!(out.contains("failFast: aborting the others"), "{out}");
    assert!(out.contains("worker 3/3: not started (failFast)"), "{out}");
    let doc = show(&db, "ff-1");
    let mut statuses: Vec<String> = children(&doc)
        .iter()
        .map(|k| k["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    statuses.sort();
    // The second worker is aborted; under load it may be stopped before it recorded itself,
    // and then the parent's log says so.
    assert!(
        statuses == ["aborted", "failed"]
            || (statuses == ["failed"]
                && out.contains("worker 2/3: aborted: stopped before it started")),
        "{statuses:?}\n{doc:#}\n{out}"
    );
    let steps = doc["steps"].as_array().cloned().unwrap_or_default();
    let never = steps.iter().find(|s| s["name"] == "never");
    assert_eq!(never.map(|s| s["status"].clone()), Some("skipped".into()));
}

#[test]
fn execute_runs_workflows_by_name_and_selector_sync_and_async_and_a_failing_child_fails_the_step() {
    let dir = scratch("children-execute");
    let db = dir.join("db");
    let file = write(
        &dir,
        "suite.yaml",
        &format!(
            "{HEADER}  name: child-a\n  labels: {{suite: smoke}}\nspec:\n  config:\n    greeting: {{type: string, default: hello}}\n  container: {{image: busybox:1.36}}\n  steps:\n  - shell: echo \"child-a says {{{{ config.greeting }}}}\"\n---\n{HEADER}  name: child-b\n  labels: {{suite: smoke}}\nspec:\n  container: {{image: busybox:1.36}}\n  steps:\n  - shell: echo child-b fails; exit 3\n---\n{HEADER}  name: parent\nspec:\n  container: {{image: busybox:1.36}}\n  steps:\n  - name: by name\n    execute:\n      workflows:\n      - name: child-a\n        count: 2\n        config: {{greeting: \"hi {{{{ index }}}}\"}}\n  - name: async\n    execute:\n      async: true\n      workflows:\n      - name: child-a\n  - name: by selector\n    execute:\n      workflows:\n      - selector: {{matchLabels: {{suite: smoke}}}}\n"
        ),
    );
    let (code, out, err) = testwerk_run(&db, &["--host", &file, "--workflow", "parent"]);
    assert_eq!(code, Some(1), "{}\n{err}", tail(&out));
    assert!(
        out.contains("child-a says hi 0") && out.contains("child-a says hi 1"),
        "{out}"
    );
    assert!(
        out.contains("1 of 2 executions did not pass: child-b failed"),
        "{out}"
    );
    let doc = show(&db, "parent-1");
    let steps = doc["steps"].as_array().cloned().unwrap_or_default();
    let status = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["status"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(status("by name").as_deref(), Some("passed"));
    assert_eq!(status("async").as_deref(), Some("passed"));
    assert_eq!(status("by selector").as_deref(), Some("failed"));
    let kids = children(&doc);
    let by_step = |r: &str| -> Vec<(String, String)> {
        let step = steps
            .iter()
            .find(|s| s["name"] == r)
            .map(|s| s["ref"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        kids.iter()
            .filter(|k| k["tags"]["testwerk.io/parent-step"] == step.as_str())
            .map(|k| {
                (
                    k["workflow"].as_str().unwrap_or_default().to_owned(),
                    k["tags"]["testwerk.io/child"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(by_step("by name").len(), 2, "{doc:#}");
    let mut selected: Vec<String> = by_step("by selector").into_iter().map(|(w, _)| w).collect();
    selected.sort();
    assert_eq!(selected, ["child-a", "child-b"], "{doc:#}");
    assert!(
        by_step("async")
            .iter()
            .all(|(w, k)| w == "child-a" && k == "execution")
    );
    // The async child runs on its own and ends passed, although nobody waited for it.
    let step = steps
        .iter()
        .find(|s| s["name"] == "async")
        .map(|s| s["ref"].clone())
        .unwrap_or_default();
    let async_id = kids
        .iter()
        .find(|k| k["tags"]["testwerk.io/parent-step"] == step)
        .and_then(|k| k["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = show(&db, &async_id)["status"].clone();
        if status == "passed" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline && status != "failed",
            "the async child ended {status}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Each service instance is a Pod of its own, with its own address: two replicas listen on
/// the same port, the step reaches each at its address once ready, and when the step ends
/// they are stopped and their networks deleted.
#[test]
fn two_service_replicas_listen_on_one_port_each_at_its_own_address_until_the_step_ends() {
    let Some(_) = testwerk_testinputs::available(
        which("python3"),
        "python3 (the services' HTTP server)",
        "apt-get install python3",
    ) else {
        return;
    };
    let Some(_) = testwerk_testinputs::available(
        testwerk_local::network::available().ok(),
        "root and iproute2's `ip` (networks of their own for services)",
        "run the tests as root, with `apt-get install iproute2`",
    ) else {
        return;
    };
    let dir = scratch("children-services");
    let db = dir.join("db");
    let file = write(
        &dir,
        "svc.yaml",
        &format!(
            "{HEADER}  name: svc\nspec:\n  container: {{image: busybox:1.36}}\n  steps:\n  - name: with two web servers\n    services:\n      web:\n        count: 2\n        image: python:3.12\n        shell: mkdir -p /tmp/www && echo served-by-replica-{{{{ index }}}} > /tmp/www/index.html && cd /tmp/www && exec python3 -m http.server 8080\n        readinessProbe:\n          httpGet: {{path: /, port: 8080}}\n          periodSeconds: 1\n        timeout: 30s\n    steps:\n    - shell: curl -sf http://{{{{ services.web.0.ip }}}}:8080/ && curl -sf http://{{{{ services.web.1.ip }}}}:8080/\n"
        ),
    );
    let (code, out, err) = testwerk_run(&db, &["--host", &file]);
    assert_eq!(code, Some(0), "{}\n{err}", tail(&out));
    let doc = show(&db, "svc-1");
    let text = log(&db, doc["id"].as_str().unwrap_or_default());
    assert!(
        text.contains("served-by-replica-0") && text.contains("served-by-replica-1"),
        "{text}"
    );
    // Each replica was ready at an address of its own, on the Pods' bridge.
    let addresses: Vec<String> = text
        .lines()
        .filter_map(|l| l.split(": ready at ").nth(1))
        .map(|rest| rest.split([' ', ':']).next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(addresses.len(), 2, "{text}");
    assert_ne!(addresses[0], addresses[1], "{text}");
    for address in &addresses {
        assert!(address.starts_with("10.219."), "{address}: {text}");
        let lease = Path::new(testwerk_local::network::LEASES).join(address);
        assert!(!lease.exists(), "{} outlived the run", lease.display());
        let parts: Vec<&str> = address.split('.').collect();
        let netns = Path::new("/run/netns").join(format!("tw-{}-{}", parts[2], parts[3]));
        assert!(!netns.exists(), "{} outlived the run", netns.display());
    }
    let kids = children(&doc);
    assert_eq!(kids.len(), 2, "{doc:#}");
    for kid in &kids {
        assert_eq!(kid["tags"]["testwerk.io/child"], "service");
        // Stopped by the step's end, not failed.
        assert_eq!(kid["status"], "aborted", "{doc:#}");
    }
}

#[test]
fn a_service_that_never_gets_ready_fails_its_step_clearly_within_its_timeout() {
    let dir = scratch("children-service-timeout");
    let db = dir.join("db");
    let port = free_port();
    let file = write(
        &dir,
        "late.yaml",
        &format!(
            "{HEADER}  name: late\nspec:\n  container: {{image: busybox:1.36}}\n  steps:\n  - name: with a silent server\n    services:\n      silent:\n        image: busybox:1.36\n        shell: sleep 120\n        readinessProbe:\n          tcpSocket: {{port: {port}}}\n        timeout: 3s\n    steps:\n    - shell: echo never\n"
        ),
    );
    let started = std::time::Instant::now();
    let (code, out, err) = testwerk_run(&db, &["--host", &file]);
    assert_eq!(code, Some(1), "{}\n{err}", tail(&out));
    assert!(
        out.contains("1 of 1 services failed to start: silent 0: not ready within 3 s (its readinessProbe never passed)"),
        "{out}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    let kids = children(&show(&db, "late-1"));
    assert_eq!(kids.len(), 1);
    assert_eq!(
        kids[0]["status"], "aborted",
        "the service is stopped when its step ends"
    );
}

/// Test code can read its execution's token (here from init's environment, with
/// `CAP_SYS_PTRACE`). With it, it may
/// only start the children its workflow declares: a worker with a Pod of its own making, a
/// service, or a workflow no `execute` names are refused; the declared worker runs.
const FORGE: &str = r#"
import json, sys, urllib.request, urllib.error
env = dict(e.split(b"=", 1) for e in open("/proc/1/environ", "rb").read().split(b"\0") if b"=" in e)
endpoint = json.loads(env[b"_03_TW_TOOLKIT"])["children"]
def ask(kind, workflow, parent_ref):
    body = json.dumps({"kind": kind, "parentRef": parent_ref, "workflow": workflow}).encode()
    request = urllib.request.Request(endpoint["url"], data=body, method="POST", headers={
        "Authorization": "Bearer " + endpoint["token"], "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
doc = {"apiVersion": "testworkflows.testkube.io/v1", "kind": "TestWorkflow",
       "metadata": {"name": sys.argv[1] + "-1"},
       "spec": {"pod": {"hostPID": True}, "steps": [{"shell": "echo escaped"}]}}
for kind, workflow in [("worker", {"document": doc}), ("service", {"document": doc}),
                       ("execution", {"named": "forge"})]:
    status, said = ask(kind, workflow, sys.argv[1])
    print("forged", kind, status, said)
    if status != 403:
        sys.exit(1)
"#;

#[test]
fn test_code_with_the_token_starts_only_the_children_its_workflow_declares() {
    if testwerk_testinputs::available(
        which("python3"),
        "python3 (the forging script)",
        "apt-get install python3",
    )
    .is_none()
    {
        return;
    }
    let dir = scratch("children-forged");
    let db = dir.join("db");
    // JSON is YAML: the script travels as a file of the workflow's content.
    let workflow = serde_json::json!({
        "apiVersion": "testworkflows.testkube.io/v1",
        "kind": "TestWorkflow",
        "metadata": {"name": "forge"},
        "spec": {
            "container": {"image": "busybox:1.36"},
            "content": {"files": [{"path": "/data/forge.py", "content": FORGE}]},
            "steps": [
                {"name": "declared", "parallel": {"count": 1, "shell": "echo the declared worker runs"}},
                // Init is not dumpable; a step with CAP_SYS_PTRACE reads its environment.
                {"name": "forged", "shell": "python3 /data/forge.py r1",
                 "container": {"securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}}},
            ],
        },
    });
    let file = write(&dir, "forge.yaml", &workflow.to_string());
    let (code, out, err) = testwerk_run(&db, &["--host", &file]);
    assert_eq!(code, Some(0), "{}\n{err}", tail(&out));
    for kind in ["worker", "service", "execution"] {
        assert!(
            out.contains(&format!("forged {kind} 403")),
            "{kind} not refused: {out}"
        );
    }
    assert!(
        out.contains("only the workers, services and workflows its steps declare"),
        "{out}"
    );
    let kids = children(&show(&db, "forge-1"));
    assert_eq!(kids.len(), 1, "only the declared worker started: {kids:#?}");
    assert!(
        log(&db, kids[0]["id"].as_str().unwrap_or_default()).contains("the declared worker runs")
    );
}

/// Files travel as artifacts of the parent: `transfer` to every worker and to a service,
/// `fetch` back from each worker, and an executed workflow's `tarball` (its URL in the
/// child's config).
#[test]
fn transfer_fetch_and_tarball_carry_files_between_the_parent_and_its_children() {
    let Some(_) = testwerk_testinputs::available(
        which("python3"),
        "python3 (the service's HTTP server)",
        "apt-get install python3",
    ) else {
        return;
    };
    let dir = scratch("children-files");
    let db = dir.join("db");
    let file = write(
        &dir,
        "files.yaml",
        r#"apiVersion: testworkflows.testkube.io/v1
kind: TestWorkflow
metadata: {name: files}
spec:
  container:
    image: busybox:1.36
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
        image: python:3.12
        transfer: [{from: /data/in, files: [hello.txt], to: /www}]
        shell: cd /www && exec python3 -m http.server 8081
        readinessProbe:
          tcpSocket: {port: 8081}
          periodSeconds: 1
        timeout: 30s
    shell: echo "service served $(curl -sf http://{{ services.site.0.ip }}:8081/hello.txt)"
  - name: execute with a tarball
    execute:
      workflows:
      - name: consumer
        tarball: {data: {from: /data/in, files: [hello.txt]}}
        config: {url: '{{ tarball.data.url }}'}
---
apiVersion: testworkflows.testkube.io/v1
kind: TestWorkflow
metadata: {name: consumer}
spec:
  config:
    url: {type: string}
  content:
    tarball: [{url: '{{ config.url }}', path: /got}]
  container: {image: busybox:1.36}
  steps:
  - shell: echo "consumer got $(cat /got/hello.txt)" && test ! -e /got/worker-0.txt
"#,
    );
    let (code, out, err) = testwerk_run(&db, &["--host", &file, "--workflow", "files"]);
    assert_eq!(code, Some(0), "{}\n{err}", tail(&out));
    let doc = show(&db, "files-1");
    let text = log(&db, doc["id"].as_str().unwrap_or_default());
    assert!(text.contains("worker 0 got from-the-parent"), "{text}");
    assert!(text.contains("worker 1 got from-the-parent"), "{text}");
    assert!(text.contains("consumer got from-the-parent"), "{text}");
    assert!(text.contains("service served from-the-parent"), "{text}");
    let kids = children(&doc);
    assert_eq!(kids.len(), 4, "{doc:#}");
}

#[test]
fn a_worker_that_does_not_compile_fails_with_what_its_runner_said() {
    let dir = scratch("children-bad-worker");
    let db = dir.join("db");
    let file = write(
        &dir,
        "bad.yaml",
        &format!(
            "{HEADER}  name: bad\nspec:\n  container: {{image: busybox:1.36}}\n  steps:\n  - name: fan out\n    parallel:\n      matrix:\n        limit: [5s, not-a-duration]\n      steps:\n      - shell: echo x\n        timeout: '{{{{ matrix.limit }}}}'\n"
        ),
    );
    let (code, out, err) = testwerk_run(&db, &["--host", &file]);
    assert_eq!(code, Some(1), "{}\n{err}", tail(&out));
    // The worker whose value is good passes; the other cannot compile and says why.
    assert!(out.contains("worker 1/2 (bad-"), "{out}");
    assert!(
        out.contains("worker 2/2: failed: its runner exited with 2"),
        "{out}"
    );
    assert!(
        out.contains("not-a-duration"),
        "the reason names the value: {out}"
    );
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}
