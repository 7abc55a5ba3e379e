//! The few system calls the standard library does not offer, each wrapped in a safe function.
//!
//! This is the only module with `unsafe` code: every block is a plain libc call on values we
//! own, with the reason it is sound next to it.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// Makes this process non-dumpable: its `/proc/<pid>/environ` (which still shows the token
/// we received, whatever we remove from our own environment) can then only be read by root,
/// not by the steps, which run as the same user.
pub fn set_non_dumpable() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

unsafe extern "C" {
    /// The process environment block (`char **environ`).
    static environ: *const *mut libc::c_char;
}

/// Overwrites the value of `name` in the environment block the kernel shows in
/// `/proc/<pid>/environ` (the strings the process started with), so a process allowed to read
/// that file (root with `CAP_SYS_PTRACE`, which non-dumpable does not stop) does not find it
/// there either. Call it once, after copying the environment, before starting threads.
pub fn scrub_env_value(name: &str) {
    let prefix = format!("{name}=");
    // SAFETY: `environ` is the NULL-terminated array of NUL-terminated strings of this
    // process; we are single-threaded here and nobody holds references into it (std copies
    // what it reads). Bytes are overwritten in place up to, not including, each string's NUL.
    unsafe {
        let mut entry = environ;
        if entry.is_null() {
            return;
        }
        while !(*entry).is_null() {
            let text = *entry;
            let bytes = std::ffi::CStr::from_ptr(text).to_bytes();
            if bytes.starts_with(prefix.as_bytes()) {
                let mut at = text.add(prefix.len());
                while *at != 0 {
                    *at = b'*' as libc::c_char;
                    at = at.add(1);
                }
            }
            entry = entry.add(1);
        }
    }
}

/// Orphans of our descendants become our children (as they would if we were PID 1), so we can
/// reap them, pause them and kill them.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends `signal` to a process; `false` when it does not exist (any more).
pub fn kill(pid: u32, signal: i32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with a positive pid only: never a broadcast to "every process".
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Sends `signal` to every process of a process group.
pub fn kill_group(pgid: u32, signal: i32) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return false;
    };
    if pgid <= 1 {
        return false;
    }
    // SAFETY: killpg with a group id > 1 only (0 would be our own group).
    unsafe { libc::killpg(pgid, signal) == 0 }
}

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// Reaps one finished child without blocking: any child, including orphans given to us.
pub fn reap_one() -> Option<(u32, Exit)> {
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid writes only into `status`, which we own.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    let exit = if libc::WIFEXITED(status) {
        Exit::Code(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        // Stopped or continued: we ask for neither (no WUNTRACED), so this does not happen.
        return None;
    };
    Some((u32::try_from(pid).unwrap_or(0), exit))
}

/// Takes the listening Unix socket our parent left open at descriptor `fd` (the local runner
/// passes its control socket through runc) and keeps it from the steps we start
/// (close-on-exec). Anything else there is an error: we must not take over a descriptor we
/// were not given for this.
pub fn inherited_unix_listener(fd: RawFd) -> io::Result<std::os::unix::net::UnixListener> {
    let refuse = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} {what}"),
        )
    };
    if fd <= 2 {
        return Err(refuse("is standard input, output or error"));
    }
    // SAFETY: fcntl on an integer; EBADF when nothing is open there.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let option = |name: libc::c_int| -> io::Result<libc::c_int> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into the local int it points at.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                name,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(value)
        }
    };
    if option(libc::SO_DOMAIN).map_err(|_| refuse("is not a socket"))? != libc::AF_UNIX {
        return Err(refuse("is not a Unix socket"));
    }
    if option(libc::SO_ACCEPTCONN)? == 0 {
        return Err(refuse("is not a listening socket"));
    }
    // SAFETY: fcntl on the descriptor checked open above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open, a listening Unix socket, and was handed to this process
    // for this one use; it is taken once (settings are read once), so nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(std::os::unix::net::UnixListener::from(owned))
}

/// Sets `O_NONBLOCK` on a descriptor we own.
pub fn set_nonblocking(fd: &impl AsRawFd) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl on a descriptor borrowed from a live owner.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits until one of `fds` is readable (or hung up), or the timeout passes; an interrupting
/// signal counts as a wake-up.
pub fn wait_readable(fds: &[RawFd], timeout: Option<Duration>) -> io::Result<()> {
    let mut polls: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: *fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = match timeout {
        None => -1,
        // Round up so we do not spin on a sub-millisecond rest.
        Some(d) => i32::try_from(d.as_micros().div_ceil(1000)).unwrap_or(i32::MAX),
    };
    let n = libc::nfds_t::try_from(polls.len()).unwrap_or(0);
    // SAFETY: poll reads and writes exactly `n` entries of the vector we own.
    let rc = unsafe { libc::poll(polls.as_mut_ptr(), n, ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(());
        }
        return Err(err);
    }
    Ok(())
}

/// The write end of the self-pipe, for the signal handler (`-1`: none).
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    let byte = u8::try_from(signal).unwrap_or(0);
    // SAFETY: only async-signal-safe calls (errno access, write); errno is restored so the
    // interrupted code does not see ours.
    unsafe {
        let errno = *libc::__errno_location();
        libc::write(fd, (&byte as *const u8).cast(), 1);
        *libc::__errno_location() = errno;
    }
}

/// Signals delivered as bytes on a pipe, so the main loop can wait for them with `poll`
/// together with the step's output (the classic self-pipe).
pub struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SignalPipe {
    /// Installs the handler for `signals`. `SIGCHLD` is reported only for children that end
    /// (not for those we stop to pause them).
    pub fn install(signals: &[i32]) -> io::Result<SignalPipe> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two descriptors into the array we own.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        SIGNAL_PIPE.store(write.as_raw_fd(), Ordering::Relaxed);
        for &signal in signals {
            // SAFETY: a zeroed sigaction is valid; we set a plain handler (no SA_SIGINFO) and
            // an empty mask before installing it.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(SignalPipe {
            read,
            _write: write,
        })
    }

    /// The descriptor to wait on.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// The signals received since the last call, in order.
    pub fn take(&self) -> Vec<i32> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: read into a buffer we own, at most its length.
            let n =
                unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let n = usize::try_from(n).unwrap_or(0);
            out.extend(buf[..n].iter().map(|b| i32::from(*b)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    #[test]
    fn only_a_listening_unix_socket_is_taken_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s");
        let fd = std::os::unix::net::UnixListener::bind(&path)
            .expect("bound")
            .into_raw_fd();
        let listener = inherited_unix_listener(fd).expect("taken over");
        // Steps must not inherit it.
        // SAFETY: fcntl on the descriptor `listener` owns.
        let flags = unsafe { libc::fcntl(listener.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        let _client = std::os::unix::net::UnixStream::connect(&path).expect("connects");
        assert!(listener.accept().is_ok());

        let tcp = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("tcp")
            .into_raw_fd();
        let err = inherited_unix_listener(tcp).expect_err("tcp");
        assert!(err.to_string().contains("not a Unix socket"), "{err}");
        let file = std::fs::File::open(&path)
            .map(IntoRawFd::into_raw_fd)
            .or_else(|_| std::fs::File::open("/").map(IntoRawFd::into_raw_fd))
            .expect("a file");
        let err = inherited_unix_listener(file).expect_err("file");
        assert!(err.to_string().contains("not a socket"), "{err}");
        let connected = std::os::unix::net::UnixStream::connect(&path)
            .expect("connects")
            .into_raw_fd();
        let err = inherited_unix_listener(connected).expect_err("not listening");
        assert!(err.to_string().contains("not a listening socket"), "{err}");
        assert!(inherited_unix_listener(1).is_err());
        assert!(inherited_unix_listener(100_000).is_err());
    }
}
