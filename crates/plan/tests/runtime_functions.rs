//! `testwerk-init` carries no jq and no YAML engine: a `jq()`, `yaml()` or `toyaml()` call is
//! fine when the compiler can evaluate it, and refused when it would be left for the runtime.

mod common;

use common::*;

fn refused(spec: &str) -> testwerk_plan::PlanError {
    try_plan(&workflow(spec)).expect_err("a jq() call left for the runtime")
}

#[test]
fn jq_on_values_known_now_is_evaluated_by_the_compiler() {
    // (`config.*` is substituted before this stage, by testwerk-resolve.)
    let p = plan(&workflow(
        "steps:\n- shell: echo {{ jq(json('{\"a\":7}'), '.a') }} {{ jq([1, 2], '.[1]') }} \
         {{ jq(workflow.name, 'ascii_upcase') }}",
    ));
    let text = wire(&p).concat().concat();
    assert!(!text.contains("jq("), "{text}");
    assert!(text.contains("echo 7 2 FIXTURE"), "{text}");
}

#[test]
fn jq_left_for_the_runtime_is_refused_naming_the_function_and_the_field() {
    let err = refused("steps:\n- shell: echo {{ jq(json(env.DATA), '.a') }}");
    assert_eq!(err.path, "spec.steps[0].shell.args[1]");
    assert!(err.message.starts_with("`jq()` in `set -e"), "{err}");
    assert!(err.message.contains("env.DATA"), "{err}");
    assert!(
        err.message
            .contains("testwerk-init, which has no jq engine"),
        "{err}"
    );
    assert!(
        err.help
            .as_deref()
            .is_some_and(|h| h.contains("known when the workflow is compiled")),
        "{err}"
    );
}

#[test]
fn every_field_init_evaluates_is_checked() {
    let cases = [
        (
            "steps:\n- condition: jq(env.X, '.ok') == [true]\n  shell: echo hi",
            ".condition",
        ),
        (
            "steps:\n- shell: echo hi\n  retry: {count: 2, until: \"jq(env.X, '.ok') == [true]\"}",
            ".retry.until",
        ),
        (
            "steps:\n- shell: echo hi\n  container:\n    env: [{name: A, value: \"{{ jq(env.X, '.a') }}\"}]",
            ".env.A",
        ),
        (
            "container:\n  workingDir: \"/{{ jq(env.X, '.d') }}\"\nsteps:\n- shell: pwd",
            ".workingDir",
        ),
        (
            "steps:\n- run: {image: custom, command: [echo], args: [\"{{ jq(env.X, '.a') }}\"]}",
            ".args[0]",
        ),
        (
            "steps:\n- timeout: \"{{ string(jq(env.X, '.t')) }}s\"\n  shell: echo hi",
            ".timeout",
        ),
    ];
    for (spec, field) in cases {
        let err = refused(spec);
        assert!(err.path.ends_with(field), "{spec}: {err}");
        assert!(err.message.contains("`jq()`"), "{spec}: {err}");
    }
}

#[test]
fn other_runtime_functions_stay_allowed() {
    let p = plan(&workflow(
        "steps:\n- shell: echo {{ tojson(env) }} {{ json(env.Y) }} {{ file('/x') }}",
    ));
    assert_eq!(step_refs(&p).len(), 1);
}

#[test]
fn yaml_on_values_known_now_is_evaluated_by_the_compiler() {
    let p = plan(&workflow(
        "steps:\n- shell: \"echo {{ at(yaml('[5, 7]'), 1) }} {{ trim(toyaml(list(workflow.name))) }}\"",
    ));
    let text = wire(&p).concat().concat();
    assert!(!text.contains("yaml("), "{text}");
    assert!(text.contains("echo 7 - fixture"), "{text}");
}

#[test]
fn yaml_left_for_the_runtime_is_refused_naming_the_function_and_the_field() {
    for (call, name) in [("yaml(env.Y).a", "yaml"), ("toyaml(env)", "toyaml")] {
        let err = try_plan(&workflow(&format!(
            "steps:\n- shell: echo {{{{ {call} }}}}"
        )))
        .expect_err("a YAML call left for the runtime");
        assert_eq!(err.path, "spec.steps[0].shell.args[1]", "{err}");
        assert!(
            err.message.starts_with(&format!("`{name}()` in `set -e"))
                && err
                    .message
                    .contains("testwerk-init, which has no YAML engine"),
            "{err}"
        );
        assert!(
            err.help.as_deref().is_some_and(|h| h.contains("`yq`")),
            "{err}"
        );
    }
}
