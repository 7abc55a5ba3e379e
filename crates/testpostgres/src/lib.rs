//! # testwerk-testpostgres
//!
//! Tests only: a real PostgreSQL server (Debian's `postgresql` package) for the tests of the
//! PostgreSQL results store.
//!
//! [`server`] starts one server per test process, on a free port of 127.0.0.1, with its data
//! in a private directory, password authentication (SCRAM) for the user `testwerk`, and
//! `fsync` off (tests need no durability across power loss). It is stopped when the test
//! process ends, however it ends (see `start`).
//! [`Server::database`] creates a fresh database for each test.
//!
//! PostgreSQL refuses to run as root; as root the server runs as the `postgres` user that
//! Debian's package creates (or `nobody`).
//!
//! Without the binaries, [`server`] reports the test as skipped (see `testwerk-testinputs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The user tests connect as.
pub const USER: &str = "testwerk";
/// Its password: tests check that it never shows in messages.
pub const PASSWORD: &str = "pg-secret-4711";

/// A database of the server: its name (for [`Server::sql`]) and its URL (for `--store`).
#[derive(Debug, Clone)]
pub struct Database {
    pub name: String,
    /// `postgres://testwerk:PASSWORD@127.0.0.1:PORT/NAME`.
    pub url: String,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    port: u16,
    bin: PathBuf,
    /// The data directory (also holds the Unix socket).
    dir: PathBuf,
    next_database: AtomicU32,
    /// Closed when the process ends, which stops the server.
    _lifeline: std::process::ChildStdin,
}

/// The server of this test process, started on first use; `None` (the test is skipped, or
/// fails under `CI`) when PostgreSQL is not installed. Panics if it is installed but does not
/// start: that is a broken machine, not a missing input.
#[track_caller]
pub fn server() -> Option<&'static Server> {
    let bin = testwerk_testinputs::available(
        find_bin(),
        "PostgreSQL (initdb, postgres, psql)",
        "apt-get install -y postgresql",
    )?;
    static SERVER: OnceLock<Server> = OnceLock::new();
    Some(SERVER.get_or_init(|| start(bin).unwrap_or_else(|e| panic!("PostgreSQL: {e}"))))
}

impl Server {
    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://testwerk:PASSWORD@127.0.0.1:PORT/NAME`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Creates a new, empty database.
    pub fn database(&self) -> Database {
        let n = self.next_database.fetch_add(1, Ordering::Relaxed);
        let name = format!("test_{n}");
        self.sql("postgres", &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        Database {
            url: self.url(&name),
            name,
        }
    }

    /// Runs `sql` with `psql` in `database`; returns what it printed (unaligned, tuples only).
    pub fn sql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .arg(self.url(database))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The directory of PostgreSQL's programs (`psql`, `pg_dump`…).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Debian keeps the server's binaries in `/usr/lib/postgresql/<major>/bin`; the newest wins.
fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            ["initdb", "postgres", "psql"]
                .iter()
                .all(|b| bin.join(b).is_file())
                .then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Who the server runs as: this process, or an unprivileged user when it is root.
#[derive(Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

fn run_as() -> Result<Option<RunAs>, String> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    let me = std::fs::metadata("/proc/self").map_err(|e| format!("/proc/self: {e}"))?;
    if me.uid() != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    for user in ["postgres", "nobody"] {
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.first() == Some(&user)
                && let (Some(uid), Some(gid)) = (fields.get(2), fields.get(3))
                && let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse())
            {
                return Ok(Some(RunAs { uid, gid }));
            }
        }
    }
    Err("running as root, and there is neither a `postgres` nor a `nobody` user".to_owned())
}

/// The words that run `program` as `run_as` (through util-linux's `setpriv`), or as this
/// process.
fn command(program: &Path, run_as: Option<RunAs>) -> Vec<std::ffi::OsString> {
    let mut words: Vec<std::ffi::OsString> = Vec::new();
    if let Some(RunAs { uid, gid }) = run_as {
        words.extend(
            [
                "setpriv".to_owned(),
                format!("--reuid={uid}"),
                format!("--regid={gid}"),
                "--clear-groups".to_owned(),
                "--".to_owned(),
            ]
            .map(Into::into),
        );
    }
    words.push(program.into());
    words
}

fn start(bin: PathBuf) -> Result<Server, String> {
    let run_as = run_as()?;
    remove_dead_servers_dirs();
    let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let data = dir.join("data");
    let pwfile = dir.join("password");
    std::fs::write(&pwfile, PASSWORD).map_err(|e| format!("{}: {e}", pwfile.display()))?;
    if let Some(RunAs { uid, gid }) = run_as {
        for path in [&dir, &pwfile] {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", path.display()))?;
        }
    }
    let initdb = command(&bin.join("initdb"), run_as);
    let out = Command::new(&initdb[0])
        .args(&initdb[1..])
        .args(["-D"])
        .arg(&data)
        .args([
            "-U",
            USER,
            "--auth=scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        // A locale whose collation is not bytewise, as production databases often have: the
        // store must sort as on SQLite all the same.
        .arg("--locale=C.UTF-8")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let port = free_port()?;
    let log = dir.join("server.log");
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    // The server stops when this process ends, however it ends: a shell holds the read end
    // of a pipe whose write end only this process has; when it closes, the shell tells the
    // server to shut down ("fast shutdown", SIGINT). A parent-death signal would not do: the
    // kernel clears it when the server drops to another user.
    let mut server = Command::new("sh");
    server
        .args([
            "-c",
            r#""$@" & server=$!; read _; kill -INT "$server"; wait "$server""#,
            "sh",
        ])
        .args(command(&bin.join("postgres"), run_as))
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(&dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log_file);
    let mut child = server
        .spawn()
        .map_err(|e| format!("cannot run postgres: {e}"))?;
    let lifeline = child
        .stdin
        .take()
        .ok_or("the server's shell has no standard input")?;
    let server = Server {
        port,
        bin,
        dir,
        next_database: AtomicU32::new(0),
        _lifeline: lifeline,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match server.sql("postgres", "SELECT 1") {
            Ok(_) => return Ok(server),
            Err(e) if Instant::now() > deadline => {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("did not accept connections in 30 s: {e}\n{log}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The data directories are named after the test process, which cannot remove its own (it
/// ends while the server still runs): each start removes those of processes that are gone.
const DIR_PREFIX: &str = "testwerk-postgres-";

fn remove_dead_servers_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
