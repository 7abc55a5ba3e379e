//! A `docker-registry` process (distribution 2.8, Debian's package) on a free loopback port,
//! storing into a temporary directory; stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use testwerk_testinputs::{available, which};

/// How the registry authenticates pulls and pushes.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    /// Anyone may pull and push.
    #[default]
    Anonymous,
    /// htpasswd (bcrypt) users: basic auth for everything.
    Basic(Vec<(String, String)>),
}

/// `docker-registry`, or `None` (a counted skip; a failure under `CI`) when it is missing.
/// `TESTWERK_DOCKER_REGISTRY` names another binary.
#[track_caller]
pub fn registry_binary() -> Option<PathBuf> {
    let found = std::env::var_os("TESTWERK_DOCKER_REGISTRY")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/docker-registry")).filter(|p| p.is_file()))
        .or_else(|| which("docker-registry"));
    available(
        found,
        "docker-registry",
        "apt-get install -y docker-registry",
    )
}

/// A running registry. Dropping it stops the process and removes its storage.
pub struct Registry {
    child: Option<Child>,
    /// `127.0.0.1:PORT`, as image references and `--registry-mirror` name it.
    pub host: String,
    dir: tempfile::TempDir,
    users: Vec<(String, String)>,
}

impl Registry {
    /// An anonymous registry, or `None` when `docker-registry` is missing (a counted skip).
    #[track_caller]
    pub fn start() -> Option<Self> {
        Self::start_with(Auth::Anonymous)
    }

    /// A registry with the given authentication, or `None` when `docker-registry` is missing.
    ///
    /// # Panics
    /// When the registry cannot be started (a broken test machine, not a skip).
    #[track_caller]
    pub fn start_with(auth: Auth) -> Option<Self> {
        let binary = registry_binary()?;
        let dir = tempfile::tempdir().expect("a temporary directory for the registry");
        let (auth_yaml, users) = match auth {
            Auth::Anonymous => (String::new(), Vec::new()),
            Auth::Basic(users) => {
                let lines: String = users
                    .iter()
                    .map(|(u, p)| {
                        format!("{u}:{}\n", bcrypt::hash(p, 4).expect("bcrypt a password"))
                    })
                    .collect();
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, lines).expect("write htpasswd");
                (
                    format!(
                        "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                        path.display()
                    ),
                    users,
                )
            }
        };
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\nstorage:\n  \
             filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: \
             127.0.0.1:{port}\n  secret: testwerk-test-secret\n{auth_yaml}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write the registry's config");
        let stdout = std::fs::File::create(dir.path().join("access.log")).expect("access log");
        let stderr = std::fs::File::create(dir.path().join("registry.err")).expect("error log");
        let mut child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("start docker-registry");
        wait_for_port(port, &mut child, dir.path());
        Some(Self {
            child: Some(child),
            host: format!("127.0.0.1:{port}"),
            dir,
            users,
        })
    }

    /// A registry someone else runs at `host` (`127.0.0.1:15000`, the test cluster's), to
    /// push to: nothing is started or stopped, and [`Registry::requests`] sees nothing.
    ///
    /// # Panics
    /// When no temporary directory can be made.
    pub fn existing(host: &str) -> Self {
        Self {
            child: None,
            host: host.to_owned(),
            dir: tempfile::tempdir().expect("a temporary directory"),
            users: Vec::new(),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.host)
    }

    /// The basic-auth users it was started with.
    pub fn users(&self) -> &[(String, String)] {
        &self.users
    }

    /// Where the registry stores blob `digest` (`sha256:<hex>`): corrupt it to test digest
    /// verification.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2.min(hex.len())])
            .join(hex)
            .join("data")
    }

    /// Stops the process now (its port then refuses connections); storage stays until drop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The request lines served so far (`GET /v2/x/blobs/sha256:…`), once the log stops
    /// growing.
    pub fn requests(&self) -> Vec<String> {
        served_requests(&self.dir.path().join("access.log"))
    }

    /// How many served requests start with `prefix` (e.g. `GET /v2/app/blobs/`).
    pub fn count(&self, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nobody listens on right now.
///
/// # Panics
/// When the machine has no free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_port(port: u16, child: &mut Child, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let err = std::fs::read_to_string(dir.join("registry.err")).unwrap_or_default();
            panic!("docker-registry exited early ({status}): {err}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("docker-registry did not listen on port {port} within 20 s");
}

/// The request lines (`GET /v2/x/manifests/1`) in a `docker-registry` access log, read once it
/// has stopped growing (the registry writes it after answering).
pub fn served_requests(log: &std::path::Path) -> Vec<String> {
    let mut last = String::new();
    let mut stable = 0;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let now = std::fs::read_to_string(log).unwrap_or_default();
        if now == last {
            stable += 1;
            if stable >= 3 {
                break;
            }
        } else {
            stable = 0;
            last = now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    last.lines()
        .filter_map(|l| {
            let start = l.find('"')? + 1;
            let end = l[start..].find('"')? + start;
            let request = &l[start..end];
            Some(
                request
                    .rsplit_once(' ')
                    .map_or(request, |(r, _)| r)
                    .to_owned(),
            )
        })
        .collect()
}
