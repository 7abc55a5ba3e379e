//! The stage tree becomes a flat sequence of actions (`action/process.go` semantics).
//!
//! Unlike upstream, no current-status chain is written before each stage: that chain names
//! every earlier required step, which made plans quadratic. The chain follows from the tree
//! (`Start`/`End` nesting and which steps are optional), so the optimizer and `init` each
//! rebuild it incrementally (see [`crate::optimize`] and `testwerk_protocol::plan`).

use crate::action::Action;
use crate::stage::Stage;

/// Walks the tree depth-first; wraps everything in the virtual top `""`.
pub fn sequence(root: &Stage, pure_by_default: bool) -> Vec<Action> {
    let mut out = vec![Action::Start(String::new())];
    walk(root, &mut out, &[], None, pure_by_default);
    out.push(Action::Result {
        r#ref: String::new(),
        value: root.meta().r#ref.clone(),
    });
    out.push(Action::End(String::new()));
    out
}

fn walk(
    stage: &Stage,
    out: &mut Vec<Action>,
    parents: &[String],
    parent_condition: Option<&str>,
    inherited_pure: bool,
) {
    let meta = stage.meta();
    let r = meta.r#ref.clone();
    let condition = meta
        .condition
        .expression()
        .or_else(|| parent_condition.map(str::to_owned))
        .unwrap_or_else(|| "passed".to_owned());
    out.push(Action::Declare {
        r#ref: r.clone(),
        id: meta.id.clone(),
        condition: condition.clone(),
        parents: parents.to_vec(),
        optional: meta.optional,
    });
    if let Stage::Container(c) = stage {
        out.push(Action::Container {
            r#ref: r.clone(),
            config: c.container.clone(),
        });
    }
    out.push(Action::Start(r.clone()));
    if let Some(timeout) = &meta.timeout {
        out.push(Action::Timeout {
            r#ref: r.clone(),
            timeout: timeout.clone(),
        });
    }
    if let Some(retry) = meta.retry.as_ref().filter(|r| r.count > 0) {
        out.push(Action::Retry {
            r#ref: r.clone(),
            count: retry.count,
            until: retry.until.clone(),
        });
    }
    if meta.paused {
        out.push(Action::Pause { r#ref: r.clone() });
    }
    match stage {
        Stage::Container(c) => {
            let pure = meta.pure.unwrap_or(!c.toolkit && inherited_pure);
            out.push(Action::Execute {
                r#ref: r.clone(),
                negative: meta.negative,
                toolkit: c.toolkit,
                pure,
            });
        }
        Stage::Group(g) => {
            let mut child_parents = parents.to_vec();
            child_parents.push(r.clone());
            let child_pure = meta.pure.unwrap_or(inherited_pure);
            let mut required = Vec::new();
            for child in &g.children {
                walk(child, out, &child_parents, Some(&condition), child_pure);
                if !child.meta().optional {
                    required.push(child.meta().r#ref.clone());
                }
            }
            let value = if meta.negative {
                if required.is_empty() {
                    "false".to_owned()
                } else {
                    required
                        .iter()
                        .map(|r| format!("!{r}"))
                        .collect::<Vec<_>>()
                        .join("||")
                }
            } else {
                and_chain(&required)
            };
            out.push(Action::Result {
                r#ref: r.clone(),
                value,
            });
        }
    }
    out.push(Action::End(r));
}

pub(crate) fn and_chain(terms: &[String]) -> String {
    let terms: Vec<&str> = terms
        .iter()
        .map(String::as_str)
        .filter(|t| *t != "true")
        .collect();
    if terms.is_empty() {
        "true".to_owned()
    } else {
        terms.join("&&")
    }
}
