//! `artifacts` through `testwerk run`: the toolkit (copied into the step's image) uploads to
//! the run's receiver on 127.0.0.1, the files land beside the store, JUnit reports among them
//! become test cases, and `testwerk artifacts` / `testwerk tests` read them back. No step can
//! see the stored artifacts of other runs or the key their tokens are made with.

mod support;

use std::path::Path;

use support::*;
use testwerk_testregistry::{Registry, push_standins};

const REPORT: &str = r#"<?xml version="1.0"?>
<testsuites><testsuite name="math" tests="3">
<testcase classname="calc" name="adds" time="0.5"/>
<testcase classname="calc" name="divides" time="0.25"><failure message="expected 2, got 3">trace</failure></testcase>
<testcase classname="calc" name="later"><skipped/></testcase>
</testsuite></testsuites>"#;

fn workflow(dir: &Path, name: &str, body: &str) -> String {
    let file = dir.join(format!("{name}.yaml"));
    let text = format!(
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: {name}\nspec:\n{body}"
    );
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    file.display().to_string()
}

#[test]
fn artifacts_of_an_image_step_are_stored_listed_downloaded_and_its_report_read() {
    let Some(_toolkit) = toolkit_binary() else {
        return;
    };
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(_standins) = push_standins(&registry) else {
        return;
    };
    let dir = scratch("local-artifacts");
    let report = REPORT.replace('"', "\\\"").replace('\n', "");
    let file = workflow(
        &dir,
        "keeps",
        &format!(
            "  container:\n    image: alpine:3.20\n  steps:\n  - name: Test\n    shell: mkdir -p /data/out/logs && printf '%s' \"{report}\" > /data/out/junit.xml && echo hello > /data/out/logs/run.log\n    artifacts:\n      paths: ['/data/out/**/*']\n"
        ),
    );
    let db = dir.join("db");
    let mirror = format!("docker.io={}", registry.host);
    let (code, out, err) = testwerk_run(
        &db,
        &[
            &file,
            "--registry-mirror",
            &mirror,
            "--insecure",
            &registry.host,
            "--image-cache",
            dir.join("images").to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("junit.xml"), "each file is named: {out}");

    let (code, listed, err) = testwerk_with_store(&db, &["artifacts", "keeps-1"]);
    assert_eq!(code, Some(0), "{listed}\n{err}");
    assert!(
        listed.contains("junit.xml") && listed.contains("logs/run.log"),
        "{listed}"
    );
    let into = dir.join("fetched");
    let (code, fetched, err) = testwerk_with_store(
        &db,
        &[
            "artifacts",
            "keeps-1",
            "--download",
            into.to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(code, Some(0), "{fetched}\n{err}");
    // Named from the directory the working dir (alpine's `/`) and the pattern share, as
    // upstream names them.
    assert_eq!(
        std::fs::read_to_string(into.join("data/out/logs/run.log"))
            .ok()
            .as_deref(),
        Some("hello\n")
    );
    assert!(
        std::fs::read_to_string(into.join("data/out/junit.xml"))
            .unwrap_or_default()
            .contains("divides")
    );

    let (code, tests, err) = testwerk_with_store(&db, &["tests", "keeps-1"]);
    assert_eq!(code, Some(0), "{tests}\n{err}");
    let failed = tests.find("divides").unwrap_or(usize::MAX);
    let passed = tests.find("adds").unwrap_or(0);
    assert!(failed < passed, "failures first: {tests}");
    assert!(tests.contains("expected 2, got 3"), "{tests}");
    assert!(
        tests.contains("1 passed") && tests.contains("1 failed") && tests.contains("1 skipped"),
        "{tests}"
    );
    let (code, json, _) = testwerk_with_store(&db, &["tests", "keeps-1", "--output", "json"]);
    assert_eq!(code, Some(0));
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    assert!(doc.to_string().contains("\"status\":\"failed\""), "{json}");
}

#[test]
fn no_step_sees_the_stored_artifacts_or_the_token_key() {
    // Not under /tmp: every container has its own /tmp, so a store there is out of sight
    // anyway. /var/tmp is this machine's, seen read-only in host mode.
    let dir = tempfile::Builder::new()
        .prefix("testwerk-hidden-")
        .tempdir_in("/var/tmp")
        .unwrap_or_else(|e| panic!("/var/tmp: {e}"));
    let dir = dir.path();
    let db = dir.join("db");
    let first = workflow(
        dir,
        "first",
        "  steps:\n  - name: Keep\n    shell: echo secret-of-the-first-run > /data/kept.txt\n    artifacts:\n      paths: [/data/kept.txt]\n",
    );
    let (code, out, err) = testwerk_run(&db, &[&first, "--host"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let key = dir.join("db.artifact-key");
    assert!(key.is_file(), "the run made its token key beside the store");
    let stored = dir.join("artifacts");
    assert!(stored.is_dir(), "artifacts are kept beside the store");

    let probe = workflow(
        dir,
        "probe",
        &format!(
            "  steps:\n  - name: Look\n    shell: |\n      if test -s {key}; then echo KEY-READ; fi\n      if grep -r secret-of-the-first-run {stored} 2>/dev/null; then echo ARTIFACT-READ; fi\n      echo looked\n",
            key = key.display(),
            stored = stored.display()
        ),
    );
    let (code, out, err) = testwerk_run(&db, &[&probe, "--host"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("looked"), "{out}");
    assert!(
        !out.contains("KEY-READ"),
        "a step read the token key: {out}"
    );
    assert!(
        !out.contains("ARTIFACT-READ"),
        "a step read another run's artifact: {out}"
    );
}

#[test]
fn artifacts_go_to_s3_and_their_report_is_read_back_from_the_bucket() {
    let Some(moto) = testwerk_testinputs::moto::Moto::start() else {
        return;
    };
    moto.create_bucket("kept");
    let dir = scratch("local-artifacts-s3");
    let db = dir.join("db");
    let report = REPORT.replace('"', "\\\"").replace('\n', "");
    let file = workflow(
        &dir,
        "to-s3",
        &format!(
            "  steps:\n  - name: Test\n    workingDir: /data/out\n    shell: mkdir -p /data/out && printf '%s' \"{report}\" > /data/out/junit.xml\n    artifacts:\n      workingDir: /data/out\n      paths: ['*.xml']\n"
        ),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["run", &file, "--host", "--artifacts", "s3://kept/runs"])
        .args(["--s3-endpoint", &moto.endpoint, "--store"])
        .arg(&db)
        .env("TESTWERK_INIT", init_binary())
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "s3-secret-key-9a8b7c")
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run testwerk: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("s3-secret-key-9a8b7c"), "{text}");
    let keys = moto.keys("kept");
    let key = keys
        .iter()
        .find(|k| k.starts_with("runs/") && k.ends_with("junit.xml"))
        .unwrap_or_else(|| panic!("the report is in the bucket: {keys:?}"));
    let stored = moto.object("kept", key).unwrap_or_default();
    assert!(String::from_utf8_lossy(&stored).contains("divides"));
    assert!(
        !dir.join("artifacts").exists(),
        "nothing was stored beside the store"
    );
    let (code, tests, err) = testwerk_with_store(&db, &["tests", "to-s3-1"]);
    assert_eq!(code, Some(0), "{tests}\n{err}");
    assert!(
        tests.contains("1 passed") && tests.contains("1 failed"),
        "the report was read back from the bucket: {tests}"
    );
}
