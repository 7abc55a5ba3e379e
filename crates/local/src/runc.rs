//! Driving Debian's `runc` (1.1): where it is, its state directory, starting, signalling,
//! deleting containers, reading their OOM kills, and cleaning up after a runner that died.
//!
//! Every container id is `tw-<runner pid>-<execution>-<index>`, so the next start can tell a
//! container whose runner is gone (and delete it) from one of a run still going on.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::LocalError;

/// Debian's package path, used when `runc` is not on `PATH`.
const DEBIAN_RUNC: &str = "/usr/sbin/runc";

/// One `runc` with its own state directory (`--root`).
#[derive(Clone, Debug)]
pub struct Runc {
    pub program: PathBuf,
    /// runc's state directory for our containers, e.g. `<store dir>/runc`.
    pub root: PathBuf,
    /// Not root: runc runs the container in a user namespace (`--rootless`).
    pub rootless: bool,
}

impl Runc {
    /// `$TESTWERK_RUNC`, else `runc` on `PATH`, else `/usr/sbin/runc`.
    pub fn find(root: PathBuf) -> Result<Runc, LocalError> {
        let program = match std::env::var_os("TESTWERK_RUNC") {
            Some(p) => {
                let p = PathBuf::from(p);
                if !p.is_file() {
                    return Err(LocalError::Setup(format!(
                        "TESTWERK_RUNC points at {}, which does not exist; install runc (`apt-get install runc`) or fix the variable",
                        p.display()
                    )));
                }
                p
            }
            None => on_path("runc")
                .or_else(|| Some(PathBuf::from(DEBIAN_RUNC)).filter(|p| p.is_file()))
                .ok_or_else(|| {
                    LocalError::Setup(
                        "runc is needed to run steps locally and was not found (not on PATH, not at /usr/sbin/runc): install it with `apt-get install runc`, or point TESTWERK_RUNC at it".into(),
                    )
                })?,
        };
        std::fs::create_dir_all(&root).map_err(|e| LocalError::io(&root, e))?;
        Ok(Runc {
            program,
            root,
            rootless: !rustix::process::geteuid().is_root(),
        })
    }

    /// A `runc --root <root> …` command.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg("--root").arg(&self.root);
        if self.rootless {
            cmd.arg("--rootless").arg("true");
        }
        cmd
    }

    /// Runs a runc subcommand to its end; its error output becomes the error.
    pub fn call(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", self.program.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "runc {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Sends `signal` to the container's PID 1, or with `all`, to every process of its
    /// cgroup. A container that already ended is not an error.
    pub fn kill(&self, id: &str, signal: &str, all: bool) {
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([id, signal]);
        if let Err(e) = self.call(&args) {
            tracing::debug!("{e}");
        }
    }

    /// Deletes the container (killing what is left of it) and its cgroup.
    pub fn delete(&self, id: &str) -> Result<(), String> {
        self.call(&["delete", "--force", id]).map(|_| ())
    }

    /// Deletes the containers of runners that are gone (killed, or crashed): their
    /// watchdog normally does, this catches the rest. Returns the ids deleted.
    pub fn clean_stale(&self) -> Vec<String> {
        // runc keeps one directory per container under its root: reading it is what
        // `runc list` does, without starting runc.
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut deleted = Vec::new();
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            // Not ours, or its runner still runs.
            if owner(&id).is_none_or(alive) {
                continue;
            }
            self.kill(&id, "KILL", true);
            match self.delete(&id) {
                Ok(()) => deleted.push(id),
                Err(e) => tracing::warn!("stale container {id}: {e}"),
            }
        }
        deleted
    }

    /// Whether runc still knows container `id` (it deletes it itself when `runc run` ends).
    pub fn exists(&self, id: &str) -> bool {
        self.root.join(id).exists()
    }

    /// Starts the watchdog of a run: a shell in its own process group that waits for this
    /// runner's end (the pipe on its stdin closes, whatever killed us) and then kills and
    /// deletes every container whose id starts with `prefix` (their overlays are mounted in
    /// their own mount namespaces, so they go with them). On a normal end the runner kills the watchdog first
    /// ([`Watchdog::disarm`]).
    pub fn watchdog(&self, prefix: &str) -> Result<Watchdog, LocalError> {
        // `$1` the id prefix, `$2` runc's state dir, then runc.
        let script = r#"prefix=$1; state=$2; shift 2
read -r _ || true
for d in "$state/$prefix"-*; do
  [ -e "$d" ] || continue
  id=${d##*/}
  "$@" kill --all "$id" KILL >/dev/null 2>&1
  "$@" delete --force "$id" >/dev/null 2>&1
done
exit 0"#;
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(script)
            .arg("watchdog")
            .arg(prefix)
            .arg(&self.root)
            .arg(&self.program)
            .arg("--root")
            .arg(&self.root);
        if self.rootless {
            cmd.arg("--rootless").arg("true");
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Out of the terminal's process group: Ctrl-C is for the runner, which stops the
        // container in order; the watchdog must outlive it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .map_err(|e| LocalError::io(Path::new("/bin/sh"), e))?;
        Ok(Watchdog { child })
    }
}

/// Whether this machine lets an ordinary user create user namespaces, which rootless runc
/// needs; the error names the setting that forbids it.
pub fn check_user_namespaces() -> Result<(), LocalError> {
    let setting = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|v| v.trim().to_owned())
    };
    let refused = |what: &str| {
        Err(LocalError::Setup(format!(
            "runc needs user namespaces to run as an ordinary user, and {what}; run testwerk as root"
        )))
    };
    if setting("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return refused(
            "they are disabled (`sysctl user.max_user_namespaces` is 0: set it above 0)",
        );
    }
    if setting("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return refused(
            "this kernel allows them to root only (`sysctl kernel.unprivileged_userns_clone=1` allows them)",
        );
    }
    if setting("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return refused(
            "AppArmor restricts them (`sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or an AppArmor profile for runc allowing `userns`)",
        );
    }
    Ok(())
}

/// A container's watchdog process (see [`Runc::watchdog`]).
pub struct Watchdog {
    child: Child,
}

impl Watchdog {
    /// The container is gone: the watchdog is no longer needed.
    pub fn disarm(mut self) {
        if let Err(e) = self.child.kill() {
            tracing::debug!("watchdog: {e}");
        }
        if let Err(e) = self.child.wait() {
            tracing::debug!("watchdog: {e}");
        }
    }
}

/// The prefix of every container id of execution `name` run by this process
/// (`tw-<pid>-<name>`); container `n` is `<prefix>-<n>`, and the run's cgroup is named after it.
pub fn run_prefix(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    format!("tw-{}-{clean}", std::process::id())
}

/// The runner pid in an id or prefix made by [`run_prefix`].
pub fn owner(id: &str) -> Option<i32> {
    id.strip_prefix("tw-")?.split('-').next()?.parse().ok()
}

/// Whether process `pid` exists.
pub fn alive(pid: i32) -> bool {
    match rustix::process::Pid::from_raw(pid) {
        // EPERM: it exists and belongs to someone else.
        Some(p) => !matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        ),
        None => false,
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_their_runner() {
        let id = format!("{}-2", run_prefix("hello world-1"));
        assert_eq!(owner(&id), Some(std::process::id() as i32));
        assert!(id.ends_with("hello_world-1-2"), "{id}");
        assert!(alive(std::process::id() as i32));
    }
}
