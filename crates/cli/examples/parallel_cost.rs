//! What `parallel: {count: 10}` of a trivial step costs locally, start to finish, against
//! what it is compared with:
//!
//! 1. `testwerk run --host` of a workflow whose one step is `parallel: {count: 10, shell:
//!    "true"}`: the parent run, its toolkit asking for 10 workers, 10 child runs (each a
//!    `testwerk run` with its own Pod in runc, and as root its own network namespace on the
//!    `testwerk0` bridge) and following them to the end;
//! 2. 10 bare `runc run` of `/bin/true` on a busybox root, started at once (no testwerk);
//! 3. 10 `testwerk run --host` of a one-step workflow started at once by hand (what a user
//!    without `parallel` would do).
//!
//! As root, with runc and busybox-static installed, after building the static testwerk and
//! init as scripts/test does:
//! `cargo run --release -p testwerk --example parallel_cost`
//! (`TESTWERK_BIN` and `TESTWERK_INIT` choose the binaries; default: the static builds under
//! `target/x86_64-unknown-linux-gnu/`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 7;
const WORKERS: usize = 10;

fn main() {
    if let Err(e) = measure() {
        eprintln!("parallel_cost: {e}");
        std::process::exit(2);
    }
}

fn target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/x86_64-unknown-linux-gnu")
}

fn measure() -> Result<(), String> {
    let testwerk = std::env::var_os("TESTWERK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target().join("release/testwerk"));
    let init = std::env::var_os("TESTWERK_INIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| target().join("init/testwerk-init"));
    for (what, path) in [("testwerk", &testwerk), ("testwerk-init", &init)] {
        if !path.is_file() {
            return Err(format!(
                "{what}: {} is missing (see the example's docs)",
                path.display()
            ));
        }
    }
    let dir = std::env::temp_dir().join(format!("tw-parallel-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let parallel = dir.join("parallel.yaml");
    std::fs::write(
        &parallel,
        format!("apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: par\nspec:\n  steps:\n  - parallel:\n      count: {WORKERS}\n      shell: 'true'\n"),
    )
    .map_err(|e| e.to_string())?;
    let single = dir.join("single.yaml");
    std::fs::write(
        &single,
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: one\nspec:\n  steps:\n  - shell: 'true'\n",
    )
    .map_err(|e| e.to_string())?;
    let bundles = bare_bundles(&dir)?;

    let mut ours = Vec::new();
    let mut bare = Vec::new();
    let mut by_hand = Vec::new();
    for round in 0..ROUNDS {
        let store = dir.join(format!("store-{round}/db"));
        let started = Instant::now();
        let status = Command::new(&testwerk)
            .args(["run", "--host", "--output", "json", "--store"])
            .arg(&store)
            .arg(&parallel)
            .env("TESTWERK_INIT", &init)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("the parallel run failed: {status}"));
        }
        ours.push(started.elapsed());

        let started = Instant::now();
        let children: Vec<_> = bundles
            .iter()
            .enumerate()
            .map(|(i, b)| {
                Command::new("runc")
                    .args(["--root"])
                    .arg(dir.join("runc-state"))
                    .args(["run", "--bundle"])
                    .arg(b)
                    .arg(format!("bare-{round}-{i}"))
                    .stdout(Stdio::null())
                    .spawn()
            })
            .collect::<Result<_, _>>()
            .map_err(|e| format!("runc: {e} (apt-get install runc)"))?;
        for mut c in children {
            let status = c.wait().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("a bare runc run failed: {status}"));
            }
        }
        bare.push(started.elapsed());

        let store = dir.join(format!("hand-{round}/db"));
        let started = Instant::now();
        let children: Vec<_> = (0..WORKERS)
            .map(|_| {
                Command::new(&testwerk)
                    .args(["run", "--host", "--output", "json", "--store"])
                    .arg(&store)
                    .arg(&single)
                    .env("TESTWERK_INIT", &init)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
            })
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        for c in children {
            let out = c.wait_with_output().map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "a run started by hand failed: {}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        by_hand.push(started.elapsed());
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (o, b, h) = (median(&mut ours), median(&mut bare), median(&mut by_hand));
    println!(
        "parallel: {{count: {WORKERS}}} of `true`, start to finish, median of {ROUNDS} rounds"
    );
    println!(
        "  testwerk run --host (parent + {WORKERS} worker runs):  {:>8.1} ms",
        ms(o)
    );
    println!(
        "  {WORKERS} bare `runc run` at once (no testwerk):        {:>8.1} ms",
        ms(b)
    );
    println!(
        "  {WORKERS} `testwerk run --host` at once, by hand:       {:>8.1} ms",
        ms(h)
    );
    println!("  ratio parallel / bare runc: {:.2}x", ms(o) / ms(b));
    println!("  ratio parallel / by hand:   {:.2}x", ms(o) / ms(h));
    Ok(())
}

/// `WORKERS` runc bundles of `/bin/true` on a busybox root, with runc's default config.
fn bare_bundles(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for i in 0..WORKERS {
        let bundle = dir.join(format!("bare-{i}"));
        std::fs::create_dir_all(bundle.join("rootfs/bin")).map_err(|e| e.to_string())?;
        std::fs::copy("/bin/busybox", bundle.join("rootfs/bin/busybox"))
            .map_err(|e| format!("/bin/busybox: {e} (apt-get install busybox-static)"))?;
        std::os::unix::fs::symlink("busybox", bundle.join("rootfs/bin/true"))
            .map_err(|e| e.to_string())?;
        let status = Command::new("runc")
            .arg("spec")
            .current_dir(&bundle)
            .status()
            .map_err(|e| format!("runc: {e} (apt-get install runc)"))?;
        if !status.success() {
            return Err("runc spec failed".into());
        }
        let config = bundle.join("config.json");
        let text = std::fs::read_to_string(&config).map_err(|e| e.to_string())?;
        let mut doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        doc["process"]["args"] = serde_json::json!(["/bin/true"]);
        doc["process"]["terminal"] = false.into();
        std::fs::write(&config, doc.to_string()).map_err(|e| e.to_string())?;
        out.push(bundle);
    }
    Ok(out)
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
