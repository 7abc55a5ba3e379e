//! # testwerk-local
//!
//! The embedded default backend: runs a compiled workflow on this machine with no cluster.
//! Each container of the Pod runs, in order, in [runc](https://github.com/opencontainers/runc)
//! (Debian's `runc` 1.1; `$TESTWERK_RUNC`, else `runc` on `PATH`, else `/usr/sbin/runc`),
//! with `testwerk-init` as its PID 1. The runner writes one OCI bundle per container
//! ([`oci`]): `config.json` with
//!
//! - **the root**: in image mode ([`Mode::Images`]) the image's shared, read-only root under a
//!   writable overlay of the container's own ([`overlay`]: the first mount of `config.json`,
//!   on `/`, so runc mounts it inside the container's namespaces and nothing is mounted on
//!   this machine); our own init and toolkit images are an empty read-only root with
//!   this machine's `testwerk-init` at `/init`, the toolkit at `/toolkit` and busybox at
//!   `/.testwerk-bin`. In host mode ([`Mode::Host`], `testwerk run --host`) every container's
//!   root is that same root plus each top-level directory of this machine, bound read-only
//!   and not recursively (nothing mounted below them shows), without `/run` (daemon sockets),
//!   and with this machine's secrets (`/etc/shadow`, `/etc/ssh`, …) masked;
//! - **the Pod's volumes** as bind mounts at their mount paths (emptyDirs such as `/data`,
//!   `/tmp`, `/testkube`, `/.testwerk`, ConfigMaps, Secrets and `content.files` as files,
//!   `subPath`, `readOnly`), see [`layout`];
//! - **the process**: the container's command and args, the image's environment then the
//!   Pod's, the working directory of the container, else the image's, else `/`, the user from
//!   `securityContext` (else the image's `User`, names resolved in its `/etc/passwd`), the
//!   `fsGroup` as a supplementary group, and the Pod's name as hostname;
//! - **Kubernetes' runtime-default confinement** ([`oci::confine`]): containerd's default
//!   capabilities (plus `securityContext.capabilities`), `no_new_privs` (unless
//!   `allowPrivilegeEscalation: true`), a seccomp profile refusing what Docker's default
//!   refuses, containerd's masked and read-only paths, `/sys` read-only, new pid, ipc, uts,
//!   mount and cgroup namespaces, and cgroup limits from `resources.limits` (memory with
//!   memory+swap equal, CPU quota, and 4096 pids by default). The network is the host's, like
//!   `docker run --network host`, or the Pod's own ([`network`]: parallel workers and service
//!   instances, each with an address of its own on a bridge, as root).
//!
//! The Pod's semantics: `activeDeadlineSeconds` and aborts send TERM to `init`, then after a
//! grace `runc kill --all … KILL` to the whole cgroup. Every container of a run sits in the
//! run's cgroup `testwerk/<run>/<index>` ([`cgroup`]); `runc run` deletes its container itself,
//! except one with a memory limit, which is kept until its OOM kill count is read (cgroup v1
//! counts per cgroup) and then deleted. runc runs in its own process group (Ctrl-C reaches
//! only the runner), and each run has a watchdog ([`runc::Runc::watchdog`]) that kills and
//! deletes its containers (their overlays go with their mount namespaces) if the runner dies, even by SIGKILL;
//! the next start deletes containers and cgroups of runners that are gone (their ids are
//! `tw-<runner pid>-…`). A container whose processes the kernel OOM-killed is reported with
//! its memory limit ([`RunEvent::OomKilled`]). The Downward API's `resourceFieldRef` gives
//! the container's limits and requests (this machine's capacity when unset, as a node's).
//!
//! As an ordinary user runc runs rootless: a user namespace maps the container's one user and
//! group to ours. On cgroup v1 no limits can be applied then, and the run says so. Both modes
//! work rootless; image mode needs Linux 5.11 or later (overlayfs in a user namespace), and
//! the run says so on an older kernel, or when user namespaces are disabled.
//!
//! Pause and resume reach each container's `init` through a Unix socket in the execution's
//! private directory, passed to it as a descriptor ([`control`]): no port is opened.
//!
//! Images come through the [`ImageRoots`] seam; this crate never talks to a registry.

pub mod cgroup;
pub mod control;
pub mod elf;
pub mod env;
pub mod images;
pub mod layout;
pub mod network;
pub mod oci;
pub mod overlay;
pub mod quantity;
pub mod runc;
pub mod runner;

use std::path::Path;

pub use elf::is_static_executable;
pub use images::{ImageRoot, ImageRoots};
pub use layout::Programs;
pub use oci::Network;
pub use runc::Runc;
pub use runner::{LocalOptions, Mode, RunEvent, RunOutcome, run};

/// Why a workflow cannot run locally, or what went wrong around it.
#[derive(Debug)]
pub enum LocalError {
    /// The workflow needs something the local runner does not provide.
    Unsupported(String),
    /// This machine lacks something the runner needs (runc, busybox, root for image mode);
    /// the message says how to get it.
    Setup(String),
    Io {
        path: String,
        error: std::io::Error,
    },
    Internal(String),
}

impl LocalError {
    pub fn io(path: &Path, error: std::io::Error) -> Self {
        LocalError::Io {
            path: path.display().to_string(),
            error,
        }
    }
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalError::Unsupported(m) => write!(f, "not supported by the local runner: {m}"),
            LocalError::Setup(m) => f.write_str(m),
            LocalError::Io { path, error } => write!(f, "{path}: {error}"),
            LocalError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

use std::fmt;

impl std::error::Error for LocalError {}
