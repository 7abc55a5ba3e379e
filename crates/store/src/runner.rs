//! [`RunnerIdentity`]: which process executes an execution, and whether it still lives.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The process that executes an execution: enough to tell later whether it is still alive.
///
/// `process_start` tells a live runner from an unrelated process that was given the same pid
/// after the runner died. On Linux it is `<boot id>:<start time in clock ticks>` from `/proc`;
/// elsewhere it is `None` and only the pid is checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RunnerIdentity {
    /// The host the runner runs on (in Kubernetes, the Pod's name).
    pub hostname: String,
    /// The runner's process id on that host.
    pub pid: u32,
    /// An opaque token for when the process started, if the platform can tell.
    pub process_start: Option<String>,
}

impl RunnerIdentity {
    /// The identity of the calling process.
    pub fn current() -> RunnerIdentity {
        static CURRENT: OnceLock<RunnerIdentity> = OnceLock::new();
        CURRENT
            .get_or_init(|| {
                let pid = std::process::id();
                RunnerIdentity {
                    hostname: hostname(),
                    pid,
                    process_start: process_start(pid),
                }
            })
            .clone()
    }

    /// Whether the runner is still alive, as far as this process can tell.
    pub(crate) fn liveness(&self) -> Liveness {
        if self.hostname != RunnerIdentity::current().hostname {
            return Liveness::Unknown;
        }
        match process_state(self.pid) {
            ProcessState::Gone => Liveness::Gone,
            ProcessState::Unknown => Liveness::Unknown,
            ProcessState::Running { start } => match (&self.process_start, start) {
                (Some(recorded), Some(now)) if *recorded != now => Liveness::Gone,
                _ => Liveness::Alive,
            },
        }
    }
}

impl fmt::Display for RunnerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.hostname, self.pid)
    }
}

/// What [`RunnerIdentity::liveness`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// The process runs.
    Alive,
    /// The process is gone (or its pid now belongs to another process).
    Gone,
    /// Cannot tell: another host, or a platform without a way to look.
    Unknown,
}

enum ProcessState {
    Running { start: Option<String> },
    Gone,
    Unknown,
}

fn hostname() -> String {
    let from_kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    let from_env = || {
        std::env::var("HOSTNAME")
            .or_else(|_| std::env::var("COMPUTERNAME"))
            .ok()
    };
    let from_command = || {
        let out = std::process::Command::new("hostname").output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    from_kernel
        .or_else(from_env)
        .or_else(from_command)
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(target_os = "linux")]
fn process_start(pid: u32) -> Option<String> {
    linux_stat(pid).map(|stat| stat.start)
}

#[cfg(target_os = "linux")]
fn process_state(pid: u32) -> ProcessState {
    match linux_stat(pid) {
        // Zombies have exited; only their parent has not reaped them yet.
        Some(stat) if matches!(stat.state, 'Z' | 'X' | 'x') => ProcessState::Gone,
        Some(stat) => ProcessState::Running {
            start: Some(stat.start),
        },
        None if std::path::Path::new("/proc/self/stat").exists() => ProcessState::Gone,
        None => ProcessState::Unknown,
    }
}

#[cfg(target_os = "linux")]
struct LinuxStat {
    state: char,
    start: String,
}

/// The state and start token of a process from `/proc/<pid>/stat`.
#[cfg(target_os = "linux")]
fn linux_stat(pid: u32) -> Option<LinuxStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; comm may itself contain spaces and parentheses.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `starttime` is field 22 of the line, the 20th after comm.
    let start_ticks = fields.nth(18)?;
    static BOOT_ID: OnceLock<Option<String>> = OnceLock::new();
    let boot_id = BOOT_ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|id| id.trim().to_owned())
    });
    let start = match boot_id {
        Some(boot) => format!("{boot}:{start_ticks}"),
        None => start_ticks.to_owned(),
    };
    Some(LinuxStat { state, start })
}

#[cfg(all(unix, not(target_os = "linux")))]
fn process_start(_pid: u32) -> Option<String> {
    None
}

/// Asks `ps`, which every Unix has, whether the process exists.
#[cfg(all(unix, not(target_os = "linux")))]
fn process_state(pid: u32) -> ProcessState {
    let out = std::process::Command::new("ps")
        .args(["-p", &pid.to_string(), "-o", "pid="])
        .output();
    match out {
        Ok(out) if out.status.success() => ProcessState::Running { start: None },
        Ok(out) if out.stdout.iter().all(u8::is_ascii_whitespace) => ProcessState::Gone,
        _ => ProcessState::Unknown,
    }
}

#[cfg(not(unix))]
fn process_start(_pid: u32) -> Option<String> {
    None
}

#[cfg(not(unix))]
fn process_state(_pid: u32) -> ProcessState {
    ProcessState::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_process_is_alive() {
        let me = RunnerIdentity::current();
        assert_eq!(me.pid, std::process::id());
        assert!(!me.hostname.is_empty());
        assert_eq!(me.liveness(), Liveness::Alive);
    }

    #[test]
    fn another_host_is_unknown() {
        let elsewhere = RunnerIdentity {
            hostname: format!("{}-elsewhere", RunnerIdentity::current().hostname),
            ..RunnerIdentity::current()
        };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_reused_pid_is_gone() {
        let me = RunnerIdentity::current();
        assert!(me.process_start.is_some());
        let impostor = RunnerIdentity {
            process_start: Some("another-boot:1".to_owned()),
            ..me
        };
        assert_eq!(impostor.liveness(), Liveness::Gone);
    }
}
