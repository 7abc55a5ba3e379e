//! The toolkit's real client uploading over real HTTP to the receiver, into folder storage
//! and a real results store.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Read;
use std::sync::{Arc, Mutex};

use support::{Setup, upload_to, write_tree};
use testwerk_artifacts::{ArtifactHook, StorageSettings};
use testwerk_store::ArtifactRecord;

#[test]
fn globs_names_sizes_and_types_reach_the_store_and_the_folder_and_read_back() {
    let setup = Setup::folder(None);
    let work = setup.dir.path().join("work");
    let big = vec![7u8; 300_000];
    write_tree(
        &work,
        &[
            ("reports/TEST-a.xml", b"<testsuite name=\"a\"/>"),
            ("reports/deep/er/TEST-b.xml", b"<testsuite name=\"b\"/>"),
            ("reports/notes.txt", b"not matched"),
            ("log 1 ü.txt", b"hello"),
            ("blob.bin", &big),
        ],
    );
    let (out, result) = setup.upload(
        &[
            "reports/**/*.xml",
            "*.txt",
            "blob.bin",
            "reports/*.xml",
            "/etc/host*",
        ],
        &work,
        "r7",
    );
    assert_eq!(result, Ok(()), "{out}");
    // Each file once, printed with its size; the absolute pattern off the volumes is ignored
    // with a warning; a summary.
    assert!(out.contains("reports/TEST-a.xml (21 B)\n"), "{out}");
    assert!(out.contains("blob.bin (300.0 kB)\n"), "{out}");
    assert_eq!(out.matches("TEST-a.xml").count(), 1, "{out}");
    assert!(out.contains("warning: `/etc/host*` is ignored"), "{out}");
    assert!(
        out.contains("Found and uploaded 4 files (300.0 kB)"),
        "{out}"
    );

    let records = setup.store.artifacts(&setup.execution).unwrap();
    let mut got: Vec<(String, u64, String)> = records
        .iter()
        .map(|r| (r.name.clone(), r.size, r.content_type.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "blob.bin".into(),
                300_000,
                "application/octet-stream".into()
            ),
            ("log 1 ü.txt".into(), 5, "text/plain".into()),
            ("reports/TEST-a.xml".into(), 21, "application/xml".into()),
            (
                "reports/deep/er/TEST-b.xml".into(),
                21,
                "application/xml".into()
            ),
        ]
    );
    assert!(records.iter().all(|r| r.step_ref == "r7"));
    // On disk where the contract says, whole.
    let folder = setup
        .dir
        .path()
        .join("artifacts")
        .join(&setup.execution)
        .join("r7");
    assert_eq!(std::fs::read(folder.join("blob.bin")).unwrap(), big);
    assert_eq!(std::fs::read(folder.join("log 1 ü.txt")).unwrap(), b"hello");
    let incoming = setup.dir.path().join("artifacts/.incoming");
    assert_eq!(
        std::fs::read_dir(incoming).unwrap().count(),
        0,
        "no partial files left"
    );

    // Read back over HTTP: the list (no storage keys), one file, an unknown one.
    let (status, body) = setup.get(&format!("/api/v1/executions/{}/artifacts", setup.execution));
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(4), "{list}");
    assert!(list[0].get("storageKey").is_none(), "{list}");
    assert_eq!(list[0]["stepRef"], "r7");
    let (status, body) = setup.get(&format!(
        "/api/v1/executions/{}/artifacts/r7/blob.bin",
        setup.execution
    ));
    assert_eq!((status, body.len()), (200, big.len()));
    assert_eq!(body, big);
    let (status, body) = setup.get(&format!(
        "/api/v1/executions/{}/artifacts/r7/reports/deep/er/TEST-b.xml",
        setup.execution
    ));
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"<testsuite name=\"b\"/>"[..])
    );
    let (status, _) = setup.get(&format!(
        "/api/v1/executions/{}/artifacts/r7/nope.xml",
        setup.execution
    ));
    assert_eq!(status, 404);
    // The same step uploading a name again replaces it: still one row.
    std::fs::write(work.join("log 1 ü.txt"), b"hello again").unwrap();
    let (out, result) = setup.upload(&["*.txt"], &work, "r7");
    assert_eq!(result, Ok(()), "{out}");
    let again = setup
        .store
        .artifact(&setup.execution, "r7", "log 1 ü.txt")
        .unwrap()
        .unwrap();
    assert_eq!(again.size, 11);
    assert_eq!(setup.store.artifacts(&setup.execution).unwrap().len(), 4);
}

#[test]
fn absolute_patterns_on_a_volume_are_named_from_the_common_directory() {
    let setup = Setup::folder(None);
    let data = setup.dir.path().join("data");
    write_tree(
        &data,
        &[
            ("artifacts/k6.html", b"<html/>"),
            ("artifacts/x/summary.json", b"{}"),
        ],
    );
    let mount = data.to_string_lossy().into_owned();
    let pattern = format!("{mount}/artifacts/**");
    let (out, result) = setup.upload(&["-m", &mount, &pattern], &data.join("artifacts"), "r2");
    assert_eq!(result, Ok(()), "{out}");
    let mut names: Vec<String> = setup
        .store
        .artifacts(&setup.execution)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    assert_eq!(names, ["k6.html", "x/summary.json"]);
}

#[test]
fn compress_uploads_one_tar_gz_holding_every_file() {
    let setup = Setup::folder(None);
    let work = setup.dir.path().join("work");
    let files: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| {
            (
                format!("out/{i}/r.txt"),
                format!("report {i}").repeat(i + 1).into_bytes(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    write_tree(&work, &refs);
    let (out, result) = setup.upload(&["--compress", "reports", "out/**"], &work, "r3");
    assert_eq!(result, Ok(()), "{out}");
    assert!(out.contains("reports.tar.gz: 20 files"), "{out}");
    let records = setup.store.artifacts(&setup.execution).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].name, "reports.tar.gz");
    assert_eq!(records[0].content_type, "application/gzip");
    let path = setup
        .dir
        .path()
        .join("artifacts")
        .join(&setup.execution)
        .join("r3/reports.tar.gz");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), records[0].size);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&path).unwrap(),
    ));
    let mut unpacked = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        unpacked.push((name, bytes));
    }
    unpacked.sort();
    let mut expected = files.clone();
    expected.sort();
    assert_eq!(unpacked, expected);
}

#[test]
fn a_wrong_token_is_refused_and_never_printed() {
    let setup = Setup::folder(None);
    let work = setup.dir.path().join("work");
    write_tree(&work, &[("a.xml", b"<a/>"), ("b.xml", b"<b/>")]);
    // Another execution's token (from the same receiver), and a made-up one.
    let other = setup
        .store
        .create_execution(testwerk_store::NewExecution::new(
            "other",
            "",
            serde_json::json!({}),
        ))
        .unwrap();
    let mut stolen = setup.sink();
    stolen.token = setup.server.sink(&other.id).token;
    let mut made_up = setup.sink();
    made_up.token = "deadbeef".repeat(8);
    for sink in [stolen, made_up] {
        let (out, result) = upload_to(Some(&sink), &["*.xml"], &work, "r1");
        let error = result.expect_err("refused");
        assert!(error.contains("2 of 2 uploads failed"), "{error}");
        assert!(
            out.contains("the token does not authorize uploads to execution")
                && out.contains("HTTP 401"),
            "{out}"
        );
        assert!(
            !out.contains(&sink.token) && !error.contains(&sink.token),
            "{out}\n{error}"
        );
    }
    assert!(setup.store.artifacts(&setup.execution).unwrap().is_empty());
    assert!(setup.store.artifacts(&other.id).unwrap().is_empty());
    // No token at all, by hand.
    let url = format!("{}/r1/a.xml", setup.sink().url);
    let r = support::client().put(&url).send("x").unwrap();
    assert_eq!(r.status(), 401);
    // A name escaping the execution's folder is refused even with the right token.
    let r = support::client()
        .put(&format!("{}/r1/..%2F..%2Fescape", setup.sink().url))
        .header("Authorization", &format!("Bearer {}", setup.sink().token))
        .send("x")
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(!setup.dir.path().join("artifacts/escape").exists());
}

#[test]
fn a_full_storage_fails_that_file_with_the_reason_and_keeps_the_others() {
    let Some(fs) = testwerk_testinputs::tmpfs::Tmpfs::mount("2m") else {
        return;
    };
    let setup = Setup::folder(Some(&fs.dir.join("artifacts")));
    let work = setup.dir.path().join("work");
    let big = vec![1u8; 3 << 20];
    write_tree(
        &work,
        &[
            ("a-small.txt", b"first"),
            ("b-big.bin", &big),
            ("c-small.txt", b"third"),
        ],
    );
    let (out, result) = setup.upload(&["*"], &work, "r4");
    let error = result.expect_err("the big file does not fit");
    assert!(error.contains("1 of 3 uploads failed"), "{error}");
    assert!(
        out.contains("b-big.bin: failed: artifact storage folder")
            && out.contains("is full (no space left on device)"),
        "{out}"
    );
    assert!(out.contains("HTTP 507"), "{out}");
    let mut names: Vec<String> = setup
        .store
        .artifacts(&setup.execution)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    assert_eq!(names, ["a-small.txt", "c-small.txt"], "the others are kept");
    let folder = fs.dir.join("artifacts").join(&setup.execution).join("r4");
    assert_eq!(std::fs::read(folder.join("a-small.txt")).unwrap(), b"first");
    assert_eq!(std::fs::read(folder.join("c-small.txt")).unwrap(), b"third");
    assert!(!folder.join("b-big.bin").exists());
    let incoming = fs.dir.join("artifacts/.incoming");
    assert_eq!(
        std::fs::read_dir(incoming).unwrap().count(),
        0,
        "the partial file is removed"
    );
    drop(setup);
}

#[test]
fn an_artifact_over_the_size_limit_is_refused_with_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let settings = StorageSettings::beside_store(&dir.path().join("testwerk.db"));
    let setup = Setup::with(dir, &settings, |r| r.with_max_size(1000));
    let work = setup.dir.path().join("work");
    write_tree(
        &work,
        &[("ok.txt", &[0u8; 1000]), ("big.txt", &[0u8; 1001])],
    );
    let (out, result) = setup.upload(&["*.txt"], &work, "r1");
    assert!(result.is_err());
    assert!(
        out.contains("big.txt: failed: `big.txt` is 1001 bytes, over the 1000-byte limit"),
        "{out}"
    );
    let names: Vec<String> = setup
        .store
        .artifacts(&setup.execution)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["ok.txt"]);
    // Chunked (no length given): cut at the limit while streaming.
    let r = support::client()
        .put(&format!("{}/r1/stream.bin", setup.sink().url))
        .header("Authorization", &format!("Bearer {}", setup.sink().token))
        .send(ureq::SendBody::from_owned_reader(std::io::Cursor::new(
            vec![0u8; 5000],
        )))
        .unwrap();
    assert_eq!(r.status(), 413);
}

/// Records what it was handed; fails for names with `bad` in them.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, String, Vec<u8>)>>,
}

impl ArtifactHook for Recorder {
    fn wants(&self, record: &ArtifactRecord) -> bool {
        record.name.ends_with(".xml")
    }

    fn on_artifact(
        &self,
        execution: &str,
        record: &ArtifactRecord,
        content: &mut dyn Read,
    ) -> Result<(), String> {
        let mut bytes = Vec::new();
        content.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        self.seen
            .lock()
            .unwrap()
            .push((execution.to_owned(), record.name.clone(), bytes));
        if record.name.contains("bad") {
            return Err("not a JUnit report: no <testsuite>".into());
        }
        Ok(())
    }
}

#[test]
fn the_hook_reads_each_wanted_artifact_and_its_failure_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let settings = StorageSettings::beside_store(&dir.path().join("testwerk.db"));
    let hook = Arc::new(Recorder::default());
    let for_receiver: Arc<dyn ArtifactHook> = hook.clone();
    let setup = Setup::with(dir, &settings, move |r| r.with_hook(for_receiver));
    let work = setup.dir.path().join("work");
    write_tree(
        &work,
        &[
            ("good.xml", b"<testsuite/>"),
            ("bad.xml", b"garbage"),
            ("x.txt", b"t"),
        ],
    );
    let (out, result) = setup.upload(&["*"], &work, "r9");
    assert_eq!(result, Ok(()), "{out}");
    assert!(
        out.contains("warning: bad.xml: not a JUnit report"),
        "{out}"
    );
    let mut seen = hook.seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                setup.execution.clone(),
                "bad.xml".into(),
                b"garbage".to_vec()
            ),
            (
                setup.execution.clone(),
                "good.xml".into(),
                b"<testsuite/>".to_vec()
            ),
        ]
    );
    assert_eq!(
        setup.store.artifacts(&setup.execution).unwrap().len(),
        3,
        "all kept"
    );
}

#[test]
fn serve_for_store_keeps_artifacts_beside_the_store_and_tokens_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("testwerk.db");
    let store = Arc::new(testwerk_store::Store::open(&db).unwrap());
    let execution = store
        .create_execution(testwerk_store::NewExecution::new(
            "w",
            "",
            serde_json::json!({}),
        ))
        .unwrap();
    let flags = testwerk_artifacts::StorageFlags::default();
    let first = testwerk_artifacts::serve_for_store(Arc::clone(&store), &flags, None).unwrap();
    let sink = first.sink(&execution.id);
    drop(first);
    // Restarted (another port, the same key file): the token a running Pod holds still works.
    let second = testwerk_artifacts::serve_for_store(Arc::clone(&store), &flags, None).unwrap();
    let moved = second.sink(&execution.id);
    assert_eq!(moved.token, sink.token);
    let work = dir.path().join("work");
    write_tree(&work, &[("a.txt", b"a")]);
    let (out, result) = upload_to(Some(&moved), &["*.txt"], &work, "r1");
    assert_eq!(result, Ok(()), "{out}");
    assert!(
        dir.path()
            .join("artifacts")
            .join(&execution.id)
            .join("r1/a.txt")
            .is_file()
    );
    assert!(dir.path().join("testwerk.db.artifact-key").is_file());
}
