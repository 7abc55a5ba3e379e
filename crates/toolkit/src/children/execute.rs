//! `execute --base64 {"workflows": [...], "async": bool, "parallelism": n}`: other workflows,
//! by name or label selector, each instance an execution of its own.

use std::collections::BTreeMap;

use testwerk_protocol::children::{ChildKind, ChildRequest, ChildWorkflow, Selection};
use testwerk_protocol::toolkit::ToolkitSettings;
use testwerk_spec::ExecuteWorkflow;

use super::backend::Backend;
use super::follow::{self, Options, Planned};
use crate::ToolkitError;

/// Executions started at once when `parallelism` is not given (Testkube's default).
const DEFAULT_PARALLELISM: usize = 100;

pub fn run(args: Vec<String>, settings: &ToolkitSettings) -> Result<(), ToolkitError> {
    let payload = super::payload(&args, "execute")?;
    let entries: Vec<ExecuteWorkflow> = serde_json::from_value(payload["workflows"].clone())
        .map_err(|e| ToolkitError::Usage(format!("execute.workflows: not understood: {e}")))?;
    let wait = !payload["async"].as_bool().unwrap_or(false);
    let backend = Backend::from_settings(settings, "`execute`")?;
    let parent_ref = super::parent_ref();
    let mut children = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        children.extend(plan(&backend, entry, i, &parent_ref)?);
    }
    if children.is_empty() {
        println!("execute: no workflows matched, nothing to run");
        return Ok(());
    }
    let options = Options {
        parallelism: super::parallelism(payload["parallelism"].as_i64(), DEFAULT_PARALLELISM),
        fail_fast: false,
        wait,
    };
    let ended = follow::run_all(&backend, children, &options, &mut std::io::stdout())?;
    if !wait {
        println!("execute: {} started, not waited for (async)", ended.len());
        return Ok(());
    }
    super::verdict("executions", &ended)
}

/// The executions of entry `i`: each workflow it names, once per instance.
fn plan(
    backend: &Backend,
    entry: &ExecuteWorkflow,
    i: usize,
    parent_ref: &str,
) -> Result<Vec<Planned>, ToolkitError> {
    let field = format!("execute.workflows[{i}]");
    if !entry.tarball.is_empty() {
        return Err(ToolkitError::Failed(format!(
            "{field}.tarball is not supported yet by testwerk; give the files through the workflow's content instead"
        )));
    }
    let names = match (&entry.name, &entry.selector) {
        (Some(name), _) if !name.is_empty() => vec![name.clone()],
        (_, Some(selector)) => {
            if selector
                .match_expressions
                .as_ref()
                .is_some_and(|e| !e.is_empty())
            {
                return Err(ToolkitError::Failed(format!(
                    "{field}.selector: matchExpressions are not supported; use matchLabels"
                )));
            }
            let selection = Selection {
                match_labels: selector.match_labels.clone().unwrap_or_default(),
            };
            let names = backend.select(&selection)?.names;
            if names.is_empty() {
                println!("{field}: no workflow matches the selector");
            }
            names
        }
        _ => {
            return Err(ToolkitError::Usage(format!(
                "{field}: give `name` or `selector`"
            )));
        }
    };
    let instances = testwerk_strategy::instances(
        &entry.strategy,
        &testwerk_expr::NoMachine,
        testwerk_strategy::DEFAULT_LIMIT,
    )
    .map_err(|e| ToolkitError::Failed(format!("{field}.{e}")))?;
    let mut planned = Vec::new();
    for name in &names {
        for instance in &instances {
            let machine = instance.machine();
            let mut config = BTreeMap::new();
            for (key, value) in &entry.config {
                let text = testwerk_expr::finalize_template(&value.as_text(), &machine)
                    .map_err(|e| ToolkitError::Failed(format!("{field}.config.{key}: {e}")))?;
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
