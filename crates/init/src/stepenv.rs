//! The environment of one container transition: what `env.X` means in expressions and what
//! the step's process gets.
//!
//! It is the base environment, plus the `secret()` values (group `02`), plus the transition's
//! own variables (group `k`); later definitions win. Computed variables (`C`) are templates,
//! evaluated lazily when first needed, so they may refer to each other (`env.A` inside `B`); a
//! cycle is an error, not a hang.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;

use testwerk_expr::{Machine, Template, Value};

use crate::scope::{SplitEnv, Var};

/// A process environment, in order.
pub type EnvVars = Vec<(OsString, OsString)>;

/// The variables of one transition, computed on demand.
pub struct StepEnv<'a> {
    base: &'a [(OsString, OsString)],
    /// Group `02` first, then the transition's group, so the transition wins.
    vars: Vec<&'a Var>,
    computed: RefCell<HashMap<String, Result<String, String>>>,
    in_progress: RefCell<Vec<String>>,
}

impl<'a> StepEnv<'a> {
    /// The environment of transition group `group` (`None`: base and secrets only).
    pub fn new(env: &'a SplitEnv, group: Option<&str>) -> StepEnv<'a> {
        let mut vars: Vec<&Var> = env.group("02").iter().collect();
        if let Some(g) = group {
            vars.extend(env.group(g));
        }
        StepEnv {
            base: &env.base,
            vars,
            computed: RefCell::default(),
            in_progress: RefCell::default(),
        }
    }

    fn var(&self, name: &str) -> Option<&'a Var> {
        self.vars.iter().rev().find(|v| v.name == name).copied()
    }

    /// The value of `name`; `Ok(None)` when it is not set at all. `m` is the machine computed
    /// values are evaluated with (it answers `env.X` through this same object).
    pub fn get(&self, name: &str, m: &dyn Machine) -> Result<Option<String>, String> {
        let Some(var) = self.var(name) else {
            return Ok(self
                .base
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.to_string_lossy().into_owned()));
        };
        if !var.computed {
            return Ok(Some(var.value.clone()));
        }
        if let Some(done) = self.computed.borrow().get(name) {
            return done.clone().map(Some);
        }
        if self.in_progress.borrow().iter().any(|n| n == name) {
            let chain = self.in_progress.borrow().join(" → ");
            return Err(format!("env.{name} refers to itself ({chain} → {name})"));
        }
        self.in_progress.borrow_mut().push(name.to_owned());
        let result = Template::parse(&var.value)
            .map_err(|e| e.to_string())
            .and_then(|t| t.finalize(m).map_err(|e| e.to_string()))
            .map_err(|e| format!("cannot compute env.{name}: {e}"));
        self.in_progress.borrow_mut().retain(|n| n != name);
        self.computed
            .borrow_mut()
            .insert(name.to_owned(), result.clone());
        result.map(Some)
    }

    /// Every variable as `env` shows it (a map of strings).
    pub fn as_map(&self, m: &dyn Machine) -> Result<Value, String> {
        let mut map = serde_json::Map::new();
        for (k, v) in self.base {
            map.insert(
                k.to_string_lossy().into_owned(),
                Value::String(v.to_string_lossy().into_owned()),
            );
        }
        for var in &self.vars {
            let value = self.get(&var.name, m)?.unwrap_or_default();
            map.insert(var.name.clone(), Value::String(value));
        }
        Ok(Value::Object(map))
    }

    /// The final environment of the step's process, and the computed secrets to mask.
    pub fn finalize(&self, m: &dyn Machine) -> Result<(EnvVars, Vec<String>), String> {
        let mut out: EnvVars = self.base.to_vec();
        let mut secrets = Vec::new();
        for var in &self.vars {
            let value = self.get(&var.name, m)?.unwrap_or_default();
            if var.computed && var.sensitive {
                secrets.push(value.clone());
            }
            out.retain(|(k, _)| k != var.name.as_str());
            out.push((OsString::from(&var.name), OsString::from(value)));
        }
        Ok((out, secrets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testwerk_expr::{Lookup, finalize_template};

    /// `env.X` through the step env, nothing else.
    struct EnvOnly<'a>(&'a StepEnv<'a>);

    impl Machine for EnvOnly<'_> {
        fn get(&self, name: &str) -> Option<Lookup> {
            let key = name.strip_prefix("env.")?;
            match self.0.get(key, self) {
                Ok(v) => Some(Lookup::Value(Value::String(v.unwrap_or_default()))),
                Err(_) => None,
            }
        }
    }

    fn env(vars: &[(&str, &str)]) -> SplitEnv {
        SplitEnv::split(
            vars.iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
        )
    }

    #[test]
    fn computed_values_see_each_other_and_the_base() {
        let e = env(&[
            ("HOME", "/root"),
            ("_0C_B", "{{env.A}}-b"),
            ("_0_A", "a"),
            ("_0C_C", "{{env.B}}+{{env.HOME}}+{{env.NOPE}}"),
            ("_02S_pw", "hunter22"),
            ("_1_A", "other transition"),
        ]);
        let s = StepEnv::new(&e, Some("0"));
        let m = EnvOnly(&s);
        assert_eq!(s.get("C", &m), Ok(Some("a-b+/root+".into())));
        assert_eq!(s.get("pw", &m), Ok(Some("hunter22".into())));
        assert_eq!(s.get("NOPE", &m), Ok(None));
        assert_eq!(
            finalize_template("{{env.B}}", &m).map_err(|e| e.to_string()),
            Ok("a-b".into())
        );
        let (vars, _) = s.finalize(&m).expect("finalize");
        let names: Vec<_> = vars.iter().map(|(k, _)| k.to_str().unwrap_or("")).collect();
        assert_eq!(names, ["HOME", "pw", "B", "A", "C"]);
    }

    #[test]
    fn cycles_are_errors() {
        let e = env(&[("_0C_A", "{{env.B}}"), ("_0C_B", "x{{env.A}}")]);
        let s = StepEnv::new(&e, Some("0"));
        let m = EnvOnly(&s);
        let err = s.get("A", &m).expect_err("cycle");
        assert!(err.contains("cannot compute env.A"), "{err}");
    }
}
