//! Cron triggers: every `spec.events[].cronjob` of the namespace's TestWorkflows (watched by
//! the [`catalog`](crate::catalog)) starts an execution of its workflow at each tick
//! ([`testwerk_cron`]), with the event's `config`.
//!
//! Each tick is claimed in the store first ([`Store::claim_tick`](testwerk_store::Store::claim_tick)),
//! so a tick starts one execution however many agents share the store. A tick that passed
//! while no agent ran is not made up for (as Testkube's scheduler). A schedule that does not
//! parse is reported in the agent's log once, naming the workflow, the event and the fix.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kube::api::DynamicObject;
use testwerk_cron::Schedule;
use testwerk_spec::WorkflowSpec;

use crate::Agent;
use crate::kinds;
use crate::submit::Submission;

/// How often the schedules are looked at: the finest schedule (`@every 1s`) ticks this often.
const RESOLUTION: Duration = Duration::from_secs(1);

/// A schedule without a next tick (`0 0 30 2 *`).
const NEVER: SystemTime = SystemTime::UNIX_EPOCH;

/// The tags an execution started by a schedule carries: the schedule, and its tick.
pub const CRON_TAG: &str = "testwerk.io/cron";
pub const CRON_TICK_TAG: &str = "testwerk.io/cron-tick";

/// One cron event of one workflow.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EventKey {
    workflow: String,
    index: usize,
    cron: String,
    timezone: Option<String>,
}

/// Runs the schedules until the agent stops.
pub async fn run(agent: Arc<Agent>) {
    let mut next: HashMap<EventKey, SystemTime> = HashMap::new();
    let mut reported: HashSet<EventKey> = HashSet::new();
    loop {
        let now = SystemTime::now();
        let mut seen = HashSet::new();
        for workflow in agent.catalog.workflows() {
            for (key, event) in cron_events(&workflow) {
                seen.insert(key.clone());
                let schedule = match Schedule::parse(&key.cron, key.timezone.as_deref()) {
                    Ok(s) => s,
                    Err(e) => {
                        if reported.insert(key.clone()) {
                            tracing::warn!(
                                workflow = %key.workflow,
                                "TestWorkflow {}: spec.events[{}].cronjob: {e}; the event is ignored until it is fixed",
                                key.workflow, key.index
                            );
                        }
                        continue;
                    }
                };
                // The first tick after the agent saw the event: ticks before are not made up.
                let due = *next
                    .entry(key.clone())
                    .or_insert_with(|| schedule.next_after(now).unwrap_or(NEVER));
                if due == NEVER || due > now {
                    continue;
                }
                next.insert(key.clone(), schedule.next_after(now).unwrap_or(NEVER));
                fire(&agent, &workflow, &key, event, due).await;
            }
        }
        next.retain(|k, _| seen.contains(k));
        reported.retain(|k| seen.contains(k));
        tokio::time::sleep(RESOLUTION).await;
    }
}

/// The cron events of `workflow`, keyed.
fn cron_events(workflow: &DynamicObject) -> Vec<(EventKey, testwerk_spec::CronJobEvent)> {
    let Some(name) = workflow.metadata.name.clone() else {
        return Vec::new();
    };
    let Some(spec) = workflow
        .data
        .get("spec")
        .and_then(|s| serde_json::from_value::<WorkflowSpec>(s.clone()).ok())
    else {
        return Vec::new();
    };
    spec.body
        .events
        .iter()
        .enumerate()
        .filter_map(|(index, event)| {
            let cron = event.cronjob.clone()?;
            Some((
                EventKey {
                    workflow: name.clone(),
                    index,
                    cron: cron.cron.clone(),
                    timezone: cron.timezone.clone(),
                },
                cron,
            ))
        })
        .collect()
}

/// Claims the tick and, if this agent got it, starts the workflow.
async fn fire(
    agent: &Arc<Agent>,
    workflow: &DynamicObject,
    key: &EventKey,
    event: testwerk_spec::CronJobEvent,
    tick: SystemTime,
) {
    let claim_key = format!("{}/{}/{}", agent.namespace, key.workflow, key.index);
    let tick = testwerk_store::Timestamp::from(tick);
    match agent.store.claim_tick(&claim_key, tick) {
        Ok(true) => {}
        Ok(false) => return, // another agent runs this tick
        Err(e) => {
            tracing::warn!(workflow = %key.workflow, error = %e, "cannot claim the schedule's tick {tick}; it is skipped");
            return;
        }
    }
    let submission = Submission {
        source: kinds::to_yaml(workflow, kinds::WORKFLOW),
        file: format!(
            "TestWorkflow {} (namespace {}), spec.events[{}].cronjob",
            key.workflow, agent.namespace, key.index
        ),
        workflow: Some(key.workflow.clone()),
        config: event
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.as_text()))
            .collect(),
        owner: None,
        tags: Default::default(),
        links: [
            (CRON_TAG.to_owned(), key.cron.clone()),
            (CRON_TICK_TAG.to_owned(), tick.to_string()),
        ]
        .into(),
    };
    match crate::submit::submit(agent, submission).await {
        Ok(execution) => {
            tracing::info!(workflow = %key.workflow, execution = %execution.name, "scheduled ({}) at {tick}", key.cron)
        }
        Err(e) => {
            tracing::warn!(workflow = %key.workflow, "the scheduled execution ({}) at {tick} did not start: {e}", key.cron)
        }
    }
}
