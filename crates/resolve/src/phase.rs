//! Phase-A variables (§2.4): what is known when an execution is scheduled.

use serde_json::{Map, Value};
use testwerk_expr::{Lookup, Machine, MapMachine};
use testwerk_spec::TestWorkflow;

/// `workflow.name`, `workflow.labels` and `labels.<key>` of a workflow. In `labels.<key>` the
/// characters `.`, `-` and `/` of the label name become `_`, so that `app.kubernetes.io/name`
/// is reachable as `labels.app_kubernetes_io_name`.
pub fn workflow_machine(workflow: &TestWorkflow) -> MapMachine {
    let mut m = MapMachine::new(Vec::<(String, Lookup)>::new());
    if let Some(name) = workflow.metadata.name.as_deref().filter(|n| !n.is_empty()) {
        m.set("workflow.name", Value::from(name));
    }
    let mut all = Map::new();
    if let Some(labels) = &workflow.metadata.labels {
        for (k, v) in labels {
            all.insert(k.clone(), Value::from(v.as_str()));
            m.set(
                format!("labels.{}", sanitize_label(k)),
                Value::from(v.as_str()),
            );
        }
    }
    m.set("workflow.labels", Value::Object(all));
    m
}

pub fn sanitize_label(key: &str) -> String {
    key.chars()
        .map(|c| if matches!(c, '.' | '-' | '/') { '_' } else { c })
        .collect()
}

/// Whether `machine` answers `name` or one of its dotted prefixes (`a.b.c` → `a.b` → `a`),
/// the way the evaluator looks accessors up.
pub fn answers(machine: &dyn Machine, name: &str) -> bool {
    let mut candidate = name;
    loop {
        if machine.get(candidate).is_some() {
            return true;
        }
        match candidate.rfind('.') {
            Some(cut) => candidate = &candidate[..cut],
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_name_and_sanitized_labels() {
        let mut wf = TestWorkflow::default();
        wf.metadata.name = Some("smoke".into());
        wf.metadata.labels =
            Some([("app.kubernetes.io/name".to_string(), "web".to_string())].into());
        let m = workflow_machine(&wf);
        assert_eq!(
            m.get("workflow.name"),
            Some(Lookup::Value(Value::from("smoke")))
        );
        assert_eq!(
            m.get("labels.app_kubernetes_io_name"),
            Some(Lookup::Value(Value::from("web")))
        );
        assert!(answers(&m, "workflow.labels.anything"));
        assert!(!answers(&m, "env.HOME"));
    }
}
