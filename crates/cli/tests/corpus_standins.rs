//! The corpus's tool images stood in (`curlimages/curl:8.7.1`, `python:3.12.6-alpine3.20`
//! with pytest), pushed to Debian's `docker-registry` and run in image mode through
//! `testwerk run`: curl fetches over the network, pytest runs tests and writes a JUnit report
//! that our reader reads.

mod support;

use support::*;
use testwerk_reports::{CaseStatus, Format, ReportReader};
use testwerk_testregistry::{Registry, push_corpus_standins};

fn workflow(registry: &str) -> String {
    format!(
        "apiVersion: testworkflows.testkube.io/v1
kind: TestWorkflow
metadata:
  name: standins
spec:
  steps:
  - name: Curl
    container:
      image: curlimages/curl:8.7.1
    shell: curl --version && echo \"uid $(id -u)\" && curl -fsS http://{registry}/v2/ && echo ' fetched'
  - name: Pytest
    container:
      image: python:3.12.6-alpine3.20
    shell: |
      python3 -m pytest --version
      mkdir -p /data/t && cd /data/t
      printf 'def test_ok():\\n    assert 1 + 1 == 2\\n\\ndef test_bad():\\n    assert 1 == 2\\n' > test_x.py
      pytest -q -p no:cacheprovider --junitxml=/data/report.xml test_x.py || echo \"pytest exit $?\"
      cat /data/report.xml; echo
"
    )
}

#[test]
fn curl_and_pytest_stand_ins_run_and_pytest_writes_a_report_we_read() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let started = std::time::Instant::now();
    let Some(_standins) = push_corpus_standins(&registry) else {
        return;
    };
    println!("stand-ins built and pushed in {:?}", started.elapsed());
    let dir = scratch("corpus-standins");
    let file = dir.join("standins.yaml");
    std::fs::write(&file, workflow(&registry.host)).unwrap_or_else(|e| panic!("{e}"));
    let mirror = format!("docker.io={}", registry.host);
    let db = dir.join("db");
    let (code, out, err) = testwerk_run(
        &db,
        &[
            file.to_str().unwrap_or_default(),
            "--registry-mirror",
            &mirror,
            "--insecure",
            &registry.host,
            "--image-cache",
            dir.join("images").to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("curl 7.88.1"),
        "Debian's curl runs: {}",
        tail(&out)
    );
    assert!(
        out.contains("uid 100"),
        "as the image's user curl_user: {}",
        tail(&out)
    );
    assert!(
        out.contains("{} fetched"),
        "curl reached the registry: {}",
        tail(&out)
    );
    assert!(out.contains("pytest 7."), "pytest runs: {}", tail(&out));
    assert!(
        out.contains("pytest exit 1"),
        "one test failed: {}",
        tail(&out)
    );

    // The report pytest wrote, as the step printed it.
    let (code, log, err) = testwerk_with_store(&db, &["logs", "standins-1", "--step", "Pytest"]);
    assert_eq!(code, Some(0), "{err}");
    let xml: String = log
        .lines()
        .skip_while(|l| !l.starts_with("<?xml"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut reader = ReportReader::new(xml.as_bytes(), "report.xml");
    assert_eq!(reader.format(), Some(Format::Junit), "{log}");
    let cases: Vec<_> = reader.by_ref().collect();
    assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
    let outcome: Vec<(&str, CaseStatus)> =
        cases.iter().map(|c| (c.name.as_str(), c.status)).collect();
    assert_eq!(
        outcome,
        [
            ("test_ok", CaseStatus::Passed),
            ("test_bad", CaseStatus::Failed)
        ]
    );
    assert_eq!(cases[1].class.as_deref(), Some("test_x"));
    assert!(
        cases[1]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("assert 1 == 2")),
        "{:?}",
        cases[1]
    );
}
