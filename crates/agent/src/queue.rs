//! The queue: an execution waits, `queued` in the store, until the limits leave room for it,
//! then starts; the oldest first.
//!
//! Two limits, both optional:
//!
//! - `--max-running N`: executions the agent runs at once;
//! - a workflow's `spec.concurrency.max`: executions of its `group` (default: the workflow)
//!   running at once.
//!
//! Child executions (parallel workers, services, executed workflows) never wait: their parent
//! holds a slot and waits for them, so queueing them could wait forever.
//!
//! The queue is the store itself: an execution that waits is `queued` with its compiled
//! [`Blueprint`] stored and its Secrets already created in the cluster, so an agent that
//! restarts (even after SIGKILL) finds it there and starts it in turn ([`run`]). In memory the
//! agent keeps only which executions hold a slot ([`Queue`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use testwerk_store::{ExecutionFilter, ExecutionStatus};

use crate::Agent;
use crate::blueprint::Blueprint;

/// How often the queue is looked at without being woken: a safety net, since every end of an
/// execution and every new queued one wakes it.
const POLL: Duration = Duration::from_secs(2);

/// A workflow's concurrency limit, from `spec.concurrency`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLimit {
    /// Executions of the same group share the limit.
    pub group: String,
    /// At most this many run at once (at least 1).
    pub max: u32,
}

impl GroupLimit {
    /// The limit `spec.concurrency` sets for `workflow`; `None` without a positive `max`.
    pub fn of(
        workflow: &str,
        concurrency: Option<&testwerk_spec::Concurrency>,
    ) -> Option<GroupLimit> {
        let concurrency = concurrency?;
        let max = u32::try_from(concurrency.max?).ok().filter(|m| *m > 0)?;
        let group = match concurrency.group.as_deref().map(str::trim) {
            Some(group) if !group.is_empty() => group.to_owned(),
            _ => format!("workflow/{workflow}"),
        };
        Some(GroupLimit { group, max })
    }
}

/// What an admitted execution holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// A slot of the agent, and of its group if it has one.
    Counted(Option<String>),
    /// A child: it counts against nothing, but is marked so that it starts once.
    Child,
}

/// Which executions hold a slot.
#[derive(Debug, Default)]
pub struct Queue {
    max_running: Option<usize>,
    slots: Mutex<HashMap<String, Slot>>,
    wake: tokio::sync::Notify,
}

/// Whether an execution may start now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// It holds a slot from now on; start it.
    Admitted,
    /// It held a slot already: whoever gave it the slot starts it.
    Starting,
    /// The agent runs `--max-running` executions.
    AgentFull,
    /// Its group runs `max` executions.
    GroupFull,
}

impl Queue {
    pub fn new(max_running: Option<usize>) -> Queue {
        Queue {
            max_running: max_running.filter(|m| *m > 0),
            ..Queue::default()
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives execution `id` a slot if both limits leave room (a child always gets one that
    /// counts against nothing).
    pub fn try_admit(&self, id: &str, limit: Option<&GroupLimit>, child: bool) -> Admission {
        let mut slots = self.slots();
        if slots.contains_key(id) {
            return Admission::Starting;
        }
        if child {
            slots.insert(id.to_owned(), Slot::Child);
            return Admission::Admitted;
        }
        let counted = slots.values().filter(|s| **s != Slot::Child).count();
        if self.max_running.is_some_and(|max| counted >= max) {
            return Admission::AgentFull;
        }
        if let Some(limit) = limit {
            let in_group = slots
                .values()
                .filter(|s| matches!(s, Slot::Counted(Some(g)) if *g == limit.group))
                .count();
            if in_group >= limit.max as usize {
                return Admission::GroupFull;
            }
        }
        slots.insert(id.to_owned(), Slot::Counted(limit.map(|l| l.group.clone())));
        Admission::Admitted
    }

    /// Execution `id` runs already (found again after a restart): it holds its slot whatever
    /// the limits say now.
    pub fn hold(&self, id: &str, limit: Option<&GroupLimit>, child: bool) {
        let slot = if child {
            Slot::Child
        } else {
            Slot::Counted(limit.map(|l| l.group.clone()))
        };
        self.slots().insert(id.to_owned(), slot);
    }

    /// Execution `id` ended (or never started): its slot goes to the next in line.
    pub fn release(&self, id: &str) {
        if self.slots().remove(id).is_some() {
            self.wake.notify_one();
        }
    }

    /// Something was queued: look at the queue now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// How many executions hold a slot (children not counted).
    pub fn running(&self) -> usize {
        self.slots().values().filter(|s| **s != Slot::Child).count()
    }

    pub fn max_running(&self) -> Option<usize> {
        self.max_running
    }
}

/// Whether a stored execution is a child (never queued; see the module docs).
pub fn is_child(tags: &std::collections::BTreeMap<String, String>) -> bool {
    tags.contains_key(testwerk_protocol::children::PARENT_TAG)
}

/// The queued executions in the order they start: oldest first, children left out.
pub fn waiting(
    agent: &Agent,
) -> Result<Vec<testwerk_store::Execution>, testwerk_store::StoreError> {
    let mut queued = queued(agent)?;
    queued.retain(|e| !is_child(&e.tags));
    Ok(queued)
}

/// Every `queued` execution, oldest first: those waiting for a slot, those being started,
/// and those another replica recorded for the leader to start (children too).
fn queued(agent: &Agent) -> Result<Vec<testwerk_store::Execution>, testwerk_store::StoreError> {
    let filter = ExecutionFilter {
        statuses: vec![ExecutionStatus::Queued],
        ..Default::default()
    };
    let mut queued = agent.store.list_executions(&filter)?;
    queued.reverse();
    Ok(queued)
}

/// Starts queued executions as slots free up, until the agent stops.
///
/// A queued execution's blueprint is read once: executions waiting behind a full group are
/// looked at on every pass, and their plans can be large.
pub async fn run(agent: Arc<Agent>) {
    let mut blueprints: HashMap<String, Blueprint> = HashMap::new();
    loop {
        match queued(&agent) {
            Err(e) => tracing::warn!(error = %e, "reading the queue from the store"),
            Ok(queued) => {
                blueprints.retain(|id, _| queued.iter().any(|e| e.id == *id));
                for execution in queued {
                    if agent.is_tracked(&execution.id) {
                        continue;
                    }
                    let Some(blueprint) = blueprint_of(&agent, &execution, &mut blueprints) else {
                        continue;
                    };
                    // A slot held already means a start is under way (here or in `submit`).
                    match agent.queue.try_admit(
                        &execution.id,
                        blueprint.limit.as_ref(),
                        is_child(&execution.tags),
                    ) {
                        Admission::Admitted => {}
                        Admission::AgentFull => break,
                        Admission::GroupFull | Admission::Starting => continue,
                    }
                    let blueprint = blueprint.clone();
                    let agent = agent.clone();
                    tokio::spawn(async move {
                        let owner = crate::recover::owner_of(&execution);
                        if let Err(e) =
                            crate::submit::start(&agent, &execution, blueprint, &[], owner).await
                        {
                            tracing::warn!(execution = %execution.name, error = %e.message, "starting a queued execution");
                        }
                    });
                }
            }
        }
        let _ = tokio::time::timeout(POLL, agent.queue.wake.notified()).await;
    }
}

/// The stored blueprint of a queued execution, read once; `None` while it has none (its
/// submission is still compiling, or it never will be compiled and recovery settles it).
fn blueprint_of<'a>(
    agent: &Agent,
    execution: &testwerk_store::Execution,
    blueprints: &'a mut HashMap<String, Blueprint>,
) -> Option<&'a Blueprint> {
    if !blueprints.contains_key(&execution.id) {
        let detail = match agent.store.execution(&execution.id) {
            Ok(detail) => detail?,
            Err(e) => {
                tracing::warn!(execution = %execution.name, error = %e, "reading a queued execution");
                return None;
            }
        };
        let blueprint = Blueprint::from_value(&detail.plan).ok()?;
        blueprints.insert(execution.id.clone(), blueprint);
    }
    blueprints.get(&execution.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(group: &str, max: u32) -> Option<GroupLimit> {
        Some(GroupLimit {
            group: group.into(),
            max,
        })
    }

    #[test]
    fn both_limits_hold_and_a_release_makes_room() {
        let queue = Queue::new(Some(3));
        let a = limit("a", 2);
        assert_eq!(queue.try_admit("1", a.as_ref(), false), Admission::Admitted);
        assert_eq!(queue.try_admit("2", a.as_ref(), false), Admission::Admitted);
        assert_eq!(
            queue.try_admit("3", a.as_ref(), false),
            Admission::GroupFull
        );
        assert_eq!(queue.try_admit("4", None, false), Admission::Admitted);
        assert_eq!(queue.try_admit("5", None, false), Admission::AgentFull);
        assert_eq!(
            queue.try_admit("1", a.as_ref(), false),
            Admission::Starting,
            "holds its slot"
        );
        queue.release("1");
        assert_eq!(queue.try_admit("3", a.as_ref(), false), Admission::Admitted);
        assert_eq!(queue.running(), 3);
        // Children never wait and never count.
        assert_eq!(queue.try_admit("c", a.as_ref(), true), Admission::Admitted);
        assert_eq!(queue.try_admit("c", a.as_ref(), true), Admission::Starting);
        assert_eq!(queue.running(), 3);
    }

    #[test]
    fn without_limits_everything_starts() {
        let queue = Queue::new(None);
        for i in 0..1000 {
            assert_eq!(
                queue.try_admit(&i.to_string(), None, false),
                Admission::Admitted
            );
        }
        // A zero limit is no limit (as upstream's `max: 0`).
        assert_eq!(Queue::new(Some(0)).max_running(), None);
    }

    #[test]
    fn the_group_defaults_to_the_workflow_and_max_must_be_positive() {
        let spec = |group: Option<&str>, max: Option<i32>| testwerk_spec::Concurrency {
            group: group.map(Into::into),
            max,
            cancel_in_progress: None,
        };
        assert_eq!(
            GroupLimit::of("smoke", Some(&spec(None, Some(2)))),
            limit("workflow/smoke", 2)
        );
        assert_eq!(
            GroupLimit::of("smoke", Some(&spec(Some("db"), Some(1)))),
            limit("db", 1)
        );
        assert_eq!(GroupLimit::of("smoke", Some(&spec(None, Some(0)))), None);
        assert_eq!(GroupLimit::of("smoke", Some(&spec(None, None))), None);
        assert_eq!(GroupLimit::of("smoke", None), None);
    }
}
