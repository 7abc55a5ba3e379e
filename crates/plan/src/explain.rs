//! A plan as a person reads it: each container, its image, the steps it runs, and why
//! neighbouring steps were or were not merged.

use std::collections::HashMap;
use std::fmt::Write;

use crate::Plan;
use crate::action::Action;
use crate::stage::Stage;

/// Renders the plan as indented text (for `testwerk compile --plan`).
pub fn explain(plan: &Plan) -> String {
    let labels = labels(&plan.root);
    let mut out = String::new();
    let n = plan.groups.len();
    let _ = writeln!(
        out,
        "workflow {}: {} container{} ({} init, 1 main)",
        plan.workflow_name,
        n,
        if n == 1 { "" } else { "s" },
        n.saturating_sub(1)
    );
    for (i, group) in plan.groups.iter().enumerate() {
        let image = plan.container_image(i);
        let role = if i + 1 == n { "main" } else { "init" };
        let _ = writeln!(out, "  container {} ({role}) image {image}", i + 1);
        for action in group {
            match action {
                Action::Setup(copies) => {
                    let mut what = Vec::new();
                    if copies.init {
                        what.push("init");
                    }
                    if copies.toolkit {
                        what.push("toolkit");
                    }
                    if copies.binaries {
                        what.push("shell");
                    }
                    let what = if what.is_empty() {
                        "nothing to copy".to_owned()
                    } else if copies.from_volumes {
                        format!("links {} from the image volumes", what.join(", "))
                    } else {
                        format!("copies {}", what.join(", "))
                    };
                    let _ = writeln!(out, "    setup: {what}");
                }
                Action::Execute {
                    r#ref,
                    pure,
                    toolkit,
                    negative,
                } => {
                    let mut flags = Vec::new();
                    if *pure {
                        flags.push("pure");
                    }
                    if *toolkit {
                        flags.push("toolkit");
                    }
                    if *negative {
                        flags.push("negative");
                    }
                    let flags = if flags.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", flags.join(", "))
                    };
                    let label = labels.get(r#ref.as_str()).cloned().unwrap_or_default();
                    let condition = declared_condition(plan, r#ref).unwrap_or_default();
                    let controls = controls(plan, r#ref);
                    let _ = writeln!(
                        out,
                        "    {ref_} {label}{flags}  if {condition}{controls}",
                        ref_ = r#ref
                    );
                }
                _ => {}
            }
        }
    }
    if !plan.decisions.is_empty() {
        let _ = writeln!(out, "  merging:");
        for d in &plan.decisions {
            let _ = writeln!(out, "    {d}");
        }
    }
    out
}

/// Timeout, retry and pause of a step and of the groups it is in.
fn controls(plan: &Plan, r: &str) -> String {
    let parents = plan
        .groups
        .iter()
        .flatten()
        .find_map(|a| match a {
            Action::Declare { r#ref, parents, .. } if r#ref == r => Some(parents.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let mut out = String::new();
    for a in plan.groups.iter().flatten() {
        let mine = |x: &str| x == r || parents.iter().any(|p| p == x);
        match a {
            Action::Timeout { r#ref, timeout } if mine(r#ref) => {
                let _ = write!(out, ", timeout {timeout}");
            }
            Action::Retry {
                r#ref,
                count,
                until,
            } if r#ref == r => {
                let _ = write!(
                    out,
                    ", retry {count}x until {}",
                    until.as_deref().unwrap_or("passed")
                );
            }
            Action::Pause { r#ref } if r#ref == r => out.push_str(", paused"),
            _ => {}
        }
    }
    out
}

fn declared_condition(plan: &Plan, r: &str) -> Option<String> {
    plan.groups.iter().flatten().find_map(|a| match a {
        Action::Declare {
            r#ref, condition, ..
        } if r#ref == r => Some(condition.clone()),
        _ => None,
    })
}

/// `Name [Category]` for every container stage, with the names of enclosing groups.
fn labels(root: &Stage) -> HashMap<&str, String> {
    let mut out = HashMap::new();
    collect(root, &mut Vec::new(), &mut out);
    out
}

fn collect<'a>(stage: &'a Stage, path: &mut Vec<&'a str>, out: &mut HashMap<&'a str, String>) {
    let meta = stage.meta();
    match stage {
        Stage::Container(_) => {
            let mut parts: Vec<&str> = path.clone();
            if let Some(n) = &meta.name {
                parts.push(n);
            }
            let name = parts.join(" › ");
            let category = meta.category.as_deref().unwrap_or("");
            let label = match (name.is_empty(), category.is_empty()) {
                (true, _) => category.to_owned(),
                (false, true) => name,
                (false, false) => format!("{name} [{category}]"),
            };
            out.insert(meta.r#ref.as_str(), label);
        }
        Stage::Group(g) => {
            if let Some(n) = &meta.name {
                path.push(n);
            }
            for child in &g.children {
                collect(child, path, out);
            }
            if meta.name.is_some() {
                path.pop();
            }
        }
    }
}
