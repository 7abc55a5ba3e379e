//! The cost testwerk adds to each step: runs a workflow of 100 trivial steps with the local
//! runner and compares it with 100 bare `sh -c true` processes. Target: ≤ 5 ms per step.
//!
//! `cargo build --release -p testwerk -p testwerk-init && cargo run --release -p testwerk --example step_overhead`

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const STEPS: usize = 100;

fn main() {
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|d| d.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("target/release"));
    let testwerk = bin.join("testwerk");
    let init = std::env::var_os("TESTWERK_INIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| bin.join("testwerk-init"));
    if !testwerk.is_file() || !init.is_file() {
        eprintln!(
            "build first: cargo build --release -p testwerk -p testwerk-init (looked in {})",
            bin.display()
        );
        std::process::exit(2);
    }
    let dir = std::env::temp_dir().join(format!("testwerk-overhead-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);

    let bare = {
        let start = Instant::now();
        for _ in 0..STEPS {
            let _ = Command::new("sh").args(["-c", "true"]).status();
        }
        start.elapsed()
    };

    // Pure steps share one container, as a user marks them when they want speed; impure ones
    // get a container (here: a testwerk-init process in its own sandbox) each.
    let mut rows = Vec::new();
    for (label, pure) in [
        ("100 pure steps (one container)", true),
        ("100 impure steps (100 containers)", false),
    ] {
        let mut yaml = String::from(
            "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: overhead\nspec:\n  steps:\n",
        );
        for i in 0..STEPS {
            yaml.push_str(&format!(
                "  - name: step {i}\n    pure: {pure}\n    shell: 'true'\n"
            ));
        }
        let file = dir.join(format!("overhead-{pure}.yaml"));
        let _ = std::fs::write(&file, yaml);
        let start = Instant::now();
        let status = Command::new(&testwerk)
            .arg("run")
            .arg(&file)
            .arg("--store")
            .arg(dir.join("db"))
            .args(["--output", "json"])
            .env("TESTWERK_INIT", &init)
            .stdout(std::process::Stdio::null())
            .status();
        let took = start.elapsed();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("{label}: the run failed");
            std::process::exit(1);
        }
        rows.push((label, took));
    }
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / STEPS as f64;
    println!(
        "step_overhead: {STEPS} bare `sh -c true`: {:.2} ms per process",
        per(bare)
    );
    for (label, took) in rows {
        println!(
            "step_overhead: {label}: {:.2} ms per step, {:.2} ms over bare sh (compile, store and sandbox included; target ≤ 5 ms)",
            per(took),
            per(took) - per(bare)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
