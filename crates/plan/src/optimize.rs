//! Static knowledge folded into the action list: what is always or never run is decided here,
//! so `init` does not start containers for steps that cannot run.

use std::collections::HashSet;

use testwerk_expr::{Expr, Lookup, Machine, Value};

use crate::action::{Action, EARLIER_PASSED};
use testwerk_protocol::plan::MAX_INLINE_REFS;

/// The groups started and not yet ended at one point of the sequence, outermost first: the
/// compile-time half of the current-status chain (`init` keeps the same frames at runtime).
#[derive(Default)]
struct Frames {
    frames: Vec<Frame>,
}

struct Frame {
    r#ref: String,
    /// Its required children that have ended here and were not skipped statically, in order.
    done: Vec<String>,
}

impl Frames {
    fn start(&mut self, r: &str) {
        self.frames.push(Frame {
            r#ref: r.to_owned(),
            done: Vec::new(),
        });
    }

    /// `r` ended; it counts for `passed` from now on unless `settled` is false (optional or
    /// statically skipped, so it cannot fail anything).
    fn end(&mut self, r: &str, counts: bool) {
        if self.frames.last().is_some_and(|f| f.r#ref == r) {
            self.frames.pop();
        }
        if counts && let Some(parent) = self.frames.last_mut() {
            parent.done.push(r.to_owned());
        }
    }

    /// What `passed` means here: every required step ended so far in this group and the
    /// groups around it passed. The refs themselves (nearest first, as upstream's chain names
    /// them) when there are few, else the runtime variable that `init` keeps for the same.
    fn passed(&self) -> String {
        let count: usize = self.frames.iter().map(|f| f.done.len()).sum();
        if count == 0 {
            return "true".to_owned();
        }
        if count > MAX_INLINE_REFS {
            return EARLIER_PASSED.to_owned();
        }
        self.frames
            .iter()
            .rev()
            .flat_map(|f| f.done.iter().rev())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("&&")
    }
}

/// What is known at one point of the sequence, as it is walked through.
#[derive(Default)]
struct Knowledge {
    /// Every declared step.
    all_refs: HashSet<String>,
    finished: HashSet<String>,
    skipped: HashSet<String>,
    optional: HashSet<String>,
    frames: Frames,
}

impl Knowledge {
    /// An AND-chain of refs (a group's result) without the refs that cannot have failed
    /// here: skipped ones and those that have not finished.
    fn settled(&self, chain: &str) -> String {
        let refs: Vec<&str> = chain
            .split("&&")
            .map(str::trim)
            .filter(|r| *r != "true" && !self.skipped.contains(*r))
            .filter(|r| !self.all_refs.contains(*r) || self.finished.contains(*r))
            .collect();
        if refs.is_empty() {
            "true".to_owned()
        } else {
            refs.join("&&")
        }
    }
}

impl Machine for Knowledge {
    fn get(&self, name: &str) -> Option<Lookup> {
        if self.skipped.contains(name) {
            return Some(Lookup::Value(Value::Bool(true)));
        }
        match name {
            "always" => Some(Lookup::Value(Value::Bool(true))),
            "never" => Some(Lookup::Value(Value::Bool(false))),
            "passed" | "success" => Expr::parse(&self.frames.passed()).ok().map(Lookup::Expr),
            "failed" | "error" => Expr::parse(&format!("!({})", self.frames.passed()))
                .ok()
                .map(Lookup::Expr),
            // A step that has not finished yet cannot have failed yet.
            r if self.all_refs.contains(r) && !self.finished.contains(r) => {
                Some(Lookup::Value(Value::Bool(true)))
            }
            _ => None,
        }
    }
}

/// Folds what is statically known into conditions, statuses and results, drops the actions of
/// statically skipped steps, and sorts declarations to the front.
pub fn optimize(actions: Vec<Action>) -> Vec<Action> {
    let mut actions = actions;
    loop {
        let before = actions.len();
        actions = fold_once(actions);
        if actions.len() == before {
            break;
        }
    }
    let mut indexed: Vec<(usize, Action)> = actions.into_iter().enumerate().collect();
    indexed.sort_by_key(|(i, a)| (a.priority(), *i));
    indexed.into_iter().map(|(_, a)| a).collect()
}

fn fold_once(actions: Vec<Action>) -> Vec<Action> {
    let all_refs = actions
        .iter()
        .filter_map(|a| match a {
            Action::Declare { r#ref, .. } => Some(r#ref.clone()),
            _ => None,
        })
        .collect();
    let mut k = Knowledge {
        all_refs,
        ..Knowledge::default()
    };
    let mut out = actions;
    // Each action is folded in place, in order: what it may use is what came before it.
    for action in &mut out {
        match action {
            Action::Declare {
                r#ref,
                condition,
                parents,
                optional,
                ..
            } => {
                if *optional {
                    k.optional.insert(r#ref.clone());
                }
                let parent_skipped = parents.iter().any(|p| k.skipped.contains(p));
                *condition = if parent_skipped {
                    "false".to_owned()
                } else {
                    truthiness(simplify(condition, &k))
                };
                if condition == "false" {
                    k.skipped.insert(r#ref.clone());
                    parents.clear();
                }
            }
            Action::Start(r) if !r.is_empty() => k.frames.start(r),
            Action::Result { value, .. } => {
                // A plain AND-chain of children is settled directly; `a && true` stays `a`.
                *value = if value.contains("||") || value.starts_with('!') {
                    simplify(value, &k)
                } else {
                    k.settled(value)
                };
            }
            Action::End(r) => {
                if !r.is_empty() {
                    let counts =
                        !k.optional.contains(r.as_str()) && !k.skipped.contains(r.as_str());
                    k.frames.end(r, counts);
                }
                k.finished.insert(r.clone());
            }
            _ => {}
        }
    }
    out.retain(|a| match a {
        Action::Execute { r#ref, .. }
        | Action::Result { r#ref, .. }
        | Action::Timeout { r#ref, .. }
        | Action::Retry { r#ref, .. }
        | Action::Pause { r#ref }
        | Action::Container { r#ref, .. } => !k.skipped.contains(r#ref),
        _ => true,
    });
    out
}

/// A condition only matters for its truthiness, and `x && true` is as truthy as `x`: drop
/// trailing `&&true` left by folding (`&&` and `||` share one precedence level and associate to
/// the left, so a trailing `&&true` always applies to everything before it).
fn truthiness(mut condition: String) -> String {
    while let Some(rest) = condition.strip_suffix("&&true") {
        condition = rest.trim_end().to_owned();
    }
    condition
}

/// Partially evaluates an expression; anything that cannot be parsed or evaluated is kept as
/// written, for `init` to report with its real context.
fn simplify(source: &str, knowledge: &Knowledge) -> String {
    let Ok(expr) = Expr::parse(source) else {
        return source.to_owned();
    };
    match expr.resolve(knowledge) {
        Ok(resolved) => match resolved.static_value() {
            Some(v) => testwerk_expr::truthy(v).to_string(),
            None => resolved.to_string(),
        },
        Err(_) => source.to_owned(),
    }
}
