//! Runs the containers of a bundle one after another, as the kubelet runs a Pod's init
//! containers and then its main container, each as `testwerk-init` inside a sandbox.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use testwerk_bundle::Bundle;

use crate::LocalError;
use crate::env::{PodFacts, container_env};
use crate::layout::{Programs, prepare_volumes, sandbox_for};

/// How to run one execution locally.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// The execution directory; created, and owned by this execution only.
    pub dir: PathBuf,
    pub programs: Programs,
    /// Variables every container gets besides the Pod's (e.g. the protocol token).
    pub extra_env: Vec<(String, String)>,
    /// `job.activeDeadlineSeconds` (or the Pod's): the whole execution is aborted after it.
    pub deadline: Option<Duration>,
    /// How long `init` gets to stop its steps after SIGTERM before it is killed.
    pub grace: Duration,
    /// Set from outside (Ctrl-C) to abort the execution.
    pub abort: Arc<AtomicBool>,
}

/// What happens while containers run, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEvent {
    ContainerStarted {
        index: usize,
        name: String,
    },
    /// Bytes `init` wrote to stdout: step output and protocol lines.
    Output {
        index: usize,
        bytes: Vec<u8>,
    },
    /// A line `init` (or the sandbox) wrote to stderr: its own diagnostics.
    Diagnostic {
        index: usize,
        line: String,
    },
    ContainerExited {
        index: usize,
        code: i32,
    },
    DeadlineExceeded,
    Aborted,
}

/// How the Pod ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOutcome {
    pub exit_codes: Vec<i32>,
    pub deadline_exceeded: bool,
    pub aborted: bool,
}

/// Exit code of `init` when the execution was aborted.
pub const ABORTED_EXIT: i32 = 137;

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
    std::fs::create_dir_all(&opts.dir).map_err(|e| LocalError::io(&opts.dir, e))?;
    let volumes = prepare_volumes(&opts.dir, bundle, &pod)?;
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

    let started = Instant::now();
    let mut outcome = RunOutcome::default();
    let containers: Vec<_> = pod
        .init_containers
        .iter()
        .flatten()
        .chain(&pod.containers)
        .collect();
    for (index, container) in containers.into_iter().enumerate() {
        let spec = sandbox_for(&opts.dir, index, container, &volumes, &opts.programs)?;
        let spec_path = opts.dir.join(format!("sandbox-{index}.json"));
        let json =
            serde_json::to_vec_pretty(&spec).map_err(|e| LocalError::Internal(e.to_string()))?;
        std::fs::write(&spec_path, json).map_err(|e| LocalError::io(&spec_path, e))?;
        let mut env = base_env();
        env.extend(container_env(container, bundle, &facts)?);
        env.extend(opts.extra_env.iter().cloned());
        // Kubernetes reads the termination message from /dev/termination-log; locally /dev is
        // the host's, so it goes to the execution's internal volume instead.
        env.push((
            "TW_TERMINATION_LOG".to_owned(),
            format!(
                "{}/termination-{index}",
                testwerk_protocol::paths::INTERNAL_DIR
            ),
        ));
        let command = container.command.clone().unwrap_or_default();
        let mut cmd = Command::new(&opts.programs.toolkit);
        cmd.arg("sandbox").arg(&spec_path).arg("--").args(&command);
        cmd.env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .map_err(|e| LocalError::io(&opts.programs.toolkit, e))?;
        on(RunEvent::ContainerStarted {
            index,
            name: container.name.clone(),
        });
        let code = supervise(child, index, opts, started, &mut outcome, on)?;
        on(RunEvent::ContainerExited { index, code });
        outcome.exit_codes.push(code);
        if code != 0 {
            if code == ABORTED_EXIT && !outcome.deadline_exceeded {
                outcome.aborted = true;
            }
            break;
        }
    }
    Ok(outcome)
}

/// What a container inherits from this machine: just enough to find programs and a home.
fn base_env() -> Vec<(String, String)> {
    let mut env = vec![
        (
            "PATH".to_owned(),
            std::env::var("PATH").unwrap_or_else(|_| {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
            }),
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
    let pid = child.id();
    while open > 0 {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Chunk::Out(bytes)) => on(RunEvent::Output { index, bytes }),
            Ok(Chunk::Err(bytes)) => {
                stderr_line.extend_from_slice(&bytes);
                while let Some(pos) = stderr_line.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = stderr_line.drain(..=pos).collect();
                    on(RunEvent::Diagnostic {
                        index,
                        line: String::from_utf8_lossy(&line).trim_end().to_owned(),
                    });
                }
            }
            Ok(Chunk::Closed) => open -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
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
                signal(pid, rustix::process::Signal::TERM);
                terminated_at = Some(Instant::now());
            }
            Some(at) if at.elapsed() > opts.grace => {
                // init did not stop in time: take the whole group down.
                signal_group(pid, rustix::process::Signal::KILL);
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
        let _ = r.join();
    }
    let status = child
        .wait()
        .map_err(|e| LocalError::Internal(format!("waiting for container {index}: {e}")))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
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

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

fn signal_group(pid: u32, sig: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process_group(pid, sig);
    }
}
