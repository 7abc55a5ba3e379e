//! `testwerk ui` over a real local store: who may come in, that every route in its OpenAPI
//! document is served, and — in headless Chromium — the list, an execution's page, a
//! workflow's flaky test and a live run updating without a reload.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testwerk_testbrowser::Browser;

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ui")
        .join(name)
        .display()
        .to_string()
}

/// `testwerk ui` on a free loopback port, killed on drop.
struct Ui {
    child: Child,
    /// `http://127.0.0.1:PORT`
    base: String,
    token: String,
}

impl Ui {
    fn start(store: &Path) -> Ui {
        let mut child = Command::new(env!("CARGO_BIN_EXE_testwerk"))
            .args(["ui", "--listen", "127.0.0.1:0", "--store"])
            .arg(store)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("testwerk ui: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut first = String::new();
        let mut reader = BufReader::new(stdout);
        reader
            .read_line(&mut first)
            .unwrap_or_else(|e| panic!("testwerk ui: {e}"));
        // The rest is read (and dropped) so that the server never writes to a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        // testwerk ui: http://127.0.0.1:PORT/login?token=TOKEN
        let url = first
            .trim()
            .strip_prefix("testwerk ui: ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"));
        let (base, token) = url
            .split_once("/login?token=")
            .unwrap_or_else(|| panic!("no token in {url}"));
        Ui {
            child,
            base: base.to_owned(),
            token: token.to_owned(),
        }
    }

    fn login_url(&self, next: &str) -> String {
        format!("{}/login?token={}&next={next}", self.base, self.token)
    }

    /// (status, body) of a request, with the token or without.
    fn request(&self, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(Duration::from_secs(30)))
                .build(),
        );
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let answer = match method {
            "GET" => {
                let mut r = agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            _ => {
                let mut r = agent.post(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send_empty()
            }
        };
        match answer {
            Ok(mut a) => {
                let status = a.status().as_u16();
                // Streams (SSE) never end: their first bytes are enough.
                let mut body = String::new();
                let mut reader = a.body_mut().as_reader();
                let mut buf = [0u8; 4096];
                if let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
                    body = String::from_utf8_lossy(&buf[..n]).into_owned();
                }
                (status, body)
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_flaky(store: &Path, times: usize) {
    for n in 1..=times {
        let (code, out, err) = support::testwerk_run(store, &[&data("flaky.yaml"), "--host"]);
        // Even runs fail (their login case fails); odd ones pass.
        let expected = if n % 2 == 0 { Some(1) } else { Some(0) };
        assert_eq!(code, expected, "run {n}:\n{out}\n{err}");
    }
}

#[test]
fn the_ui_lets_in_only_its_token_and_serves_every_route_of_its_openapi_document() {
    let scratch = support::scratch("ui-routes");
    let store = scratch.join("db");
    run_flaky(&store, 2);
    let ui = Ui::start(&store);

    // Nothing without the token, writable or not; a wrong token is no better.
    assert_eq!(ui.request("GET", "/", None).0, 401);
    assert_eq!(ui.request("GET", "/", Some("not-the-token")).0, 401);
    assert_eq!(ui.request("POST", "/executions/flaky-1/rerun", None).0, 401);
    assert_eq!(
        ui.request("POST", "/executions/flaky-1/control/abort", None)
            .0,
        401
    );
    assert_eq!(
        ui.request("GET", "/v1/executions/flaky-1/live", None).0,
        401
    );
    assert_eq!(
        ui.request("GET", "/api/v1/executions/flaky-1/artifacts", None)
            .0,
        401
    );
    // Public: the login page, the assets, the metrics and the document.
    assert_eq!(ui.request("GET", "/login", None).0, 200);

    let (status, text) = ui.request("GET", "/v1/openapi.json", None);
    assert_eq!(status, 200);
    // (The first read of a big document may be partial: read it whole.)
    let doc: Value = ureq::get(&format!("{}/v1/openapi.json", ui.base))
        .call()
        .and_then(|mut a| a.body_mut().read_json())
        .unwrap_or_else(|e| panic!("openapi.json: {e} ({text:.200})"));
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() >= 15, "{paths:?}");
    let token = ui.token.clone();
    for (path, item) in &paths {
        for (method, _) in item.as_object().cloned().unwrap_or_default() {
            let concrete = path
                .replace("{id}", "flaky-1")
                .replace("{name}", "flaky")
                .replace("{command}", "pause")
                .replace("{step}", "nostep");
            // A re-run would start a run: asked of an unknown execution, it must still be
            // routed (answered by its handler, not the router's 404 or 405).
            let concrete = if path.ends_with("/rerun") {
                concrete.replace("flaky-1", "nosuch-1")
            } else {
                concrete
            };
            let (status, body) = ui.request(&method.to_uppercase(), &concrete, Some(&token));
            assert!(
                status != 405 && !(status == 404 && body.is_empty()),
                "{method} {path} is in the document but not served ({status})"
            );
            if method == "get" && !path.contains("{step}") {
                assert_eq!(status, 200, "GET {concrete}: {body:.300}");
            }
        }
    }
    // What the document says is a valid OpenAPI 3.1 document.
    validate_openapi(&scratch, &doc);

    // The metrics count the two runs and time the requests above by route.
    let (_, metrics) = ui.request("GET", "/metrics", None);
    let metrics = ureq::get(&format!("{}/metrics", ui.base))
        .call()
        .and_then(|mut a| a.body_mut().read_to_string())
        .unwrap_or(metrics);
    assert!(
        metrics.contains("testwerk_executions{status=\"passed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("testwerk_executions{status=\"failed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("testwerk_execution_duration_seconds_count 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"testwerk_http_request_duration_seconds_count{path="/",method="GET",code="4xx"} 2"#
        ),
        "{metrics}"
    );
    assert!(
        !metrics.contains("flaky-1"),
        "no execution names in labels: {metrics}"
    );

    // Only loopback.
    let out = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["ui", "--listen", "0.0.0.0:0", "--store"])
        .arg(&store)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback only"));
}

/// `openapi-spec-validator` (PyPI; scripts/test installs it beside moto) checks the document.
fn validate_openapi(dir: &Path, doc: &Value) {
    let python = testwerk_testinputs::moto_python().filter(|p| {
        Command::new(p)
            .args(["-c", "import openapi_spec_validator"])
            .status()
            .is_ok_and(|s| s.success())
    });
    let Some(python) = testwerk_testinputs::available(
        python,
        "openapi-spec-validator (Python)",
        "pip install openapi-spec-validator (scripts/test does, in its venv)",
    ) else {
        return;
    };
    let file = dir.join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "the OpenAPI document is not valid:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_browser_sees_the_list_an_execution_a_flaky_test_and_a_live_run() {
    let Some(mut browser) = Browser::start() else {
        return;
    };
    let scratch = support::scratch("ui-browser");
    let store = scratch.join("db");
    run_flaky(&store, 3);
    let ui = Ui::start(&store);
    let wait = Duration::from_secs(30);

    // The list of a fresh store shows its executions by name.
    browser.goto(&ui.login_url("/"));
    browser.wait_for("document.querySelector('#rows') !== null", wait);
    let rows = browser.text("#rows");
    for name in ["flaky-1", "flaky-2", "flaky-3"] {
        assert!(rows.contains(name), "{rows}");
    }

    // An execution: its step tree, its log with step headers, its test cases failures first.
    browser.goto(&format!("{}/executions/flaky-2", ui.base));
    let steps = browser.text("#steps");
    assert!(
        steps.contains("Prepare") && steps.contains("Tests"),
        "{steps}"
    );
    assert!(steps.contains("failed"), "{steps}");
    let log = browser.text("#log");
    assert!(
        log.contains("setup line 30") && log.contains("▸ Prepare"),
        "{log}"
    );
    assert_eq!(
        browser.eval("document.querySelector('#log .b.f2') && document.querySelector('#log .b.f2').textContent"),
        Value::from("ready"),
        "the ANSI colours of the log are shown"
    );
    let first_case = browser.text("#cases tr:nth-child(2)");
    assert!(
        first_case.contains("failed") && first_case.contains("auth.login"),
        "{first_case}"
    );
    assert!(first_case.contains("timeout after 5s"), "{first_case}");

    // The workflow: health over its runs, and its flaky test flagged.
    browser.goto(&format!("{}/workflows/flaky", ui.base));
    let health = browser.text("#health");
    assert!(
        health.contains("67%") && health.contains("pass rate"),
        "{health}"
    );
    let flaky = browser.text("#history .is-flaky");
    assert!(
        flaky.contains("auth.login") && flaky.contains("flaky"),
        "{flaky}"
    );

    // A live run: the list shows it arrive, and its page follows it to the end, no reload.
    browser.goto(&format!("{}/", ui.base));
    browser.eval("window.sameList = true");
    // Host-mode steps see this machine's directories, but a /tmp of their own: the file
    // goes under the target directory.
    let release =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ui-release-{}", std::process::id()));
    let _ = std::fs::remove_file(&release);
    let mut run = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .arg("run")
        .arg(data("slow.yaml"))
        .arg("--host")
        .arg("--store")
        .arg(&store)
        .arg("--config")
        .arg(format!("release={}", release.display()))
        .env("TESTWERK_INIT", support::init_binary())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    browser.wait_for(
        "document.querySelector('#rows').textContent.includes('slow-1') && window.sameList",
        wait,
    );
    browser.goto(&format!("{}/executions/slow-1", ui.base));
    browser.eval("window.samePage = true");
    browser.wait_for(
        "document.querySelector('#log').textContent.includes('waiting for the release')",
        wait,
    );
    assert!(
        browser.text("#status").contains("running"),
        "{}",
        browser.text("#status")
    );
    std::fs::write(&release, "").unwrap_or_else(|e| panic!("{e}"));
    browser.wait_for(
        "document.querySelector('#status').textContent.includes('passed') \
         && document.querySelector('#log').textContent.includes('released after the wait') \
         && window.samePage",
        wait,
    );
    let steps = browser.text("#steps");
    assert!(
        steps.contains("Wait for the test") && steps.contains("passed"),
        "{steps}"
    );
    let started = Instant::now();
    while run.try_wait().ok().flatten().is_none() && started.elapsed() < wait {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = run.kill();
    let _ = std::fs::remove_file(&release);

    // The pictures the README shows, when asked for.
    if let Some(dir) = std::env::var_os("TESTWERK_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        browser.goto(&format!("{}/", ui.base));
        browser.screenshot(&dir.join("executions.png"), 520);
        browser.goto(&format!("{}/executions/flaky-2", ui.base));
        browser.screenshot(&dir.join("execution.png"), 1500);
        browser.goto(&format!("{}/workflows/flaky", ui.base));
        browser.screenshot(&dir.join("workflow.png"), 560);
    }
}
