//! `testwerk executions` and `testwerk logs`: reading the results store.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use testwerk_protocol::children::{KIND_TAG, PARENT_STEP_TAG, PARENT_TAG};

use serde::Serialize;
use testwerk_store::{ExecutionDetail, ExecutionFilter, StepResult, Store};

use crate::output::{Failure, finish};

/// How `executions` and `logs` print what they read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For people: a table, an indented tree.
    Text,
    Json,
    Yaml,
}

pub(crate) fn open(path: Option<&Path>) -> Result<Store, Failure> {
    match path {
        Some(p) => Store::open(p),
        None => Store::open_default(),
    }
    .map_err(|e| Failure::Input(format!("results store: {e}")))
}

pub(crate) fn not_found(id: &str) -> Failure {
    Failure::Input(format!(
        "no execution `{id}`; list them with `testwerk executions`"
    ))
}

/// Writes `value` as JSON or YAML.
pub(crate) fn document(
    out: &mut dyn Write,
    value: &impl Serialize,
    format: Format,
) -> Result<(), Failure> {
    let text = match format {
        Format::Yaml => crate::pipeline::to_yaml(value).map_err(Failure::Input)?,
        _ => serde_json::to_string_pretty(value).map_err(|e| Failure::Input(e.to_string()))?,
    };
    writeln!(out, "{}", text.trim_end())?;
    Ok(())
}

/// Lists executions, newest first. Returns the exit code.
pub fn list(store: Option<&Path>, workflow: Option<&str>, tags: &[String], format: Format) -> u8 {
    finish(list_to(
        &mut io::stdout().lock(),
        store,
        workflow,
        tags,
        format,
    ))
}

fn list_to(
    out: &mut dyn Write,
    store: Option<&Path>,
    workflow: Option<&str>,
    tags: &[String],
    format: Format,
) -> Result<(), Failure> {
    let tags = tags
        .iter()
        .map(|t| {
            testwerk_store::tags::parse_filter(t).map_err(|e| Failure::Input(format!("--tag: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let store = open(store)?;
    // Executions whose runner died are settled first, so the list never shows them running.
    if let Err(e) = store.recover_abandoned() {
        eprintln!("warning: cannot settle executions of runners that stopped: {e}");
    }
    let filter = ExecutionFilter {
        workflow: workflow.map(str::to_owned),
        tags,
        ..Default::default()
    };
    let list = store
        .list_executions(&filter)
        .map_err(|e| Failure::Input(e.to_string()))?;
    if format != Format::Text {
        return document(out, &list, format);
    }
    if list.is_empty() {
        writeln!(out, "no executions yet; run one with `testwerk run <file>`")?;
    }
    for e in list {
        let took = match (e.started_at, e.finished_at) {
            (Some(s), Some(f)) => f
                .millis_since(s)
                .map(|ms| format!("{:.2}s", ms as f64 / 1000.0))
                .unwrap_or_default(),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:<32} {:<8} {:>9}  {}  {}",
            e.name,
            e.status.as_str(),
            took,
            e.created_at,
            e.id
        )?;
    }
    Ok(())
}

/// Shows one execution with its steps (sub-steps indented under their group) and outputs.
pub fn show(store: Option<&Path>, id: &str, format: Format) -> u8 {
    finish(show_to(&mut io::stdout().lock(), store, id, format))
}

fn show_to(
    out: &mut dyn Write,
    store: Option<&Path>,
    id: &str,
    format: Format,
) -> Result<(), Failure> {
    let store = open(store)?;
    let d = store
        .execution(id)
        .map_err(|e| Failure::Input(e.to_string()))?
        .ok_or_else(|| not_found(id))?;
    let children = children_of(&store, &d.execution.id)?;
    if format != Format::Text {
        let mut value = serde_json::to_value(&d).map_err(|e| Failure::Input(e.to_string()))?;
        value["children"] = serde_json::to_value(&children).unwrap_or_default();
        return document(out, &value, format);
    }
    let e = &d.execution;
    writeln!(
        out,
        "{} ({})\n  workflow: {}\n  status:   {}",
        e.name,
        e.id,
        e.workflow,
        e.status.as_str()
    )?;
    if let Some(r) = &e.reason {
        writeln!(out, "  reason:   {r}")?;
    }
    writeln!(out, "  created:  {}", e.created_at)?;
    // The tags a person gave it; testwerk's own links are shown as what they mean.
    let given: Vec<String> = e
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with(testwerk_store::tags::RESERVED_PREFIX))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !given.is_empty() {
        writeln!(out, "  tags:     {}", given.join(", "))?;
    }
    writeln!(out, "  steps:")?;
    write_steps(out, &d)?;
    // Test cases from its reports: the counts here, the cases under `testwerk tests`.
    let counts = store
        .test_case_counts(&e.id)
        .map_err(|e| Failure::Input(e.to_string()))?;
    if counts.total() > 0 {
        writeln!(
            out,
            "  tests:    {counts} (`testwerk tests {}` lists them)",
            e.name
        )?;
    }
    if !children.is_empty() {
        writeln!(
            out,
            "  children (`testwerk logs {} --child N` shows one's log):",
            e.name
        )?;
        for (i, c) in children.iter().enumerate() {
            writeln!(
                out,
                "    {:>3}. {:<8} {:<9} {} ({}, from step {})",
                i + 1,
                c.status.as_str(),
                c.tags.get(KIND_TAG).map_or("", String::as_str),
                c.name,
                c.id,
                c.tags.get(PARENT_STEP_TAG).map_or("", String::as_str),
            )?;
        }
    }
    if !d.outputs.is_empty() {
        writeln!(out, "  outputs:")?;
        for o in &d.outputs {
            writeln!(out, "    {}.{} = {}", o.step_ref, o.name, o.value)?;
        }
    }
    // Kubernetes events (agent executions): the warnings explain what steps cannot.
    let warnings: Vec<_> = store
        .events(&e.id)
        .unwrap_or_default()
        .into_iter()
        .filter(|ev| ev.warning)
        .collect();
    if !warnings.is_empty() {
        writeln!(out, "  cluster warnings:")?;
        for ev in warnings {
            let repeated = if ev.count > 1 {
                format!(" (x{})", ev.count)
            } else {
                String::new()
            };
            writeln!(
                out,
                "    {} {}: {}{repeated}  ({})",
                ev.time, ev.object, ev.message, ev.reason
            )?;
        }
    }
    Ok(())
}

/// The child executions of `parent` (parallel workers, executed workflows), oldest first.
fn children_of(
    store: &testwerk_store::Store,
    parent: &str,
) -> Result<Vec<testwerk_store::Execution>, Failure> {
    let filter = testwerk_store::ExecutionFilter {
        tags: [(PARENT_TAG.to_owned(), parent.to_owned())].into(),
        ..Default::default()
    };
    let mut children = store
        .list_executions(&filter)
        .map_err(|e| Failure::Input(e.to_string()))?;
    children.reverse();
    Ok(children)
}

/// Named steps, each indented by how many named groups it is in.
fn write_steps(out: &mut dyn Write, d: &ExecutionDetail) -> Result<(), Failure> {
    for (s, depth) in named_steps(&d.steps) {
        let took = if s.status == testwerk_store::StepStatus::Skipped {
            String::new()
        } else {
            s.duration_ms()
                .map(|ms| format!("{:.3}s", ms as f64 / 1000.0))
                .unwrap_or_default()
        };
        let code = s
            .exit_code
            .filter(|c| *c != 0)
            .map(|c| format!(" exit {c}"))
            .unwrap_or_default();
        writeln!(
            out,
            "    {:<8} {:>9} {}{}{code}  ({})",
            s.status.as_str(),
            took,
            "  ".repeat(depth),
            s.name.as_deref().unwrap_or_default(),
            s.step_ref
        )?;
        if let Some(error) = &s.error {
            writeln!(
                out,
                "    {:<8} {:>9} {}  {error}",
                "",
                "",
                "  ".repeat(depth)
            )?;
        }
    }
    Ok(())
}

/// The steps a person named (or that have a category), with their depth among them.
fn named_steps(steps: &[StepResult]) -> Vec<(&StepResult, usize)> {
    let by_ref: HashMap<&str, &StepResult> =
        steps.iter().map(|s| (s.step_ref.as_str(), s)).collect();
    let depth = |s: &StepResult| {
        let mut depth = 0;
        let mut parent = s.parent_ref.as_deref();
        // Bounded by the number of steps, should a store ever hold a cycle.
        for _ in 0..steps.len() {
            let Some(p) = parent.and_then(|p| by_ref.get(p)) else {
                break;
            };
            if p.name.is_some() {
                depth += 1;
            }
            parent = p.parent_ref.as_deref();
        }
        depth
    };
    steps
        .iter()
        .filter(|s| s.name.is_some())
        .map(|s| (s, depth(s)))
        .collect()
}

/// Prints logs; `step` may be a ref, a step id or a step name. Without `step`, a marker line
/// says where each step's output starts.
/// `testwerk logs ID [--child N|NAME] [--step S]`.
pub fn logs(
    store: Option<&Path>,
    id: &str,
    child: Option<&str>,
    step: Option<&str>,
    format: Format,
) -> u8 {
    finish(logs_to(
        &mut io::stdout().lock(),
        store,
        id,
        child,
        step,
        format,
    ))
}

fn logs_to(
    out: &mut dyn Write,
    store: Option<&Path>,
    id: &str,
    child: Option<&str>,
    step: Option<&str>,
    format: Format,
) -> Result<(), Failure> {
    let s = open(store)?;
    let mut detail = s
        .execution(id)
        .map_err(|e| Failure::Input(e.to_string()))?
        .ok_or_else(|| not_found(id))?;
    if let Some(wanted) = child {
        let children = children_of(&s, &detail.execution.id)?;
        let found = match wanted.parse::<usize>() {
            Ok(n) => n.checked_sub(1).and_then(|i| children.get(i)),
            Err(_) => children.iter().find(|c| c.name == wanted || c.id == wanted),
        };
        let Some(found) = found else {
            let names: Vec<String> = children
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} {}", i + 1, c.name))
                .collect();
            return Err(Failure::Input(if names.is_empty() {
                format!("{id} has no children")
            } else {
                format!(
                    "{id} has no child `{wanted}`; its children: {}",
                    names.join(", ")
                )
            }));
        };
        detail = s
            .execution(&found.id)
            .map_err(|e| Failure::Input(e.to_string()))?
            .ok_or_else(|| not_found(&found.id))?;
    }
    let step_ref = match step {
        None => None,
        Some(wanted) => Some(
            detail
                .steps
                .iter()
                .find(|s| {
                    s.step_ref == wanted
                        || s.id.as_deref() == Some(wanted)
                        || s.name.as_deref() == Some(wanted)
                })
                .map(|s| s.step_ref.clone())
                .ok_or_else(|| {
                    let names: Vec<_> =
                        detail.steps.iter().filter_map(|s| s.name.clone()).collect();
                    Failure::Input(format!(
                        "no step `{wanted}` in {}; its steps: {}",
                        detail.execution.name,
                        names.join(", ")
                    ))
                })?,
        ),
    };
    let lines = s
        .logs(&detail.execution.id, step_ref.as_deref())
        .map_err(|e| Failure::Input(e.to_string()))?;
    if format != Format::Text {
        return document(out, &lines, format);
    }
    let names: HashMap<&str, &str> = detail
        .steps
        .iter()
        .filter_map(|s| Some((s.step_ref.as_str(), s.name.as_deref()?)))
        .collect();
    let mut current: Option<&str> = None;
    for l in &lines {
        if step_ref.is_none()
            && let Some(r) = l.step_ref.as_deref()
            && current != Some(r)
        {
            current = Some(r);
            writeln!(out, "── {} ({r})", names.get(r).copied().unwrap_or(r))?;
        }
        writeln!(out, "{}", l.text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use testwerk_store::StepStatus;

    fn step(r: &str, name: Option<&str>, parent: Option<&str>) -> StepResult {
        let mut s = StepResult::new(r, StepStatus::Passed);
        s.name = name.map(str::to_owned);
        s.parent_ref = parent.map(str::to_owned);
        s
    }

    #[test]
    fn sub_steps_are_one_level_deeper_per_named_group() {
        let steps = vec![
            step("r1", Some("top"), None),
            step("g", Some("group"), None),
            step("h", None, Some("g")),
            step("r2", Some("inner"), Some("h")),
        ];
        let depths: Vec<(&str, usize)> = named_steps(&steps)
            .into_iter()
            .map(|(s, d)| (s.step_ref.as_str(), d))
            .collect();
        assert_eq!(depths, vec![("r1", 0), ("g", 0), ("r2", 1)]);
    }
}
