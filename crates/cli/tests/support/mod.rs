//! Shared by the command-line tests: where the corpus is, and how we compile it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use testwerk_cli::pipeline;
use testwerk_plan::StaticImages;
use testwerk_spec::Diagnostic;

/// The compatibility corpus ([`testwerk_testinputs::corpus`]); `None` when it is absent,
/// after recording the skip (or failing, in CI): the test then returns, never passes.
pub fn compat_dir() -> Option<PathBuf> {
    testwerk_testinputs::corpus()
}

/// Stand-in registry answers for corpus images that run without a command.
pub fn corpus_images() -> StaticImages {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus-images.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    StaticImages::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn settings(images: &StaticImages) -> pipeline::CompileSettings<'_> {
    pipeline::CompileSettings {
        namespace: "testwerk".into(),
        images: testwerk_plan::OwnImages {
            init: "testwerk/init:test".into(),
            toolkit: "testwerk/toolkit:test".into(),
            delivery: Default::default(),
        },
        image_source: images,
        execution_id: None,
        execution: None,
        config: Default::default(),
        target: pipeline::Target::Kubernetes,
        toolkit: None,
    }
}

/// YAML files under `dir` that hold at least one TestWorkflow, sorted.
pub fn workflow_files(dir: &Path) -> Vec<PathBuf> {
    let mut errors = Vec::new();
    pipeline::template_files(&[dir.to_path_buf()], &mut errors)
        .into_iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .is_ok_and(|t| t.lines().any(|l| l.trim() == "kind: TestWorkflow"))
        })
        .collect()
}

pub fn join(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The static `testwerk-init` for tests that run workflows (image mode runs it inside the
/// images): `$TESTWERK_INIT` (scripts/test sets it), or built once per test process into its
/// own target directory (so it never waits on the outer build).
pub fn init_binary() -> PathBuf {
    static INIT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    INIT.get_or_init(|| {
        if let Some(p) = std::env::var_os("TESTWERK_INIT") {
            return PathBuf::from(p);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = root.join("target/init-for-tests");
        let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "testwerk-init",
                "--target",
                &triple,
            ])
            .arg("--target-dir")
            .arg(&target)
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .current_dir(&root)
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo to build testwerk-init: {e}"));
        assert!(status.success(), "building testwerk-init failed");
        target.join(triple).join("debug/testwerk-init")
    })
    .clone()
}

/// A fresh directory for one test, removed when the test passes and kept (and named on stderr)
/// when it fails, so a failure can be looked at.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the failed test's files in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("testwerk-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    Scratch(dir)
}

/// The static `testwerk` that user images run toolkit operations with (`artifacts` after a
/// step in an image): `$TESTWERK_TOOLKIT`, which scripts/test sets to the static release
/// build. Without it, a counted skip (a failure under `CI`): building it here would be a
/// second full build of the workspace.
#[track_caller]
pub fn toolkit_binary() -> Option<PathBuf> {
    testwerk_testinputs::available(
        std::env::var_os("TESTWERK_TOOLKIT").map(PathBuf::from),
        "a static testwerk (TESTWERK_TOOLKIT)",
        "RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release -p testwerk --target x86_64-unknown-linux-gnu, then TESTWERK_TOOLKIT=target/x86_64-unknown-linux-gnu/release/testwerk (scripts/test does both)",
    )
}

/// Runs `testwerk run` with `args` and a private store; returns (exit code, stdout, stderr).
pub fn testwerk_run(store: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_testwerk"));
    cmd.arg("run")
        .args(args)
        .arg("--store")
        .arg(store)
        .env("TESTWERK_INIT", init_binary())
        .env("NO_COLOR", "1");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run testwerk: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The corpus workflows that need only shell images and no toolkit feature.
/// (workflow, expected to pass, for a failure: a word the failing step or reason must contain)
pub const SHELL_CORPUS: [(&str, bool, &str); 26] = [
    ("special-cases-step-sharing", true, ""),
    ("special-cases-env-expression-env-not-set", true, ""),
    ("special-cases-workingdir-override", true, ""),
    ("special-cases-optional-step-failed", true, ""),
    ("special-cases-optional-step-timed-out", true, ""),
    ("special-cases-optional-step-passed", true, ""),
    ("special-cases-conditional-step-skipped", true, ""),
    ("special-cases-conditional-step-passed", true, ""),
    (
        "special-cases-conditional-step-failed-but-optional",
        true,
        "",
    ),
    ("special-cases-step-retry", true, ""),
    ("special-cases-negative-step", true, ""),
    ("special-cases-step-timeout-ok", true, ""),
    ("special-cases-missing-env-secret", true, ""),
    ("special-cases-missing-configmap-key", true, ""),
    ("special-cases-no-initial-output", true, ""),
    ("special-cases-execution-tags", true, ""),
    ("special-cases-unique-labels", true, ""),
    ("special-cases-silent-workflow", true, ""),
    ("special-cases-cron-trigger-with-timezone", true, ""),
    ("large-logs-1mb-no-delay", true, ""),
    ("large-logs-11mb-no-delay", true, ""),
    ("expected-fail-step-retry", false, "failed"),
    ("expected-fail-negative-step", false, "failed"),
    ("expected-fail-volume-not-mounted", false, "missing-volume"),
    ("expected-fail-conditional-step-failed", false, "failed"),
    ("special-cases-30s", true, ""),
];
// Not here, because of how long they take: special-cases-long-lasting-30m, -90m and
// -sleep-90m (30 to 90 minutes of sleep), large-logs-*-1s/-2s (the same logs, slower); and
// write-read-100mb, which installs `pv` with alpine's package manager (`apk add`).

/// The file that declares each workflow of [`SHELL_CORPUS`].
pub fn corpus_files(compat: &Path) -> std::collections::HashMap<&'static str, PathBuf> {
    let names: Vec<&'static str> = SHELL_CORPUS.iter().map(|(name, _, _)| *name).collect();
    files_declaring(compat, &names)
}

/// The last 25 lines of a long output, for assertion messages.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

/// Runs `testwerk <args> --store <store>`; returns (exit code, stdout, stderr).
pub fn testwerk_with_store(store: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Corpus workflows that take their tests from Git or keep artifacts, and whose images are
/// stood in (alpine, python with pytest): (workflow, expected to pass, test cases expected
/// from its reports: `None` when it keeps no report).
/// Left out: `pytest-workflow-smoke-junit-random-failures` (its tests fail at random), and the
/// curl, k6 and postman workflows (they call Internet hosts), and workflows whose images
/// have no stand-in.
pub const CONTENT_CORPUS: [(&str, bool, Option<bool>); 9] = [
    ("junit-report-high-level-failure", true, Some(true)),
    // Two of its three suites have no test case; the third has one.
    (
        "junit-report-high-level-without-testcases",
        true,
        Some(true),
    ),
    (
        "junit-report-high-level-testcase-both-error-and-failure",
        true,
        Some(true),
    ),
    ("pytest-workflow-smoke", true, None),
    ("pytest-workflow-smoke-junit-success-only", true, Some(true)),
    (
        "pytest-workflow-smoke-junit-mixed-failures",
        false,
        Some(true),
    ),
    ("pytest-junit", true, Some(true)),
    (
        "pytest-mixed-results-failures-junit-report",
        false,
        Some(true),
    ),
    ("special-cases-artifact-double-asterisk", true, None),
];

/// The file that declares each of `names`.
pub fn files_declaring(
    compat: &Path,
    names: &[&'static str],
) -> std::collections::HashMap<&'static str, PathBuf> {
    let mut files = std::collections::HashMap::new();
    for file in workflow_files(&compat.join("test")) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for name in names {
            let declares = text
                .lines()
                .any(|l| l.split('#').next().map(str::trim) == Some(&format!("name: {name}")));
            if declares {
                files.entry(*name).or_insert_with(|| file.clone());
            }
        }
    }
    files
}

/// Corpus workflows that use `parallel`, `services` or `execute` with alpine images only:
/// (workflow, expected to pass). Left out: `special-cases-dev-credentials` (Testkube's cloud
/// `credential()`), `special-cases-config-override-target` (it fails by design unless
/// `special-cases-config-override` runs it), and the suites, whose members need tools
/// without a stand-in or the Internet.
pub const CHILDREN_CORPUS: [(&str, bool); 17] = [
    ("special-cases-parallel-steps", true),
    ("special-cases-parallel-steps-matrix", true),
    ("special-cases-parallel-steps-fail-fast-disabled", true),
    ("special-cases-global-env", true),
    ("special-cases-step-env-override", true),
    ("special-cases-service-name-with-dash", true),
    ("special-cases-config-override", true),
    ("special-cases-execute-workflows-selector-matchlabels", true),
    ("special-cases-securitycontext-runasuser-runasgroup", true),
    (
        "expected-fail-high-parallel-first-step-failed-sync-paused",
        false,
    ),
    ("expected-fail-high-parallel-step-failed", false),
    ("expected-fail-high-parallel-step-failed-sync-paused", false),
    ("expected-fail-parallel-step-fail-fast", false),
    ("expected-fail-parallel-step-failed", false),
    ("expected-fail-parallel-step-timed-out", false),
    ("expected-fail-service-exit-code", false),
    ("expected-fail-service-readiness-probe", false),
];
