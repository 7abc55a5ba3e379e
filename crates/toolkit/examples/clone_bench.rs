//! `cargo run --release -p testwerk-toolkit --example clone_bench [-- N]`
//!
//! The testkube-repo mirror (`shared/compat/testkube-repo`, one commit holding Testkube's
//! `test/` folder, 341 files, 4 MB) served by `git http-backend` on 127.0.0.1, cloned N times
//! (default 7) each way, median wall time:
//!
//! - `toolkit clone` with `paths: [test/k6/k6-smoke-test.js]` (as most corpus workflows ask):
//!   ls-remote, shallow partial fetch, sparse checkout, path check, group permissions;
//! - plain `git clone` of the same URL (full history, every file), what a user would run
//!   by hand;
//! - plain `git clone --depth 1`, the cheapest full checkout.

use std::process::Command;
use std::time::{Duration, Instant};

use testwerk_protocol::toolkit::{GitMirror, ToolkitSettings};
use testwerk_testcontent::{GitServer, Repos, testkube_repo_dir};
use testwerk_toolkit::clone::{CloneArgs, Limits, clone};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(7);
    let Some(corpus) = testkube_repo_dir() else {
        eprintln!("testkube-repo not found: set TESTWERK_COMPAT_DIR=/work/shared/compat/testkube");
        std::process::exit(2);
    };
    let Some(repos) = Repos::new() else {
        std::process::exit(2);
    };
    repos.from_tree("kubeshop/testkube", &corpus);
    let Some(server) = GitServer::start(repos.root()) else {
        std::process::exit(2);
    };
    let settings = ToolkitSettings {
        git_mirrors: vec![GitMirror {
            from: "https://github.com/".into(),
            to: server.base_url(),
        }],
        ..Default::default()
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut sparse = Vec::new();
    let mut plain = Vec::new();
    let mut shallow = Vec::new();
    for i in 0..runs {
        let target = dir.path().join(format!("sparse-{i}"));
        let args = CloneArgs::parse(
            [
                "https://github.com/kubeshop/testkube",
                target.to_str().expect("a UTF-8 path"),
                "-r",
                "main",
                "-p",
                "test/k6/k6-smoke-test.js",
                "--verbosity",
                "quiet",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        )
        .expect("valid arguments");
        let started = Instant::now();
        clone(&args, &settings, Limits::default(), &mut std::io::sink()).expect("the sparse clone");
        sparse.push(started.elapsed());

        for (times, extra) in [(&mut plain, &[][..]), (&mut shallow, &["--depth", "1"][..])] {
            let target = dir.path().join(format!("plain-{i}-{}", extra.len()));
            let started = Instant::now();
            let status = Command::new("git")
                .args(["clone", "-q"])
                .args(extra)
                .arg(server.url("kubeshop/testkube"))
                .arg(&target)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .status()
                .expect("run git clone");
            assert!(status.success());
            times.push(started.elapsed());
        }
    }
    println!(
        "clone of the testkube-repo mirror over git http-backend on 127.0.0.1, median of {runs}:"
    );
    println!(
        "  toolkit clone, paths [test/k6/k6-smoke-test.js] (1 file): {:>6.1} ms",
        median(sparse).as_secs_f64() * 1e3
    );
    println!(
        "  git clone (every file, full history):                     {:>6.1} ms",
        median(plain).as_secs_f64() * 1e3
    );
    println!(
        "  git clone --depth 1 (every file):                         {:>6.1} ms",
        median(shallow).as_secs_f64() * 1e3
    );
}
