//! What starting a container costs in the local runner, against what it is compared with:
//!
//! 1. a container (`/bin/true` on a busybox root) through `testwerk_local::run` in image
//!    mode (a Pod of 10 such containers, divided by 10: bundle, the overlay runc mounts,
//!    `runc run` with the run's control socket passed to init, and the run's watchdog, cgroup
//!    and volumes shared), against a bare `runc run` of the same root
//!    with a default `config.json` (goal: ≤ 1.2×);
//! 2. the same container in host mode (this machine's directories as the root);
//! 3. pure steps sharing one container: the cost of a step over a bare `sh -c true`
//!    (goal: ≤ 2 ms), from a workflow of 1 and of 201 pure steps in host mode.
//!
//! As root, with runc and busybox installed:
//! `cargo build --release -p testwerk-init && cargo run --release -p testwerk-local --example start_cost`

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use testwerk_local::{ImageRoot, ImageRoots, LocalOptions, Mode, Network, Programs, Runc};

const ROUNDS: usize = 15;
/// Containers per Pod in the runner's rounds: the run's own set-up (watchdog, cgroup,
/// volumes) is shared by a Pod's containers, so it is spread over them as in a real run.
const CONTAINERS: usize = 10;
const PURE_STEPS: usize = 200;

struct Fixed(PathBuf);

impl ImageRoots for Fixed {
    fn root(
        &self,
        _: &str,
        _: Option<&str>,
        _: &mut dyn FnMut(String),
    ) -> Result<ImageRoot, String> {
        Ok(ImageRoot {
            root: self.0.clone(),
            env: vec!["PATH=/bin".into()],
            ..Default::default()
        })
    }
}

fn main() {
    if let Err(e) = measure() {
        eprintln!("start_cost: {e}");
        std::process::exit(2);
    }
}

fn measure() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("tw-start-cost-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("image/bin")).map_err(|e| e.to_string())?;
    let image = dir.join("image");
    std::fs::copy("/bin/busybox", image.join("bin/busybox"))
        .map_err(|e| format!("/bin/busybox: {e} (apt-get install busybox-static)"))?;
    for applet in ["true", "sh"] {
        let link = image.join("bin").join(applet);
        if link.symlink_metadata().is_err() {
            std::os::unix::fs::symlink("busybox", link).map_err(|e| e.to_string())?;
        }
    }
    let runc = Runc::find(dir.join("runc")).map_err(|e| e.to_string())?;

    // 1. A bare `runc run` of the same root.
    let bare_bundle = dir.join("bare");
    std::fs::create_dir_all(&bare_bundle).map_err(|e| e.to_string())?;
    let out = Command::new(&runc.program)
        .args(["spec", "--bundle"])
        .arg(&bare_bundle)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let config_path = bare_bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = serde_json::json!(["/bin/true"]);
    config["root"]["path"] = image.display().to_string().into();
    std::fs::write(&config_path, config.to_string()).map_err(|e| e.to_string())?;
    let bare = time(ROUNDS, |i| {
        let status = runc
            .command()
            .arg("run")
            .arg("--bundle")
            .arg(&bare_bundle)
            .arg(format!("bare-{}-{i}", std::process::id()))
            .stdin(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("bare runc run: {status}"))
    })?;

    // 2. Ours, one container, image mode and host mode.
    let init = init_binary()?;
    let programs = Programs {
        init: init.clone(),
        toolkit: PathBuf::from("/bin/true"),
    };
    // As `testwerk run` does: one control socket per run, handed to every container's init.
    let control =
        Arc::new(testwerk_local::control::bind(&dir.join("control")).map_err(|e| e.to_string())?);
    let opts = |mode: Mode, name: &str| LocalOptions {
        dir: dir.join("runs").join(name),
        control: Some(Arc::clone(&control)),
        programs: programs.clone(),
        runc: runc.clone(),
        mode,
        network: Network::Host,
        hidden: Vec::new(),
        extra_env: vec![(
            testwerk_protocol::env::TOKEN.to_owned(),
            "bench-token-0123456789".to_owned(),
        )],
        deadline: None,
        grace: Duration::from_secs(5),
        abort: Arc::new(AtomicBool::new(false)),
        pids_limit: 4096,
    };
    let one = one_container_bundle();
    let images = Mode::Images {
        roots: Arc::new(Fixed(image.clone())),
        init_image: String::new(),
        toolkit_image: String::new(),
    };
    let ours = time(ROUNDS, |i| {
        run_once(&one, &opts(images.clone(), &format!("img-{i}")))
    })? / CONTAINERS as u32;
    let host = time(ROUNDS, |i| {
        run_once(&one, &opts(Mode::Host, &format!("host-{i}")))
    })? / CONTAINERS as u32;

    // 3. Pure steps in one container (host mode), against bare `sh -c true`.
    let few = pure_bundle(1)?;
    let many = pure_bundle(PURE_STEPS + 1)?;
    let run_pure = |b: &testwerk_bundle::Bundle, name: &str| -> Result<Duration, String> {
        let started = Instant::now();
        let o = opts(Mode::Host, name);
        let outcome = testwerk_local::run(b, &o, &mut |_| {}).map_err(|e| e.to_string())?;
        let took = started.elapsed();
        let _ = std::fs::remove_dir_all(&o.dir);
        if outcome.exit_codes.iter().any(|c| *c != 0) {
            return Err(format!("pure steps failed: {:?}", outcome.exit_codes));
        }
        Ok(took)
    };
    let mut per_step = Vec::new();
    for i in 0..5 {
        let a = run_pure(&few, &format!("few-{i}"))?;
        let b = run_pure(&many, &format!("many-{i}"))?;
        per_step.push(b.saturating_sub(a) / PURE_STEPS as u32);
    }
    per_step.sort();
    let step = per_step[per_step.len() / 2];
    let sh = time(ROUNDS, |_| {
        Command::new("sh")
            .args(["-c", "true"])
            .status()
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "start_cost ({} rounds each, medians, {}):",
        ROUNDS,
        if cfg!(debug_assertions) {
            "DEBUG build"
        } else {
            "release build"
        }
    );
    println!(
        "  bare `runc run` of a busybox root (/bin/true):       {:7.1} ms",
        ms(bare)
    );
    println!(
        "  our runner, per container of a {CONTAINERS}-container Pod, image mode: {:7.1} ms  ({:.2}x bare; goal <= 1.2x)",
        ms(ours),
        ours.as_secs_f64() / bare.as_secs_f64()
    );
    println!(
        "  our runner, per container of a {CONTAINERS}-container Pod, host mode:  {:7.1} ms  ({:.2}x bare)",
        ms(host),
        host.as_secs_f64() / bare.as_secs_f64()
    );
    println!(
        "  bare `sh -c true`:                                   {:7.2} ms",
        ms(sh)
    );
    println!(
        "  a pure step in a shared container (host mode):      {:7.2} ms  ({:+.2} ms over sh; goal <= 2 ms)",
        ms(step),
        ms(step) - ms(sh)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The median of `rounds` timed calls.
fn time(rounds: usize, mut f: impl FnMut(usize) -> Result<(), String>) -> Result<Duration, String> {
    let mut all = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let started = Instant::now();
        f(i)?;
        all.push(started.elapsed());
    }
    all.sort();
    Ok(all[all.len() / 2])
}

fn run_once(b: &testwerk_bundle::Bundle, o: &LocalOptions) -> Result<(), String> {
    let outcome = testwerk_local::run(b, o, &mut |_| {}).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&o.dir);
    if outcome.exit_codes == [0; CONTAINERS] {
        Ok(())
    } else {
        Err(format!(
            "the containers exited with {:?}",
            outcome.exit_codes
        ))
    }
}

/// A Pod of [`CONTAINERS`] containers that run `/bin/true` from image `bench:1`.
fn one_container_bundle() -> testwerk_bundle::Bundle {
    let container = |i: usize| Container {
        name: format!("bench-{i}"),
        image: Some("bench:1".into()),
        command: Some(vec!["/bin/true".into()]),
        ..Default::default()
    };
    let pod = PodSpec {
        init_containers: Some((1..CONTAINERS).map(container).collect()),
        containers: vec![container(0)],
        ..Default::default()
    };
    testwerk_bundle::Bundle {
        secrets: Vec::new(),
        config_maps: Vec::new(),
        pvcs: Vec::new(),
        job: Job {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("bench".into()),
                ..Default::default()
            },
            spec: Some(JobSpec {
                template: PodTemplateSpec {
                    metadata: None,
                    spec: Some(pod),
                },
                ..Default::default()
            }),
            status: None,
        },
    }
}

/// A workflow of `n` pure `true` steps, compiled.
fn pure_bundle(n: usize) -> Result<testwerk_bundle::Bundle, String> {
    let mut yaml = String::from(
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: pure\nspec:\n  system: {pureByDefault: true}\n  steps:\n",
    );
    for i in 0..n {
        yaml.push_str(&format!("  - name: s{i}\n    shell: 'true'\n"));
    }
    let file = std::env::temp_dir().join(format!("tw-pure-{}-{n}.yaml", std::process::id()));
    std::fs::write(&file, yaml).map_err(|e| e.to_string())?;
    let inputs = testwerk_pipeline::load_inputs(&file, &[]).map_err(|e| format!("{e:?}"))?;
    let _ = std::fs::remove_file(&file);
    let images = testwerk_plan::StaticImages::default();
    let settings = testwerk_pipeline::CompileSettings {
        namespace: "local".into(),
        images: testwerk_pipeline::default_images(),
        image_source: &images,
        execution_id: Some(format!("pure-{n}")),
        execution: None,
        config: Default::default(),
        target: testwerk_pipeline::Target::Local,
        toolkit: None,
    };
    let compiled = testwerk_pipeline::compile(&inputs.workflows[0], &inputs.templates, &settings)
        .map_err(|e| format!("{e:?}"))?;
    Ok(compiled.bundle)
}

fn init_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("TESTWERK_INIT") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/examples/start_cost → target/<profile>/testwerk-init
    let init = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("testwerk-init"))
        .ok_or("no target directory")?;
    init.is_file().then_some(init.clone()).ok_or_else(|| {
        format!(
            "{} is missing: cargo build --release -p testwerk-init (or set TESTWERK_INIT)",
            init.display()
        )
    })
}
