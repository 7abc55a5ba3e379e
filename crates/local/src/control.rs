//! Pausing, resuming and aborting a local run from another process on this machine.
//!
//! The run's `testwerk-init` listens on a loopback port chosen for the run and wants the
//! execution's protocol token first (`testwerk_protocol::control`). Where it listens, the
//! token and the runner's pid are written to `control.json` in the execution's directory,
//! readable by its owner only (0600), and nowhere else: never in logs or the store. Abort is
//! SIGTERM to the runner, which aborts the running step as Ctrl-C does.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use testwerk_protocol::control::{DONE, REFUSED, request};

pub use testwerk_protocol::control::{PAUSE, RESUME};

/// The file in the execution's directory.
pub const FILE: &str = "control.json";

/// How long a command may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What another process needs to control a local run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlFile {
    /// The execution's id in the store.
    pub execution: String,
    /// `127.0.0.1:<port>`, where each container's `init` listens.
    pub addr: String,
    pub token: String,
    /// The `testwerk run` process.
    pub pid: u32,
}

impl ControlFile {
    /// Writes the file into `dir` (created if needed), readable by its owner only.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
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
        let addr = &self.addr;
        let talk = || -> io::Result<u8> {
            let sockaddr = addr
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "not an IP:port"))?;
            let mut stream = TcpStream::connect_timeout(&sockaddr, TIMEOUT)?;
            stream.set_read_timeout(Some(TIMEOUT))?;
            stream.write_all(&request(&self.token, command))?;
            let mut answer = [0u8; 1];
            stream.read_exact(&mut answer)?;
            Ok(answer[0])
        };
        match talk() {
            Ok(DONE) => Ok(()),
            Ok(REFUSED) => Err(format!("init at {addr} refused the token")),
            Ok(other) => Err(format!("init at {addr} answered {other:#04x}")),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Err(format!(
                "nothing listens at {addr}: the run is between containers or has ended"
            )),
            Err(e) => Err(format!("init at {addr}: {e}")),
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

/// A loopback address with a port free now, for a run's `init` to listen on.
pub fn loopback_addr() -> io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_file_is_private_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("testwerk-control-{}", std::process::id()));
        let file = ControlFile {
            execution: "e".into(),
            addr: loopback_addr().expect("a port"),
            token: "t0ken".into(),
            pid: 42,
        };
        file.write(&dir).expect("written");
        file.write(&dir).expect("written again");
        let mode = std::fs::metadata(dir.join(FILE))
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(ControlFile::read(&dir), Ok(file.clone()));
        // Nobody listens there (the port was only reserved).
        assert!(file.send(PAUSE).is_err());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
