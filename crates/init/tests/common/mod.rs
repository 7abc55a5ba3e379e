//! Running the real `testwerk-init` binary in a temporary sandbox (every path redirected by the
//! `TW_*` settings), with plans built like the compiler builds them.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testwerk_protocol::line::{Event, Item, StepStatus, parse_all};

pub const TOKEN: &str = "Test-Token_0123456789abcdef";
pub const BIN: &str = env!("CARGO_BIN_EXE_testwerk-init");

/// One step of a flat workflow (`root` → steps).
#[derive(Clone, Default)]
pub struct S {
    pub r: String,
    pub id: Option<String>,
    pub condition: Option<String>,
    pub script: String,
    pub command: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub negative: bool,
    pub optional: bool,
    pub toolkit: bool,
    pub timeout: Option<String>,
    pub retry: Option<(i32, Option<String>)>,
}

/// A shell step.
pub fn sh(r: &str, script: &str) -> S {
    S {
        r: r.into(),
        id: Some(format!("id_{r}")),
        script: script.into(),
        ..S::default()
    }
}

/// The actions of a flat workflow, as the compiler sequences them, split into containers at
/// the given step indexes.
pub fn plan(steps: &[S], split_after: &[usize], setup: bool) -> Value {
    let mut groups: Vec<Vec<Value>> = vec![Vec::new()];
    let g = &mut groups[0];
    if setup {
        g.push(json!({"_": {}}));
    }
    g.push(json!({"d": {"c": "true", "r": "root"}}));
    for s in steps {
        let mut d =
            json!({"c": s.condition.clone().unwrap_or("passed".into()), "r": s.r, "p": ["root"]});
        if let Some(id) = &s.id {
            d["i"] = json!(id);
        }
        if s.optional {
            d["o"] = json!(true);
        }
        g.push(json!({ "d": d }));
    }
    let required: Vec<&str> = steps
        .iter()
        .filter(|s| !s.optional)
        .map(|s| s.r.as_str())
        .collect();
    let result = if required.is_empty() {
        "true".to_owned()
    } else {
        required.join("&&")
    };
    g.push(json!({"r": {"r": "root", "v": result}}));
    g.push(json!({"r": {"r": "", "v": "root"}}));
    g.push(json!({"S": ""}));
    g.push(json!({"S": "root"}));
    for (i, s) in steps.iter().enumerate() {
        let g = groups.last_mut().expect("group");
        let command = s
            .command
            .clone()
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), s.script.clone()]);
        let mut config = json!({"command": [command[0]], "args": command[1..]});
        if let Some(w) = &s.working_dir {
            config["workingDir"] = json!(w);
        }
        g.push(json!({"c": {"r": s.r, "c": config}}));
        g.push(json!({"S": s.r}));
        if let Some(t) = &s.timeout {
            g.push(json!({"t": {"r": s.r, "t": t}}));
        }
        if let Some((count, until)) = &s.retry {
            let mut retry = json!({"r": s.r, "c": count});
            if let Some(u) = until {
                retry["u"] = json!(u);
            }
            g.push(json!({ "R": retry }));
        }
        let mut e = json!({"r": s.r});
        if s.negative {
            e["n"] = json!(true);
        }
        if s.toolkit {
            e["t"] = json!(true);
        }
        g.push(json!({ "e": e }));
        g.push(json!({"E": s.r}));
        if split_after.contains(&i) {
            groups.push(Vec::new());
        }
    }
    let g = groups.last_mut().expect("group");
    g.push(json!({"E": "root"}));
    g.push(json!({"E": ""}));
    json!({"v": 2, "g": groups})
}

/// A temporary Pod-like layout.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

/// What one run produced.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub items: Vec<Item>,
    pub termination: String,
    pub elapsed: Duration,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tmp");
        let p = |s: &str| dir.path().join(s).to_string_lossy().into_owned();
        let env = vec![
            ("TW_INTERNAL_DIR".into(), p("internal")),
            ("TW_DATA_DIR".into(), p("data")),
            ("TW_OUTPUTS_DIR".into(), p("outputs")),
            ("TW_TERMINATION_LOG".into(), p("termination-log")),
            ("TW_CONTROL_ADDR".into(), "off".into()),
            ("TW_KILL_GRACE".into(), "2s".into()),
            ("_03_TW_TOKEN".into(), TOKEN.into()),
        ];
        Sandbox { dir, env }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn set(&mut self, k: &str, v: &str) -> &mut Self {
        self.env.retain(|(n, _)| n != k);
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn unset(&mut self, k: &str) -> &mut Self {
        self.env.retain(|(n, _)| n != k);
        self
    }

    /// The command for action group `group`, with the plan for the first container.
    pub fn command(&self, group: &str, plan: Option<&Value>, extra: &[(&str, &str)]) -> Command {
        let mut c = Command::new(BIN);
        c.arg(group)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        if let Some(plan) = plan {
            c.env("_01_TW_PLAN", plan.to_string());
        }
        for (k, v) in extra {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, group: &str, plan: Option<&Value>, extra: &[(&str, &str)]) -> Run {
        let start = Instant::now();
        let out = self
            .command(group, plan, extra)
            .output()
            .expect("run testwerk-init");
        self.finish(
            out.status.code().unwrap_or(-1),
            out.stdout,
            out.stderr,
            start,
        )
    }

    pub fn finish(&self, code: i32, stdout: Vec<u8>, stderr: Vec<u8>, start: Instant) -> Run {
        let termination = std::fs::read_to_string(self.path("termination-log")).unwrap_or_default();
        Run {
            code,
            items: parse_all(TOKEN, &stdout),
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            termination,
            elapsed: start.elapsed(),
        }
    }
}

/// A running init whose stdout is collected in the background.
pub struct Live {
    pub child: Child,
    pub stdout: Arc<Mutex<Vec<u8>>>,
    pub stderr: Arc<Mutex<Vec<u8>>>,
    pub start: Instant,
}

impl Live {
    pub fn spawn(mut c: Command) -> Live {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let collect = |mut r: Box<dyn Read + Send>| {
            let buf = Arc::new(Mutex::new(Vec::new()));
            let b = buf.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 65536];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    b.lock().expect("lock").extend_from_slice(&chunk[..n]);
                }
            });
            buf
        };
        let stdout = collect(Box::new(child.stdout.take().expect("stdout")));
        let stderr = collect(Box::new(child.stderr.take().expect("stderr")));
        Live {
            child,
            stdout,
            stderr,
            start: Instant::now(),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().expect("lock")).into_owned()
    }

    /// Waits until stdout contains `needle` (panics after `limit`).
    pub fn wait_for(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok);
    }

    pub fn wait(mut self, sandbox: &Sandbox) -> Run {
        let status = self.child.wait().expect("wait");
        // Let the reader threads drain.
        std::thread::sleep(Duration::from_millis(100));
        let stdout = self.stdout.lock().expect("lock").clone();
        let stderr = self.stderr.lock().expect("lock").clone();
        sandbox.finish(status.code().unwrap_or(-1), stdout, stderr, self.start)
    }
}

impl Run {
    pub fn events(&self) -> Vec<&Event> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Event(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    /// The log lines (not events), as text.
    pub fn log(&self) -> String {
        let mut out = String::new();
        for i in &self.items {
            match i {
                Item::Log(l) | Item::Forged(l) => {
                    out.push_str(&String::from_utf8_lossy(l));
                    out.push('\n');
                }
                Item::LogPart(l) => out.push_str(&String::from_utf8_lossy(l)),
                Item::Event(_) => {}
            }
        }
        out
    }

    /// The `end` of a step: (status, code).
    pub fn end(&self, r: &str) -> Option<(StepStatus, i32)> {
        self.events().into_iter().find_map(|e| match e {
            Event::End {
                r#ref,
                status,
                code,
                ..
            } if r#ref == r => Some((*status, *code)),
            _ => None,
        })
    }

    /// The `exec` events of a step: (code, iteration).
    pub fn execs(&self, r: &str) -> Vec<(i32, u32)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Exec {
                    r#ref,
                    code,
                    iteration,
                    ..
                } if r#ref == r => Some((*code, *iteration)),
                _ => None,
            })
            .collect()
    }

    /// Everything, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}\n--- termination\n{}",
            self.code,
            String::from_utf8_lossy(&self.stdout)
                .chars()
                .take(20_000)
                .collect::<String>()
                .replace('\x1e', "␞"),
            self.stderr,
            self.termination
        )
    }
}

/// Whether a process whose command line contains `needle` exists.
pub fn process_exists(needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            == Some("Z");
        !zombie
            && String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .contains(needle)
    })
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
