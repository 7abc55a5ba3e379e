//! The executions of an `execute` step: each workflow an entry names, once per instance.

use std::collections::BTreeMap;

use serde_json::Value;
use testwerk_expr::{Chain, MapMachine};
use testwerk_protocol::children::{ChildKind, ChildRequest, ChildWorkflow, Selection};
use testwerk_spec::ExecuteWorkflow;

use crate::transfer::Pack;
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

    /// Whether `request` is an execution an entry of this step (`parent_ref`, its artifacts
    /// going to `sink`) would start; `matches` says whether a workflow is one a selector names.
    pub fn contains(
        &self,
        parent_ref: &str,
        sink: Option<&str>,
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
                && executions(entry, i, parent_ref, std::slice::from_ref(name), sink)
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

/// One `tarball` of an entry: the files the parent packs for the executed workflow, which
/// fetches them from `url` (`{{ tarball.<name>.url }}` in the entry's `config`).
#[derive(Clone, Debug, PartialEq)]
pub struct Tarball {
    pub name: String,
    pub pack: Pack,
    pub url: String,
}

/// The tarballs of entry `i` of step `parent_ref`, whose artifacts go to `sink`.
pub fn tarballs(
    entry: &ExecuteWorkflow,
    i: usize,
    parent_ref: &str,
    sink: Option<&str>,
) -> Result<Vec<Tarball>, SpecError> {
    entry
        .tarball
        .iter()
        .map(|(name, request)| {
            let field = format!("execute.workflows[{i}].tarball.{name}");
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(SpecError::Failed(format!(
                    "{field}: a tarball's name is letters, digits, `-` and `_`"
                )));
            }
            let from = request
                .from
                .clone()
                .filter(|f| !f.is_empty())
                .ok_or_else(|| {
                    SpecError::Usage(format!("{field}.from: the folder to pack is missing"))
                })?;
            let files = serde_json::to_value(&request.files)
                .map_err(|e| SpecError::Usage(format!("{field}.files: {e}")))?;
            let pack = Pack {
                patterns: crate::transfer::patterns(
                    &serde_json::json!({ "files": files }),
                    &field,
                )?,
                archive: format!("tw-tarball-{i}-{name}.tar.gz"),
                from,
                field,
            };
            Ok(Tarball {
                url: pack.url(sink, parent_ref)?,
                name: name.clone(),
                pack,
            })
        })
        .collect()
}

/// The executions of entry `i` of step `parent_ref`: each of `names`, once per instance. Its
/// `config` sees the instance's variables and `tarball.<name>.url` (the parent's artifacts go
/// to `sink`).
pub fn executions(
    entry: &ExecuteWorkflow,
    i: usize,
    parent_ref: &str,
    names: &[String],
    sink: Option<&str>,
) -> Result<Vec<Planned>, SpecError> {
    let field = format!("execute.workflows[{i}]");
    let tarballs: serde_json::Map<String, Value> = tarballs(entry, i, parent_ref, sink)?
        .into_iter()
        .map(|t| (t.name, serde_json::json!({ "url": t.url })))
        .collect();
    let tarball_machine = MapMachine::new([("tarball", Value::Object(tarballs))]);
    let instances = testwerk_strategy::instances(
        &entry.strategy,
        &testwerk_expr::NoMachine,
        testwerk_strategy::DEFAULT_LIMIT,
    )
    .map_err(|e| SpecError::Failed(format!("{field}.{e}")))?;
    let mut planned = Vec::new();
    for name in names {
        for instance in &instances {
            let instance_machine = instance.machine();
            let machine = Chain(vec![&instance_machine, &tarball_machine]);
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
        let smoke = executions(&step.entries[0], 0, "r3", &["smoke".into()], None).expect("plan");
        assert_eq!(smoke.len(), 2);
        assert_eq!(smoke[1].label, "smoke 2/2");
        assert_eq!(smoke[1].request.config["n"], "1");

        let e2e = |s: &Selection, name: &str| {
            s.match_labels.get("suite").map(String::as_str) == Some("e2e") && name == "login"
        };
        assert!(step.contains("r3", None, &smoke[1].request, &e2e));
        let mut other_config = smoke[1].request.clone();
        other_config.config.insert("n".into(), "7".into());
        assert!(!step.contains("r3", None, &other_config, &e2e));
        let selected =
            executions(&step.entries[1], 1, "r3", &["login".into()], None).expect("plan");
        assert!(step.contains("r3", None, &selected[0].request, &e2e));
        let unlisted =
            executions(&step.entries[1], 1, "r3", &["admin".into()], None).expect("plan");
        assert!(!step.contains("r3", None, &unlisted[0].request, &e2e));
        assert!(!step.contains("r4", None, &smoke[0].request, &e2e));
    }

    #[test]
    fn tarballs_are_artifacts_of_the_step_named_in_the_config() {
        let step = Execute::from_payload(&json!({
            "workflows": [{
                "name": "consumer",
                "tarball": {"data": {"from": "/data/out", "files": ["*.txt"]}},
                "config": {"source": "{{ tarball.data.url }}"},
            }],
        }))
        .expect("payload");
        let sink = "http://10.219.0.1:7/api/v1/executions/p/artifacts";
        let planned =
            executions(&step.entries[0], 0, "r2", &["consumer".into()], Some(sink)).expect("plan");
        assert_eq!(
            planned[0].request.config["source"],
            format!("{sink}/r2/tw-tarball-0-data.tar.gz")
        );
        let packed = tarballs(&step.entries[0], 0, "r2", Some(sink)).expect("tarballs");
        assert_eq!(packed[0].pack.from, "/data/out");
        assert_eq!(packed[0].pack.patterns, ["*.txt"]);
        assert!(step.contains("r2", Some(sink), &planned[0].request, &|_, _| false));
        let err =
            executions(&step.entries[0], 0, "r2", &["consumer".into()], None).expect_err("no sink");
        assert!(err.to_string().contains("keeps no artifacts"), "{err}");
    }
}
