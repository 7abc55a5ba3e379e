//! `artifacts [-m <mount>]… [--compress <name>] <pattern>…`: finds files by glob and uploads
//! them to the backend's artifact receiver ([`ArtifactSink`] in the toolkit settings), which
//! stores them with the execution and step (`TW_REF`).
//!
//! - Patterns, names and what is searched: [`find`] (`**`, `*`, `?`, `[…]`, `{a,b}`).
//! - `--compress <name>`: one `<name>.tar.gz` holding every matched file, made while it
//!   uploads ([`compress`]).
//! - Files upload four at a time; each is printed with its size once stored, then a summary.
//!   Nothing matched is `No artifacts found.` and success, as upstream. A file the receiver refuses (storage
//!   full, say) is printed with the receiver's reason and the others still upload; the step
//!   then fails naming how many failed.

mod compress;
pub mod find;
pub mod glob;
mod upload;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use testwerk_protocol::toolkit::{ArtifactSink, ToolkitSettings};

use crate::ToolkitError;
use upload::{Body, Uploader};

/// Files uploaded at once.
const PARALLEL_UPLOADS: usize = 4;

/// The parsed arguments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub mounts: Vec<String>,
    pub compress: Option<String>,
    pub patterns: Vec<String>,
}

impl Options {
    pub fn parse(args: Vec<String>) -> Result<Options, ToolkitError> {
        let mut options = Options::default();
        let mut args = args.into_iter();
        let usage = |m: String| {
            ToolkitError::Usage(format!(
                "artifacts: {m}; usage: artifacts [-m <mount>]... [--compress <name>] <pattern>..."
            ))
        };
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            match flag.as_str() {
                "-m" | "--mount" | "--compress" => {
                    let value = inline
                        .or_else(|| args.next())
                        .ok_or_else(|| usage(format!("`{flag}` needs a value")))?;
                    if flag == "--compress" {
                        if value.trim_matches('/').is_empty() {
                            return Err(usage("`--compress` needs a file name".into()));
                        }
                        options.compress = Some(value);
                    } else {
                        options.mounts.push(value);
                    }
                }
                "--" => {
                    options.patterns.extend(args.by_ref());
                }
                f if f.starts_with('-') && f.len() > 1 => {
                    return Err(usage(format!("unknown flag `{f}`")));
                }
                _ => options.patterns.push(arg),
            }
        }
        if options.patterns.is_empty() {
            return Err(usage(
                "there needs to be at least one path to scrap for artifacts".into(),
            ));
        }
        Ok(options)
    }
}

/// Runs the operation with the process's working directory and `TW_REF`, printing to stdout.
pub fn run(args: Vec<String>, settings: &ToolkitSettings) -> Result<(), ToolkitError> {
    let options = Options::parse(args)?;
    let cwd = std::env::current_dir()
        .map_err(|e| ToolkitError::Failed(format!("cannot read the working directory: {e}")))?;
    let step = std::env::var("TW_REF").unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    collect(
        &options,
        settings.artifacts.as_ref(),
        &cwd,
        &step,
        &mut stdout,
    )
}

/// Finds and uploads, printing progress to `out`.
pub fn collect(
    options: &Options,
    sink: Option<&ArtifactSink>,
    cwd: &Path,
    step: &str,
    out: &mut dyn Write,
) -> Result<(), ToolkitError> {
    let started = Instant::now();
    let search = find::find(&options.patterns, &options.mounts, cwd)
        .map_err(|e| ToolkitError::Failed(format!("artifacts: {e}")))?;
    // Progress lines are for people; a closed stdout must not stop the upload.
    for w in &search.warnings {
        writeln!(out, "warning: {w}").ok();
    }
    if search.files.is_empty() {
        writeln!(out, "No artifacts found.").ok();
        return Ok(());
    }
    let count = search.files.len();
    let Some(sink) = sink else {
        return Err(ToolkitError::Failed(format!(
            "artifacts: {count} file{} found, but this backend gave the execution no artifact receiver (`artifacts` in {}); nothing was uploaded",
            plural(count),
            testwerk_protocol::env::TOOLKIT
        )));
    };
    if step.is_empty() {
        return Err(ToolkitError::Usage(
            "artifacts: TW_REF is not set: the toolkit runs as a step of an execution".into(),
        ));
    }
    let uploader = Uploader::new(sink.clone(), step.to_owned());
    let mut failures: Vec<String> = Vec::new();
    let mut uploaded = 0usize;
    let mut bytes = 0u64;
    if let Some(name) = &options.compress {
        let name = compress::archive_name(name);
        let total: u64 = search.files.iter().map(|f| f.size).sum();
        writeln!(
            out,
            "{name}: {count} file{} ({}) from {}",
            plural(count),
            human(total),
            search.root
        )
        .ok();
        let reader = compress::archive(search.files).map_err(|e| {
            ToolkitError::Failed(format!("artifacts: cannot start the archive: {e}"))
        })?;
        match uploader.upload(&name, Body::Stream(reader)) {
            Ok(stored) => {
                writeln!(out, "{name} ({})", human(stored.size)).ok();
                warn(out, &name, &stored.warnings);
                uploaded = count;
                bytes = stored.size;
            }
            Err(e) => {
                writeln!(out, "{name}: failed: {e}").ok();
                failures.push(format!("{name}: {e}"));
            }
        }
    } else {
        // A few uploads at once: each file costs the receiver an fsync or two, which
        // overlap; the order of the lines is the order they finish in.
        let next = AtomicUsize::new(0);
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            for _ in 0..PARALLEL_UPLOADS.min(count) {
                let (done, uploader, files, next) = (done.clone(), &uploader, &search.files, &next);
                scope.spawn(move || {
                    while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let result = uploader.upload(&file.name, Body::File(&file.path));
                        if done.send((file, result)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(done);
            for (file, result) in finished {
                writeln!(out, "{} ({})", file.name, human(file.size)).ok();
                match result {
                    Ok(stored) => {
                        uploaded += 1;
                        bytes += stored.size;
                        warn(out, &file.name, &stored.warnings);
                    }
                    Err(e) => {
                        writeln!(out, "{}: failed: {e}", file.name).ok();
                        failures.push(format!("{}: {e}", file.name));
                    }
                }
            }
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    if uploaded > 0 {
        writeln!(
            out,
            "Found and uploaded {uploaded} file{} ({}) in {seconds:.1} s.",
            plural(uploaded),
            human(bytes)
        )
        .ok();
    }
    failures.sort();
    match failures.first() {
        None => Ok(()),
        Some(first) => Err(ToolkitError::Failed(format!(
            "artifacts: {} of {count} upload{} failed; the first: {first}",
            failures.len(),
            plural(count)
        ))),
    }
}

fn warn(out: &mut dyn Write, name: &str, warnings: &[String]) {
    for w in warnings {
        writeln!(out, "warning: {name}: {w}").ok();
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Bytes in SI units, as upstream prints them (`1.2 MB`).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn arguments_parse_as_the_plan_writes_them() {
        let o = Options::parse(args(&[
            "-m",
            "/data",
            "--mount=/x",
            "--compress",
            "r",
            "*.xml",
            "--",
            "-odd",
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.mounts, ["/data", "/x"]);
        assert_eq!(o.compress.as_deref(), Some("r"));
        assert_eq!(o.patterns, ["*.xml", "-odd"]);
        for bad in [
            &["-m"][..],
            &["--zip", "a"],
            &["-m", "/d"],
            &["--compress", "/", "a"],
        ] {
            assert!(
                matches!(Options::parse(args(bad)), Err(ToolkitError::Usage(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn sizes_read_like_upstreams() {
        assert_eq!(human(999), "999 B");
        assert_eq!(human(1_234), "1.2 kB");
        assert_eq!(human(200_000_000), "200.0 MB");
    }

    #[test]
    fn without_a_receiver_the_step_fails_naming_what_is_missing() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("a.xml"), "x").unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        let options = Options::parse(args(&["*.xml"])).unwrap_or_else(|e| panic!("{e}"));
        let e = collect(&options, None, dir.path(), "r1", &mut out).expect_err("no sink");
        assert!(e.to_string().contains("no artifact receiver"), "{e}");
        let mut out = Vec::new();
        let options = Options::parse(args(&["*.json"])).unwrap_or_else(|e| panic!("{e}"));
        assert!(collect(&options, None, dir.path(), "r1", &mut out).is_ok());
        assert_eq!(String::from_utf8_lossy(&out), "No artifacts found.\n");
    }
}
