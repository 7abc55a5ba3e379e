//! S3 storage against moto's real S3 server on 127.0.0.1, through the receiver and the
//! toolkit's real client; and an S3 endpoint nobody answers.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Read;
use std::sync::{Arc, Mutex};

use support::{Moto, Setup, free_port, write_tree};
use testwerk_artifacts::ArtifactHook;
use testwerk_artifacts::{S3Credentials, S3Settings, StorageSettings};
use testwerk_store::ArtifactRecord;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn s3(endpoint: &str, bucket: &str) -> StorageSettings {
    StorageSettings::S3(S3Settings {
        bucket: bucket.into(),
        prefix: "runs".into(),
        endpoint: Some(endpoint.into()),
        region: "us-east-1".into(),
        credentials: Some(S3Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: SECRET.into(),
            session_token: None,
        }),
    })
}

#[test]
fn artifacts_go_to_the_bucket_and_read_back() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("artifacts");
    let storage = testwerk_artifacts::Storage::open(&s3(&moto.endpoint, "artifacts")).unwrap();
    assert!(!format!("{storage:?}").contains(SECRET), "{storage:?}");
    let hook = Arc::new(Sizes::default());
    let for_receiver: Arc<dyn ArtifactHook> = hook.clone();
    let setup = Setup::with(
        tempfile::tempdir().unwrap(),
        &s3(&moto.endpoint, "artifacts"),
        move |r| r.with_hook(for_receiver),
    );
    let work = setup.dir.path().join("work");
    // Over the 8 MiB part size: a multipart upload.
    let big: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
    write_tree(
        &work,
        &[("reports/junit.xml", b"<testsuite/>"), ("big.bin", &big)],
    );
    let (out, result) = setup.upload(&["**/*"], &work, "r3");
    assert_eq!(result, Ok(()), "{out}");
    assert!(!out.contains(SECRET));
    let key = format!("runs/{}/r3/reports/junit.xml", setup.execution);
    assert_eq!(
        moto.object("artifacts", &key).as_deref(),
        Some(&b"<testsuite/>"[..])
    );
    let records = setup.store.artifacts(&setup.execution).unwrap();
    let big_record = records.iter().find(|r| r.name == "big.bin").unwrap();
    assert_eq!(big_record.size, big.len() as u64);
    let (status, body) = setup.get(&format!(
        "/api/v1/executions/{}/artifacts/r3/big.bin",
        setup.execution
    ));
    assert_eq!(status, 200);
    assert!(body == big, "the download differs ({} bytes)", body.len());
    // The hook read both back from the bucket, whole.
    let mut seen = hook.0.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("big.bin".to_owned(), big.len()),
            ("reports/junit.xml".to_owned(), 12)
        ]
    );
}

/// Reads every artifact back and notes its length.
#[derive(Default)]
struct Sizes(Mutex<Vec<(String, usize)>>);

impl ArtifactHook for Sizes {
    fn wants(&self, _: &ArtifactRecord) -> bool {
        true
    }

    fn on_artifact(
        &self,
        _: &str,
        record: &ArtifactRecord,
        content: &mut dyn Read,
    ) -> Result<(), String> {
        let mut bytes = Vec::new();
        content.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        self.0
            .lock()
            .unwrap()
            .push((record.name.clone(), bytes.len()));
        Ok(())
    }
}

#[test]
fn a_missing_bucket_or_an_unreachable_endpoint_fails_the_upload_with_the_reason() {
    let Some(moto) = Moto::start() else { return };
    let setup = Setup::with(
        tempfile::tempdir().unwrap(),
        &s3(&moto.endpoint, "nobucket"),
        |r| r,
    );
    let work = setup.dir.path().join("work");
    write_tree(&work, &[("a.txt", b"a")]);
    let (out, result) = setup.upload(&["*.txt"], &work, "r1");
    let error = result.expect_err("no such bucket");
    assert!(
        out.contains("a.txt: failed: artifact storage s3://nobucket/runs"),
        "{out}"
    );
    assert!(out.contains("HTTP 502"), "{out}");
    assert!(
        out.contains("NoSuchBucket") || out.contains("does not exist"),
        "{out}"
    );
    assert!(!out.contains(SECRET) && !error.contains(SECRET), "{out}");
    drop(moto);

    // Nothing listens on this port.
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let setup = Setup::with(
        tempfile::tempdir().unwrap(),
        &s3(&endpoint, "artifacts"),
        |r| r,
    );
    let work = setup.dir.path().join("work");
    write_tree(&work, &[("a.txt", b"a"), ("b.txt", b"b")]);
    let started = std::time::Instant::now();
    let (out, result) = setup.upload(&["*.txt"], &work, "r1");
    let error = result.expect_err("unreachable");
    assert!(error.contains("2 of 2 uploads failed"), "{error}");
    assert!(
        out.contains(&format!(
            "artifact storage s3://artifacts/runs at {endpoint}"
        )),
        "{out}"
    );
    assert!(out.to_lowercase().contains("connect"), "the reason: {out}");
    assert!(!out.contains(SECRET) && !error.contains(SECRET), "{out}");
    // Shown with --nocapture: the message a user reads.
    println!("{out}");
    assert!(
        started.elapsed().as_secs() < 60,
        "gave up in {:?}",
        started.elapsed()
    );
    assert!(setup.store.artifacts(&setup.execution).unwrap().is_empty());
}

#[test]
fn an_https_endpoint_speaks_tls_and_refuses_a_certificate_it_does_not_trust() {
    // moto with its own self-signed certificate: the TLS stack (rustls on ring) runs, and the
    // upload fails naming the certificate, not with a panic or a silent success.
    let Some(moto) = Moto::start_tls() else {
        return;
    };
    let setup = Setup::with(
        tempfile::tempdir().unwrap(),
        &s3(&moto.endpoint, "artifacts"),
        |r| r,
    );
    let work = setup.dir.path().join("work");
    write_tree(&work, &[("a.txt", b"a")]);
    let (out, result) = setup.upload(&["*.txt"], &work, "r1");
    assert!(result.is_err(), "{out}");
    assert!(out.to_lowercase().contains("certificate"), "{out}");
    assert!(!out.contains(SECRET), "{out}");
}
