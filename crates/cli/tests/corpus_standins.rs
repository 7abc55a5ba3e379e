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
      printf 'pytest==8.3.3\\n' > /tmp/requirements.txt
      pip install -r /tmp/requirements.txt --no-index && echo 'requirements satisfied offline'
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
    assert!(
        out.contains("pytest 8.3.3"),
        "the corpus's pinned pytest runs: {}",
        tail(&out)
    );
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

/// A Postman collection with one request to the registry and two tests, one failing.
const COLLECTION: &str = r#"{
  "info": {"name": "standin", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
  "item": [{
    "name": "Registry",
    "request": {"method": "GET", "url": "http://REGISTRY/v2/"},
    "event": [{"listen": "test", "script": {"exec": [
      "pm.test('status is 200', function () { pm.response.to.have.status(200); });",
      "pm.test('status is 418', function () { pm.response.to.have.status(418); });"
    ]}}]
  }]
}"#;

#[test]
fn the_newman_stand_in_runs_a_collection_and_writes_a_junit_report() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let started = std::time::Instant::now();
    let Some(newman) = testwerk_testregistry::newman_image() else {
        return;
    };
    testwerk_testregistry::push_tags(
        &registry,
        "postman/newman",
        testwerk_testregistry::NEWMAN_TAGS,
        &newman,
    );
    println!(
        "newman stand-in built and pushed in {:?}",
        started.elapsed()
    );
    let dir = scratch("newman-standin");
    // One line: it goes into a YAML block scalar.
    let collection = COLLECTION
        .replace("REGISTRY", &registry.host)
        .replace('\n', " ");
    let file = dir.join("newman.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: testworkflows.testkube.io/v1
kind: TestWorkflow
metadata:
  name: newman
spec:
  container:
    image: postman/newman:6-alpine
  steps:
  - name: Newman
    shell: |
      newman --version
      cat > c.json <<'END'
      {collection}
      END
      newman run c.json -r cli,junit --reporter-junit-export /data/newman.xml || echo \"newman exit $?\"
      cat /data/newman.xml; echo
"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
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
        out.contains(testwerk_testregistry::NEWMAN_VERSION),
        "newman runs: {}",
        tail(&out)
    );
    assert!(
        out.contains("newman exit 1"),
        "one test failed: {}",
        tail(&out)
    );
    let (code, log, err) = testwerk_with_store(&db, &["logs", "newman-1"]);
    assert_eq!(code, Some(0), "{err}");
    let xml: String = log
        .lines()
        .skip_while(|l| !l.starts_with("<?xml"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut reader = ReportReader::new(xml.as_bytes(), "newman.xml");
    assert_eq!(reader.format(), Some(Format::Junit), "{log}");
    let outcome: Vec<(String, CaseStatus)> = reader.by_ref().map(|c| (c.name, c.status)).collect();
    assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
    assert_eq!(
        outcome,
        [
            ("status is 200".to_owned(), CaseStatus::Passed),
            ("status is 418".to_owned(), CaseStatus::Failed)
        ],
        "{xml}"
    );
}

#[test]
fn the_k6_stand_in_runs_a_load_test_as_its_user() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let started = std::time::Instant::now();
    let Some(k6) = testwerk_testregistry::k6_image() else {
        return;
    };
    testwerk_testregistry::push_tags(&registry, "grafana/k6", testwerk_testregistry::K6_TAGS, &k6);
    println!("k6 stand-in built and pushed in {:?}", started.elapsed());
    let dir = scratch("k6-standin");
    let file = dir.join("k6.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: testworkflows.testkube.io/v1
kind: TestWorkflow
metadata:
  name: k6
spec:
  container:
    image: grafana/k6:1.1.0
  steps:
  - name: Load
    shell: |
      k6 version
      echo \"uid $(id -u) in $(pwd), home $HOME\"
      cat > script.js <<'END'
      import http from 'k6/http';
      import {{ check }} from 'k6';
      export const options = {{ vus: 1, iterations: 3, thresholds: {{ checks: ['rate==1'] }} }};
      export default function () {{
        check(http.get('http://{host}/v2/'), {{ 'status is 200': (r) => r.status === 200 }});
      }}
      END
      k6 run --no-color script.js
",
            host = registry.host
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mirror = format!("docker.io={}", registry.host);
    let (code, out, err) = testwerk_run(
        &dir.join("db"),
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
        out.contains(&format!("k6 v{}", testwerk_testregistry::K6_VERSION)),
        "k6 runs: {}",
        tail(&out)
    );
    assert!(
        out.contains("uid 12345 in /home/k6, home /home/k6"),
        "as the image's user, with its home from the image's /etc/passwd (runc's rule): {}",
        tail(&out)
    );
    assert!(
        out.contains("status is 200") && out.contains("3 complete"),
        "the load test ran its three iterations against the registry: {}",
        tail(&out)
    );
}

/// The corpus's `pytest-workflow-smoke`, unchanged: its tests cloned from a mirror of
/// `https://github.com/kubeshop/testkube` (upstream's `test/` folder served by `git
/// http-backend` on 127.0.0.1), run in the `python:3.12.6-alpine3.20` stand-in, where its
/// `pip install -r requirements.txt` finds the pinned pytest installed.
#[test]
fn the_corpus_pytest_workflow_passes_locally_from_the_mirror() {
    // Content is cloned by the toolkit inside the python image: it must be static.
    let Some(_toolkit) = toolkit_binary() else {
        return;
    };
    let Some(corpus) = testwerk_testinputs::corpus() else {
        return;
    };
    let upstream = corpus
        .parent()
        .map(|p| p.join("testkube-repo"))
        .filter(|p| p.join("test").is_dir());
    let Some(upstream) = testwerk_testinputs::available(
        upstream,
        "upstream's test/ folder (testkube-repo beside the corpus)",
        "put the testkube repository's test/ folder in testkube-repo beside the corpus",
    ) else {
        return;
    };
    let Some(repos) = testwerk_testcontent::Repos::new() else {
        return;
    };
    repos.from_tree("kubeshop/testkube", &upstream);
    let Some(git) = testwerk_testcontent::GitServer::start(repos.root()) else {
        return;
    };
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(_standins) = push_corpus_standins(&registry) else {
        return;
    };
    let dir = scratch("corpus-pytest");
    let file = corpus.join("test/pytest/crd-workflow/smoke.yaml");
    let registry_mirror = format!("docker.io={}", registry.host);
    let git_mirror = format!("https://github.com/={}", git.base_url());
    let (code, out, err) = testwerk_run(
        &dir.join("db"),
        &[
            file.to_str().unwrap_or_default(),
            "--workflow",
            "pytest-workflow-smoke",
            "--registry-mirror",
            &registry_mirror,
            "--insecure",
            &registry.host,
            "--git-mirror",
            &git_mirror,
            "--image-cache",
            dir.join("images").to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("Requirement already satisfied: pytest==8.3.3"),
        "pip found the pinned pytest: {}",
        tail(&out)
    );
    assert!(
        out.contains(" passed"),
        "pytest ran the tests: {}",
        tail(&out)
    );
    assert!(
        git.served()
            .iter()
            .any(|s| s.url.contains("kubeshop/testkube")),
        "cloned from the mirror"
    );
}
