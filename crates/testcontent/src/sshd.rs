//! OpenSSH's `sshd` on a free loopback port, serving the repositories of a [`crate::Repos`]
//! as `ssh://root@127.0.0.1:PORT/<path>` to one client key.
//!
//! sshd running as root insists on its privilege-separation directory `/run/sshd`. To leave
//! the host's `/run` alone, sshd runs in a private mount namespace (`unshare -m`) with a
//! tmpfs of its own on `/run`. Its host key, client key, `authorized_keys` and config live in
//! a temporary directory. So it needs root, `unshare` and Debian's `openssh-server`; without
//! them the test is a counted skip (a failure under `CI`).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testwerk_testinputs::{available, which};

/// A running sshd. Dropping it stops the process and removes its keys.
pub struct SshServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl SshServer {
    /// Serves `root` (a [`crate::Repos::root`]), or `None` (a counted skip) without root,
    /// `sshd`, `ssh-keygen` or `unshare`.
    ///
    /// # Panics
    /// When sshd does not listen within 10 s.
    #[track_caller]
    pub fn start(root: &Path) -> Option<Self> {
        let sshd = Some(PathBuf::from("/usr/sbin/sshd")).filter(|p| p.is_file());
        let sshd = available(sshd, "sshd", "apt-get install -y openssh-server")?;
        let keygen = available(
            which("ssh-keygen"),
            "ssh-keygen",
            "apt-get install -y openssh-client",
        )?;
        let unshare = available(which("unshare"), "unshare", "apt-get install -y util-linux")?;
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        available(
            is_root.then_some(()),
            "root (sshd on loopback runs in a private mount namespace)",
            "run the tests as root",
        )?;
        let dir = tempfile::tempdir().expect("a temporary directory for sshd");
        for key in ["host", "client"] {
            let status = Command::new(&keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "testcontent", "-f"])
                .arg(dir.path().join(key))
                .status()
                .expect("run ssh-keygen");
            assert!(status.success(), "ssh-keygen failed");
        }
        std::fs::copy(
            dir.path().join("client.pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("write authorized_keys");
        for _ in 0..5 {
            let port = crate::free_port();
            let config = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                 StrictModes no\nUsePAM no\nPidFile none\n",
                d = dir.path().display()
            );
            let config_path = dir.path().join("sshd_config");
            std::fs::write(&config_path, config).expect("write sshd_config");
            let script = format!(
                "mount -t tmpfs tmpfs /run && mkdir -p /run/sshd && exec {} -D -e -f {}",
                sshd.display(),
                config_path.display()
            );
            let mut child = Command::new(&unshare)
                .args(["-m", "--propagation", "private", "sh", "-c", &script])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start sshd");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Self {
                        child,
                        port,
                        dir,
                        root: root.to_owned(),
                    });
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                assert!(Instant::now() < deadline, "sshd did not listen within 10 s");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("sshd exited at once on five free ports");
    }

    /// The URL of repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!(
            "ssh://root@127.0.0.1:{}{}/{name}",
            self.port,
            self.root.display()
        )
    }

    /// The private key sshd accepts (OpenSSH format).
    pub fn client_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("client")).expect("read the client key")
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
