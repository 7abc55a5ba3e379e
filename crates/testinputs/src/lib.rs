//! # testwerk-testinputs
//!
//! Some tests need something the repository does not hold: the Testkube compatibility corpus,
//! Debian's `docker-registry`, `openssl`, moto. When it is missing, such a test must neither
//! pass silently nor fail a developer's fresh clone for a reason that is not a bug. So every
//! such test asks [`available`] (or [`corpus`]), and an absence is:
//!
//! - **with `CI` set**: a failure naming what is missing and how to install it (CI installs
//!   everything, so a missing input there is a broken CI);
//! - **otherwise**: a skip the test cannot hide. A loud line goes to stdout, and a line goes
//!   to the file named by `TESTWERK_SKIP_LOG`, which `scripts/test` sets and then prints as
//!   "N skipped" with the list at the end of the run. The test then returns before its
//!   assertions, so it never *passes* anything: it is reported as skipped.
//!
//! It also holds what several test suites build the same way: a real [`tmpfs::Tmpfs`] to
//! fill for the full-disk tests, and the generated workflows of the scale tests
//! ([`workflows`]).

pub mod moto;
pub mod tmpfs;
pub mod workflows;

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file absences are appended to, one line each (set by `scripts/test`).
pub const SKIP_LOG: &str = "TESTWERK_SKIP_LOG";

/// Where the corpus is looked for when `TESTWERK_COMPAT_DIR` is not set: `shared/` beside the
/// repository, as on the development machine.
const CORPUS_BESIDE_REPOSITORY: &str = "shared/compat/testkube";

/// `found`, or — when it is `None` — the absence of `what` made visible (see the crate docs):
/// a panic under `CI`, else a logged skip and `None`, on which the test returns.
///
/// `install` says how to get it, e.g. `apt-get install -y docker-registry`.
#[track_caller]
pub fn available<T>(found: Option<T>, what: &str, install: &str) -> Option<T> {
    if found.is_some() {
        return found;
    }
    let test = test_name();
    if in_ci() {
        panic!("{what} is missing, and CI must run every test. Install: {install}");
    }
    println!(
        "\n!!!!!!!! SKIPPED {test}: {what} is missing. Install: {install} (CI fails here) !!!!!!!!\n"
    );
    if let Some(log) = std::env::var_os(SKIP_LOG) {
        record(
            Path::new(&log),
            &format!("{test}: {what} is missing ({install})"),
        );
    }
    None
}

/// `binary: test` for messages, e.g. `golden: golden_plans_and_objects`: the test harness
/// names each test's thread after the test, and cargo names the binary after its file (plus a
/// hash, dropped here).
fn test_name() -> String {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test outside the test harness")
        .to_owned();
    let binary = std::env::current_exe().ok().and_then(|exe| {
        let stem = exe.file_stem()?.to_string_lossy().into_owned();
        Some(match stem.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
            _ => stem,
        })
    });
    match binary {
        Some(binary) => format!("{binary}: {test}"),
        None => test,
    }
}

/// Whether the run is CI's: `CI` set to anything but empty, `0` or `false`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Appends one line to the skip log. A log that cannot be written must not turn a skip into
/// a silent pass, so that fails the test.
fn record(log: &Path, line: &str) {
    // One `write_all` of a short line to an `O_APPEND` file: lines from concurrent tests do
    // not interleave.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
    if let Err(e) = written {
        panic!(
            "cannot record a skipped test in {} ({SKIP_LOG}): {e}; the skip was: {line}",
            log.display()
        );
    }
}

/// The Testkube compatibility corpus (the folder holding `k8s/templates` and `test/`):
/// `$TESTWERK_COMPAT_DIR`, else `shared/compat/testkube` beside the repository; its absence
/// goes through [`available`].
#[track_caller]
pub fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("TESTWERK_COMPAT_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        // This crate is `<repository>/crates/testinputs`: three levels up is the folder that
        // holds the repository.
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(3)
            .unwrap_or(Path::new("/"))
            .join(CORPUS_BESIDE_REPOSITORY),
    };
    let complete = dir.join("k8s/templates").is_dir() && dir.join("test").is_dir();
    available(
        complete.then_some(dir.clone()),
        &format!("the Testkube compatibility corpus (at {})", dir.display()),
        "set TESTWERK_COMPAT_DIR to the folder holding k8s/templates and test/",
    )
}

/// `name` on `PATH`, if it is there.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// A Python that can run `moto.server` (the AWS and S3 emulator): `TESTWERK_MOTO_PYTHON`, the
/// venv `scripts/test` makes under `~/.cache/testwerk/moto-venv`, or `python3` if it has moto.
/// `None` is a counted skip (a failure under `CI`).
#[track_caller]
pub fn moto_python() -> Option<PathBuf> {
    let mut options: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("TESTWERK_MOTO_PYTHON") {
        options.push(PathBuf::from(p));
    }
    if let Some(home) = std::env::var_os("HOME") {
        options.push(PathBuf::from(home).join(".cache/testwerk/moto-venv/bin/python"));
    }
    options.push(PathBuf::from("python3"));
    let found = options.into_iter().find(|python| {
        std::process::Command::new(python)
            .args(["-c", "import moto.server"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    available(
        found,
        "moto (the AWS emulator)",
        "python3 -m venv ~/.cache/testwerk/moto-venv && ~/.cache/testwerk/moto-venv/bin/pip install 'moto[server]'",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHILD: &str = "TESTWERK_TESTINPUTS_CHILD";

    /// Runs this test binary's `absence_child` test alone, as a separate process.
    fn child(ci: Option<&str>, log: &Path) -> std::process::Output {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap_or_default());
        command
            .args([
                "--exact",
                "tests::absence_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env(SKIP_LOG, log)
            .env_remove("CI");
        if let Some(ci) = ci {
            command.env("CI", ci);
        }
        let output = command.output();
        assert!(output.is_ok(), "{output:?}");
        output.unwrap_or_else(|_| unreachable!())
    }

    /// Only does something as the child of the test below.
    #[test]
    fn absence_child() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        let got: Option<u8> = available(None, "the thing", "apt-get install thing");
        assert!(got.is_none());
        println!("returned None");
    }

    #[test]
    fn an_absence_is_a_logged_skip_locally_and_a_failure_in_ci() {
        let dir = std::env::temp_dir().join(format!("testinputs-abs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let log = dir.join("skips.log");

        let local = child(None, &log);
        let stdout = String::from_utf8_lossy(&local.stdout);
        assert!(local.status.success(), "{stdout}");
        assert!(
            stdout.contains(
                "SKIPPED testwerk_testinputs: tests::absence_child: the thing is missing"
            ),
            "{stdout}"
        );
        assert!(stdout.contains("returned None"), "{stdout}");
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            logged,
            "testwerk_testinputs: tests::absence_child: the thing is missing (apt-get install thing)\n"
        );

        for ci in ["true", "1"] {
            let failed = child(Some(ci), &log);
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&failed.stdout),
                String::from_utf8_lossy(&failed.stderr)
            );
            assert!(!failed.status.success(), "CI={ci}: {all}");
            assert!(
                all.contains("the thing is missing") && all.contains("apt-get install thing"),
                "{all}"
            );
            assert!(!all.contains("returned None"), "{all}");
        }
        // CI=false is a developer's machine again.
        assert!(child(Some("false"), &log).status.success());
        // Failures in CI add nothing to the skip log.
        let lines = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count();
        assert_eq!(lines, 2);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn records_are_whole_lines_appended() {
        let dir = std::env::temp_dir().join(format!("testinputs-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let log = dir.join("skips.log");
        record(&log, "a: x is missing (get x)");
        record(&log, "b: y is missing (get y)");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(text, "a: x is missing (get x)\nb: y is missing (get y)\n");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn finds_programs_on_the_path() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-anywhere").is_none());
    }
}
