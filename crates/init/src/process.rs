//! Starting a step's command and finding, pausing and killing the processes it leaves.
//!
//! Each command runs in its own process group with stdout and stderr on one pipe. Processes
//! may leave the group (`setsid`), so signals also go to every descendant found in `/proc`
//! (processes may vanish while we read it: such entries are skipped). Orphans are re-parented
//! to us (we are PID 1 in a Pod, and a child subreaper elsewhere), so "our descendants" is
//! everything a step started.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, PipeReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use crate::sys;

/// A started command.
pub struct Started {
    pub pid: u32,
    /// The merged stdout and stderr.
    pub output: PipeReader,
}

/// Why a command could not start, with the exit code a shell would report.
#[derive(Debug)]
pub struct StartError {
    pub code: i32,
    pub message: String,
}

/// Starts `argv` with exactly `env`, in its own process group, in the current directory.
pub fn start(argv: &[String], env: &[(OsString, OsString)]) -> Result<Started, StartError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(StartError {
            code: 127,
            message: "the command is empty".into(),
        });
    };
    let internal = |e: io::Error| StartError {
        code: 126,
        message: format!("cannot create the output pipe: {e}"),
    };
    let (reader, writer) = io::pipe().map_err(internal)?;
    let stderr = writer.try_clone().map_err(internal)?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(stderr)
        .process_group(0);
    let child = command.spawn().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => StartError {
            code: 127,
            message: format!("command not found: {program}"),
        },
        io::ErrorKind::PermissionDenied => StartError {
            code: 126,
            message: format!("cannot run {program}: permission denied"),
        },
        _ => StartError {
            code: 126,
            message: format!("cannot run {program}: {e}"),
        },
    })?;
    // Our copies of the write end must close, or we would never see the end of the output.
    drop(command);
    sys::set_nonblocking(&reader).map_err(internal)?;
    Ok(Started {
        pid: child.id(),
        output: reader,
    })
}

/// Every process below `root` in the process tree (children, grandchildren…).
pub fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Gone since the listing: skip.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(ppid) = parent_of(&stat) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(p) = queue.pop() {
        if let Some(kids) = children.get(&p) {
            for &k in kids {
                if !out.contains(&k) && k != root {
                    out.push(k);
                    queue.push(k);
                }
            }
        }
    }
    out
}

/// The parent pid from `/proc/<pid>/stat` (`pid (comm) state ppid …`; comm may hold spaces
/// and parentheses, so read after the last `)`).
fn parent_of(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Signals a step: its process group and every descendant of its main process.
pub fn signal_step(pid: u32, signal: i32) {
    sys::kill_group(pid, signal);
    for p in descendants(pid) {
        sys::kill(p, signal);
    }
    sys::kill(pid, signal);
}

/// Signals everything we started (all our descendants).
pub fn signal_all(signal: i32) {
    for p in descendants(std::process::id()) {
        sys::kill(p, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_from_stat_with_odd_names() {
        assert_eq!(parent_of("42 (a) b) c) S 7 42 42 0"), Some(7));
        assert_eq!(parent_of("1 (init) S 0 1 1"), Some(0));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn missing_commands_are_127() {
        let err = start(&["/nonexistent/cmd".into()], &[])
            .err()
            .expect("fails");
        assert_eq!(err.code, 127);
        assert!(err.message.contains("/nonexistent/cmd"));
        assert_eq!(start(&[], &[]).err().map(|e| e.code), Some(127));
    }
}
