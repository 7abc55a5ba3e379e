//! The execution state shared by the containers of a Pod: the plan, what every step did, and
//! the outputs.
//!
//! The first container gets the plan in its environment, writes its action groups once
//! ([`crate::groups`]) and writes the state file; every later container (a separate
//! `testwerk-init` process, maybe another user) reads its own group and the state, runs the
//! group and writes the state back. Writes are atomic (a temporary file renamed over the old
//! one), so a crash never leaves half a file, and the state file is world-writable because the
//! next container may run as another user.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use testwerk_protocol::line::StepStatus;
use testwerk_protocol::plan::{PLAN_FORMAT_VERSION, WireAction, WirePlan};

use crate::fatal::Fatal;

/// The largest plan we decompress (a ConfigMap holds 1 MiB compressed; this is far more than
/// any real plan and keeps a damaged or hostile file from taking all memory).
const MAX_PLAN_BYTES: usize = 256 * 1024 * 1024;

/// The version of the state file layout (3: the action groups moved to their own file).
pub const STATE_VERSION: u32 = 3;

/// What is known about one step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Step {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When to run it (an expression).
    pub condition: String,
    /// Enclosing groups, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    /// `optional: true`: its failure counts neither for its group nor for `passed` after it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// How a group decides its status (an expression over its children).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Pause before its first command runs (`paused: true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pause_on_start: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StepStatus>,
    #[serde(default)]
    pub code: i32,
    /// Unix ms of the start (of the current attempt, for timeouts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    /// Unix ms of the first start, for the duration reported at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_started_at: Option<u64>,
    #[serde(default)]
    pub iteration: u32,
    /// Time spent paused, excluded from timeouts.
    #[serde(default)]
    pub paused_ms: u64,
    /// Unix ms when the running pause began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_since: Option<u64>,
}

/// A step that has started and not ended. Upstream's plans spell out before every step the
/// chain of refs that must have passed (every earlier required sibling of it and of each
/// group around it, plus those groups), which made plans quadratic in the number of steps;
/// here that chain is these frames: each group around the current step, with how many of its
/// required children that have ended did not pass.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub r#ref: String,
    /// Required children that have ended neither passed nor skipped.
    #[serde(default)]
    pub failed: u32,
}

/// `retry: {count, until}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Retry {
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl Step {
    /// Time it has run, without pauses, at `now` (for timeouts).
    pub fn active_ms(&self, now: u64) -> u64 {
        let Some(start) = self.started_at else {
            return 0;
        };
        let paused = self.paused_ms + self.paused_since.map_or(0, |p| now.saturating_sub(p));
        now.saturating_sub(start).saturating_sub(paused)
    }
}

/// The whole shared state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// The step that started last.
    #[serde(default)]
    pub current: String,
    /// The steps started and not yet ended, outermost first: the current-status chain, kept
    /// incrementally (see [`Frame`]).
    #[serde(default)]
    pub frames: Vec<Frame>,
    #[serde(default)]
    pub steps: BTreeMap<String, Step>,
    /// Outputs reported by toolkit steps, by name (`output.<name>`, `services.<name>`).
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    /// Step outputs (`step.<id>.outputs.<name>`), by step id.
    #[serde(default)]
    pub step_outputs: BTreeMap<String, BTreeMap<String, Value>>,
    /// An earlier container was aborted.
    #[serde(default)]
    pub aborted: bool,
}

/// A plan just received: the fresh state and the plan's action groups.
#[derive(Debug, PartialEq)]
pub struct Planned {
    pub state: State,
    pub groups: Vec<Vec<WireAction>>,
}

impl State {
    /// A fresh state for a plan received as JSON; refuses plans we cannot run.
    pub fn from_plan_json(json: &str) -> Result<Planned, Fatal> {
        let plan: WirePlan = serde_json::from_str(json)
            .map_err(|e| Fatal::input(format!("the plan is not valid: {e}")))?;
        if plan.version != PLAN_FORMAT_VERSION {
            return Err(Fatal::input(format!(
                "the plan has format version {}, this testwerk-init runs version {PLAN_FORMAT_VERSION} only: use the testwerk-init image of the testwerk that compiled the workflow",
                plan.version
            )));
        }
        check_refs(&plan.groups)?;
        Ok(Planned {
            state: State {
                version: STATE_VERSION,
                ..State::default()
            },
            groups: plan.groups,
        })
    }

    /// A fresh state for a plan in a file (its ConfigMap, mounted): JSON, or zlib-compressed
    /// JSON as the bundle writes big plans (told apart by the first byte).
    pub fn from_plan_file(path: &Path) -> Result<Planned, Fatal> {
        let what = || {
            format!(
                "the plan file {} ({})",
                path.display(),
                testwerk_protocol::env::PLAN_FILE
            )
        };
        let bytes =
            fs::read(path).map_err(|e| Fatal::input(format!("cannot read {}: {e}", what())))?;
        let json = if bytes.first() == Some(&b'{') {
            bytes
        } else {
            miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&bytes, MAX_PLAN_BYTES)
                .map_err(|e| Fatal::input(format!("{} is neither JSON nor zlib-compressed JSON within {MAX_PLAN_BYTES} bytes: {:?}", what(), e.status)))?
        };
        let text = std::str::from_utf8(&json)
            .map_err(|e| Fatal::input(format!("{} is not UTF-8: {e}", what())))?;
        State::from_plan_json(text)
    }

    /// Reads the state file written by an earlier container.
    pub fn load(path: &Path) -> Result<State, Fatal> {
        let text = fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Fatal::input(format!(
                    "no plan: neither {} is set nor does the state file {} exist (the first container must get the plan)",
                    testwerk_protocol::env::PLAN,
                    path.display()
                ))
            } else {
                Fatal::internal(format!("cannot read the state file {}: {e}", path.display()))
            }
        })?;
        let state: State = serde_json::from_str(&text).map_err(|e| {
            Fatal::internal(format!("the state file {} is damaged: {e}", path.display()))
        })?;
        if state.version != STATE_VERSION {
            return Err(Fatal::internal(format!(
                "the state file {} has version {}, expected {STATE_VERSION}",
                path.display(),
                state.version
            )));
        }
        Ok(state)
    }

    /// Writes the state file atomically, readable and writable by every user.
    pub fn save(&self, path: &Path) -> Result<(), Fatal> {
        let json = serde_json::to_vec(self)
            .map_err(|e| Fatal::internal(format!("cannot encode the state: {e}")))?;
        write_shared(path, &json, 0o666).map_err(|(what, e)| {
            Fatal::internal(format!(
                "cannot {what} the state file {}: {e}",
                path.display()
            ))
        })
    }

    /// A declared step (a missing one is a plan error, found when loading the plan).
    pub fn step(&self, r: &str) -> Option<&Step> {
        self.steps.get(r)
    }

    /// Mutable access to a declared step; a plan error when it is not declared.
    pub fn step_mut(&mut self, r: &str) -> Result<&mut Step, Fatal> {
        self.steps
            .get_mut(r)
            .ok_or_else(|| Fatal::input(format!("the plan uses step {r:?} before declaring it")))
    }

    /// Step `r` starts: it becomes the innermost frame.
    pub fn push_frame(&mut self, r: &str) {
        self.frames.push(Frame {
            r#ref: r.to_owned(),
            failed: 0,
        });
    }

    /// Step `r` (with its status) ends: its frame goes, and a required step that did not pass
    /// counts as failed in the group around it.
    pub fn pop_frame(&mut self, r: &str) -> Result<(), Fatal> {
        match self.frames.last() {
            Some(top) if top.r#ref == r => {}
            top => {
                return Err(Fatal::input(format!(
                    "the plan is not valid: it ends step {r:?} while {} is the innermost running step",
                    top.map_or_else(|| "no step".to_owned(), |f| format!("{:?}", f.r#ref))
                )));
            }
        }
        self.frames.pop();
        let step = self.step(r);
        let failed = step.is_some_and(|s| !s.optional && !s.status.is_some_and(|st| st.is_ok()));
        if failed && let Some(parent) = self.frames.last_mut() {
            parent.failed = parent.failed.saturating_add(1);
        }
        Ok(())
    }

    /// Whether every required step that has ended so far, in the current group and in every
    /// group around it, passed or was skipped ([`testwerk_protocol::plan::EARLIER_PASSED`]).
    pub fn earlier_passed(&self) -> bool {
        self.frames.iter().all(|f| f.failed == 0)
    }

    /// Sets the status of every unfinished step inside `parent` (started ones get
    /// `started_status`, the others `skipped`).
    pub fn finish_descendants(&mut self, parent: &str, started_status: StepStatus, code: i32) {
        for step in self.steps.values_mut() {
            if step.status.is_none() && step.parents.iter().any(|p| p == parent) {
                if step.started_at.is_some() {
                    step.status = Some(started_status);
                    step.code = code;
                } else {
                    step.status = Some(StepStatus::Skipped);
                }
            }
        }
    }
}

/// Writes `bytes` to `path` atomically with `mode` (the Pod's next container may be another
/// user), creating its directory when missing; on failure, what failed and why.
pub fn write_shared(
    path: &Path,
    bytes: &[u8],
    mode: u32,
) -> Result<(), (&'static str, std::io::Error)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        fs::create_dir_all(dir).map_err(|e| ("create the directory of", e))?;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o777));
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        // No fsync: the state lives in the Pod's emptyDir, which does not outlive the node;
        // the rename alone keeps it whole when a container dies mid-write, and an fsync
        // per action cost milliseconds each on a busy disk.
        f.write_all(bytes)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        ("write", e)
    })
}

/// Every step an action names must be declared somewhere in the plan.
fn check_refs(groups: &[Vec<WireAction>]) -> Result<(), Fatal> {
    let declared: std::collections::HashSet<&str> = groups
        .iter()
        .flatten()
        .filter_map(|a| match a {
            WireAction::Declare { r#ref, .. } => Some(r#ref.as_str()),
            _ => None,
        })
        .collect();
    for (g, actions) in groups.iter().enumerate() {
        for action in actions {
            let r = match action {
                WireAction::Result { r#ref, .. }
                | WireAction::Container { r#ref, .. }
                | WireAction::Execute { r#ref, .. }
                | WireAction::Timeout { r#ref, .. }
                | WireAction::Pause { r#ref }
                | WireAction::Retry { r#ref, .. } => r#ref,
                WireAction::Start(r) | WireAction::End(r) => r,
                WireAction::Declare { parents, .. } => {
                    if let Some(p) = parents.iter().find(|p| !declared.contains(p.as_str())) {
                        return Err(Fatal::input(format!(
                            "the plan is not valid: group {g} names the parent {p:?}, which is not declared"
                        )));
                    }
                    continue;
                }
                WireAction::Setup(_) => continue,
            };
            // `""` is the virtual top of the sequence, never declared.
            if !r.is_empty() && !declared.contains(r.as_str()) {
                return Err(Fatal::input(format!(
                    "the plan is not valid: group {g} names the step {r:?}, which is not declared"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_checked() {
        let ok = r#"{"v":2,"g":[[{"d":{"c":"true","r":"r1"}},{"S":"r1"},{"E":"r1"},{"E":""}]]}"#;
        assert!(State::from_plan_json(ok).is_ok());
        for (bad, why) in [
            ("{", "not valid"),
            (r#"{"v":1,"g":[]}"#, "version 1"),
            (r#"{"v":3,"g":[]}"#, "version 3"),
            (r#"{"v":2,"g":[[{"S":"r9"}]]}"#, "\"r9\""),
            (
                r#"{"v":2,"g":[[{"d":{"c":"true","r":"a","p":["zz"]}}]]}"#,
                "\"zz\"",
            ),
            (r#"{"v":2,"g":[[{"x":1}]]}"#, "not valid"),
            // Version 1's current-status action is gone: its chain made plans quadratic.
            (r#"{"v":2,"g":[[{"s":"root"}]]}"#, "not valid"),
        ] {
            let err = State::from_plan_json(bad).expect_err(bad);
            assert_eq!(err.code, 155);
            assert!(err.message.contains(why), "{}", err.message);
        }
    }

    #[test]
    fn plans_come_from_files_plain_or_compressed() {
        let dir = tempfile::tempdir().expect("tmp");
        let json = r#"{"v":2,"g":[[{"d":{"c":"true","r":"r1"}},{"S":"r1"},{"E":"r1"}]]}"#;
        let plain = dir.path().join("plain");
        fs::write(&plain, json).expect("write");
        let packed = dir.path().join("packed");
        fs::write(
            &packed,
            miniz_oxide::deflate::compress_to_vec_zlib(json.as_bytes(), 6),
        )
        .expect("write");
        let a = State::from_plan_file(&plain).expect("plain");
        assert_eq!(a, State::from_plan_file(&packed).expect("compressed"));
        assert_eq!(a.groups[0].len(), 3);
        fs::write(&packed, b"\x78\x9cgarbage").expect("write");
        let err = State::from_plan_file(&packed).expect_err("damaged");
        assert!(err.message.contains("zlib"), "{}", err.message);
        let err = State::from_plan_file(&dir.path().join("none")).expect_err("missing");
        assert!(err.message.contains("_01_TW_PLAN_FILE"), "{}", err.message);
    }

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sub/state");
        let mut s = State::from_plan_json(r#"{"v":2,"g":[[]]}"#)
            .expect("plan")
            .state;
        s.current = "r1".into();
        s.save(&path).expect("save");
        let mode = fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o666);
        assert_eq!(State::load(&path).expect("load"), s);
        let names: Vec<_> = fs::read_dir(path.parent().expect("dir"))
            .expect("ls")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["state"], "no temporary file is left");
        fs::write(&path, "{").expect("damage");
        assert_eq!(State::load(&path).map_err(|e| e.code), Err(190));
        assert_eq!(
            State::load(&dir.path().join("none")).map_err(|e| e.code),
            Err(155)
        );
    }

    #[test]
    fn active_time_excludes_pauses() {
        let step = Step {
            started_at: Some(1000),
            paused_ms: 200,
            paused_since: Some(1500),
            ..Step::default()
        };
        assert_eq!(step.active_ms(1700), 1700 - 1000 - 200 - 200);
    }
}
