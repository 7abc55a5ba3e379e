//! Issue 9: the size limits of the API server bind only where the objects go through it, and
//! a workflow over one is an error at the line of the first step that does not fit.

use testwerk_bundle::limits::Limit;
use testwerk_pipeline::{CompileSettings, Compiled, Target, compile};
use testwerk_plan::{NoImages, OwnImages};
use testwerk_resolve::TemplateSet;
use testwerk_spec::{AnyDocument, Diagnostic};
use testwerk_testinputs::workflows::{document, sequential_steps, step_line};

const FILE: &str = "many.yaml";

fn compile_for(yaml: &str, target: Target) -> Result<Compiled, Vec<Diagnostic>> {
    let docs = testwerk_spec::load_str(FILE, yaml).unwrap_or_else(|e| panic!("{e:?}"));
    let Some(AnyDocument::Workflow(doc)) = docs.into_iter().next() else {
        panic!("a workflow");
    };
    let settings = CompileSettings {
        namespace: "ns".into(),
        images: OwnImages {
            init: "testwerk/init:test".into(),
            toolkit: "testwerk/toolkit:test".into(),
            delivery: Default::default(),
        },
        image_source: &NoImages,
        execution_id: None,
        execution: None,
        config: Default::default(),
        target,
        toolkit: None,
    };
    compile(&doc, &TemplateSet::new(), &settings)
}

#[test]
fn ten_thousand_impure_steps_compile_locally_and_not_for_kubernetes() {
    let yaml = document("many", &sequential_steps(10_000, false, ""));
    let local = compile_for(&yaml, Target::Local).unwrap_or_else(|e| panic!("{}", e[0]));
    assert_eq!(local.plan.groups.len(), 10_000);

    let errors = match compile_for(&yaml, Target::Kubernetes) {
        Err(errors) => errors,
        Ok(_) => panic!("a 9 MB Job passes the API server"),
    };
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert!(
        e.message.contains(&format!("{}", Limit::Job.max())) && e.message.contains("etcd"),
        "{e}"
    );
    // The error stands at the first step over the limit: its name, its path and its line.
    let i: usize = e
        .message
        .split("`Step ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no step named: {e}"));
    assert!((100..10_000).contains(&i), "{e}");
    assert_eq!(e.path, format!("spec.steps[{i}]"), "{e}");
    let location = e.location.unwrap_or_else(|| panic!("no location: {e}"));
    assert_eq!(location.line, step_line(i, false), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("--> {FILE}:{}:{}", location.line, location.column)),
        "{e}"
    );
}

#[test]
fn a_variable_over_the_kernel_limit_is_refused_on_both_targets_at_its_step() {
    let spec = format!(
        "steps:\n- name: Quiet\n  shell: echo\n- name: Loud\n  container:\n    env:\n    - name: BIG\n      value: {}\n  shell: echo",
        "z".repeat(200 * 1024)
    );
    let yaml = document("loud", &spec);
    for target in [Target::Local, Target::Kubernetes] {
        let errors = match compile_for(&yaml, target) {
            Err(errors) => errors,
            Ok(_) => panic!("{target:?}: a 200 KiB variable cannot reach a process"),
        };
        let e = &errors[0];
        assert!(
            e.message.contains("`BIG`") && e.message.contains("`Loud`"),
            "{e}"
        );
        assert_eq!(e.path, "spec.steps[1]", "{target:?}: {e}");
        assert_eq!(e.location.map(|l| l.line), Some(9), "{target:?}: {e}");
        assert!(!e.message.contains("zzzz"), "never the value: {e}");
    }
}
