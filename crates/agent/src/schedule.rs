//! Cron triggers: every `spec.events[].cronjob` of the namespace's TestWorkflows (watched by
//! the [`catalog`](crate::catalog)) starts an execution of its workflow at each tick
//! ([`testwerk_cron`]), with the event's `config`.
//!
//! Each tick is claimed in the store first ([`Store::claim_tick`](testwerk_store::Store::claim_tick)),
//! so a tick starts one execution however many agents share the store. A tick that passed
//! while no agent ran is not made up for (as Testkube's scheduler). A schedule that does not
//! parse is reported in the agent's log once, naming the workflow, the event and the fix.

use std::collections::HashMap;
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

/// A workflow's cron events, read from one version of it.
struct Events {
    resource_version: Option<String>,
    events: Vec<(EventKey, testwerk_spec::CronJobEvent, Schedule)>,
}

/// Runs the schedules until the agent stops.
pub async fn run(agent: Arc<Agent>) {
    // Each workflow is read again only when it changes (its resourceVersion), not every tick.
    let mut read: HashMap<String, Events> = HashMap::new();
    let mut next: HashMap<EventKey, SystemTime> = HashMap::new();
    loop {
        let now = SystemTime::now();
        let workflows = agent.catalog.workflows();
        read.retain(|name, _| {
            workflows
                .iter()
                .any(|w| w.metadata.name.as_deref() == Some(name))
        });
        for workflow in &workflows {
            let Some(name) = workflow.metadata.name.clone() else {
                continue;
            };
            let version = workflow.metadata.resource_version.clone();
            if read
                .get(&name)
                .is_none_or(|r| r.resource_version != version)
            {
                read.insert(
                    name.clone(),
                    Events {
                        resource_version: version,
                        events: cron_events(&name, workflow),
                    },
                );
            }
            let Some(events) = read.get(&name) else {
                continue;
            };
            for (key, event, schedule) in &events.events {
                // The first tick after the agent saw the event: ticks before are not made up.
                let due = *next
                    .entry(key.clone())
                    .or_insert_with(|| schedule.next_after(now).unwrap_or(NEVER));
                if due == NEVER || due > now {
                    continue;
                }
                next.insert(key.clone(), schedule.next_after(now).unwrap_or(NEVER));
                fire(&agent, workflow, key, event, due).await;
            }
        }
        next.retain(|k, _| {
            read.get(&k.workflow)
                .is_some_and(|r| r.events.iter().any(|(key, _, _)| key == k))
        });
        tokio::time::sleep(RESOLUTION).await;
    }
}

/// The cron events of `workflow` with their schedules. One that does not parse is reported
/// (once per version of the workflow) and left out.
fn cron_events(
    name: &str,
    workflow: &DynamicObject,
) -> Vec<(EventKey, testwerk_spec::CronJobEvent, Schedule)> {
    let Some(spec) = workflow
        .data
        .get("spec")
        .and_then(|s| serde_json::from_value::<WorkflowSpec>(s.clone()).ok())
    else {
        return Vec::new();
    };
    spec.body
        .events
        .into_iter()
        .enumerate()
        .filter_map(|(index, event)| {
            let cron = event.cronjob?;
            let schedule = Schedule::parse(&cron.cron, cron.timezone.as_deref())
                .map_err(|e| {
                    tracing::warn!(
                        workflow = %name,
                        "TestWorkflow {name}: spec.events[{index}].cronjob: {e}; the event is ignored until it is fixed"
                    )
                })
                .ok()?;
            let key = EventKey {
                workflow: name.to_owned(),
                index,
                cron: cron.cron.clone(),
                timezone: cron.timezone.clone(),
            };
            Some((key, cron, schedule))
        })
        .collect()
}

/// Claims the tick and, if this agent got it, starts the workflow.
async fn fire(
    agent: &Arc<Agent>,
    workflow: &DynamicObject,
    key: &EventKey,
    event: &testwerk_spec::CronJobEvent,
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
