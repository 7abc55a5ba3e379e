//! The template set (names, duplicates), reference cycles, and the global template.

mod common;

use std::sync::Arc;

use common::{load, names, ok_with, options};
use serde_json::json;
use testwerk_resolve::{TemplateSet, resolve};
use testwerk_spec::{
    AnyDocument, Document, LocationIndex, Source, TemplateRef, TestWorkflowTemplate, load_str,
};

/// A template built directly, bypassing the loader (which refuses references inside
/// templates), to check that cycles are caught anyway.
fn raw_template(file: &str, name: &str, spec: serde_json::Value) -> Document<TestWorkflowTemplate> {
    let value: TestWorkflowTemplate = serde_json::from_value(json!({
        "apiVersion": "testworkflows.testkube.io/v1",
        "kind": "TestWorkflowTemplate",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    Document {
        source: Source {
            file: Arc::from(file),
            locations: Arc::new(LocationIndex::default()),
        },
        index: 0,
        value,
    }
}

fn template_doc(file: &str, yaml: &str) -> Document<TestWorkflowTemplate> {
    match load_str(file, yaml)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .remove(0)
    {
        AnyDocument::Template(t) => t,
        _ => panic!("not a template"),
    }
}

const WORKFLOW: &str = "kind: TestWorkflow\napiVersion: testworkflows.testkube.io/v1\nmetadata: {name: wf}\nspec:\n  steps:\n  - name: first\n    shell: 'true'\n  - name: uses\n    template: {name: a}\n";

#[test]
fn cycles_are_reported_with_the_chain() {
    let (doc, _) = load(WORKFLOW);
    let mut set = TemplateSet::new();
    set.add(raw_template(
        "a.yaml",
        "a",
        json!({"steps": [{"template": {"name": "b"}}]}),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    set.add(raw_template(
        "b.yaml",
        "b",
        json!({"steps": [{"name": "x", "use": [{"name": "a"}]}]}),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let errors = resolve(&doc, &set, &options(&[])).err().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "spec.steps[1].template");
    assert!(
        errors[0]
            .message
            .contains("cyclic template reference: a → b → a"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains("a.yaml") && errors[0].message.contains("b.yaml"),
        "{}",
        errors[0].message
    );
}

#[test]
fn self_reference_is_a_cycle() {
    let (doc, _) = load(WORKFLOW);
    let mut set = TemplateSet::new();
    set.add(raw_template(
        "a.yaml",
        "a",
        json!({"services": {"db": {"image": "x", "use": [{"name": "a"}]}}}),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let errors = resolve(&doc, &set, &options(&[])).err().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .message
            .contains("cyclic template reference: a → a"),
        "{}",
        errors[0].message
    );
}

#[test]
fn nested_references_inside_templates_resolve_when_acyclic() {
    let (doc, _) = load(WORKFLOW);
    let mut set = TemplateSet::new();
    set.add(raw_template(
        "a.yaml",
        "a",
        json!({"steps": [{"name": "in-a", "template": {"name": "b", "config": {"who": "a"}}}]}),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    set.add(raw_template("b.yaml", "b", json!({"config": {"who": {}}, "steps": [{"name": "in-b-for-{{config.who}}", "shell": "true"}]}))).unwrap_or_else(|e| panic!("{e}"));
    let r = resolve(&doc, &set, &options(&[])).unwrap_or_else(|e| panic!("{e:?}"));
    let uses = &r.workflow.spec.body.steps[1];
    assert_eq!(names(&uses.steps), ["in-a"]);
    assert_eq!(names(&uses.steps[0].steps), ["in-b-for-a"]);
}

#[test]
fn different_templates_with_one_name_are_refused_naming_both_files() {
    let one = "kind: TestWorkflowTemplate\napiVersion: testworkflows.testkube.io/v1\nmetadata: {name: official/k6/v1}\nspec:\n  steps: [{shell: one}]\n";
    let two = "kind: TestWorkflowTemplate\napiVersion: testworkflows.testkube.io/v1\nmetadata: {name: official--k6--v1}\nspec:\n  steps: [{shell: two}]\n";
    let mut set = TemplateSet::new();
    set.add(template_doc("first.yaml", one))
        .unwrap_or_else(|e| panic!("{e}"));
    // The very same template again (another copy of the file) is fine.
    set.add(template_doc("copy.yaml", one))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.len(), 1);
    let e = set
        .add(template_doc("second.yaml", two))
        .err()
        .unwrap_or_else(|| panic!("accepted a conflicting template"));
    assert_eq!(e.file, "second.yaml");
    assert_eq!(e.path, "metadata.name");
    assert!(e.message.contains("first.yaml"), "{}", e.message);
    assert!(e.message.contains("official--k6--v1"), "{}", e.message);
    assert_eq!(set.len(), 1);
    assert!(set.get("official/k6/v1").is_some());
}

const GLOBAL: &str = r#"
kind: TestWorkflowTemplate
apiVersion: testworkflows.testkube.io/v1
metadata: {name: global}
spec:
  config:
    region: {default: eu}
  pod:
    labels: {global: "{{config.region}}"}
  container:
    env: [{name: GLOBAL, value: "{{config.region}}"}]
"#;

#[test]
fn global_template_reaches_the_workflow_and_every_own_step() {
    let yaml = format!(
        "{GLOBAL}---\nkind: TestWorkflow\napiVersion: testworkflows.testkube.io/v1\nmetadata: {{name: wf}}\nspec:\n  steps:\n  - name: outer\n    steps: [{{name: inner, shell: 'true'}}]\n  - name: par\n    parallel:\n      count: 2\n      steps: [{{name: worker, shell: 'true'}}]\n"
    );
    let mut opts = options(&[]);
    opts.global_template = Some(TemplateRef {
        name: "global".into(),
        config: [(
            "region".to_string(),
            testwerk_spec::ParamValue::String("us".into()),
        )]
        .into(),
    });
    let r = ok_with(&yaml, &opts);
    let body = &r.workflow.spec.body;
    let env_of = |c: &Option<testwerk_spec::ContainerConfig>| -> Vec<String> {
        c.as_ref()
            .map(|c| {
                c.env
                    .iter()
                    .map(|e| format!("{}={}", e.name, e.value.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(env_of(&body.container), ["GLOBAL=us"]);
    assert_eq!(
        body.pod
            .as_ref()
            .and_then(|p| p.labels.get("global"))
            .map(String::as_str),
        Some("us")
    );
    let outer = &body.steps[0];
    assert_eq!(env_of(&outer.container), ["GLOBAL=us"]);
    assert_eq!(env_of(&outer.steps[0].container), ["GLOBAL=us"]);
    let par = &body.steps[1];
    let parallel = par.parallel.as_deref().cloned().unwrap_or_default();
    // Upstream quirk: the block's own `use` does not get the global template ...
    assert!(parallel.body.container.is_none());
    assert!(parallel.body.pod.is_none());
    // ... but its steps do.
    assert_eq!(env_of(&parallel.body.steps[0].container), ["GLOBAL=us"]);
}

#[test]
fn missing_global_template_is_reported() {
    let (doc, set) = load(
        WORKFLOW
            .replace("    template: {name: a}\n", "    shell: 'true'\n")
            .as_str(),
    );
    let mut opts = options(&[]);
    opts.global_template = Some(TemplateRef {
        name: "nope".into(),
        ..Default::default()
    });
    let errors = resolve(&doc, &set, &opts).err().unwrap_or_default();
    assert_eq!(
        errors.len(),
        1,
        "reported once, not once per step: {errors:?}"
    );
    assert_eq!(
        errors[0].message,
        "global template: resolving template: template \"nope\" not found"
    );
    assert_eq!(errors[0].path, "spec");
    assert_eq!(
        set.missed(),
        ["nope"],
        "the set says which template it lacked, without reading the message"
    );
    assert!(
        set.clone().missed().is_empty(),
        "a copy starts with nothing missed"
    );
}

#[test]
fn runaway_nesting_is_bounded() {
    let (doc, _) = load(WORKFLOW);
    let mut set = TemplateSet::new();
    // a → t1 → t2 → … → t29: no cycle, but deeper than anyone means.
    set.add(raw_template(
        "a.yaml",
        "a",
        json!({"steps": [{"template": {"name": "t1"}}]}),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    for i in 1..30 {
        let spec = json!({"steps": [{"template": {"name": format!("t{}", i + 1)}}]});
        set.add(raw_template(&format!("t{i}.yaml"), &format!("t{i}"), spec))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let errors = resolve(&doc, &set, &options(&[])).err().unwrap_or_default();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .message
            .contains("templates nested more than 16 deep"),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[0].path, "spec.steps[1].template");
}
