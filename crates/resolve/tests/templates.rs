//! Template application: the upstream fixtures (§10.3, 37–44) and the merge rules of §2.1.

mod common;

use common::{err, names, ok, ok_with, options};

/// The templates of upstream's `apply_test.go`, as YAML.
const TEMPLATES: &str = r#"
kind: TestWorkflowTemplate
apiVersion: testworkflows.testkube.io/v1
metadata: {name: pod}
spec:
  pod:
    labels: {v1: v2}
---
kind: TestWorkflowTemplate
apiVersion: testworkflows.testkube.io/v1
metadata: {name: podConfig}
spec:
  config:
    department: {type: string}
  pod:
    labels:
      department: "{{config.department}}"
---
kind: TestWorkflowTemplate
apiVersion: testworkflows.testkube.io/v1
metadata: {name: env}
spec:
  container:
    env:
    - {name: test, value: the}
---
kind: TestWorkflowTemplate
apiVersion: testworkflows.testkube.io/v1
metadata: {name: steps}
spec:
  setup: [{name: setup-tpl-test, shell: "true"}]
  steps: [{name: steps-tpl-test, shell: "true"}]
  after: [{name: after-tpl-test, shell: "true"}]
---
kind: TestWorkflowTemplate
apiVersion: testworkflows.testkube.io/v1
metadata: {name: stepsEnv}
spec:
  container:
    env:
    - {name: test, value: the}
  setup: [{name: setup-tpl-test, shell: "true"}]
  steps: [{name: steps-tpl-test, shell: "true"}]
  after: [{name: after-tpl-test, shell: "true"}]
---
kind: TestWorkflowTemplate
apiVersion: testworkflows.testkube.io/v1
metadata: {name: stepsConfig}
spec:
  config:
    index: {type: integer}
  setup: [{name: "setup-tpl-test-{{ config.index }}", shell: "true"}]
  steps: [{name: "steps-tpl-test-{{ config.index }}", shell: "true"}]
  after: [{name: "after-tpl-test-{{ config.index }}", shell: "true"}]
"#;

fn with_templates(workflow: &str) -> String {
    format!("{TEMPLATES}\n---\n{workflow}")
}

const HEAD: &str =
    "kind: TestWorkflow\napiVersion: testworkflows.testkube.io/v1\nmetadata: {name: wf}\n";

/// A workflow with one setup, one step and one after step of its own, plus `extra` spec lines.
fn steps_workflow(spec_extra: &str) -> String {
    with_templates(&format!(
        "{HEAD}spec:\n{spec_extra}  setup: [{{name: setup-tpl, shell: 'true'}}]\n  steps: [{{name: steps-tpl, shell: 'true'}}]\n  after: [{{name: after-tpl, shell: 'true'}}]\n"
    ))
}

#[test]
fn fixture_37_missing_template() {
    let errors = err(&steps_workflow("  use: [{name: unknown}]\n"));
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(e.path, "spec.use[0]");
    assert_eq!(
        e.message,
        r#"resolving template: template "unknown" not found"#
    );
    assert_eq!(
        format!("{}: {}", e.path, e.message),
        r#"spec.use[0]: resolving template: template "unknown" not found"#
    );
    // Placed on the reference in the workflow document (after the templates in the file).
    let line = e.location.map(|l| l.line).unwrap_or(0);
    assert!(line > 50, "expected the line of `use:`, got {line}");
}

#[test]
fn missing_template_suggests_the_nearest_name() {
    let errors = err(&steps_workflow("  use: [{name: stepConfig}]\n"));
    assert_eq!(
        errors[0].suggestion.as_deref(),
        Some(r#"did you mean "stepsConfig"?"#)
    );
}

#[test]
fn fixture_38_template_config_without_value() {
    let errors = err(&steps_workflow("  use: [{name: podConfig}]\n"));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "spec.use[0]");
    let m = &errors[0].message;
    assert!(m.contains("config.department: unknown variable"), "{m}");
    assert!(m.contains(r#"template "podConfig""#), "{m}");
    assert!(m.contains("spec.pod.labels.department"), "{m}");
}

#[test]
fn fixture_39_template_config_of_the_wrong_type() {
    let errors = err(&steps_workflow(
        "  use: [{name: stepsConfig, config: {index: text}}]\n",
    ));
    assert_eq!(errors[0].path, "spec.use[0]");
    let m = &errors[0].message;
    assert!(m.contains("config.index"), "{m}");
    assert!(m.contains("error while converting value to number"), "{m}");
}

#[test]
fn fixture_40_top_level_use_order() {
    let r = ok(&steps_workflow(
        "  use: [{name: steps}, {name: stepsConfig, config: {index: 20}}]\n",
    ));
    let s = &r.workflow.spec;
    assert!(s.use_.is_empty());
    // §2.1: applied last to first, so `use: [A, B]` gives `A, B, own` and after `own, B, A`.
    assert_eq!(
        names(&s.body.setup),
        ["setup-tpl-test", "setup-tpl-test-20", "setup-tpl"]
    );
    assert_eq!(
        names(&s.body.steps),
        ["steps-tpl-test", "steps-tpl-test-20", "steps-tpl"]
    );
    assert_eq!(
        names(&s.body.after),
        ["after-tpl", "after-tpl-test-20", "after-tpl-test"]
    );
}

#[test]
fn same_template_twice_with_different_config() {
    let r = ok(&steps_workflow(
        "  use: [{name: stepsConfig, config: {index: '10'}}, {name: stepsConfig, config: {index: 20}}]\n",
    ));
    let s = &r.workflow.spec.body;
    assert_eq!(
        names(&s.setup),
        ["setup-tpl-test-10", "setup-tpl-test-20", "setup-tpl"]
    );
    assert_eq!(
        names(&s.after),
        ["after-tpl", "after-tpl-test-20", "after-tpl-test-10"]
    );
}

const BASIC_STEP: &str = "  - name: basic\n    container:\n      env: [{name: XYZ, value: some-value}]\n    shell: shell-command\n";

fn basic_step_workflow(step_extra: &str) -> String {
    with_templates(&format!("{HEAD}spec:\n  steps:\n{BASIC_STEP}{step_extra}"))
}

#[test]
fn fixture_41_step_use_merges_env_and_ignores_pod() {
    let r = ok(&basic_step_workflow("    use: [{name: env}]\n"));
    let step = &r.workflow.spec.body.steps[0];
    let env: Vec<(String, String)> = step
        .container
        .as_ref()
        .map(|c| {
            c.env
                .iter()
                .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        env,
        [
            ("test".into(), "the".into()),
            ("XYZ".into(), "some-value".into())
        ]
    );
    assert!(step.use_.is_empty());

    let plain = ok(&basic_step_workflow(""));
    let with_pod = ok(&basic_step_workflow("    use: [{name: pod}]\n"));
    assert_eq!(with_pod.workflow, plain.workflow);
    assert!(with_pod.workflow.spec.body.pod.is_none());
}

#[test]
fn step_use_with_steps_surrounds_the_step_own_children() {
    let r = ok(&with_templates(&format!(
        "{HEAD}spec:\n  steps:\n  - name: basic\n    use: [{{name: steps}}, {{name: stepsConfig, config: {{index: 20}}}}]\n    steps: [{{name: own, shell: 'true'}}]\n"
    )));
    let step = &r.workflow.spec.body.steps[0];
    assert_eq!(names(&step.setup), ["setup-tpl-test", "setup-tpl-test-20"]);
    assert_eq!(
        names(&step.steps),
        [
            "steps-tpl-test",
            "steps-tpl-test-20",
            "own",
            "after-tpl-test-20",
            "after-tpl-test"
        ]
    );
}

#[test]
fn fixture_42_step_template_wrapped_or_inlined() {
    // With container settings: wrapped in one step that carries them.
    let r = ok(&basic_step_workflow("    template: {name: stepsEnv}\n"));
    let step = &r.workflow.spec.body.steps[0];
    assert!(step.template.is_none());
    assert_eq!(step.steps.len(), 1);
    let wrapper = &step.steps[0];
    assert_eq!(wrapper.name, None);
    let env = wrapper
        .container
        .as_ref()
        .map(|c| c.env.clone())
        .unwrap_or_default();
    assert_eq!(env.len(), 1);
    assert_eq!(env[0].name, "test");
    assert_eq!(names(&wrapper.setup), ["setup-tpl-test"]);
    assert_eq!(names(&wrapper.steps), ["steps-tpl-test", "after-tpl-test"]);
    // The step keeps its own settings.
    assert_eq!(step.shell.as_deref(), Some("shell-command"));
    assert_eq!(
        step.container.as_ref().map(|c| c.env[0].name.as_str()),
        Some("XYZ")
    );

    // Without: inlined in front of the step's own sub-steps.
    let r = ok(&with_templates(&format!(
        "{HEAD}spec:\n  steps:\n{BASIC_STEP}    template: {{name: steps}}\n    steps: [{{name: own, shell: 'true'}}]\n"
    )));
    let step = &r.workflow.spec.body.steps[0];
    assert_eq!(
        names(&step.steps),
        ["setup-tpl-test", "steps-tpl-test", "after-tpl-test", "own"]
    );
    assert!(step.setup.is_empty());
}

#[test]
fn step_template_without_steps_adds_nothing() {
    let plain = ok(&basic_step_workflow(""));
    let r = ok(&basic_step_workflow("    template: {name: env}\n"));
    assert_eq!(r.workflow, plain.workflow);
}

#[test]
fn fixture_43_parallel_use() {
    let r = ok(&with_templates(&format!(
        "{HEAD}spec:\n  steps:\n  - name: basic\n    parallel:\n      count: 2\n      use: [{{name: stepsEnv}}]\n      steps:\n{}",
        BASIC_STEP
            .replace("  - ", "      - ")
            .replace("\n    ", "\n        ")
    )));
    let parallel = r.workflow.spec.body.steps[0]
        .parallel
        .as_deref()
        .cloned()
        .unwrap_or_default();
    assert!(parallel.use_.is_empty());
    let env = parallel
        .body
        .container
        .as_ref()
        .map(|c| c.env.clone())
        .unwrap_or_default();
    assert_eq!(
        env.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["test"]
    );
    assert_eq!(names(&parallel.body.setup), ["setup-tpl-test"]);
    assert_eq!(names(&parallel.body.steps), ["steps-tpl-test", "basic"]);
    assert_eq!(names(&parallel.body.after), ["after-tpl-test"]);
}

#[test]
fn parallel_template_becomes_the_first_step() {
    let r = ok(&with_templates(&format!(
        "{HEAD}spec:\n  steps:\n  - parallel:\n      count: 2\n      timeout: 5m\n      template: {{name: stepsConfig, config: {{index: 3}}}}\n      steps: [{{name: own, shell: 'true'}}]\n"
    )));
    let parallel = r.workflow.spec.body.steps[0]
        .parallel
        .as_deref()
        .cloned()
        .unwrap_or_default();
    assert!(parallel.template.is_none());
    assert!(
        parallel.timeout.is_none(),
        "the inline control moves to the first step"
    );
    let first = &parallel.body.steps[0];
    assert_eq!(first.timeout.as_deref(), Some("5m"));
    assert_eq!(
        names(&first.steps),
        ["setup-tpl-test-3", "steps-tpl-test-3", "after-tpl-test-3"]
    );
    assert_eq!(names(&parallel.body.steps[1..]), ["own"]);
}

#[test]
fn fixture_44_workflow_config_is_not_captured_by_template_config() {
    let workflow = with_templates(&format!(
        "{HEAD}spec:\n  config:\n    department: {{type: string}}\n  use: [{{name: podConfig, config: {{department: test-department}}}}]\n  pod:\n    labels:\n      department: '{{{{config.department}}}}'\n  steps: [{{shell: 'true'}}]\n"
    ));
    let r = ok_with(&workflow, &options(&[("department", "own-department")]));
    let labels = r
        .workflow
        .spec
        .body
        .pod
        .map(|p| p.labels)
        .unwrap_or_default();
    assert_eq!(
        labels.get("department").map(String::as_str),
        Some("own-department")
    );
}

#[test]
fn template_config_value_referring_to_workflow_config_goes_through() {
    // Upstream's TestApplyTemplatesConfigOverflow: `{{config.value}}` passed to a template is
    // the workflow's parameter, not the template's.
    let workflow = with_templates(&format!(
        "{HEAD}spec:\n  config:\n    value: {{default: from-workflow}}\n  use: [{{name: podConfig, config: {{department: '{{{{config.value}}}}'}}}}]\n  steps: [{{shell: 'true'}}]\n"
    ));
    let r = ok(&workflow);
    let labels = r
        .workflow
        .spec
        .body
        .pod
        .map(|p| p.labels)
        .unwrap_or_default();
    assert_eq!(
        labels.get("department").map(String::as_str),
        Some("from-workflow")
    );
}

#[test]
fn top_level_merge_rules() {
    let templates = r#"
kind: TestWorkflowTemplate
apiVersion: testworkflows.testkube.io/v1
metadata: {name: base}
spec:
  container:
    image: tpl-image:1
    command: [tpl-cmd]
    args: [tpl-arg]
    env: [{name: A, value: tpl}, {name: B, value: tpl}]
  content:
    git: {uri: https://tpl}
    files: [{path: /tpl, content: tpl}]
  job:
    labels: {a: tpl, b: tpl}
    activeDeadlineSeconds: 10
  concurrency: {group: tpl, max: 1}
  execution:
    tags: {t1: tpl, t2: tpl}
  system: {pureByDefault: true}
  events: [{cronjob: {cron: "0 * * * *"}}]
  services:
    db: {image: tpl-db}
    cache: {image: tpl-cache}
"#;
    let workflow = format!(
        "{templates}---\n{HEAD}spec:\n  use: [{{name: base}}]\n  container:\n    command: [own-cmd]\n    env: [{{name: A, value: own}}]\n  content:\n    files: [{{path: /own, content: own}}]\n  job:\n    labels: {{a: own}}\n  concurrency: {{max: 3}}\n  execution:\n    tags: {{t1: own}}\n  system: {{isolatedContainers: true}}\n  events: [{{cronjob: {{cron: '1 * * * *'}}}}]\n  services:\n    db: {{image: own-db}}\n  steps: [{{shell: 'true'}}]\n"
    );
    let r = ok(&workflow);
    let s = r.workflow.spec.body;
    let c = s.container.unwrap_or_default();
    assert_eq!(c.image.as_deref(), Some("tpl-image:1"));
    assert_eq!(c.command, Some(vec!["own-cmd".to_string()]));
    assert_eq!(c.args, None, "a command takes its args along, even unset");
    let env: Vec<(&str, &str)> = c
        .env
        .iter()
        .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(env, [("B", "tpl"), ("A", "own")]);
    let content = s.content.unwrap_or_default();
    assert_eq!(
        content.git.and_then(|g| g.uri).as_deref(),
        Some("https://tpl")
    );
    assert_eq!(
        content
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
        ["/tpl", "/own"]
    );
    let job = s.job.unwrap_or_default();
    assert_eq!(job.labels.get("a").map(String::as_str), Some("own"));
    assert_eq!(job.labels.get("b").map(String::as_str), Some("tpl"));
    assert_eq!(job.active_deadline_seconds, Some(10));
    let concurrency = s.concurrency.unwrap_or_default();
    assert_eq!(
        (concurrency.group, concurrency.max),
        (None, Some(3)),
        "replaced as a whole"
    );
    let tags = s.execution.unwrap_or_default().tags;
    assert_eq!(tags.get("t1").map(String::as_str), Some("own"));
    assert_eq!(tags.get("t2").map(String::as_str), Some("tpl"));
    let system = s.system.unwrap_or_default();
    assert_eq!(
        (system.pure_by_default, system.isolated_containers),
        (Some(true), Some(true))
    );
    let crons: Vec<String> = s
        .events
        .iter()
        .filter_map(|e| e.cronjob.as_ref().map(|c| c.cron.clone()))
        .collect();
    assert_eq!(crons, ["0 * * * *", "1 * * * *"]);
    assert_eq!(
        s.services
            .get("db")
            .and_then(|d| d.container.image.as_deref()),
        Some("own-db")
    );
    assert_eq!(
        s.services
            .get("cache")
            .and_then(|d| d.container.image.as_deref()),
        Some("tpl-cache")
    );
}

#[test]
fn step_use_purity_quirk() {
    let templates = "kind: TestWorkflowTemplate\napiVersion: testworkflows.testkube.io/v1\nmetadata: {name: pure}\nspec:\n  system: {pureByDefault: true}\n";
    let r = ok(&format!(
        "{templates}---\n{HEAD}spec:\n  steps:\n  - {{shell: a, use: [{{name: pure}}]}}\n  - {{shell: b, pure: false, use: [{{name: pure}}]}}\n"
    ));
    let steps = &r.workflow.spec.body.steps;
    assert_eq!(steps[0].pure, None, "a step without `pure` stays without");
    assert_eq!(steps[1].pure, Some(true));
}

#[test]
fn services_use_takes_container_pod_content_and_pvcs() {
    let templates = r#"
kind: TestWorkflowTemplate
apiVersion: testworkflows.testkube.io/v1
metadata: {name: svc}
spec:
  container:
    image: postgres:16
    env: [{name: PGDATA, value: /tpl}]
  pod:
    labels: {role: db}
---
kind: TestWorkflowTemplate
apiVersion: testworkflows.testkube.io/v1
metadata: {name: with-steps}
spec:
  steps: [{shell: "true"}]
"#;
    let r = ok(&format!(
        "{templates}---\n{HEAD}spec:\n  services:\n    db:\n      use: [{{name: svc}}]\n      env: [{{name: PGDATA, value: /own}}]\n  steps: [{{shell: 'true'}}]\n"
    ));
    let db = &r.workflow.spec.body.services["db"];
    assert!(db.use_.is_empty());
    assert_eq!(db.container.image.as_deref(), Some("postgres:16"));
    assert_eq!(db.container.env.len(), 1);
    assert_eq!(db.container.env[0].value.as_deref(), Some("/own"));
    assert_eq!(
        db.pod
            .as_ref()
            .and_then(|p| p.labels.get("role"))
            .map(String::as_str),
        Some("db")
    );

    let errors = err(&format!(
        "{templates}---\n{HEAD}spec:\n  steps:\n  - shell: 'true'\n    services:\n      db:\n        image: x\n        use: [{{name: with-steps}}]\n"
    ));
    assert_eq!(errors[0].path, "spec.steps[0].services.db.use[0]");
    assert!(
        errors[0]
            .message
            .contains("steps in template \"with-steps\" used for the service are not supported")
    );
}

#[test]
fn nested_steps_are_flattened_only_at_the_top() {
    // `template: steps` on an otherwise empty step leaves a bare wrapper, which disappears.
    let r = ok(&with_templates(&format!(
        "{HEAD}spec:\n  steps:\n  - template: {{name: steps}}\n  - name: group\n    steps:\n    - template: {{name: steps}}\n"
    )));
    let steps = &r.workflow.spec.body.steps;
    assert_eq!(
        names(steps),
        [
            "setup-tpl-test",
            "steps-tpl-test",
            "after-tpl-test",
            "group"
        ]
    );
    assert_eq!(steps[3].steps.len(), 1, "the nested wrapper stays");
    assert_eq!(
        names(&steps[3].steps[0].steps),
        ["setup-tpl-test", "steps-tpl-test", "after-tpl-test"]
    );
}

#[test]
fn templates_are_found_by_either_name_form() {
    let templates = "kind: TestWorkflowTemplate\napiVersion: testworkflows.testkube.io/v1\nmetadata: {name: official--demo--v1}\nspec:\n  steps: [{name: from-template, shell: 'true'}]\n";
    let r = ok(&format!(
        "{templates}---\n{HEAD}spec:\n  use: [{{name: official/demo/v1}}]\n"
    ));
    assert_eq!(names(&r.workflow.spec.body.steps), ["from-template"]);
    let r = ok(&format!(
        "{templates}---\n{HEAD}spec:\n  use: [{{name: official--demo--v1}}]\n"
    ));
    assert_eq!(names(&r.workflow.spec.body.steps), ["from-template"]);
}
