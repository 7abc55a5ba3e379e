//! Which OCI runtime should the local runner use? Times a bare `<runtime> run` of one busybox
//! container (`/bin/true`) with each runtime found on this machine, with the same `config.json`,
//! and prints the median and 90th percentile of the start-to-exit time.
//!
//! ```sh
//! cargo run --release -p testwerk-local --example runtimes -- [runs]   # as root
//! ```
//!
//! Runtimes: `runc` and `crun` from PATH, and youki from `$TESTWERK_YOUKI` or PATH (the `youki`
//! binary is youki's `libcontainer` crate behind a thin CLI: its start time is what embedding
//! the crate would cost, plus one `exec`). A runtime that cannot run a container here is
//! reported with its error instead of a time. Needs `/bin/busybox` (Debian's busybox-static).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let busybox = Path::new("/bin/busybox");
    if !busybox.is_file() {
        eprintln!("runtimes: /bin/busybox is missing (apt-get install busybox-static)");
        std::process::exit(2);
    }
    let dir = std::env::temp_dir().join(format!("testwerk-runtimes-{}", std::process::id()));
    if let Err(e) = bundle(&dir, busybox) {
        eprintln!("runtimes: cannot prepare {}: {e}", dir.display());
        std::process::exit(1);
    }
    println!("bare start-to-exit of one busybox container running /bin/true, {runs} runs each");
    println!(
        "(same config.json: pid, ipc, uts, mount namespaces; cgroups; no network namespace)\n"
    );
    let mut candidates: Vec<(&str, Option<PathBuf>)> = vec![
        ("runc", which("runc")),
        ("crun", which("crun")),
        (
            "youki",
            std::env::var_os("TESTWERK_YOUKI")
                .map(PathBuf::from)
                .or_else(|| which("youki")),
        ),
    ];
    for (name, path) in candidates.drain(..) {
        let Some(path) = path else {
            println!("{name:6} not installed");
            continue;
        };
        match measure(&path, &dir, runs) {
            Ok(Measured { mut times, hangs }) => {
                times.sort();
                let median = times[times.len() / 2];
                let p90 = times[(times.len() * 9 / 10).min(times.len() - 1)];
                let hung = if hangs > 0 {
                    format!("; {hangs} of {} runs hung and were killed", runs + 1)
                } else {
                    String::new()
                };
                println!(
                    "{name:6} median {:6.1} ms   p90 {:6.1} ms   ({}{hung})",
                    ms(median),
                    ms(p90),
                    version(&path)
                );
            }
            Err(e) => println!("{name:6} cannot run a container here: {e}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn measure(runtime: &Path, bundle: &Path, runs: usize) -> Result<Measured, String> {
    let root = bundle.join(format!(
        "state-{}",
        runtime.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut measured = Measured::default();
    // One unmeasured run warms the page cache and the binary.
    for i in 0..=runs {
        let id = format!("twbench-{}-{i}", std::process::id());
        let start = Instant::now();
        let mut child = Command::new(runtime)
            .arg("--root")
            .arg(&root)
            .args(["run", "--bundle"])
            .arg(bundle)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        // A runtime that hangs is a finding, not a reason for the benchmark to hang.
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break Some(status);
            }
            if start.elapsed() > HANG {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let took = start.elapsed();
        match status {
            None => measured.hangs += 1,
            Some(s) if !s.success() => {
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
                }
                // The first line says why; youki adds a backtrace.
                return Err(stderr.lines().next().unwrap_or("failed").trim().to_owned());
            }
            Some(_) if i > 0 => measured.times.push(took),
            Some(_) => {}
        }
    }
    if measured.times.is_empty() {
        return Err(format!("every run hung for over {} s", HANG.as_secs()));
    }
    Ok(measured)
}

/// A run taking longer than this is counted as hung and killed.
const HANG: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Measured {
    times: Vec<Duration>,
    hangs: usize,
}

fn version(runtime: &Path) -> String {
    Command::new(runtime)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// An OCI bundle: busybox as the root filesystem and a minimal `config.json`.
fn bundle(dir: &Path, busybox: &Path) -> std::io::Result<()> {
    let rootfs = dir.join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    std::fs::copy(busybox, rootfs.join("bin/busybox"))?;
    for applet in ["sh", "true"] {
        let link = rootfs.join("bin").join(applet);
        if link.symlink_metadata().is_err() {
            std::os::unix::fs::symlink("busybox", link)?;
        }
    }
    let config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/true"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]
            },
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "resources": {"pids": {"limit": 64}},
            "maskedPaths": ["/proc/kcore", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys"]
        }
    });
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec_pretty(&config).map_err(std::io::Error::other)?,
    )
}
