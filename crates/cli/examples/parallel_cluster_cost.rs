//! What `parallel: {count: 10}` of a trivial step costs on the real test cluster, start to
//! finish, against 10 bare Jobs created at once, in the same run (rounds alternate):
//!
//! 1. a workflow whose one step is `parallel: {count: 10, shell: "true"}`, submitted to the
//!    agent: the parent's Pod, its toolkit asking the agent for 10 workers, 10 worker
//!    executions (each a Job of its own, with testwerk's init and setup), followed to the end;
//!    timed from the submission until the agent reports the parent done;
//! 2. 10 bare Jobs of `alpine:3.22.0` running `true`, created at once through the API server
//!    (no testwerk at all); timed until all 10 have succeeded.
//!
//! `scripts/cluster up` first, then (as scripts/test builds the static toolkit the Pods run):
//! `cargo run --release -p testwerk --features cluster --example parallel_cluster_cost`

#[path = "../tests/agent/mod.rs"]
mod agent;

use std::time::{Duration, Instant};

use agent::AgentEnv;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, PostParams};

const ROUNDS: usize = 3;
const WORKERS: usize = 10;

const PARALLEL: &str = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: fan}
spec:
  container: {image: "alpine:3.22.0"}
  steps:
  - name: fan out
    parallel:
      count: 10
      shell: "true"
"#;

fn bare_job(name: &str) -> Job {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "step",
                    "image": "alpine:3.22.0",
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["/bin/true"],
                }],
            }},
        },
    }))
    .expect("a Job")
}

/// Creates `WORKERS` bare Jobs at once and waits until all have succeeded.
fn bare_jobs(env: &AgentEnv, round: usize) -> Duration {
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), &env.namespace);
    let names: Vec<String> = (0..WORKERS).map(|i| format!("bare-{round}-{i}")).collect();
    let started = Instant::now();
    env.rt.block_on(async {
        let creates = names
            .iter()
            .map(|n| {
                let jobs = jobs.clone();
                let job = bare_job(n);
                async move { jobs.create(&PostParams::default(), &job).await }
            })
            .collect::<Vec<_>>();
        for created in futures_util::future::join_all(creates).await {
            created.expect("a bare Job is created");
        }
    });
    loop {
        let done = names
            .iter()
            .filter(|n| {
                env.rt
                    .block_on(jobs.get(n))
                    .ok()
                    .and_then(|j| j.status?.succeeded)
                    == Some(1)
            })
            .count();
        if done == WORKERS {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the bare Jobs did not finish in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Submits the parallel workflow and waits until the agent reports it done.
fn parallel(env: &AgentEnv) -> Duration {
    let started = Instant::now();
    let id = env.submit_ok("fan.yaml", PARALLEL, None);
    let doc = env.wait_done(&id, Duration::from_secs(600));
    assert_eq!(doc["status"], "passed", "{doc}");
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let env = AgentEnv::start_reachable("bench-parallel", &[]);
    // Warm up: the image is on the node, the agent has compiled once.
    let _ = bare_jobs(&env, 99);
    let _ = parallel(&env);
    let mut ours = Vec::new();
    let mut bare = Vec::new();
    for round in 0..ROUNDS {
        let p = parallel(&env);
        let b = bare_jobs(&env, round);
        println!(
            "round {}: parallel count 10 {:.1} s, 10 bare Jobs {:.1} s",
            round + 1,
            p.as_secs_f64(),
            b.as_secs_f64()
        );
        ours.push(p);
        bare.push(b);
    }
    let (p, b) = (median(ours), median(bare));
    println!(
        "parallel: {{count: 10}} of `true`, submission to done: median {:.1} s; 10 bare Jobs created at once, until all succeeded: median {:.1} s; ratio {:.1}x ({ROUNDS} rounds, one node, 2 cores)",
        p.as_secs_f64(),
        b.as_secs_f64(),
        p.as_secs_f64() / b.as_secs_f64()
    );
}
