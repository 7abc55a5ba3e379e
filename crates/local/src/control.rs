//! Pausing, resuming and aborting a local run from another process on this machine.
//!
//! The runner binds a Unix socket, `control.sock`, in the execution's directory (0700, and
//! the socket 0600: this user's only), and hands the listening socket to each container's
//! `testwerk-init` as descriptor 3 (`runc run --preserve-fds 1`, `TW_CONTROL_ADDR=fd:3`).
//! So no port is open (binding port 0 and handing its number over was a race: another process
//! could take it in between), and the socket's file is not inside any container: a step, which
//! runs as init's user, can neither reach nor replace it to catch the token of the next
//! `testwerk pause`. The socket outlives each container, so a command sent between two
//! containers is answered by the next one's `init`. Clients send the execution's protocol token
//! first (`testwerk_protocol::control`). Where the socket is, the token and the runner's pid are
//! written to `control.json` beside it (0600), and nowhere else: never in logs or the store.
//! Abort is SIGTERM to the runner, which aborts the running step as Ctrl-C does.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use testwerk_protocol::control::{DONE, FD_PREFIX, LOCAL_FD, REFUSED, request};

pub use testwerk_protocol::control::{PAUSE, RESUME};

/// The file in the execution's directory.
pub const FILE: &str = "control.json";

/// The socket in the execution's directory.
pub const SOCKET: &str = "control.sock";

/// How long a command may take (a command sent between two containers waits for the next).
const TIMEOUT: Duration = Duration::from_secs(10);

/// What another process needs to control a local run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlFile {
    /// The execution's id in the store.
    pub execution: String,
    /// The run's control socket (`<execution dir>/control.sock`).
    pub socket: PathBuf,
    pub token: String,
    /// The `testwerk run` process.
    pub pid: u32,
}

impl ControlFile {
    /// Writes the file into `dir` (created if needed), readable by its owner only.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        private_dir(dir)?;
        let path = dir.join(FILE);
        // A file left by an earlier run of the same name is replaced, never reused.
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let json = serde_json::to_vec(self).map_err(io::Error::other)?;
        file.write_all(&json)
    }

    /// Reads the file of the run whose directory is `dir`.
    pub fn read(dir: &Path) -> Result<ControlFile, String> {
        let path = dir.join(FILE);
        let text = std::fs::read(&path).map_err(|e| {
            format!(
                "{}: {e} (the run is not running on this machine, or was started by another user)",
                path.display()
            )
        })?;
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Sends [`PAUSE`] or [`RESUME`] to the running container's `init` and waits for its
    /// answer.
    pub fn send(&self, command: u8) -> Result<(), String> {
        let socket = &self.socket;
        let talk = |path: &Path| -> io::Result<u8> {
            let mut stream = UnixStream::connect(path)?;
            stream.set_read_timeout(Some(TIMEOUT))?;
            stream.set_write_timeout(Some(TIMEOUT))?;
            stream.write_all(&request(&self.token, command))?;
            let mut answer = [0u8; 1];
            stream.read_exact(&mut answer)?;
            Ok(answer[0])
        };
        let at = socket.display();
        match by_short_path(socket, talk) {
            Ok(DONE) => Ok(()),
            Ok(REFUSED) => Err(format!("init at {at} refused the token")),
            Ok(other) => Err(format!("init at {at} answered {other:#04x}")),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
                ) =>
            {
                Err(format!("nothing listens at {at}: the run has ended"))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(format!(
                    "no container of the run answered within {} s at {at}",
                    TIMEOUT.as_secs()
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(format!(
                "the container at {at} ended before answering; try again"
            )),
            Err(e) => Err(format!("init at {at}: {e}")),
        }
    }

    /// Asks the runner to abort, as Ctrl-C would.
    pub fn abort(&self) -> Result<(), String> {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.pid).unwrap_or(0))
            .ok_or_else(|| format!("{FILE} names no process"))?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .map_err(|e| format!("cannot signal the runner (pid {}): {e}", self.pid))
    }
}

/// Binds the run's control socket in `dir` (created private, 0700, if needed): `dir/control.sock`,
/// readable and writable by this user only. A socket left by an earlier run of the same name
/// is replaced.
pub fn bind(dir: &Path) -> io::Result<UnixListener> {
    private_dir(dir)?;
    let path = dir.join(SOCKET);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    // The directory is already this user's only; the mode is for whoever copies it elsewhere.
    let listener = by_short_path(&path, |p| UnixListener::bind(p))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Hands `listener` to the process `cmd` starts (runc, which passes it on to the container's
/// init with `--preserve-fds 1`) as descriptor [`LOCAL_FD`]; returns the `TW_CONTROL_ADDR`
/// that tells init so. The only `unsafe` of this crate: std has no safe way to place a
/// descriptor in a child.
#[allow(unsafe_code)]
pub fn pass(cmd: &mut Command, listener: &UnixListener) -> String {
    let raw = listener.as_fd().as_raw_fd();
    let hand_over = move || -> io::Result<()> {
        // SAFETY: `raw` is the listener the caller keeps alive through the spawn (borrowed).
        // Whatever the new process has at 3 is a close-on-exec copy of a parent descriptor,
        // which dup2 closes there only. (Were it std's exec-error pipe, a failed exec of runc
        // would show as runc exiting 1 instead of a spawn error: runc is checked to exist.)
        let from = unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) };
        let errno = |e: rustix::io::Errno| io::Error::from_raw_os_error(e.raw_os_error());
        if raw == LOCAL_FD {
            // Already there: dup2 onto itself would keep close-on-exec.
            rustix::io::fcntl_setfd(from, rustix::io::FdFlags::empty()).map_err(errno)
        } else {
            // SAFETY: as above; the OwnedFd is forgotten, never closed, by this closure.
            let mut to = std::mem::ManuallyDrop::new(unsafe {
                <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(LOCAL_FD)
            });
            rustix::io::dup2(from, &mut to).map_err(errno)
        }
    };
    // SAFETY: the closure runs between fork and exec; it makes two system calls (no
    // allocation, no lock) on descriptors, which is async-signal-safe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, hand_over);
    }
    format!("{FD_PREFIX}{LOCAL_FD}")
}

/// Creates `dir` (and its parents) if needed, and makes it this user's only.
fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// The longest path a Unix socket address holds (`sun_path`, with its NUL).
const SUN_PATH_MAX: usize = 107;

/// Calls `f` with `path`, or, when it is too long for a socket address (a store deep in a
/// home directory), with `/proc/self/fd/<n>/<name>` through a descriptor of its directory.
fn by_short_path<T>(path: &Path, f: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return f(path);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return f(path);
    };
    let dir = rustix::fs::open(
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| io::Error::from_raw_os_error(e.raw_os_error()))?;
    let short = Path::new("/proc/self/fd")
        .join(dir.as_raw_fd().to_string())
        .join(name);
    f(&short)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers one client as init would (after the token line and a command byte).
    fn answer_once(listener: UnixListener, token: &'static str) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut got = vec![0u8; token.len() + 2];
                if stream.read_exact(&mut got).is_ok() {
                    let ok = got.starts_with(token.as_bytes());
                    let _ = stream.write_all(&[if ok { DONE } else { REFUSED }]);
                }
            }
        })
    }

    #[test]
    fn the_file_and_the_socket_are_private_and_work_at_any_path_length() {
        let base = std::env::temp_dir().join(format!("testwerk-control-{}", std::process::id()));
        // Over the 107 bytes a socket address holds.
        let dir = base.join("a-directory-name-long-enough".repeat(4));
        let listener = bind(&dir).expect("bound");
        let file = ControlFile {
            execution: "e".into(),
            socket: dir.join(SOCKET),
            token: "t0ken".into(),
            pid: 42,
        };
        assert!(file.socket.as_os_str().len() > SUN_PATH_MAX);
        file.write(&dir).expect("written");
        file.write(&dir).expect("written again");
        for (path, expected) in [
            (dir.clone(), 0o700),
            (dir.join(FILE), 0o600),
            (file.socket.clone(), 0o600),
        ] {
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, expected, "{}", path.display());
        }
        assert_eq!(ControlFile::read(&dir), Ok(file.clone()));
        let server = answer_once(listener.try_clone().expect("clone"), "t0ken");
        assert_eq!(file.send(PAUSE), Ok(()));
        server.join().expect("server");
        let wrong = ControlFile {
            token: "guess".into(),
            ..file.clone()
        };
        let server = answer_once(listener.try_clone().expect("clone"), "t0ken");
        assert!(wrong.send(PAUSE).expect_err("refused").contains("refused"));
        server.join().expect("server");
        // The run is over: its socket is gone.
        drop(listener);
        std::fs::remove_file(&file.socket).expect("removed");
        assert!(file.send(PAUSE).expect_err("nobody").contains("has ended"));
        std::fs::remove_dir_all(&base).expect("clean up");
    }
}
