//! The executions of an `execute` step: each workflow an entry names, once per instance.

use std::collections::BTreeMap;

use serde_json::Value;
use testwerk_protocol::children::{ChildKind, ChildRequest, ChildWorkflow, Selection};
use testwerk_spec::ExecuteWorkflow;

use crate::{Planned, SpecError};

/// What an `execute` step got: its entries, `async` and `parallelism`.
pub struct Execute {
    pub entries: Vec<ExecuteWorkflow>,
    /// Wait for the executions (not `async`).
    pub wait: bool,
    pub parallelism: Option<i64>,
}

/// Which workflows an entry names.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Name(String),
    Selector(Selection),
}

impl Execute {
    /// The payload `{"workflows": [...], "async": bool, "parallelism": n}` the compiler passes.
    pub fn from_payload(payload: &Value) -> Result<Execute, SpecError> {
        let entries: Vec<ExecuteWorkflow> = serde_json::from_value(payload["workflows"].clone())
            .map_err(|e| SpecError::Usage(format!("execute.workflows: not understood: {e}")))?;
        Ok(Execute {
            entries,
            wait: !payload["async"].as_bool().unwrap_or(false),
            parallelism: payload["parallelism"].as_i64(),
        })
    }

    /// Whether `request` is an execution entry of this step (`parent_ref`) would start;
    /// `matches` says whether a workflow is one a selector names.
    pub fn contains(
        &self,
        parent_ref: &str,
        request: &ChildRequest,
        matches: &dyn Fn(&Selection, &str) -> bool,
    ) -> bool {
        let ChildWorkflow::Named(name) = &request.workflow else {
            return false;
        };
        self.entries.iter().enumerate().any(|(i, entry)| {
            let named = match target(entry, i) {
                Ok(Target::Name(n)) => &n == name,
                Ok(Target::Selector(selection)) => matches(&selection, name),
                Err(_) => false,
            };
            named
                && executions(entry, i, parent_ref, std::slice::from_ref(name))
                    .is_ok_and(|all| all.iter().any(|p| &p.request == request))
        })
    }
}

/// The workflows entry `i` names.
pub fn target(entry: &ExecuteWorkflow, i: usize) -> Result<Target, SpecError> {
    let field = format!("execute.workflows[{i}]");
    match (&entry.name, &entry.selector) {
        (Some(name), _) if !name.is_empty() => Ok(Target::Name(name.clone())),
        (_, Some(selector)) => {
            if selector
                .match_expressions
                .as_ref()
                .is_some_and(|e| !e.is_empty())
            {
                return Err(SpecError::Failed(format!(
                    "{field}.selector: matchExpressions are not supported; use matchLabels"
                )));
            }
            Ok(Target::Selector(Selection {
                match_labels: selector.match_labels.clone().unwrap_or_default(),
            }))
        }
        _ => Err(SpecError::Usage(format!(
            "{field}: give `name` or `selector`"
        ))),
    }
}

/// The executions of entry `i` of step `parent_ref`: each of `names`, once per instance.
pub fn executions(
    entry: &ExecuteWorkflow,
    i: usize,
    parent_ref: &str,
    names: &[String],
) -> Result<Vec<Planned>, SpecError> {
    let field = format!("execute.workflows[{i}]");
    if !entry.tarball.is_empty() {
        return Err(SpecError::Failed(format!(
            "{field}.tarball is not supported yet by testwerk; give the files through the workflow's content instead"
        )));
    }
    let instances = testwerk_strategy::instances(
        &entry.strategy,
        &testwerk_expr::NoMachine,
        testwerk_strategy::DEFAULT_LIMIT,
    )
    .map_err(|e| SpecError::Failed(format!("{field}.{e}")))?;
    let mut planned = Vec::new();
    for name in names {
        for instance in &instances {
            let machine = instance.machine();
            let mut config = BTreeMap::new();
            for (key, value) in &entry.config {
                let text = testwerk_expr::finalize_template(&value.as_text(), &machine)
                    .map_err(|e| SpecError::Failed(format!("{field}.config.{key}: {e}")))?;
                config.insert(key.clone(), text);
            }
            let label = if instances.len() > 1 {
                format!("{name} {}/{}", instance.index + 1, instance.count)
            } else {
                name.clone()
            };
            planned.push(Planned {
                label,
                request: ChildRequest {
                    kind: ChildKind::Execution,
                    parent_ref: parent_ref.to_owned(),
                    workflow: ChildWorkflow::Named(name.clone()),
                    config,
                },
            });
        }
    }
    Ok(planned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_name_workflows_with_their_config_per_instance() {
        let step = Execute::from_payload(&json!({
            "workflows": [
                {"name": "smoke", "count": 2, "config": {"n": "{{ index }}"}},
                {"selector": {"matchLabels": {"suite": "e2e"}}},
            ],
            "async": true,
        }))
        .expect("payload");
        assert!(!step.wait);
        let smoke = executions(&step.entries[0], 0, "r3", &["smoke".into()]).expect("plan");
        assert_eq!(smoke.len(), 2);
        assert_eq!(smoke[1].label, "smoke 2/2");
        assert_eq!(smoke[1].request.config["n"], "1");

        let e2e = |s: &Selection, name: &str| {
            s.match_labels.get("suite").map(String::as_str) == Some("e2e") && name == "login"
        };
        assert!(step.contains("r3", &smoke[1].request, &e2e));
        let mut other_config = smoke[1].request.clone();
        other_config.config.insert("n".into(), "7".into());
        assert!(!step.contains("r3", &other_config, &e2e));
        let selected = executions(&step.entries[1], 1, "r3", &["login".into()]).expect("plan");
        assert!(step.contains("r3", &selected[0].request, &e2e));
        let unlisted = executions(&step.entries[1], 1, "r3", &["admin".into()]).expect("plan");
        assert!(!step.contains("r3", &unlisted[0].request, &e2e));
        assert!(!step.contains("r4", &smoke[0].request, &e2e));
    }
}
