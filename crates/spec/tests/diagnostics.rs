//! One test per kind of bad input: the message, the line and column, the path, and the help.

use testwerk_spec::{
    AnyDocument, Diagnostic, Location, load_path, load_str, template_internal_name,
};

/// Lines 1–5; the first line after it is line 6.
const WORKFLOW: &str = "apiVersion: testworkflows.testkube.io/v1
kind: TestWorkflow
metadata:
  name: smoke
spec:
";

const TEMPLATE: &str = "apiVersion: testworkflows.testkube.io/v1
kind: TestWorkflowTemplate
metadata:
  name: tpl
spec:
";

fn errors(text: &str) -> Vec<Diagnostic> {
    match load_str("wf.yaml", text) {
        Ok(docs) => panic!("expected errors, loaded {} documents", docs.len()),
        Err(e) => e,
    }
}

/// The single problem of a workflow whose spec is `spec`.
fn the_error(head: &str, spec: &str) -> Diagnostic {
    let found = errors(&format!("{head}{spec}"));
    assert_eq!(
        found.len(),
        1,
        "{}",
        found
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    found.into_iter().next().unwrap_or_else(|| unreachable!())
}

fn at(line: usize, column: usize) -> Option<Location> {
    Some(Location { line, column })
}

fn assert_loads(text: &str) -> Vec<AnyDocument> {
    load_str("wf.yaml", text).unwrap_or_else(|e| panic!("{}", e[0]))
}

#[test]
fn empty_file() {
    for text in ["", "\n\n", "# just a comment\n", "---\n---\n"] {
        let e = errors(text);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].message, "no documents: the file is empty");
        assert_eq!(e[0].location, None);
        assert_eq!(e[0].to_string().lines().nth(1), Some("  --> wf.yaml"));
    }
}

#[test]
fn not_yaml() {
    let e = errors("apiVersion: testworkflows.testkube.io/v1\nkind: [TestWorkflow\nspec: {}\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].message.starts_with("not valid YAML: "),
        "{}",
        e[0].message
    );
    assert_eq!(e[0].location.map(|l| l.line), Some(3));

    let e = errors("key:\n\tbad: tab\n");
    assert!(
        e[0].message.starts_with("not valid YAML: "),
        "{}",
        e[0].message
    );
    assert_eq!(e[0].location.map(|l| l.line), Some(2));

    let e = errors("just some words\n");
    assert_eq!(e[0].message, "a document must be a mapping, found a string");
    assert_eq!(e[0].location, at(1, 1));
}

#[test]
fn wrong_api_version() {
    let e = errors("apiVersion: tests.testkube.io/v3\nkind: TestWorkflow\n");
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message,
        "unsupported apiVersion `tests.testkube.io/v3`"
    );
    assert_eq!(
        (e[0].path.as_str(), e[0].location),
        ("apiVersion", at(1, 1))
    );
    assert_eq!(
        e[0].expected.as_deref(),
        Some("`testworkflows.testkube.io/v1` (the only version accepted)")
    );

    let e = errors("kind: TestWorkflow\nmetadata: {name: x}\n");
    assert_eq!(e[0].message, "missing required field `apiVersion`");
    assert_eq!(e[0].location, at(1, 1));
}

#[test]
fn unknown_kind() {
    let e = errors("apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflows\n");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].message, "unknown kind `TestWorkflows`");
    assert_eq!((e[0].path.as_str(), e[0].location), ("kind", at(2, 1)));
    assert_eq!(
        e[0].suggestion.as_deref(),
        Some("did you mean `TestWorkflow`?")
    );
    assert_eq!(
        e[0].expected.as_deref(),
        Some("one of: TestWorkflow, TestWorkflowTemplate, TestWorkflowExecution")
    );

    let e = errors("apiVersion: testworkflows.testkube.io/v1\nkind: 5\n");
    assert_eq!(e[0].message, "wrong type for `kind`: found an integer");
}

#[test]
fn unknown_field_in_a_step() {
    let e = the_error(WORKFLOW, "  steps:\n  - name: hi\n    shel: echo hi\n");
    assert_eq!(e.message, "unknown field `shel` in a step");
    assert_eq!(e.path, "spec.steps[0].shel");
    assert_eq!(e.location, at(8, 5));
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `shell`?"));
    assert!(
        e.expected
            .as_deref()
            .is_some_and(|x| x.starts_with("one of: id, name, ") && x.contains("shell"))
    );
    assert_eq!(
        e.to_string().lines().take(2).collect::<Vec<_>>(),
        [
            "error: unknown field `shel` in a step",
            "  --> wf.yaml:8:5 at spec.steps[0].shel"
        ]
    );
    assert!(e.to_string().ends_with("\n  = help: did you mean `shell`?"));
}

#[test]
fn unknown_fields_inside_kubernetes_types() {
    let e = the_error(
        WORKFLOW,
        "  container:\n    securityContext:\n      capabilities: {add: [NET_ADMIN], dorp: [ALL]}\n",
    );
    assert_eq!(e.path, "spec.container.securityContext.capabilities.dorp");
    assert_eq!(e.location, at(8, 40));
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `drop`?"));
    assert_eq!(e.expected.as_deref(), Some("one of: add, drop"));

    let e = the_error(
        WORKFLOW,
        "  pod:\n    securityContext:\n      runAsUser: 1000\n      fsgroup: 1000\n",
    );
    assert_eq!(e.path, "spec.pod.securityContext.fsgroup");
    assert_eq!(e.location, at(9, 7));
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `fsGroup`?"));

    let probe = "  services:\n    db:\n      image: postgres\n      readinessProbe:\n        tcpSocket: {prot: 5432}\n";
    let e = errors(&format!("{WORKFLOW}{probe}"));
    assert_eq!(e.len(), 2);
    assert_eq!(
        e[0].message,
        "missing required field `port` in `spec.services.db.readinessProbe.tcpSocket`"
    );
    assert_eq!(e[1].path, "spec.services.db.readinessProbe.tcpSocket.prot");
    assert_eq!(e[1].location, at(10, 21));
    assert_eq!(e[1].suggestion.as_deref(), Some("did you mean `port`?"));

    let e = the_error(WORKFLOW, "  metadata: {}\n");
    assert_eq!(
        e.message,
        "unknown field `metadata` in the spec of a TestWorkflow"
    );
}

#[test]
fn unknown_fields_in_flattened_types() {
    // `run` flattens the container config; services flatten it and the strategy fields.
    let e = the_error(
        WORKFLOW,
        "  steps:\n  - run:\n      image: alpine\n      shel: echo\n",
    );
    assert_eq!(e.message, "unknown field `shel` in `run`");
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `shell`?"));
    assert!(
        e.expected
            .as_deref()
            .is_some_and(|x| x.contains("image") && x.contains("shell"))
    );

    let e = the_error(
        WORKFLOW,
        "  services:\n    db:\n      image: x\n      maxcount: 2\n",
    );
    assert_eq!(e.message, "unknown field `maxcount` in a service");
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `maxCount`?"));

    let e = the_error(
        WORKFLOW,
        "  steps:\n  - parallel:\n      count: 2\n      stpes: []\n",
    );
    assert_eq!(e.path, "spec.steps[0].parallel.stpes");
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `steps`?"));
}

#[test]
fn wrong_type() {
    let e = the_error(WORKFLOW, "  steps:\n  - shell: [echo, hi]\n");
    assert_eq!(e.message, "wrong type for `shell`: found a list");
    assert_eq!(e.expected.as_deref(), Some("a string"));
    assert_eq!(
        (e.path.as_str(), e.location),
        ("spec.steps[0].shell", at(7, 5))
    );

    let e = the_error(WORKFLOW, "  steps:\n  - negative: \"yes\"\n");
    assert_eq!(e.message, "wrong type for `negative`: found a string");
    assert_eq!(e.expected.as_deref(), Some("true or false"));

    let e = the_error(WORKFLOW, "  steps:\n  - retry: 3\n");
    assert_eq!(e.expected.as_deref(), Some("a mapping"));

    let e = the_error(
        WORKFLOW,
        "  services:\n    db:\n      image: x\n      matrix:\n        version: 5\n",
    );
    assert_eq!(e.path, "spec.services.db.matrix.version");
    assert_eq!(e.expected.as_deref(), Some("a list or a string"));

    let e = the_error(
        WORKFLOW,
        "  use:\n  - name: t\n    config: {enabled: true}\n",
    );
    assert_eq!(
        (e.path.as_str(), e.location),
        ("spec.use[0].config.enabled", at(8, 14))
    );
    assert_eq!(e.expected.as_deref(), Some("an integer or a string"));
    assert_eq!(
        e.suggestion.as_deref(),
        Some("put the value in quotes to pass it as a string")
    );

    let e = the_error(WORKFLOW, "  steps:\n  - retry: {count: 3000000000}\n");
    assert_eq!(e.path, "spec.steps[0].retry.count");
    assert!(e.message.contains("out of range"), "{}", e.message);
}

#[test]
fn missing_required_field() {
    let e = the_error(WORKFLOW, "  container:\n    env:\n    - value: x\n");
    assert_eq!(
        e.message,
        "missing required field `name` in an environment variable"
    );
    assert_eq!(
        (e.path.as_str(), e.location),
        ("spec.container.env[0]", at(8, 7))
    );

    let e = the_error(WORKFLOW, "  steps:\n  - retry: {until: passed}\n");
    assert_eq!(
        e.message,
        "missing required field `count` in `spec.steps[0].retry`"
    );
}

#[test]
fn invalid_enum_value() {
    let e = the_error(WORKFLOW, "  config:\n    n:\n      type: strin\n");
    assert_eq!(e.message, "invalid value `strin` for `type`");
    assert_eq!(e.location, at(8, 7));
    assert_eq!(
        e.expected.as_deref(),
        Some("one of: string, integer, number, boolean")
    );
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `string`?"));
}

#[test]
fn duplicate_key() {
    let e = the_error(
        WORKFLOW,
        "  steps:\n  - name: a\n    shell: one\n    shell: two\n",
    );
    assert_eq!(e.message, "duplicate key `shell`");
    assert_eq!(
        (e.path.as_str(), e.location),
        ("spec.steps[0].shell", at(9, 5))
    );
    assert!(
        e.suggestion
            .as_deref()
            .is_some_and(|s| s.contains("line 8"))
    );
}

#[test]
fn invalid_step_id() {
    for bad in ["Upper", "_x", "with-dash", "a b", "ünï"] {
        let e = the_error(
            WORKFLOW,
            &format!("  steps:\n  - id: \"{bad}\"\n    shell: x\n"),
        );
        assert_eq!(e.message, format!("invalid step id `{bad}`"));
        assert_eq!(
            (e.path.as_str(), e.location),
            ("spec.steps[0].id", at(7, 5))
        );
    }
    assert_loads(&format!(
        "{WORKFLOW}  steps:\n  - id: a_1\n  - id: \"9\"\n  - id: \"\"\n"
    ));
}

#[test]
fn duplicate_step_id() {
    // Unique across setup, steps and after, and nested steps.
    let e = the_error(
        WORKFLOW,
        "  setup:\n  - id: prep\n  after:\n  - steps:\n    - id: prep\n",
    );
    assert_eq!(e.message, "duplicate step id \"prep\"");
    assert_eq!(
        (e.path.as_str(), e.location),
        ("spec.after[0].steps[0].id", at(10, 7))
    );
    assert!(
        e.suggestion
            .as_deref()
            .is_some_and(|s| s.contains("spec.setup[0] (line 7)")),
        "{e}"
    );

    // A parallel block has its own namespace...
    assert_loads(&format!(
        "{WORKFLOW}  steps:\n  - id: run\n  - parallel:\n      count: 2\n      steps:\n      - id: run\n"
    ));
    // ... in which ids are unique too.
    let e = the_error(
        WORKFLOW,
        "  steps:\n  - parallel:\n      count: 2\n      setup:\n      - id: a\n      steps:\n      - id: a\n",
    );
    assert_eq!(e.path, "spec.steps[0].parallel.steps[0].id");
}

#[test]
fn shell_with_command_or_args() {
    for extra in ["command: [sh]", "args: [-c, x]"] {
        let e = the_error(
            WORKFLOW,
            &format!("  steps:\n  - run:\n      image: alpine\n      shell: echo\n      {extra}\n"),
        );
        assert_eq!(
            e.message,
            "run.shell should not be used in conjunction with run.command or run.args"
        );
        assert_eq!(
            (e.path.as_str(), e.location),
            ("spec.steps[0].run.shell", at(9, 7))
        );
    }
}

#[test]
fn artifacts_without_paths() {
    let e = the_error(
        WORKFLOW,
        "  steps:\n  - artifacts:\n      workingDir: /data\n",
    );
    assert_eq!(
        e.message,
        "there needs to be at least one path to scrap for artifacts"
    );
    assert_eq!(
        (e.path.as_str(), e.location),
        ("spec.steps[0].artifacts", at(7, 5))
    );
}

#[test]
fn invalid_delay() {
    let e = the_error(WORKFLOW, "  steps:\n  - delay: 1.5s\n");
    assert!(
        e.message.starts_with("invalid delay `1.5s`"),
        "{}",
        e.message
    );
    assert_eq!(
        (e.path.as_str(), e.location),
        ("spec.steps[0].delay", at(7, 5))
    );
    let e = the_error(WORKFLOW, "  steps:\n  - steps:\n    - delay: 10s5m\n");
    assert_eq!(e.path, "spec.steps[0].steps[0].delay");
    assert_loads(&format!(
        "{WORKFLOW}  steps:\n  - delay: 1m30s\n  - delay: 500ms\n"
    ));
}

#[test]
fn invalid_timeout() {
    let e = the_error(WORKFLOW, "  steps:\n  - shell: x\n    timeout: 5 minutes\n");
    assert!(
        e.message.starts_with("invalid duration `5 minutes`"),
        "{}",
        e.message
    );
    assert_eq!(
        (e.path.as_str(), e.location),
        ("spec.steps[0].timeout", at(8, 5))
    );
    // Templated timeouts are checked once resolved, by later stages.
    assert_loads(&format!(
        "{WORKFLOW}  steps:\n  - timeout: \"{{{{config.t}}}}m\"\n  - timeout: 1h30m\n"
    ));
}

#[test]
fn template_references_inside_a_template() {
    let e = the_error(
        TEMPLATE,
        "  steps:\n  - name: a\n    use:\n    - name: other\n",
    );
    assert_eq!(
        e.message,
        "`use` is not supported in a TestWorkflowTemplate"
    );
    assert_eq!(
        (e.path.as_str(), e.location),
        ("spec.steps[0].use", at(8, 5))
    );

    let e = the_error(
        TEMPLATE,
        "  setup:\n  - steps:\n    - template: {name: other}\n",
    );
    assert_eq!(
        e.message,
        "`template` is not supported in a TestWorkflowTemplate"
    );
    assert_eq!(e.path, "spec.setup[0].steps[0].template");

    let e = the_error(TEMPLATE, "  use: [{name: other}]\n");
    assert_eq!(
        e.message,
        "unknown field `use` in the spec of a TestWorkflowTemplate"
    );

    // The same is fine in a workflow.
    assert_loads(&format!(
        "{WORKFLOW}  steps:\n  - use: [{{name: other}}]\n  - template: {{name: other}}\n"
    ));
}

#[test]
fn retry_count_below_one() {
    let e = the_error(WORKFLOW, "  steps:\n  - retry:\n      count: 0\n");
    assert_eq!(e.message, "`retry.count` must be at least 1, not 0");
    assert_eq!(
        (e.path.as_str(), e.location),
        ("spec.steps[0].retry.count", at(8, 7))
    );
}

#[test]
fn concurrency_inside_parallel() {
    let e = the_error(
        WORKFLOW,
        "  steps:\n  - parallel:\n      count: 2\n      concurrency: {max: 1}\n",
    );
    assert_eq!(e.path, "spec.steps[0].parallel.concurrency");
}

#[test]
fn all_problems_of_a_file_in_order() {
    let text = format!(
        "{WORKFLOW}  steps:\n  - shel: x\n---\napiVersion: v1\nkind: Pod\n---\n{WORKFLOW}  steps:\n  - retry: {{count: 0}}\n  - delay: x\n"
    );
    let e = errors(&text);
    let summary: Vec<(usize, &str)> = e
        .iter()
        .map(|d| (d.location.map_or(0, |l| l.line), d.path.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (7, "spec.steps[0].shel"),
            (9, "apiVersion"),
            (10, "kind"),
            (18, "spec.steps[0].retry.count"),
            (19, "spec.steps[1].delay"),
        ]
    );
}

#[test]
fn diagnostics_for_any_path_of_a_loaded_document() {
    let docs = assert_loads(&format!(
        "{WORKFLOW}  steps:\n  - name: a\n    run:\n      image: alpine\n"
    ));
    let source = docs[0].source();
    let exact = source.diagnostic("spec.steps[0].run.image", "image not found");
    assert_eq!(exact.location, at(9, 7));
    assert_eq!(exact.path, "spec.steps[0].run.image");
    // Not in the file: placed at the nearest ancestor that is.
    let nearest = source.diagnostic("spec.steps[0].run.env[2].value", "bad");
    assert_eq!(nearest.location, at(8, 5));
    assert_eq!(nearest.path, "spec.steps[0].run.env[2].value");
    assert_eq!(source.diagnostic("nowhere.at.all", "x").location, at(1, 1));
    assert_eq!(&*source.file, "wf.yaml");
    assert_eq!(
        nearest.to_string(),
        "error: bad\n  --> wf.yaml:8:5 at spec.steps[0].run.env[2].value"
    );
}

#[test]
fn documents_of_every_kind() {
    let text = format!(
        "{WORKFLOW}  steps: [{{shell: x}}]\n---\n{TEMPLATE}  steps: [{{shell: y}}]\n---\n\
         apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflowExecution\nmetadata: {{name: e}}\n\
         spec:\n  testWorkflow: {{name: smoke}}\n  executionRequest:\n    config: {{a: 1, b: x}}\n"
    );
    let docs = assert_loads(&text);
    let kinds: Vec<_> = docs
        .iter()
        .map(|d| (d.kind().as_str(), d.name(), d.index()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("TestWorkflow", "smoke", 0),
            ("TestWorkflowTemplate", "tpl", 1),
            ("TestWorkflowExecution", "e", 2)
        ]
    );
    let AnyDocument::Execution(e) = &docs[2] else {
        panic!("not an execution")
    };
    assert_eq!(
        e.value.spec.test_workflow.as_ref().map(|w| w.name.as_str()),
        Some("smoke")
    );
    assert_eq!(
        e.source.locations.get("spec.executionRequest.config.b"),
        at(21, 20)
    );
}

#[test]
fn unreadable_file() {
    let e =
        load_path(std::path::Path::new("/nonexistent/testwerk/wf.yaml")).expect_err("cannot load");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].message.starts_with("cannot read the file"),
        "{}",
        e[0].message
    );
    assert_eq!(
        (e[0].file.as_str(), e[0].location),
        ("/nonexistent/testwerk/wf.yaml", None)
    );
}

#[test]
fn internal_template_names() {
    assert_eq!(template_internal_name("official/k6/v1"), "official--k6--v1");
}

/// Steps 1 and 2 pass, step 3 fails: a loader that drops anything after a bad byte would turn
/// this failing workflow into a passing one.
fn failing_workflow_with(bad: &str) -> String {
    format!(
        "{WORKFLOW}  steps:\n  - shell: 'true' # first{bad}\n  - shell: 'true'\n  - shell: exit 1\n"
    )
}

#[test]
fn nul_byte_in_a_comment() {
    let e = errors(&failing_workflow_with("\0 the rest"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].message.starts_with("NUL byte in the file"),
        "{}",
        e[0].message
    );
    // `  - shell: 'true' # first` is 25 characters: the NUL is the 26th of line 7.
    assert_eq!(e[0].location, at(7, 26));
    assert_eq!(e[0].to_string().lines().nth(1), Some("  --> wf.yaml:7:26"));
    assert!(
        e[0].suggestion
            .as_deref()
            .is_some_and(|s| s.contains("cat -A"))
    );

    // Anywhere else too: in a value, before the first document, at the very end.
    assert_eq!(errors("\0")[0].location, at(1, 1));
    let e = errors(&format!("{WORKFLOW}  steps:\n  - shell: 'echo a\0'\n"));
    assert_eq!(e[0].location, at(7, 19));
    let e = errors(&format!("{}\0", failing_workflow_with("")));
    assert_eq!(e[0].location, at(10, 1));
}

#[test]
fn other_control_characters() {
    let e = errors(&failing_workflow_with("\u{1b}[0m"));
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message,
        "control character U+001B in the file: YAML does not allow it"
    );
    assert_eq!(e[0].location, at(7, 26));
    // Tabs and CRLF line ends are fine.
    let crlf = failing_workflow_with("\there").replace('\n', "\r\n");
    assert_loads(&crlf);
}

#[test]
fn invalid_utf8_names_line_and_column() {
    // Latin-1 `é` (0xE9) in `café`, line 7.
    let text = failing_workflow_with(" caf");
    let Some(insert) = text.find(" caf").map(|i| i + 4) else {
        panic!("marker missing")
    };
    let mut bytes = text.into_bytes();
    bytes.insert(insert, 0xE9);
    let e = testwerk_spec::load_bytes("wf.yaml", bytes.clone()).expect_err("invalid UTF-8");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].message, "invalid UTF-8 (byte 0xE9)");
    assert_eq!(e[0].location, at(7, 30));
    assert_eq!(e[0].to_string().lines().nth(1), Some("  --> wf.yaml:7:30"));
    assert!(
        e[0].expected
            .as_deref()
            .is_some_and(|s| s.contains("UTF-8"))
    );

    // The same through a real file.
    let dir = std::env::temp_dir().join(format!("testwerk-spec-utf8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join("latin1.yaml");
    std::fs::write(&file, &bytes).expect("write");
    let e = load_path(&file).expect_err("invalid UTF-8");
    assert_eq!(
        (e[0].file.clone(), e[0].location),
        (file.display().to_string(), at(7, 30))
    );

    // Cut inside a multi-byte character at the end of the file.
    let mut cut = failing_workflow_with("").into_bytes();
    cut.extend_from_slice(&"é".as_bytes()[..1]);
    let e = testwerk_spec::load_bytes("wf.yaml", cut).expect_err("truncated");
    assert_eq!(
        e[0].message,
        "the file ends inside a UTF-8 character (byte 0xC3)"
    );
    assert_eq!(e[0].location, at(10, 1));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn byte_order_mark_is_accepted_and_dropped() {
    let with_bom = format!("\u{feff}{}", failing_workflow_with(""));
    let docs = assert_loads(&with_bom);
    let AnyDocument::Workflow(wf) = &docs[0] else {
        panic!("not a workflow")
    };
    assert_eq!(wf.value.spec.body.steps.len(), 3);
    // Positions after it are as an editor shows them (the mark is invisible there).
    let e = errors(&format!("\u{feff}{WORKFLOW}  steps:\n  - shel: 'true'\n"));
    assert_eq!(e[0].location, at(7, 5));
    assert_eq!(e[0].path, "spec.steps[0].shel");
}
