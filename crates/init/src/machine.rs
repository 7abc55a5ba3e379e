//! The variables and functions expressions see at runtime: conditions, group results, retry
//! `until`, computed variables and command arguments.
//!
//! | name | value |
//! |---|---|
//! | `env.X`, `env` | the transition's environment ([`StepEnv`]); unset ⇒ `""` |
//! | a step ref (`r3`) | `true` iff it passed or was skipped; unfinished: its result expression if it has one (a group), else `true` |
//! | `status` | `"passed"` when the current-status chain holds, else `"failed"`; in a retry `until`, the step's own status |
//! | `earlier.passed` | every required step ended so far, here and in the groups around, passed or was skipped (what the compiler folds `passed` in a condition to) |
//! | `passed`, `success` / `failed`, `error` | `status == "passed"` / `status != "passed" && status != "skipped"` |
//! | `always` / `never` | `true` / `false` |
//! | `self.status`, `self.passed`, … | the same for the current step's own status |
//! | `step.id`, `step.results` | the current step's id and results directory |
//! | `step.<id>.results`, `step.<id>.outputs.<name>` | another step's results directory and outputs |
//! | `output.<name>`, any captured output name (`services.db`) | outputs reported by toolkit steps |
//! | `workingDir` | the current directory |
//! | `file(path)`, `glob(patterns…)` | a file's content; the paths matching patterns |

use std::cell::RefCell;

use crate::glob::glob;
use crate::settings::Settings;
use crate::state::State;
use crate::stepenv::StepEnv;
use serde_json::{Map, Value};
use testwerk_expr::{Expr, Lookup, Machine, Template, to_string_form, truthy};
use testwerk_protocol::plan::EARLIER_PASSED;

/// The runtime machine for one evaluation.
pub struct Runtime<'a> {
    pub state: &'a State,
    pub env: &'a StepEnv<'a>,
    pub settings: &'a Settings,
    /// The step expressions are evaluated for (`self`).
    pub current: &'a str,
    /// `status` means the step's own status (retry `until`).
    pub own_status: bool,
    /// The first error behind an unknown variable (a computed variable that failed), so the
    /// message says why rather than "unknown variable".
    problem: RefCell<Option<String>>,
}

impl<'a> Runtime<'a> {
    pub fn new(
        state: &'a State,
        env: &'a StepEnv<'a>,
        settings: &'a Settings,
        current: &'a str,
    ) -> Runtime<'a> {
        Runtime {
            state,
            env,
            settings,
            current,
            own_status: false,
            problem: RefCell::new(None),
        }
    }

    /// The same machine for a retry `until` expression.
    pub fn for_until(mut self) -> Self {
        self.own_status = true;
        self
    }

    /// Evaluates an expression to its truthiness.
    pub fn condition(&self, source: &str) -> Result<bool, String> {
        let value = Expr::parse(source)
            .map_err(|e| format!("{source:?}: {e}"))?
            .finalize(self)
            .map_err(|e| self.explain(source, e.to_string()))?;
        Ok(truthy(&value))
    }

    /// Evaluates template text to its final string.
    pub fn template(&self, source: &str) -> Result<String, String> {
        Template::parse(source)
            .map_err(|e| format!("{source:?}: {e}"))?
            .finalize(self)
            .map_err(|e| self.explain(source, e.to_string()))
    }

    /// Command and arguments with list expansion.
    pub fn expand(&self, items: &[String]) -> Result<Vec<String>, String> {
        testwerk_expr::expand_list_final(items, self)
            .map_err(|e| self.explain(&items.join(" "), e.to_string()))
    }

    /// The final environment of the step's process (see [`StepEnv::finalize`]).
    pub fn finalize_env(&self) -> Result<(crate::stepenv::EnvVars, Vec<String>), String> {
        self.env
            .finalize(self)
            .map_err(|e| self.problem.borrow().clone().unwrap_or(e))
    }

    fn explain(&self, source: &str, error: String) -> String {
        match self.problem.borrow().as_ref() {
            Some(p) => p.clone(),
            None => format!("{source:?}: {error}"),
        }
    }

    /// Whether the current-status chain holds: upstream's chain names every required step ended
    /// so far in the groups around the current step, and those groups themselves (an unfinished
    /// group counts by its result expression).
    fn chain_status(&self) -> &'static str {
        if !self.state.earlier_passed() {
            return "failed";
        }
        let groups: Vec<&str> = self
            .state
            .frames
            .iter()
            .map(|f| f.r#ref.as_str())
            .filter(|r| *r != self.current)
            .collect();
        if groups.is_empty() {
            return "passed";
        }
        // Refs only, by construction; an error means something unexpected: count as failed.
        match Expr::parse(&groups.join("&&")).map(|e| e.finalize(self)) {
            Ok(Ok(v)) if truthy(&v) => "passed",
            _ => "failed",
        }
    }

    fn own(&self) -> &'static str {
        match self.state.step(self.current).and_then(|s| s.status) {
            Some(s) => s.as_str(),
            None => self.chain_status(),
        }
    }

    fn ref_value(&self, name: &str) -> Option<Lookup> {
        let step = self.state.step(name)?;
        Some(match (step.status, &step.result) {
            (Some(status), _) => Lookup::Value(Value::Bool(status.is_ok())),
            (None, Some(result)) if !result.trim().is_empty() => match Expr::parse(result) {
                Ok(e) => Lookup::Expr(e),
                Err(_) => Lookup::Value(Value::Bool(false)),
            },
            (None, _) => Lookup::Value(Value::Bool(true)),
        })
    }

    fn env_var(&self, name: &str) -> Option<Lookup> {
        Some(match self.env.get(name, self) {
            Ok(v) => Lookup::Value(Value::String(v.unwrap_or_default())),
            Err(e) => {
                self.problem.borrow_mut().get_or_insert(e);
                // Unknown: the evaluation fails, and `explain` tells why.
                return None;
            }
        })
    }

    fn step_var(&self, rest: &str) -> Option<Lookup> {
        let current_id = || self.state.step(self.current).and_then(|s| s.id.clone());
        match rest {
            "id" => return Some(Lookup::from(current_id().unwrap_or_default())),
            "results" => {
                let id = current_id()?;
                return Some(Lookup::from(path_text(&self.settings.results_dir(&id))));
            }
            _ => {}
        }
        let (id, what) = rest.split_once('.')?;
        if !self
            .state
            .steps
            .values()
            .any(|s| s.id.as_deref() == Some(id))
        {
            return None;
        }
        let outputs = self.state.step_outputs.get(id);
        match what {
            "results" => Some(Lookup::from(path_text(&self.settings.results_dir(id)))),
            "outputs" => Some(Lookup::Value(Value::Object(
                outputs
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            ))),
            _ => {
                let name = what.strip_prefix("outputs.")?;
                outputs?.get(name).cloned().map(Lookup::Value)
            }
        }
    }
}

fn path_text(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

fn status_is(var: &str, status: &str) -> Lookup {
    let expr = if status == "passed" {
        format!("{var} == \"passed\"")
    } else {
        format!("{var} != \"passed\" && {var} != \"skipped\"")
    };
    match Expr::parse(&expr) {
        Ok(e) => Lookup::Expr(e),
        Err(_) => Lookup::Value(Value::Bool(false)),
    }
}

impl Machine for Runtime<'_> {
    fn get(&self, name: &str) -> Option<Lookup> {
        match name {
            "always" => return Some(Lookup::Value(Value::Bool(true))),
            "never" => return Some(Lookup::Value(Value::Bool(false))),
            EARLIER_PASSED => return Some(Lookup::Value(Value::Bool(self.state.earlier_passed()))),
            "status" => {
                return Some(Lookup::from(if self.own_status {
                    self.own()
                } else {
                    self.chain_status()
                }));
            }
            "passed" | "success" => return Some(status_is("status", "passed")),
            "failed" | "error" => return Some(status_is("status", "failed")),
            "self.status" => return Some(Lookup::from(self.own())),
            "self.passed" | "self.success" => return Some(status_is("self.status", "passed")),
            "self.failed" | "self.error" => return Some(status_is("self.status", "failed")),
            "workingDir" => {
                return std::env::current_dir()
                    .ok()
                    .map(|d| Lookup::from(path_text(&d)));
            }
            "env" => {
                return match self.env.as_map(self) {
                    Ok(v) => Some(Lookup::Value(v)),
                    Err(e) => {
                        self.problem.borrow_mut().get_or_insert(e);
                        None
                    }
                };
            }
            "output" => {
                let map: Map<String, Value> = self
                    .state
                    .outputs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                return Some(Lookup::Value(Value::Object(map)));
            }
            // `services` as a whole (`at(services, "name-with-dash")`): the services started
            // so far, by name.
            "services" => {
                let map: Map<String, Value> = self
                    .state
                    .outputs
                    .iter()
                    .filter_map(|(k, v)| Some((k.strip_prefix("services.")?.to_owned(), v.clone())))
                    .collect();
                return Some(Lookup::Value(Value::Object(map)));
            }
            _ => {}
        }
        if let Some(key) = name.strip_prefix("env.") {
            return self.env_var(key);
        }
        if let Some(rest) = name.strip_prefix("step.")
            && let Some(found) = self.step_var(rest)
        {
            return Some(found);
        }
        if let Some(key) = name.strip_prefix("output.") {
            return self.state.outputs.get(key).cloned().map(Lookup::Value);
        }
        if let Some(found) = self.ref_value(name) {
            return Some(found);
        }
        self.state.outputs.get(name).cloned().map(Lookup::Value)
    }

    fn call(&self, name: &str, args: &[Expr]) -> Option<Result<Lookup, String>> {
        match name {
            "file" => {
                let [arg] = args else {
                    return Some(Err("file(path) takes one argument".into()));
                };
                let path = to_string_form(arg.static_value()?);
                Some(
                    std::fs::read(&path)
                        .map(|b| Lookup::from(String::from_utf8_lossy(&b).into_owned()))
                        .map_err(|e| format!("file({path:?}): {e}")),
                )
            }
            "glob" => {
                let mut patterns = Vec::new();
                for arg in args {
                    match arg.static_value()? {
                        Value::Array(items) => patterns.extend(items.iter().map(to_string_form)),
                        v => patterns.push(to_string_form(v)),
                    }
                }
                let mut found = Vec::new();
                for p in &patterns {
                    match glob(p) {
                        Ok(paths) => found.extend(paths),
                        Err(e) => return Some(Err(e)),
                    }
                }
                found.sort();
                found.dedup();
                Some(Ok(Lookup::Value(Value::Array(
                    found.into_iter().map(Value::String).collect(),
                ))))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::SplitEnv;
    use crate::state::Step;
    use testwerk_protocol::line::StepStatus;

    fn state() -> State {
        let mut s = State::default();
        let mut add =
            |r: &str, status: Option<StepStatus>, result: Option<&str>, id: Option<&str>| {
                s.steps.insert(
                    r.into(),
                    Step {
                        status,
                        result: result.map(Into::into),
                        id: id.map(Into::into),
                        condition: "passed".into(),
                        ..Step::default()
                    },
                );
            };
        add("root", None, Some("r1&&r2&&r3"), None);
        add("r1", Some(StepStatus::Passed), None, Some("produce"));
        add("r2", Some(StepStatus::Skipped), None, None);
        add("r3", None, None, Some("consume"));
        add("rf", Some(StepStatus::Failed), None, None);
        s.step_outputs
            .entry("produce".into())
            .or_default()
            .insert("token".into(), Value::from("t0k3n"));
        s.outputs.insert(
            "services.db".into(),
            serde_json::json!([{"ip": "10.0.0.1"}]),
        );
        s
    }

    /// Evaluates `expr` for step `current` inside the running steps `frames` (ref, failed).
    fn eval(
        state: &State,
        current: &str,
        frames: &[(&str, u32)],
        expr: &str,
    ) -> Result<Value, String> {
        let mut state = state.clone();
        state.frames = frames
            .iter()
            .map(|(r, failed)| crate::state::Frame {
                r#ref: (*r).to_owned(),
                failed: *failed,
            })
            .collect();
        let env = SplitEnv::split([
            ("_0_X".into(), "x".into()),
            ("_0C_Y".into(), "{{env.X}}y".into()),
        ]);
        let step_env = StepEnv::new(&env, Some("0"));
        let settings =
            Settings::from_env(|v| (v == "TW_DATA_DIR").then(|| "/d".into())).expect("settings");
        let m = Runtime::new(&state, &step_env, &settings, current);
        testwerk_expr::finalize_expression(expr, &m).map_err(|e| e.to_string())
    }

    #[test]
    fn refs_aliases_and_status() {
        let s = state();
        let t = |frames: &[(&str, u32)], e: &str| eval(&s, "r3", frames, e);
        let ok: &[(&str, u32)] = &[("root", 0), ("r3", 0)];
        let one_failed: &[(&str, u32)] = &[("root", 1), ("r3", 0)];
        assert_eq!(t(&[], "r1&&r2&&r3&&root"), Ok(Value::Bool(true)));
        assert_eq!(t(&[], "rf"), Ok(Value::Bool(false)));
        assert_eq!(t(ok, "status"), Ok(Value::from("passed")));
        assert_eq!(t(ok, "earlier.passed"), Ok(Value::Bool(true)));
        assert_eq!(t(one_failed, "status"), Ok(Value::from("failed")));
        assert_eq!(t(one_failed, "earlier.passed"), Ok(Value::Bool(false)));
        assert_eq!(t(one_failed, "passed"), Ok(Value::Bool(false)));
        assert_eq!(t(one_failed, "failed"), Ok(Value::Bool(true)));
        assert_eq!(t(one_failed, "always && !never"), Ok(Value::Bool(true)));
        assert_eq!(t(ok, "self.status"), Ok(Value::from("passed")));
        assert_eq!(eval(&s, "rf", ok, "self.failed"), Ok(Value::Bool(true)));
        assert_eq!(
            eval(&s, "r2", one_failed, "self.passed"),
            Ok(Value::Bool(false))
        );
    }

    #[test]
    fn status_counts_the_groups_around_by_their_result_but_earlier_passed_does_not() {
        // As upstream's chain: an unfinished group around the step counts by its result
        // expression (here a negative group whose children have not failed yet), while
        // `earlier.passed`, what `passed` in a condition folds to, looks at ended steps only.
        let mut s = state();
        s.steps.insert(
            "neg".into(),
            Step {
                result: Some("!r1".into()),
                condition: "passed".into(),
                ..Step::default()
            },
        );
        let frames: &[(&str, u32)] = &[("root", 0), ("neg", 0), ("r3", 0)];
        assert_eq!(eval(&s, "r3", frames, "status"), Ok(Value::from("failed")));
        assert_eq!(
            eval(&s, "r3", frames, "earlier.passed"),
            Ok(Value::Bool(true))
        );
        // The step itself is not part of its own chain.
        let frames: &[(&str, u32)] = &[("root", 0), ("neg", 0)];
        assert_eq!(eval(&s, "neg", frames, "status"), Ok(Value::from("passed")));
    }

    #[test]
    fn steps_outputs_env_and_files() {
        let s = state();
        let t = |e: &str| eval(&s, "r3", &[], e);
        assert_eq!(t("step.produce.outputs.token"), Ok(Value::from("t0k3n")));
        assert_eq!(
            t("step.produce.results"),
            Ok(Value::from("/d/.steps/produce"))
        );
        assert_eq!(t("step.results"), Ok(Value::from("/d/.steps/consume")));
        assert_eq!(t("step.id"), Ok(Value::from("consume")));
        assert_eq!(t("services.db.0.ip"), Ok(Value::from("10.0.0.1")));
        assert_eq!(t("at(services, \"db\").0.ip"), Ok(Value::from("10.0.0.1")));
        assert_eq!(t("env.Y + env.UNSET"), Ok(Value::from("xy")));
        assert!(t("step.nobody.outputs.x").is_err());
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("f.txt");
        std::fs::write(&f, "content").expect("write");
        assert_eq!(
            t(&format!("file({:?})", f.to_str().unwrap_or(""))),
            Ok(Value::from("content"))
        );
        assert_eq!(
            t(&format!(
                "glob({:?})",
                format!("{}/*.txt", dir.path().display())
            )),
            Ok(serde_json::json!([f.to_str()]))
        );
        let missing = t("file(\"/nonexistent/x\")").expect_err("missing");
        assert!(missing.contains("nonexistent"), "{missing}");
    }
}
