//! `testwerk toolkit artifacts` (the binary, with the settings a backend puts in its
//! environment) uploading to a receiver over real HTTP, then `testwerk artifacts` listing and
//! downloading them from the store and through the receiver's API.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use testwerk_artifacts::{Receiver, Storage, StorageSettings, TokenKey, serve_local};
use testwerk_protocol::toolkit::{ArtifactSink, ToolkitSettings};
use testwerk_store::{NewExecution, Store};

fn toolkit(
    cwd: &Path,
    sink: &ArtifactSink,
    step: &str,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let settings = ToolkitSettings {
        artifacts: Some(sink.clone()),
        ..Default::default()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .arg("toolkit")
        .arg("artifacts")
        .args(args)
        .current_dir(cwd)
        .env(
            testwerk_protocol::env::TOOLKIT,
            serde_json::to_string(&settings).unwrap(),
        )
        .env("TW_REF", step)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn testwerk(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn uploaded_artifacts_are_listed_and_downloaded_locally_and_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("testwerk.db");
    let store = Arc::new(Store::open(&db).unwrap());
    let execution = store
        .create_execution(NewExecution::new("arts", "", serde_json::json!({})))
        .unwrap();
    let storage = Storage::open(&StorageSettings::beside_store(&db)).unwrap();
    let tokens = TokenKey::load_or_create(&TokenKey::path_beside(&db)).unwrap();
    let server = serve_local(Receiver::new(storage, Arc::clone(&store), tokens)).unwrap();
    let sink = server.sink(&execution.id);

    let work = dir.path().join("work");
    std::fs::create_dir_all(work.join("reports")).unwrap();
    std::fs::write(work.join("reports/junit.xml"), "<testsuite/>").unwrap();
    std::fs::write(work.join("summary.json"), "{\"ok\":true}").unwrap();
    let (code, out, err) = toolkit(&work, &sink, "r2", &["reports/*.xml", "*.json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("reports/junit.xml (12 B)") && out.contains("Found and uploaded 2 files"),
        "{out}"
    );
    // A later step stores the same name again: a second artifact, of that step.
    std::fs::write(work.join("summary.json"), "{\"ok\":false}").unwrap();
    let (code, out, err) = toolkit(&work, &sink, "r3", &["*.json"]);
    assert_eq!(code, Some(0), "{out}{err}");

    // A wrong token: the step fails with the receiver's reason, and never shows the token.
    let mut wrong = sink.clone();
    wrong.token = TokenKey::random().token(&execution.id);
    let (code, out, err) = toolkit(&work, &wrong, "r4", &["*.json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("the token does not authorize uploads"),
        "{err}"
    );
    assert!(!out.contains(&wrong.token) && !err.contains(&wrong.token));

    let db_arg = db.to_string_lossy().into_owned();
    let (code, out, err) = testwerk(&["artifacts", "arts-1", "--store", &db_arg]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("STEP") && lines[0].contains("NAME"),
        "{out}"
    );
    // One upload's files arrive in any order (several at once); the steps in theirs.
    assert!(
        lines[1..3].iter().any(|l| l.starts_with("r2")
            && l.contains("reports/junit.xml")
            && l.contains("12 B")
            && l.contains("application/xml")),
        "{out}"
    );
    assert!(
        lines[3].starts_with("r3") && lines[3].contains("summary.json"),
        "{out}"
    );
    assert_eq!(lines.len(), 4, "{out}");

    let (code, out, _) = testwerk(&[
        "artifacts",
        &execution.id,
        "--store",
        &db_arg,
        "--output",
        "json",
    ]);
    assert_eq!(code, Some(0));
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{out}");
    assert_eq!(listed[2]["stepRef"], "r3");

    // Downloads, from the local storage and through the API: the same files; a name two
    // steps stored goes under each step's ref.
    let server_url = format!("http://{}", server.address());
    for (label, source) in [
        ("local", vec!["--store", db_arg.as_str()]),
        ("api", vec!["--server", server_url.as_str()]),
    ] {
        let target = dir.path().join(format!("download-{label}"));
        let target_arg = target.to_string_lossy().into_owned();
        let mut args = vec!["artifacts", "arts-1", "--download", &target_arg];
        args.extend(&source);
        let (code, out, err) = testwerk(&args);
        assert_eq!(code, Some(0), "{label}: {out}{err}");
        assert!(
            out.contains("downloaded 3 artifacts (35 B)"),
            "{label}: {out}"
        );
        assert_eq!(
            std::fs::read_to_string(target.join("reports/junit.xml")).unwrap(),
            "<testsuite/>"
        );
        assert_eq!(
            std::fs::read_to_string(target.join("r2/summary.json")).unwrap(),
            "{\"ok\":true}"
        );
        assert_eq!(
            std::fs::read_to_string(target.join("r3/summary.json")).unwrap(),
            "{\"ok\":false}"
        );
    }

    let (code, _, err) = testwerk(&["artifacts", "nope-9", "--store", &db_arg]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no execution `nope-9`"), "{err}");
    let (code, _, err) = testwerk(&["artifacts", "nope-9", "--server", &server_url]);
    assert_eq!(code, Some(2));
    assert!(err.contains("nope-9"), "{err}");
}
