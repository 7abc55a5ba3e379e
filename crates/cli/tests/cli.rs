//! The `testwerk` command as a user runs it: exit codes, output formats, and errors that name
//! the file, line and field.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn testwerk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run testwerk: {e}"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `text` to a fresh file in a per-test directory under Cargo's test scratch space
/// (`target/tmp`, gone with `cargo clean`) and returns its path.
fn file(test: &str, name: &str, text: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{test}"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

const HEAD: &str =
    "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: w\n";

#[test]
fn the_example_compiles_to_a_job() {
    let o = testwerk(&["compile", "examples/hello.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("kind: Job") && out.contains("name: hello-1"),
        "{out}"
    );
}

#[test]
fn json_output_lists_workflows_and_their_objects() {
    let o = testwerk(&["compile", "examples/hello.yaml", "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(v["workflows"][0]["name"], "hello");
    assert_eq!(v["workflows"][0]["objects"][0]["kind"], "Job");
}

#[test]
fn the_readable_plan_explains_merging() {
    let o = testwerk(&["compile", "examples/hello.yaml", "--plan"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("container 1 (init)") && out.contains("kept apart: both run impure steps"),
        "{out}"
    );
}

#[test]
fn an_unknown_field_names_the_line_and_suggests_the_fix() {
    let path = file(
        "unknown",
        "w.yaml",
        &format!("{HEAD}spec:\n  steps:\n  - shel: echo\n"),
    );
    let o = testwerk(&["compile", &path]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains(&format!("{path}:7:")), "file and line: {err}");
    assert!(
        err.contains("spec.steps[0].shel") && err.contains("shell"),
        "{err}"
    );
}

#[test]
fn not_yaml_and_empty_files_are_input_errors() {
    let path = file("notyaml", "w.yaml", "spec: [unclosed\n");
    let o = testwerk(&["compile", &path]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&path), "{}", stderr(&o));
    let path = file("empty", "w.yaml", "");
    let o = testwerk(&["compile", &path]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).is_empty());
}

#[test]
fn a_missing_template_is_named_at_its_reference() {
    let path = file(
        "missing",
        "w.yaml",
        &format!("{HEAD}spec:\n  steps:\n  - template: {{name: nope}}\n"),
    );
    let o = testwerk(&["compile", &path]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("template \"nope\" not found") && err.contains(&format!("{path}:7:")),
        "{err}"
    );
}

#[test]
fn missing_required_config_is_named() {
    let path = file(
        "config",
        "w.yaml",
        &format!(
            "{HEAD}spec:\n  config:\n    target: {{type: string}}\n  steps:\n  - shell: echo {{{{config.target}}}}\n"
        ),
    );
    let o = testwerk(&["compile", &path]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("target"), "{}", stderr(&o));
    let o = testwerk(&["compile", &path, "--config", "target=x"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn sensitive_config_never_appears_unless_asked() {
    let path = file(
        "secret",
        "w.yaml",
        &format!(
            "{HEAD}spec:\n  config:\n    token: {{type: string, sensitive: true}}\n  steps:\n  - shell: use {{{{config.token}}}}\n"
        ),
    );
    let o = testwerk(&["compile", &path, "--config", "token=hunter2-very-secret"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("hunter2-very-secret"));
    assert!(stdout(&o).contains("kind: Secret") && stdout(&o).contains("redacted"));
    let o = testwerk(&[
        "compile",
        &path,
        "--config",
        "token=hunter2-very-secret",
        "--reveal-secrets",
    ]);
    assert!(stdout(&o).contains("hunter2-very-secret"));
}

#[test]
fn two_different_templates_with_one_name_name_both_files() {
    let tpl = |shell: &str| {
        format!(
            "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflowTemplate\nmetadata:\n  name: a/b\nspec:\n  steps:\n  - shell: {shell}\n"
        )
    };
    let one = file("dup", "one.yaml", &tpl("one"));
    let two = file("dup", "two.yaml", &tpl("two"));
    let wf = file(
        "dup",
        "wf.yml.txt",
        &format!("{HEAD}spec:\n  use: [{{name: a--b}}]\n"),
    );
    let o = testwerk(&["compile", &wf, "--templates", &one, "--templates", &two]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("one.yaml") && err.contains("two.yaml"),
        "{err}"
    );
}

#[test]
fn a_workflow_can_be_selected_by_name() {
    let path = file(
        "select",
        "w.yaml",
        &format!(
            "{HEAD}spec:\n  steps:\n  - shell: a\n---\n{}spec:\n  steps:\n  - shell: b\n",
            HEAD.replace("name: w", "name: other")
        ),
    );
    let o = testwerk(&["compile", &path, "--workflow", "other", "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    assert_eq!(v["workflows"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["workflows"][0]["name"], "other");
    let o = testwerk(&["compile", &path, "--workflow", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no TestWorkflow named `nope`"));
}

#[test]
fn fixture_18_integer_template_config_reaches_the_security_context() {
    let path = file(
        "fixture18",
        "w.yaml",
        &format!(
            "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflowTemplate\nmetadata:\n  name: secure\nspec:\n  config:\n    uid: {{type: integer, default: 65532}}\n  pod:\n    securityContext:\n      runAsUser: '{{{{config.uid}}}}'\n      runAsGroup: '{{{{config.uid}}}}'\n      fsGroup: '{{{{config.uid}}}}'\n  container:\n    securityContext:\n      runAsUser: '{{{{config.uid}}}}'\n      runAsGroup: '{{{{config.uid}}}}'\n---\n{HEAD}spec:\n  use: [{{name: secure}}]\n  steps:\n  - shell: id\n"
        ),
    );
    let o = testwerk(&["compile", &path, "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let pod = &v["workflows"][0]["objects"][0]["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["fsGroup"], 65532);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(pod["containers"][0]["securityContext"]["runAsUser"], 65532);
    assert_eq!(pod["containers"][0]["securityContext"]["runAsGroup"], 65532);
}

#[test]
fn crds_cover_the_three_kinds() {
    let o = testwerk(&["crds"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for kind in [
        "TestWorkflow",
        "TestWorkflowTemplate",
        "TestWorkflowExecution",
    ] {
        assert!(out.contains(&format!("kind: {kind}\n")), "{kind}");
    }
}

/// Reads the first line of `testwerk <args>` and closes the pipe, as `| head -1` does.
fn first_line_then_close(args: &[&str]) -> (String, Output) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(args)
        .current_dir(repo())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run testwerk: {e}"));
    let mut first = String::new();
    {
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut reader = std::io::BufReader::new(stdout);
        reader
            .read_line(&mut first)
            .unwrap_or_else(|e| panic!("{e}"));
        // `reader` is dropped here: the pipe's read end closes while testwerk still writes.
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    (first, out)
}

#[test]
fn a_closed_pipe_ends_crds_quietly() {
    // The CRDs are far larger than a pipe's buffer, so testwerk is still writing.
    let (first, o) = first_line_then_close(&["crds"]);
    assert_eq!(first.trim_end(), "---");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn executions_id_shows_the_execution_as_the_help_says() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-executions-id");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let store = dir.join("empty.db");
    let store = store.to_str().unwrap_or_default();
    // Parsed as an id (not refused as an unknown subcommand), and looked up in the store.
    let o = testwerk(&["executions", "nope-1", "--store", store]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no execution `nope-1`"),
        "{}",
        stderr(&o)
    );
    let o = testwerk(&["executions", "--help"]);
    assert!(stdout(&o).contains("executions <id>"), "{}", stdout(&o));
    // An empty store lists nothing, in every format offered.
    let o = testwerk(&["executions", "--store", store, "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(v, serde_json::json!([]));
    let o = testwerk(&["executions", "--store", store, "--output", "yaml"]);
    assert_eq!(stdout(&o).trim(), "[]");
}

#[test]
fn a_nul_byte_in_a_comment_is_an_input_error_at_its_position() {
    // Before the fix the NUL ended the file: the failing step vanished and the run passed.
    let path = file(
        "nul",
        "w.yaml",
        &format!("{HEAD}spec:\n  steps:\n  - shell: 'true' # ok\0\n  - shell: exit 1\n"),
    );
    let o = testwerk(&["compile", &path]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("NUL byte") && err.contains(&format!("{path}:7:23")),
        "{err}"
    );
}

#[test]
fn an_unknown_variable_is_a_compile_error_naming_the_field() {
    let path = file(
        "unknownvar",
        "w.yaml",
        &format!("{HEAD}spec:\n  steps:\n  - shell: echo {{{{ execution.nmae }}}}\n"),
    );
    let o = testwerk(&["compile", &path]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("unknown variable `execution.nmae`")
            && err.contains(&format!("{path}:7:"))
            && err.contains("spec.steps[0]")
            && err.contains("did you mean `execution.name`?"),
        "{err}"
    );
    // Those the docs promise compile, with this execution's values.
    let path = file(
        "knownvars",
        "w.yaml",
        &format!(
            "{HEAD}spec:\n  steps:\n  - shell: echo '{{{{execution.id}}}} {{{{execution.name}}}} {{{{execution.number}}}} {{{{execution.scheduledAt}}}} {{{{namespace}}}}'\n"
        ),
    );
    let o = testwerk(&["compile", &path, "--namespace", "team-a"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("w-1 w-1 1 1970-01-01T00:00:00.000Z team-a"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_hostile_expression_fails_fast_naming_the_field() {
    let path = file(
        "hostile",
        "w.yaml",
        &format!(
            "{HEAD}spec:\n  steps:\n  - shell: echo {{{{ len(map(range(1000000), \"range(1000000)\")) }}}}\n"
        ),
    );
    let started = std::time::Instant::now();
    let o = testwerk(&["compile", &path]);
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("expression too costly") && err.contains("spec.steps[0]"),
        "{err}"
    );
    // A debug build, on a busy machine: the release binary takes a fraction of this.
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
}

/// The chart installs the CRDs `testwerk crds` prints (deploy/chart/files/crds.yaml is a copy:
/// after a change of the CRDs, `testwerk crds > deploy/chart/files/crds.yaml`).
#[test]
fn the_charts_crds_are_the_ones_testwerk_prints() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/chart/files/crds.yaml");
    let in_chart =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        in_chart == testwerk_spec::crds_yaml(),
        "{} differs from `testwerk crds`: run `testwerk crds > deploy/chart/files/crds.yaml`",
        path.display()
    );
}
