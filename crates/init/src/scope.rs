//! Splitting our environment by the scoping contract of [`testwerk_protocol::env`].
//!
//! Every `_<group>[C][S]_NAME` variable is ours (the plan, the token, the user's variables of
//! each container transition…); everything else is the *base* environment every step
//! inherits. Steps never get our variables: each child's environment is built from the base
//! plus the variables of its own transition (see [`crate::stepenv`]).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

use testwerk_protocol::env::parse_scoped;

/// One scoped variable, under the name the step sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Var {
    pub name: String,
    pub value: String,
    /// The value is a template to compute at runtime.
    pub computed: bool,
    /// The value is a secret to mask in logs.
    pub sensitive: bool,
}

/// The environment, split.
#[derive(Clone, Debug, Default)]
pub struct SplitEnv {
    /// Variables outside the contract, in their original order.
    pub base: Vec<(OsString, OsString)>,
    /// Scoped variables by group (`"00"`…`"05"`, `"0"`, `"1"`, …).
    pub groups: BTreeMap<String, Vec<Var>>,
}

impl SplitEnv {
    /// Splits `vars` (usually `std::env::vars_os()`).
    pub fn split(vars: impl IntoIterator<Item = (OsString, OsString)>) -> SplitEnv {
        let mut out = SplitEnv::default();
        for (key, value) in vars {
            let scoped = key.to_str().and_then(parse_scoped);
            match scoped {
                Some(s) => out.groups.entry(s.group.to_owned()).or_default().push(Var {
                    name: s.name.to_owned(),
                    value: value.to_string_lossy().into_owned(),
                    computed: s.computed,
                    sensitive: s.sensitive,
                }),
                None => out.base.push((key, value)),
            }
        }
        out
    }

    /// The variables of one group (empty when it has none).
    pub fn group(&self, group: &str) -> &[Var] {
        self.groups.get(group).map(Vec::as_slice).unwrap_or(&[])
    }

    /// One variable of one group, by the name after the prefix (`("03", "TW_TOKEN")`).
    pub fn scoped(&self, group: &str, name: &str) -> Option<&str> {
        self.group(group)
            .iter()
            .rev()
            .find(|v| v.name == name)
            .map(|v| v.value.as_str())
    }

    /// A base variable.
    pub fn base_var(&self, name: &str) -> Option<&OsStr> {
        self.base
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_os_str())
    }

    /// Drops base variables that are meant for us, not for the steps.
    pub fn remove_base(&mut self, names: &[&str]) {
        self.base.retain(|(k, _)| !names.iter().any(|n| k == *n));
    }

    /// The plain values to mask: every sensitive variable and every `secret()` value (group
    /// `02`). Computed ones are added when they are computed.
    pub fn plain_secrets(&self) -> Vec<&str> {
        self.groups
            .iter()
            .flat_map(|(group, vars)| {
                vars.iter()
                    .filter(move |v| !v.computed && (v.sensitive || group == "02"))
            })
            .map(|v| v.value.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_by_the_contract() {
        let vars = [
            ("PATH", "/bin"),
            ("_01_TW_PLAN", "{}"),
            ("_03_TW_TOKEN", "tok"),
            ("_0_CI", "1"),
            ("_0C_URL", "{{env.CI}}"),
            ("_02S_db_K_pass", "hunter22"),
            ("_1S_KEY", "abcd"),
            ("_07_X", "not ours"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let env = SplitEnv::split(vars);
        let base: Vec<_> = env
            .base
            .iter()
            .map(|(k, _)| k.to_str().unwrap_or(""))
            .collect();
        assert_eq!(base, ["PATH", "_07_X"]);
        assert_eq!(env.scoped("03", "TW_TOKEN"), Some("tok"));
        assert_eq!(env.group("0").len(), 2);
        assert!(env.group("0")[1].computed);
        let mut secrets = env.plain_secrets();
        secrets.sort_unstable();
        assert_eq!(secrets, ["abcd", "hunter22"]);
    }
}
