//! Whether a backend may start a child a parent's toolkit asks for.
//!
//! The parent's plan is the backend's own: it compiled it and keeps it in its store. Each
//! `parallel`, `services` and `execute` step of the plan carries its spec (the toolkit step's
//! `--base64` argument), from which [`crate::parallel`], [`crate::services`] and
//! [`crate::execute`] give the children it may start. A request is honoured only when it is
//! exactly one of them; anything else (another Pod spec, another workflow, other config) is
//! refused.

use testwerk_protocol::children::{ChildKind, ChildRequest, Selection};
use testwerk_protocol::plan::{WireAction, WirePlan};

use crate::execute::Execute;
use crate::parallel::Workers;

/// Why a child is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the parent's plan starts no {kind} like this one at step `{step}`: only the workers, services and workflows its steps declare may be started"
)]
pub struct Refused {
    pub kind: &'static str,
    pub step: String,
}

/// The parent as its backend knows it.
pub struct Parent<'a> {
    /// The plan the backend compiled for it.
    pub plan: &'a WirePlan,
    /// Where its artifacts go (its toolkit's artifact URL), for `transfer`.
    pub sink: Option<&'a str>,
}

/// One toolkit step of a plan that starts children.
struct ChildStep<'a> {
    r#ref: &'a str,
    op: &'a str,
    args: &'a [String],
}

impl Parent<'_> {
    /// `Ok` when `request` is a child the parent's plan starts; `matches` says whether a
    /// workflow is one a label selection names (for `execute` with a `selector`).
    pub fn check(
        &self,
        request: &ChildRequest,
        matches: &dyn Fn(&Selection, &str) -> bool,
    ) -> Result<(), Refused> {
        let allowed = self.steps().any(|step| match (request.kind, step.op) {
            (ChildKind::Worker, "parallel") if step.r#ref == request.parent_ref => {
                payload(step.args)
                    .and_then(|spec| Workers::new(&spec, step.r#ref, self.sink).ok())
                    .is_some_and(|workers| workers.contains(request))
            }
            // A service's parent ref is its step group, known only when the step runs.
            (ChildKind::Service, "services") => payload(step.args).is_some_and(|services| {
                crate::services::contains(&services, step.r#ref, self.sink, request)
            }),
            (ChildKind::Execution, "execute") if step.r#ref == request.parent_ref => {
                payload(step.args)
                    .and_then(|p| Execute::from_payload(&p).ok())
                    .is_some_and(|execute| {
                        execute.contains(step.r#ref, self.sink, request, matches)
                    })
            }
            _ => false,
        });
        if allowed {
            Ok(())
        } else {
            Err(Refused {
                kind: request.kind.as_str(),
                step: request.parent_ref.clone(),
            })
        }
    }

    fn steps(&self) -> impl Iterator<Item = ChildStep<'_>> {
        self.plan.groups.iter().flatten().filter_map(|action| {
            let WireAction::Container { r#ref, config } = action else {
                return None;
            };
            let op = match config.command.as_deref() {
                Some([_, op]) if crate::OPERATIONS.contains(&op.as_str()) => op.as_str(),
                _ => return None,
            };
            Some(ChildStep {
                r#ref,
                op,
                args: config.args.as_deref().unwrap_or_default(),
            })
        })
    }
}

/// The spec after `--base64` in a toolkit step's arguments.
fn payload(args: &[String]) -> Option<serde_json::Value> {
    let at = args.iter().position(|a| a == "--base64")?;
    crate::decode(args.get(at + 1)?, "payload").ok()
}
