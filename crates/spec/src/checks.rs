//! Rules the schema cannot express: step ids, durations, and combinations of fields that
//! upstream rejects when it compiles a workflow. Reporting them at load time puts the error on
//! the right line, long before a run fails.

use std::collections::HashMap;

use indexmap::IndexMap;

use crate::duration::{parse_delay, parse_go};
use crate::{
    Diagnostic, RetryPolicy, ServiceSpec, Source, SpecBody, Step, StepArtifacts, StepParallel,
    StepRun, path,
};

/// Whether templates may be referenced: not from inside a `TestWorkflowTemplate`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    Workflow,
    Template,
}

pub(crate) fn spec(body: &SpecBody, context: Context, source: &Source) -> Vec<Diagnostic> {
    let mut checker = Checker {
        context,
        source,
        found: Vec::new(),
    };
    checker.body(body, "spec", &mut HashMap::new());
    checker.found
}

/// Steps may nest this deep (`steps`, `setup`, `after` and `parallel` each count). Upstream sets
/// no limit, but the corpus never goes past 3, and the typed model is deserialized recursively:
/// without a bound, a hostile file could overflow the stack, which aborts the process.
pub const MAX_STEP_DEPTH: usize = 16;

/// The path of the first step nested deeper than [`MAX_STEP_DEPTH`] in a raw document.
pub(crate) fn too_deep(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, at: &str, depth: usize) -> Option<String> {
        let serde_json::Value::Object(object) = value else {
            return None;
        };
        for (key, child) in object {
            let child_at = path::key(at, key);
            match (key.as_str(), child) {
                ("steps" | "setup" | "after", serde_json::Value::Array(steps)) => {
                    for (i, step) in steps.iter().enumerate() {
                        let step_at = path::index(&child_at, i);
                        if depth + 1 > MAX_STEP_DEPTH {
                            return Some(step_at);
                        }
                        if let Some(found) = walk(step, &step_at, depth + 1) {
                            return Some(found);
                        }
                    }
                }
                ("parallel", _) => {
                    if depth + 1 > MAX_STEP_DEPTH {
                        return Some(child_at);
                    }
                    if let Some(found) = walk(child, &child_at, depth + 1) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        None
    }
    walk(value.get("spec")?, "spec", 0)
}

/// Whether `id` is acceptable as an explicit step id: `^[a-z0-9][a-z0-9_]*$`.
pub fn is_valid_step_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Explicit step ids already used in one namespace, with the path of the step that took each.
type Namespace = HashMap<String, String>;

struct Checker<'a> {
    context: Context,
    source: &'a Source,
    found: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn report(&mut self, at: &str, message: String) -> &mut Diagnostic {
        self.found.push(self.source.diagnostic(at, message));
        let last = self.found.len() - 1;
        &mut self.found[last]
    }

    /// A workflow-shaped body: the spec itself, or the inside of a `parallel` block.
    fn body(&mut self, body: &SpecBody, at: &str, ids: &mut Namespace) {
        self.services(&body.services, &path::key(at, "services"));
        for (list, steps) in [
            ("setup", &body.setup),
            ("steps", &body.steps),
            ("after", &body.after),
        ] {
            let list_path = path::key(at, list);
            for (i, step) in steps.iter().enumerate() {
                self.step(step, &path::index(&list_path, i), ids);
            }
        }
    }

    fn step(&mut self, step: &Step, at: &str, ids: &mut Namespace) {
        if let Some(id) = step.id.as_deref().filter(|id| !id.is_empty()) {
            self.step_id(id, at, ids);
        }
        if self.context == Context::Template {
            if !step.use_.is_empty() {
                self.template_reference(&path::key(at, "use"), "use");
            }
            if step.template.is_some() {
                self.template_reference(&path::key(at, "template"), "template");
            }
        }
        self.retry(step.retry.as_ref(), at);
        self.timeout(step.timeout.as_deref(), at);
        self.delay(step.delay.as_deref(), at);
        self.run(step.run.as_ref(), at);
        self.artifacts(step.artifacts.as_ref(), at);
        self.services(&step.services, &path::key(at, "services"));
        if let Some(parallel) = &step.parallel {
            self.parallel(parallel, &path::key(at, "parallel"));
        }
        for (list, steps) in [("setup", &step.setup), ("steps", &step.steps)] {
            let list_path = path::key(at, list);
            for (i, child) in steps.iter().enumerate() {
                self.step(child, &path::index(&list_path, i), ids);
            }
        }
    }

    fn step_id(&mut self, id: &str, at: &str, ids: &mut Namespace) {
        let id_path = path::key(at, "id");
        if !is_valid_step_id(id) {
            self.report(&id_path, format!("invalid step id `{id}`"))
                .expected = Some(
                "lowercase letters, digits and `_`, not starting with `_` (^[a-z0-9][a-z0-9_]*$)"
                    .into(),
            );
            return;
        }
        if let Some(first) = ids.get(id) {
            let help = match self.source.locations.get(first) {
                Some(loc) => format!(
                    "`{id}` is already the id of {first} (line {}); ids must be unique",
                    loc.line
                ),
                None => format!("`{id}` is already the id of {first}; ids must be unique"),
            };
            self.report(&id_path, format!("duplicate step id \"{id}\""))
                .suggestion = Some(help);
            return;
        }
        ids.insert(id.to_owned(), at.to_owned());
    }

    fn template_reference(&mut self, at: &str, field: &str) {
        let message = format!("`{field}` is not supported in a TestWorkflowTemplate");
        self.report(at, message).suggestion =
            Some("apply the other template from the TestWorkflow that uses this one".into());
    }

    fn retry(&mut self, retry: Option<&RetryPolicy>, at: &str) {
        if let Some(retry) = retry
            && retry.count < 1
        {
            let message = format!("`retry.count` must be at least 1, not {}", retry.count);
            self.report(&path::key(&path::key(at, "retry"), "count"), message);
        }
    }

    fn timeout(&mut self, timeout: Option<&str>, at: &str) {
        // A templated timeout is only known once expressions are resolved.
        if let Some(t) = timeout
            && !t.contains("{{")
            && let Err(e) = parse_go(t)
        {
            self.report(&path::key(at, "timeout"), e).expected =
                Some("a Go duration such as `30s`, `5m` or `1h30m`".into());
        }
    }

    fn delay(&mut self, delay: Option<&str>, at: &str) {
        if let Some(d) = delay
            && let Err(e) = parse_delay(d)
        {
            self.report(&path::key(at, "delay"), e);
        }
    }

    fn run(&mut self, run: Option<&StepRun>, at: &str) {
        if let Some(run) = run
            && run.shell.is_some()
            && (run.container.command.is_some() || run.container.args.is_some())
        {
            let message =
                "run.shell should not be used in conjunction with run.command or run.args";
            self.report(&path::key(&path::key(at, "run"), "shell"), message.into())
                .suggestion = Some("use either `shell`, or `command` and `args`".into());
        }
    }

    fn artifacts(&mut self, artifacts: Option<&StepArtifacts>, at: &str) {
        if let Some(artifacts) = artifacts
            && artifacts.paths.is_empty()
        {
            let message = "there needs to be at least one path to scrap for artifacts";
            self.report(&path::key(at, "artifacts"), message.into())
                .expected =
                Some("`paths` with at least one glob, e.g. `paths: [\"reports/**/*\"]`".into());
        }
    }

    fn services(&mut self, services: &IndexMap<String, ServiceSpec>, at: &str) {
        if self.context != Context::Template {
            return;
        }
        for (name, service) in services {
            if !service.use_.is_empty() {
                self.template_reference(&path::key(&path::key(at, name), "use"), "use");
            }
        }
    }

    /// A `parallel` block is a workflow of its own: its steps get a fresh id namespace.
    fn parallel(&mut self, parallel: &StepParallel, at: &str) {
        if self.context == Context::Template {
            if !parallel.use_.is_empty() {
                self.template_reference(&path::key(at, "use"), "use");
            }
            if parallel.template.is_some() {
                self.template_reference(&path::key(at, "template"), "template");
            }
        }
        self.retry(parallel.retry.as_ref(), at);
        self.timeout(parallel.timeout.as_deref(), at);
        self.delay(parallel.delay.as_deref(), at);
        self.run(parallel.run.as_ref(), at);
        self.artifacts(parallel.artifacts.as_ref(), at);
        if parallel.body.concurrency.is_some() {
            // Upstream's parallel block embeds a workflow spec without this one field.
            let message = "`concurrency` is not supported inside `parallel`".to_owned();
            self.report(&path::key(at, "concurrency"), message)
                .suggestion = Some("set `concurrency` on the workflow's `spec` instead".into());
        }
        self.body(&parallel.body, at, &mut HashMap::new());
    }
}
