//! Runs the containers of a bundle one after another, as the kubelet runs a Pod's init
//! containers and then its main container, each in runc with `testwerk-init` as PID 1.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Container;
use testwerk_bundle::Bundle;

use crate::LocalError;
use crate::cgroup::{OwnCgroups, oom_kills};
use crate::env::{PodFacts, container_env};
use crate::images::{ImageRoot, ImageRoots};
use crate::layout::{Programs, host_mount_allowed, own_root, prepare_volumes};
use crate::oci::spec::Mount;
use crate::oci::{self, Cgroup, ContainerConfig, Network};
use crate::overlay::Overlay;
use crate::runc::{Runc, run_prefix};

/// Where the containers' roots come from.
#[derive(Clone)]
pub enum Mode {
    /// No images: every container sees this machine's directories read-only as its root.
    Host,
    /// Each container runs on its image's root (with a writable overlay); our own images
    /// are made from this machine's programs: the init image holds only `init`, the toolkit
    /// and busybox; the toolkit image is this machine's directories read-only (as in host
    /// mode) plus the toolkit, so that `git` is this machine's.
    Images {
        roots: Arc<dyn ImageRoots>,
        init_image: String,
        toolkit_image: String,
    },
}

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Host => f.write_str("Host"),
            Mode::Images {
                init_image,
                toolkit_image,
                ..
            } => write!(
                f,
                "Images {{ init: {init_image}, toolkit: {toolkit_image} }}"
            ),
        }
    }
}

/// How to run one execution locally.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// The execution directory; created, and owned by this execution only.
    pub dir: PathBuf,
    pub programs: Programs,
    pub runc: Runc,
    pub mode: Mode,
    pub network: Network,
    /// Paths of this machine that containers must see empty (the results store, which holds
    /// other runs' logs, and runc's state). The execution directory is always hidden.
    pub hidden: Vec<PathBuf>,
    /// Variables every container gets besides the Pod's (e.g. the protocol token).
    pub extra_env: Vec<(String, String)>,
    /// The run's control socket ([`crate::control::bind`]), handed to every container's
    /// `init`; `None`: no pause or resume (and no endpoint at all: init's default would be a
    /// TCP port on the host's network).
    pub control: Option<Arc<std::os::unix::net::UnixListener>>,
    /// `job.activeDeadlineSeconds` (or the Pod's): the whole execution is aborted after it.
    pub deadline: Option<Duration>,
    /// How long `init` gets to stop its steps after SIGTERM before the container is killed.
    pub grace: Duration,
    /// Set from outside (Ctrl-C) to abort the execution.
    pub abort: Arc<AtomicBool>,
    /// Processes per container ([`oci::DEFAULT_PIDS_LIMIT`] unless told otherwise).
    pub pids_limit: i64,
}

/// What happens while containers run, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEvent {
    /// Something the user should know that is not a failure: pulls, limits not applied.
    Note(String),
    Warning(String),
    ContainerStarted {
        index: usize,
        name: String,
    },
    /// Bytes `init` wrote to stdout: step output and protocol lines.
    Output {
        index: usize,
        bytes: Vec<u8>,
    },
    /// A line `init` (or runc) wrote to stderr: its own diagnostics.
    Diagnostic {
        index: usize,
        line: String,
    },
    /// The kernel killed processes of the container for lack of memory.
    OomKilled {
        index: usize,
        /// `resources.limits.memory` as the Pod wrote it.
        memory_limit: Option<String>,
    },
    ContainerExited {
        index: usize,
        code: i32,
    },
    DeadlineExceeded,
    Aborted,
    /// Nothing came from the container for a moment: a chance for periodic work (writing
    /// the log lines held in memory, so that readers of the store see a quiet step's last
    /// lines).
    Idle,
}

/// How the Pod ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOutcome {
    pub exit_codes: Vec<i32>,
    pub deadline_exceeded: bool,
    pub aborted: bool,
    /// The index of a container the kernel OOM-killed processes of.
    pub oom_killed: Option<usize>,
}

/// Exit code of `init` when the execution was aborted.
pub const ABORTED_EXIT: i32 = 137;

/// Where `testwerk-init` listens for pause and resume.
const CONTROL_ADDR: &str = "TW_CONTROL_ADDR";

/// The PATH of a container whose image sets none (containerd's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs every container of `bundle` in order; stops at the first that does not exit 0.
pub fn run(
    bundle: &Bundle,
    opts: &LocalOptions,
    on: &mut dyn FnMut(RunEvent),
) -> Result<RunOutcome, LocalError> {
    let template = bundle.job.spec.as_ref().map(|s| &s.template);
    let pod = template
        .and_then(|t| t.spec.clone())
        .ok_or_else(|| LocalError::Unsupported("the Job has no Pod template".into()))?;
    let annotations: BTreeMap<String, String> = template
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    for stale in opts.runc.clean_stale() {
        on(RunEvent::Note(format!(
            "deleted container {stale} of a runner that is gone"
        )));
    }
    std::fs::create_dir_all(&opts.dir).map_err(|e| LocalError::io(&opts.dir, e))?;
    let dir = std::fs::canonicalize(&opts.dir).map_err(|e| LocalError::io(&opts.dir, e))?;
    // The bundles hold the containers' environment (the protocol token, Secret values):
    // this user's only. Containers reach their volumes through mounts, never this path.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(|e| LocalError::io(&dir, e))?;
    let volumes = prepare_volumes(&dir, bundle, &pod)?;
    let pod_name = format!(
        "{}-local",
        bundle.job.metadata.name.clone().unwrap_or_default()
    );
    let namespace = bundle
        .job
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let node = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let facts = PodFacts {
        pod_name: &pod_name,
        namespace: &namespace,
        node_name: &node,
        annotations: &annotations,
    };
    let host = matches!(opts.mode, Mode::Host);
    let (own_rootfs, own_mounts) = own_root(&dir, &opts.programs, host)?;
    // The toolkit image on this machine: its directories, read-only (made when first needed).
    let mut toolkit_root: Option<(PathBuf, Vec<Mount>)> = None;
    let cgroups = cgroups_available(&opts.runc);
    if opts.runc.rootless {
        on(RunEvent::Note(
            "runs rootless: one user and one group (yours, as 0 inside) exist in the containers, so runAsGroup and fsGroup are not applied".into(),
        ));
    }
    if !cgroups {
        on(RunEvent::Warning(
            "resources.limits and the pids limit are NOT applied: runc runs rootless, and an ordinary user cannot create cgroups (cgroup v1; a delegated cgroup v2 subtree is not used yet)".into(),
        ));
    }
    let exec_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut hidden: Vec<String> = opts
        .hidden
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    hidden.push(dir.display().to_string());
    // Containers on this machine's directories also must not see its secrets: readable by a
    // root step otherwise (CAP_DAC_OVERRIDE).
    let mut hidden_on_host = hidden.clone();
    hidden_on_host.extend(HOST_SECRETS.iter().map(|p| (*p).to_owned()));

    let prefix = run_prefix(&exec_name);
    // Every container of the run sits in this cgroup (see `cgroup`), removed at the end.
    let run_cgroup = format!("testwerk/{prefix}");
    let own_cgroups = if cgroups {
        OwnCgroups::read()
    } else {
        OwnCgroups::default()
    };
    own_cgroups.remove_stale();
    if opts.runc.rootless && matches!(opts.mode, Mode::Images { .. }) {
        crate::overlay::check_rootless()?;
    }
    let watchdog = opts.runc.watchdog(&prefix)?;

    let started = Instant::now();
    let mut outcome = RunOutcome::default();
    let mut body = || -> Result<(), LocalError> {
        let containers: Vec<&Container> = pod
            .init_containers
            .iter()
            .flatten()
            .chain(&pod.containers)
            .collect();
        for (index, container) in containers.into_iter().enumerate() {
            let bundle_dir = dir.join(format!("c{index}"));
            std::fs::create_dir_all(&bundle_dir).map_err(|e| LocalError::io(&bundle_dir, e))?;
            let image = container.image.clone().unwrap_or_default();
            let on_host = match &opts.mode {
                Mode::Host => true,
                Mode::Images { toolkit_image, .. } => image == *toolkit_image,
            };
            let (image_root, overlay, root_mounts, rootfs, readonly_root) = match &opts.mode {
                Mode::Images {
                    roots,
                    init_image,
                    toolkit_image,
                } if image != *init_image && image != *toolkit_image => {
                    let policy = container.image_pull_policy.as_deref();
                    let mut progress = |line: String| on(RunEvent::Note(line));
                    let root = roots.root(&image, policy, &mut progress).map_err(|e| {
                    LocalError::Setup(format!(
                        "image {image} of container {}: {e}; to run on this machine's tools without images, use --host",
                        container.name
                    ))
                })?;
                    let overlay = Overlay::prepare(&root.root, &bundle_dir, opts.runc.rootless)?;
                    (
                        Some(root),
                        Some(overlay.mount),
                        Vec::new(),
                        overlay.rootfs,
                        false,
                    )
                }
                _ if on_host && !host => {
                    let (rootfs, mounts) = match &toolkit_root {
                        Some(made) => made.clone(),
                        None => {
                            let made = own_root(&dir.join("toolkit-image"), &opts.programs, true)?;
                            toolkit_root.insert(made).clone()
                        }
                    };
                    (None, None, mounts, rootfs, true)
                }
                _ => (None, None, own_mounts.clone(), own_rootfs.clone(), true),
            };
            if on_host {
                check_host_mounts(container)?;
            }
            let mut env = match &image_root {
                Some(root) => image_env(root),
                None if on_host => host_env(),
                None => vec![("PATH".to_owned(), DEFAULT_PATH.to_owned())],
            };
            env.extend(container_env(container, bundle, &facts)?);
            env.extend(opts.extra_env.iter().cloned());
            let mut cmd = opts.runc.command();
            cmd.arg("run");
            let control_addr = match &opts.control {
                Some(listener) => {
                    cmd.arg("--preserve-fds").arg("1");
                    crate::control::pass(&mut cmd, listener)
                }
                None => "off".to_owned(),
            };
            env.push((CONTROL_ADDR.to_owned(), control_addr));
            // Kubernetes reads the termination message from /dev/termination-log; locally it
            // goes to the execution's internal volume, where the runner can read it.
            env.push((
                "TW_TERMINATION_LOG".to_owned(),
                format!(
                    "{}/termination-{index}",
                    testwerk_protocol::paths::INTERNAL_DIR
                ),
            ));
            let id = format!("{prefix}-{index}");
            let mut root_mounts: Vec<Mount> = root_mounts;
            if on_host {
                root_mounts.push(Mount::special(
                    "tmpfs",
                    "/run",
                    &["nosuid", "nodev", "mode=755", "size=65536k"],
                ));
            }
            let spec = oci::config(&ContainerConfig {
                container,
                pod: &pod,
                rootfs: &rootfs,
                readonly_root,
                overlay,
                root_mounts,
                volumes: &volumes,
                env,
                image_user: image_root.as_ref().and_then(|r| r.user.as_deref()),
                image_root: image_root.as_ref().map(|r| r.root.as_path()),
                image_working_dir: image_root.as_ref().and_then(|r| r.working_dir.as_deref()),
                hostname: &pod_name,
                cgroup: if cgroups {
                    Cgroup::Path(format!("{run_cgroup}/{index}"))
                } else {
                    Cgroup::None
                },
                rootless: opts.runc.rootless.then(|| {
                    (
                        rustix::process::geteuid().as_raw(),
                        rustix::process::getegid().as_raw(),
                    )
                }),
                hidden: if on_host {
                    hidden_on_host.clone()
                } else {
                    hidden.clone()
                },
                network: opts.network.clone(),
                pids_limit: opts.pids_limit,
            })?;
            let config = bundle_dir.join("config.json");
            let json = serde_json::to_vec_pretty(&spec)
                .map_err(|e| LocalError::Internal(e.to_string()))?;
            std::fs::write(&config, json).map_err(|e| LocalError::io(&config, e))?;

            // Only a container with a memory limit can be OOM-killed by its cgroup; its OOM
            // count (v1 counts per cgroup, not in the parent) is read after it ends, before
            // it is deleted. The others `runc run` deletes itself: one runc process less.
            let limit = memory_limit(container);
            let oom_counter = match (&limit, cgroups) {
                (Some(_), true) => own_cgroups.oom_counter(&format!("{run_cgroup}/{index}")),
                _ => None,
            };
            if oom_counter.is_some() {
                cmd.arg("--keep");
            }
            cmd.arg("--bundle")
                .arg(&bundle_dir)
                .arg(&id)
                .env_clear()
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if let Some(path) = std::env::var_os("PATH") {
                cmd.env("PATH", path);
            }
            // Its own process group: the terminal's Ctrl-C reaches only the runner, which stops
            // the container in order (TERM to init, grace, KILL to the whole cgroup).
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            let child = cmd
                .spawn()
                .map_err(|e| LocalError::io(&opts.runc.program, e))?;
            on(RunEvent::ContainerStarted {
                index,
                name: container.name.clone(),
            });
            let code = supervise(child, &id, index, opts, started, &mut outcome, on);
            let ooms = oom_counter.as_deref().map_or(0, oom_kills);
            // `runc run` deletes its container when it ends, unless kept for its OOM count or
            // it could not (it failed, or was killed).
            if opts.runc.exists(&id)
                && let Err(e) = opts.runc.delete(&id)
            {
                on(RunEvent::Warning(format!("container {id}: {e}")));
            }
            let code = code?;
            if ooms > 0 {
                outcome.oom_killed.get_or_insert(index);
                on(RunEvent::OomKilled {
                    index,
                    memory_limit: limit,
                });
            }
            on(RunEvent::ContainerExited { index, code });
            outcome.exit_codes.push(code);
            if code != 0 {
                if code == ABORTED_EXIT && !outcome.deadline_exceeded && ooms == 0 {
                    outcome.aborted = true;
                }
                break;
            }
        }
        Ok(())
    };
    let result = body();
    own_cgroups.remove(&run_cgroup);
    watchdog.disarm();
    result.map(|()| outcome)
}

/// Files of this machine hidden in host mode (a root step could read them otherwise).
const HOST_SECRETS: [&str; 8] = [
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh",
    "/etc/ssl/private",
];

/// Whether runc can put containers in cgroups: as root. Rootless, cgroup v1 does not allow
/// it at all, and v2 only in a subtree systemd delegates, which we do not ask for yet.
fn cgroups_available(runc: &Runc) -> bool {
    !runc.rootless
}

fn memory_limit(container: &Container) -> Option<String> {
    container
        .resources
        .as_ref()
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
        .map(|q| q.0.clone())
}

fn check_host_mounts(container: &Container) -> Result<(), LocalError> {
    for m in container.volume_mounts.iter().flatten() {
        if !host_mount_allowed(&m.mount_path) {
            return Err(LocalError::Unsupported(format!(
                "volume `{}` is mounted at {}; in host mode, mounts must be under /data, /tmp, /testkube or a new top-level directory (this machine's directories are read-only)",
                m.name, m.mount_path
            )));
        }
    }
    Ok(())
}

/// The image's environment, with a PATH when it sets none. HOME is left to runc when the
/// image sets none: runc sets it to the home of the container's user in the image's
/// `/etc/passwd` (`/home/k6` for `grafana/k6`'s user 12345, `/root` for root), as on the
/// cluster, where the same runc starts the container.
fn image_env(root: &ImageRoot) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = root
        .env
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.insert(0, ("PATH".to_owned(), DEFAULT_PATH.to_owned()));
    }
    env
}

/// What a container inherits from this machine in host mode: just enough to find programs
/// and a writable home.
fn host_env() -> Vec<(String, String)> {
    let mut env = vec![
        (
            "PATH".to_owned(),
            std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into()),
        ),
        ("HOME".to_owned(), "/tmp".to_owned()),
    ];
    for key in ["LANG", "TERM", "TZ"] {
        if let Ok(v) = std::env::var(key) {
            env.push((key.to_owned(), v));
        }
    }
    env
}

enum Chunk {
    Out(Vec<u8>),
    Err(Vec<u8>),
    Closed,
}

/// Streams the container's output and enforces the deadline and aborts; returns its exit code.
fn supervise(
    mut child: Child,
    id: &str,
    index: usize,
    opts: &LocalOptions,
    started: Instant,
    outcome: &mut RunOutcome,
    on: &mut dyn FnMut(RunEvent),
) -> Result<i32, LocalError> {
    let (tx, rx) = mpsc::channel();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(pump(out, tx.clone(), Chunk::Out));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(pump(err, tx.clone(), Chunk::Err));
    }
    drop(tx);
    let mut open = readers.len();
    let mut stderr_line = Vec::new();
    let mut terminated_at: Option<Instant> = None;
    let mut killed = false;
    while open > 0 {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Chunk::Out(bytes)) => on(RunEvent::Output { index, bytes }),
            Ok(Chunk::Err(bytes)) => {
                stderr_line.extend_from_slice(&bytes);
                while let Some(pos) = stderr_line.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = stderr_line.drain(..=pos).collect();
                    let line = String::from_utf8_lossy(&line).trim_end().to_owned();
                    if is_runc_warning(&line) {
                        // e.g. rootless: "unable to get oom kill count"; not the step's doing.
                        tracing::debug!("runc: {line}");
                        continue;
                    }
                    let hint = crate::overlay::explain_failure(&line, opts.runc.rootless);
                    on(RunEvent::Diagnostic { index, line });
                    if let Some(hint) = hint {
                        on(RunEvent::Warning(hint));
                    }
                }
            }
            Ok(Chunk::Closed) => open -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => on(RunEvent::Idle),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let over_deadline = opts.deadline.is_some_and(|d| started.elapsed() >= d);
        let aborted = opts.abort.load(Ordering::Relaxed);
        match terminated_at {
            None if over_deadline || aborted => {
                if over_deadline {
                    outcome.deadline_exceeded = true;
                    on(RunEvent::DeadlineExceeded);
                } else {
                    on(RunEvent::Aborted);
                }
                // init (PID 1) aborts its steps as on a Pod deletion.
                opts.runc.kill(id, "TERM", false);
                terminated_at = Some(Instant::now());
            }
            Some(at) if at.elapsed() > opts.grace && !killed => {
                // init did not stop in time: every process of the container's cgroup.
                opts.runc.kill(id, "KILL", true);
                killed = true;
            }
            _ => {}
        }
    }
    if !stderr_line.is_empty() {
        on(RunEvent::Diagnostic {
            index,
            line: String::from_utf8_lossy(&stderr_line).trim_end().to_owned(),
        });
    }
    for r in readers {
        if r.join().is_err() {
            return Err(LocalError::Internal(format!(
                "the output reader of container {index} panicked"
            )));
        }
    }
    let status = child
        .wait()
        .map_err(|e| LocalError::Internal(format!("waiting for container {index}: {e}")))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// runc's own log lines at warning level (`time="…" level=warning msg="…"`).
fn is_runc_warning(line: &str) -> bool {
    line.starts_with("time=\"") && line.contains(" level=warning ")
}

fn pump(
    mut from: impl Read + Send + 'static,
    tx: mpsc::Sender<Chunk>,
    wrap: fn(Vec<u8>) -> Chunk,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(wrap(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(Chunk::Closed);
    })
}
