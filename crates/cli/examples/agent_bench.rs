//! Benchmarks of the Kubernetes agent on the real test cluster (`scripts/cluster up` first):
//!
//! 1. submission → Job created: sequential `POST /v1/executions` of a one-step workflow whose
//!    step names its command (no image lookup); the answer comes once the Job exists;
//! 2. acceptance rate: 100 one-step workflows submitted at once (100 concurrent requests),
//!    executions accepted (Job created) per minute; target ≥ 1,000/min;
//! 3. agent memory (RSS) while it follows 50 running executions.
//!
//! `cargo build --release -p testwerk && cargo run --release -p testwerk --features cluster --example agent_bench`

#[path = "../tests/agent/mod.rs"]
mod agent;

use std::time::{Duration, Instant};

use agent::AgentEnv;

fn one_step(name: &str, command: &str) -> String {
    format!(
        r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {{name: {name}}}
spec:
  container: {{image: "alpine:3.22.0", workingDir: /}}
  steps:
  - name: step
    run: {{command: ["/bin/sh", "-c", "{command}"]}}
"#
    )
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    // 1. Latency.
    let env = AgentEnv::start("bench-latency", &[]);
    let source = one_step("latency", "true");
    let _warm = env.submit_ok("latency.yaml", &source, None);
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        env.submit_ok("latency.yaml", &source, None);
        times.push(started.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "submission → Job created: median {:.1} ms, min {:.1} ms, max {:.1} ms (20 sequential submissions)",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    drop(env);

    // 2. Acceptance rate.
    let env = AgentEnv::start("bench-rate", &[]);
    let sources: Vec<String> = (0..100)
        .map(|i| one_step(&format!("rate-{i}"), "true"))
        .collect();
    let started = Instant::now();
    std::thread::scope(|s| {
        for (i, source) in sources.iter().enumerate() {
            let env = &env;
            s.spawn(move || env.submit_ok(&format!("rate-{i}.yaml"), source, None));
        }
    });
    let took = started.elapsed();
    println!(
        "100 one-step workflows submitted at once: all Jobs created in {:.2} s = {:.0} executions accepted per minute (target ≥ 1,000)",
        took.as_secs_f64(),
        100.0 / took.as_secs_f64() * 60.0
    );
    drop(env);

    // 3. Memory with 50 running executions.
    let env = AgentEnv::start("bench-memory", &[]);
    let idle = env.agent_pid().map_or(0, rss_kib);
    let ids: Vec<String> = (0..50)
        .map(|i| {
            let source = one_step(&format!("mem-{i}"), "sleep 300");
            env.submit_ok(&format!("mem-{i}.yaml"), &source, None)
        })
        .collect();
    let started = Instant::now();
    let mut running = 0;
    while started.elapsed() < Duration::from_secs(600) {
        running = ids
            .iter()
            .filter(|id| {
                env.get(&format!("/v1/executions/{id}")).is_some_and(|d| {
                    d["steps"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|s| s["status"] == "running"))
                })
            })
            .count();
        if running == ids.len() {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let busy = env.agent_pid().map_or(0, rss_kib);
    println!(
        "agent memory: {:.1} MiB RSS idle, {:.1} MiB with {running} executions running (their steps started)",
        idle as f64 / 1024.0,
        busy as f64 / 1024.0
    );
}
