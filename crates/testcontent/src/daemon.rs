//! `git daemon` (the `git://` protocol, read-only, no auth) on a free loopback port.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running daemon. Dropping it stops the process.
pub struct GitDaemon {
    child: Child,
    port: u16,
}

impl GitDaemon {
    /// Serves every repository under `root`, or `None` when `git` is missing.
    ///
    /// # Panics
    /// When the daemon does not listen within 10 s (a broken machine, not a skip).
    #[track_caller]
    pub fn start(root: &Path) -> Option<Self> {
        let git = crate::git()?;
        // The port is picked and released before the daemon binds it; another process can
        // take it in between, so a daemon that exits at once is retried on a new port.
        for _ in 0..5 {
            let port = crate::free_port();
            let mut child = Command::new(&git)
                .arg("daemon")
                .arg("--reuseaddr")
                .arg("--export-all")
                .arg("--listen=127.0.0.1")
                .arg(format!("--port={port}"))
                .arg(format!("--base-path={}", root.display()))
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start git daemon");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Self { child, port });
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "git daemon did not listen on 127.0.0.1:{port} within 10 s"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("git daemon exited at once on five free ports");
    }

    /// `git://127.0.0.1:PORT/`: a repository `org/app` is `{base}org/app`.
    pub fn base_url(&self) -> String {
        format!("git://127.0.0.1:{}/", self.port)
    }

    /// The URL of repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}{name}", self.base_url())
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
