//! Config parameters of the workflow and of templates, sensitive values, phase-A variables.

mod common;

use common::{err_with, ok, ok_with, options, yaml_of};
use testwerk_expr::{MapMachine, Value};

const HEAD: &str = "kind: TestWorkflow\napiVersion: testworkflows.testkube.io/v1\nmetadata:\n  name: wf\n  labels: {app.kubernetes.io/name: web, team: qa}\n";

fn workflow(config: &str, steps: &str) -> String {
    format!("{HEAD}spec:\n  config:\n{config}  steps:\n{steps}")
}

#[test]
fn values_and_defaults_are_cast_and_substituted() {
    let yaml = workflow(
        "    workers: {type: integer, default: 2}\n    ratio: {type: number, default: '0.5'}\n    debug: {type: boolean, default: 'false'}\n    name: {type: string}\n",
        "  - name: 'hello {{ config.name }}'\n    condition: config.debug || config.workers > 1\n    shell: 'echo {{ config.workers * 2 }} {{ config.ratio }} {{ config.debug }} {{ env.KEEP }}'\n",
    );
    let r = ok_with(&yaml, &options(&[("name", "world"), ("workers", "3")]));
    let step = &r.workflow.spec.body.steps[0];
    assert_eq!(step.name.as_deref(), Some("hello world"));
    assert_eq!(step.condition.as_deref(), Some("true"));
    assert_eq!(step.shell.as_deref(), Some("echo 6 0.5 false {{env.KEEP}}"));
    assert!(r.secrets.is_empty());
}

#[test]
fn expressions_keep_what_only_runtime_knows() {
    let yaml = workflow(
        "    enabled: {type: boolean, default: 'true'}\n",
        "  - condition: passed && config.enabled\n    retry: {count: 2, until: 'config.enabled && self.passed'}\n    shell: 'true'\n  - condition: always\n    shell: 'true'\n",
    );
    let r = ok(&yaml);
    let steps = &r.workflow.spec.body.steps;
    // `passed && true` may print as `passed&&true`: `&&` returns an operand, so it cannot
    // always be shortened; what matters is that config is gone and `passed` stays.
    let condition = steps[0].condition.clone().unwrap_or_default();
    assert!(
        condition.starts_with("passed") && !condition.contains("config"),
        "{condition}"
    );
    let until = steps[0]
        .retry
        .as_ref()
        .and_then(|r| r.until.clone())
        .unwrap_or_default();
    assert_eq!(until, "self.passed");
    assert_eq!(
        steps[1].condition.as_deref(),
        Some("always"),
        "untouched: nothing to substitute"
    );
}

#[test]
fn missing_required_parameter_is_named() {
    let errors = err_with(
        &workflow(
            "    url: {type: string}\n",
            "  - shell: 'curl {{config.url}}'\n",
        ),
        &options(&[]),
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "spec.config.url");
    assert!(
        errors[0].message.contains("\"url\" is required"),
        "{}",
        errors[0].message
    );
    assert!(errors[0].location.is_some());
}

#[test]
fn wrong_type_is_an_error() {
    let yaml = workflow(
        "    workers: {type: integer, default: 2}\n",
        "  - shell: 'true'\n",
    );
    let errors = err_with(&yaml, &options(&[("workers", "many")]));
    assert_eq!(errors[0].path, "spec.config.workers");
    assert!(
        errors[0]
            .message
            .contains("config.workers: error while converting value to number")
    );
    let errors = err_with(
        &workflow("    on: {type: boolean}\n", "  - shell: 'true'\n"),
        &options(&[("on", "perhaps")]),
    );
    assert!(errors[0].message.contains("converting value to bool"));
}

#[test]
fn invalid_default_points_at_the_default() {
    let errors = err_with(
        &workflow(
            "    workers: {type: integer, default: lots}\n",
            "  - shell: 'true'\n",
        ),
        &options(&[]),
    );
    assert_eq!(errors[0].path, "spec.config.workers.default");
}

#[test]
fn unknown_parameter_gets_a_suggestion() {
    let yaml = workflow(
        "    workers: {type: integer, default: 2}\n",
        "  - shell: 'true'\n",
    );
    let errors = err_with(&yaml, &options(&[("worker", "3")]));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .message
            .contains("unknown config parameter \"worker\"")
    );
    assert_eq!(
        errors[0].suggestion.as_deref(),
        Some("did you mean \"workers\"?")
    );
}

#[test]
fn constraints_are_enforced() {
    let yaml = workflow(
        "    browser: {enum: [chrome, firefox], default: chrome}\n    tag: {pattern: '^v[0-9]+$', default: v1}\n    count: {type: integer, minimum: 1, maximum: 5, default: 1}\n",
        "  - shell: 'run {{config.browser}} {{config.tag}} {{config.count}}'\n",
    );
    assert_eq!(
        ok(&yaml).workflow.spec.body.steps[0].shell.as_deref(),
        Some("run chrome v1 1")
    );
    let errors = err_with(
        &yaml,
        &options(&[("browser", "edge"), ("tag", "latest"), ("count", "9")]),
    );
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(errors.len(), 3, "{messages:?}");
    assert!(messages[0].contains("chrome, firefox"));
    assert!(messages[1].contains("pattern"));
    assert!(messages[2].contains("maximum 5"));
}

#[test]
fn unknown_config_reference_is_an_error_at_its_field() {
    let errors = err_with(
        &workflow("    a: {default: x}\n", "  - shell: 'echo {{config.b}}'\n"),
        &options(&[]),
    );
    assert_eq!(errors[0].path, "spec.steps[0].shell");
    assert_eq!(errors[0].message, "config.b: unknown variable");
}

#[test]
fn sensitive_values_go_to_the_secret() {
    let yaml = workflow(
        "    token: {type: string, sensitive: true}\n    pin: {type: integer, sensitive: true, default: 1234}\n",
        "  - shell: 'login {{config.token}} {{config.pin}}'\n    condition: config.token != ''\n",
    );
    let r = ok_with(&yaml, &options(&[("token", "s3cr3t-value")]));
    let text = yaml_of(&r);
    assert!(!text.contains("s3cr3t-value"), "{text}");
    assert!(!text.contains("1234"), "{text}");
    let step = &r.workflow.spec.body.steps[0];
    assert_eq!(
        step.shell.as_deref(),
        Some(r#"login {{secret("wf-secret","token")}} {{secret("wf-secret","pin")}}"#)
    );
    assert_eq!(
        step.condition.as_deref(),
        Some(r#"secret("wf-secret","token")!="""#)
    );
    assert_eq!(
        r.secrets.get("token").map(String::as_str),
        Some("s3cr3t-value")
    );
    assert_eq!(r.secrets.get("pin").map(String::as_str), Some("1234"));
    // The default left in the schema reads the Secret too.
    let pin = &r.workflow.spec.body.config["pin"];
    assert_eq!(
        pin.default.as_ref().map(|d| d.as_text()),
        Some(r#"{{secret("wf-secret","pin")}}"#.to_string())
    );
}

#[test]
fn sensitive_template_parameters_go_to_the_secret() {
    let yaml = format!(
        "kind: TestWorkflowTemplate\napiVersion: testworkflows.testkube.io/v1\nmetadata: {{name: login}}\nspec:\n  config:\n    password: {{sensitive: true}}\n  steps: [{{shell: 'login {{{{config.password}}}}'}}]\n---\n{HEAD}spec:\n  use: [{{name: login, config: {{password: hunter2}}}}]\n"
    );
    let r = ok(&yaml);
    assert!(!yaml_of(&r).contains("hunter2"));
    assert_eq!(
        r.secrets.get("tpl.login.password").map(String::as_str),
        Some("hunter2")
    );
    assert_eq!(
        r.workflow.spec.body.steps[0].shell.as_deref(),
        Some(r#"login {{secret("wf-secret","tpl.login.password")}}"#)
    );
}

#[test]
fn template_config_types_and_defaults() {
    let yaml = format!(
        "kind: TestWorkflowTemplate\napiVersion: testworkflows.testkube.io/v1\nmetadata: {{name: t}}\nspec:\n  config:\n    uid: {{type: integer, default: 65532}}\n    version: {{default: '1.0'}}\n  container:\n    image: 'tool:{{{{config.version}}}}'\n    securityContext: {{runAsUser: '{{{{config.uid}}}}'}}\n  steps: [{{shell: 'true'}}]\n---\n{HEAD}spec:\n  use: [{{name: t, config: {{version: '2.0'}}}}]\n"
    );
    let r = ok(&yaml);
    let c = r.workflow.spec.body.container.unwrap_or_default();
    assert_eq!(c.image.as_deref(), Some("tool:2.0"));
    assert_eq!(
        c.security_context
            .and_then(|s| s.run_as_user)
            .map(|v| v.as_text())
            .as_deref(),
        Some("65532")
    );
}

#[test]
fn undeclared_template_parameters_are_hinted() {
    let yaml = format!(
        "kind: TestWorkflowTemplate\napiVersion: testworkflows.testkube.io/v1\nmetadata: {{name: t}}\nspec:\n  config:\n    message: {{type: string}}\n  steps: [{{shell: 'echo {{{{config.message}}}}'}}]\n---\n{HEAD}spec:\n  steps:\n  - template: {{name: t, config: {{msg: hi}}}}\n"
    );
    let errors = err_with(&yaml, &options(&[]));
    assert_eq!(errors[0].path, "spec.steps[0].template");
    assert!(
        errors[0]
            .message
            .contains("config.message: unknown variable")
    );
    assert_eq!(
        errors[0].suggestion.as_deref(),
        Some("the template does not declare msg; it declares: message")
    );
}

#[test]
fn phase_a_variables() {
    let yaml = format!(
        "{HEAD}spec:\n  pod:\n    labels:\n      '{{{{workflow.name}}}}-owner': '{{{{labels.team}}}}'\n  steps:\n  - name: '{{{{workflow.name}}}} {{{{labels.app_kubernetes_io_name}}}} {{{{execution.id}}}} {{{{step.x.results}}}}'\n    shell: 'echo {{{{ secret(\"a\", \"b\") }}}} {{{{ env.HOME }}}} {{{{ workflow.labels.team }}}}'\n"
    );
    let execution = MapMachine::new([("execution.id", Value::from("exec-1"))]);
    let mut opts = options(&[]);
    opts.variables = Some(&execution);
    let r = ok_with(&yaml, &opts);
    let step = &r.workflow.spec.body.steps[0];
    assert_eq!(
        step.name.as_deref(),
        Some("wf web exec-1 {{step.x.results}}")
    );
    // The string is re-printed because it changed; the symbolic parts keep their meaning.
    let shell = step.shell.clone().unwrap_or_default();
    assert!(shell.ends_with(" qa"), "{shell}");
    assert!(
        shell.contains("secret(\"a\",\"b\")") && shell.contains("env.HOME"),
        "{shell}"
    );
    let labels = r
        .workflow
        .spec
        .body
        .pod
        .map(|p| p.labels)
        .unwrap_or_default();
    assert_eq!(labels.get("wf-owner").map(String::as_str), Some("qa"));
}

#[test]
fn strings_needing_nothing_keep_their_spelling() {
    let yaml = format!(
        "{HEAD}spec:\n  steps:\n  - shell: 'echo {{{{ env.A }}}} {{{{\"{{{{\"}}}}literal'\n    condition: 'passed  &&  env.X == \"1\"'\n"
    );
    let r = ok(&yaml);
    let step = &r.workflow.spec.body.steps[0];
    assert_eq!(
        step.shell.as_deref(),
        Some(r#"echo {{ env.A }} {{"{{"}}literal"#)
    );
    assert_eq!(
        step.condition.as_deref(),
        Some(r#"passed  &&  env.X == "1""#)
    );
}

#[test]
fn list_arguments_expand() {
    let yaml = workflow(
        "    flags: {default: '-a -b'}\n",
        "  - run:\n      image: alpine\n      args: ['{{ shellparse(config.flags) }}', 'x-{{config.flags}}', '{{ env.KEEP }}']\n",
    );
    let r = ok(&yaml);
    let args = r.workflow.spec.body.steps[0]
        .run
        .as_ref()
        .and_then(|r| r.container.args.clone());
    assert_eq!(
        args,
        Some(vec![
            "-a".into(),
            "-b".into(),
            "x--a -b".into(),
            "{{ env.KEEP }}".into()
        ])
    );
}

#[test]
fn counts_become_numbers() {
    let yaml = workflow(
        "    workers: {type: integer, default: 3}\n",
        "  - parallel:\n      count: config.workers\n      maxCount: 'config.workers * 2'\n      shell: 'true'\n  - parallel:\n      count: 'len(env.LIST)'\n      shell: 'true'\n",
    );
    let r = ok(&yaml);
    let steps = &r.workflow.spec.body.steps;
    let strategy = &steps[0]
        .parallel
        .as_deref()
        .cloned()
        .unwrap_or_default()
        .strategy;
    assert_eq!(strategy.count, Some(testwerk_spec::ParamValue::Int(3)));
    assert_eq!(strategy.max_count, Some(testwerk_spec::ParamValue::Int(6)));
    let runtime = &steps[1]
        .parallel
        .as_deref()
        .cloned()
        .unwrap_or_default()
        .strategy;
    assert_eq!(
        runtime.count,
        Some(testwerk_spec::ParamValue::String("len(env.LIST)".into()))
    );
}
