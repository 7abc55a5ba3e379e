//! Tests only: Debian's headless Chromium, driven over the DevTools protocol.
//!
//! [`Browser::start`] launches `chromium --headless` with a throwaway profile and
//! `--remote-debugging-port=0`, reads the port it chose from its stderr, and connects to its
//! first page over a WebSocket. The page is then driven like a person's: [`Browser::goto`]
//! loads a URL (cookies persist, as in a real browser), [`Browser::eval`] runs JavaScript and
//! returns its value, [`Browser::wait_for`] polls an expression until it is true. The process
//! is killed when the [`Browser`] is dropped.
//!
//! Without Chromium, [`Browser::start`] returns `None` through [`testwerk_testinputs::available`]:
//! a counted skip, a failure under `CI`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

pub struct Browser {
    child: Child,
    socket: WebSocket<TcpStream>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// Chromium's binary, as Debian installs it.
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "chromium-headless-shell"]
        .iter()
        .find_map(|name| testwerk_testinputs::which(name))
}

impl Browser {
    /// A headless Chromium with an empty profile; `None` (a counted skip) without Chromium.
    #[track_caller]
    pub fn start() -> Option<Browser> {
        let binary = testwerk_testinputs::available(
            chromium(),
            "Debian's chromium (headless Chromium)",
            "apt-get install -y chromium",
        )?;
        Some(Browser::launch(&binary).unwrap_or_else(|e| panic!("chromium: {e}")))
    }

    fn launch(binary: &Path) -> Result<Browser, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut child = Command::new(binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                "--window-size=1280,900",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…"
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(at) = line.find("ws://") {
                    sent = tx.send(line[at..].trim().to_owned()).is_ok();
                }
            }
        });
        let browser_url = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "chromium did not open its DevTools port within 30 s".to_owned())?;
        let port = browser_url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let targets: Value = ureq::get(&format!("http://{port}/json/list"))
            .call()
            .map_err(|e| format!("DevTools targets: {e}"))?
            .body_mut()
            .read_json()
            .map_err(|e| format!("DevTools targets: {e}"))?;
        let page = targets
            .as_array()
            .and_then(|all| all.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .ok_or_else(|| format!("no page among the DevTools targets: {targets}"))?
            .to_owned();
        let address = page
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap_or_default();
        let stream = TcpStream::connect(address).map_err(|e| format!("{address}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let (socket, _) = tungstenite::client(page.as_str(), stream)
            .map_err(|e| format!("DevTools WebSocket: {e}"))?;
        let mut browser = Browser {
            child,
            socket,
            next_id: 0,
            _profile: profile,
        };
        browser.call("Page.enable", json!({}))?;
        browser.call("Runtime.enable", json!({}))?;
        Ok(browser)
    }

    /// Sends one DevTools command and returns its `result` (events in between are dropped).
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket
            .send(Message::text(message))
            .map_err(|e| format!("{method}: {e}"))?;
        loop {
            let reply = self.socket.read().map_err(|e| format!("{method}: {e}"))?;
            let Message::Text(text) = reply else {
                continue;
            };
            let v: Value =
                serde_json::from_str(text.as_str()).map_err(|e| format!("{method}: {e}"))?;
            if v["id"] != id {
                continue;
            }
            if let Some(error) = v.get("error") {
                return Err(format!("{method}: {error}"));
            }
            return Ok(v["result"].clone());
        }
    }

    /// Loads `url` and waits until its document has loaded.
    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}))
            .unwrap_or_else(|e| panic!("{e}"));
        self.wait_for(
            "document.readyState === 'complete' && location.href !== 'about:blank'",
            Duration::from_secs(30),
        );
    }

    /// The value of the JavaScript expression `expression` in the page.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("`{expression}` threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// The text of the first element `selector` matches (empty if none).
    pub fn text(&mut self, selector: &str) -> String {
        let expression = format!(
            "(document.querySelector({}) || {{}}).textContent || ''",
            Value::from(selector)
        );
        self.eval(&expression)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until `expression` is true in the page; panics with the page's text after
    /// `timeout`.
    pub fn wait_for(&mut self, expression: &str, timeout: Duration) {
        let started = Instant::now();
        loop {
            if self.eval(&format!("!!({expression})")) == Value::Bool(true) {
                return;
            }
            if started.elapsed() > timeout {
                let body = self.eval("document.body ? document.body.innerText : ''");
                panic!(
                    "`{expression}` did not become true within {timeout:?}; the page shows:\n{}",
                    body.as_str().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the page as it is now, `height` pixels tall.
    pub fn screenshot(&mut self, path: &Path, height: u32) {
        use base64::Engine;
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .unwrap_or_else(|e| panic!("{e}"));
        let data = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        std::fs::write(path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
