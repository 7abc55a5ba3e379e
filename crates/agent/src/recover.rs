//! Picking up after a restart (the agent may be SIGKILLed at any moment).
//!
//! The store says which executions were not finished; the cluster says which of them still
//! have a Job. Each one is followed again from the start of its logs (the recorder skips what
//! the store has), created when it never got its objects, or settled as aborted when its Job
//! vanished. Objects of executions that are already over (the agent stopped before cleaning
//! up) are deleted.

use std::sync::Arc;

use testwerk_store::{ExecutionFilter, ExecutionStatus, StepStatus};

use crate::Agent;
use crate::blueprint::Blueprint;
use crate::kinds;
use crate::live::OwnerCr;

/// What recovery did, one line each, for the agent's log.
pub async fn recover(agent: &Arc<Agent>) -> Vec<String> {
    agent.view.wait_ready().await;
    let mut notes = Vec::new();
    let filter = ExecutionFilter {
        statuses: vec![ExecutionStatus::Queued, ExecutionStatus::Running],
        ..Default::default()
    };
    let open = match agent.store.list_executions(&filter) {
        Ok(o) => o,
        Err(e) => return vec![format!("cannot read the store: {e}")],
    };
    for execution in open {
        let detail = match agent.store.execution(&execution.id) {
            Ok(Some(d)) => d,
            _ => continue,
        };
        let blueprint = match Blueprint::from_value(&detail.plan) {
            Ok(b) => b,
            Err(_) => {
                let settled = agent.store.set_status(
                    &execution.id,
                    ExecutionStatus::Aborted,
                    Some("the agent stopped before the execution was compiled"),
                );
                notes.push(match settled {
                    Ok(()) => format!("{}: aborted (never compiled)", execution.name),
                    Err(e) => format!(
                        "{}: never compiled, but cannot be marked aborted: {e}",
                        execution.name
                    ),
                });
                continue;
            }
        };
        let owner = owner_of(&execution);
        let child = crate::queue::is_child(&execution.tags);
        if agent.view.job(&blueprint.resource).is_some() {
            agent
                .queue
                .hold(&execution.id, blueprint.limit.as_ref(), child);
            match crate::objects::ensure_token(&agent.client, &agent.namespace, &blueprint).await {
                Ok(token) => {
                    crate::submit::attach(
                        agent,
                        &execution.id,
                        &execution.name,
                        blueprint,
                        token,
                        owner,
                    );
                    notes.push(format!("{}: following again", execution.name));
                }
                Err(e) => notes.push(format!("{}: {e}", execution.name)),
            }
        } else if execution.status == ExecutionStatus::Queued
            && secrets_exist(agent, &blueprint).await
        {
            // Its turn comes in the queue, as before the restart.
            notes.push(format!("{}: still queued", execution.name));
        } else if execution.status == ExecutionStatus::Queued && blueprint.secrets.is_empty() {
            match crate::submit::start(agent, &execution, blueprint, &[], owner).await {
                Ok(()) => notes.push(format!("{}: created its objects", execution.name)),
                Err(e) => notes.push(format!("{}: {}", execution.name, e.message)),
            }
        } else {
            let reason = if execution.status == ExecutionStatus::Queued {
                "the agent stopped before creating the Job, and the execution's sensitive \
                 config is not kept to create it again"
            } else {
                "the Job vanished while the agent was not running"
            };
            notes.push(
                match settle_vanished(agent, &detail.steps, &execution.id, reason) {
                    Ok(()) => format!("{}: aborted ({reason})", execution.name),
                    Err(e) => format!(
                        "{}: {reason}, but cannot be marked aborted (the next start tries again): {e}",
                        execution.name
                    ),
                },
            );
        }
    }
    // Objects of executions that are over: the agent stopped between recording the end and
    // cleaning up.
    for resource in agent.view.job_names() {
        let Ok(Some(detail)) = agent.store.execution(&resource) else {
            continue;
        };
        let status = detail.execution.status;
        if status.is_final()
            && agent.config.cleanup.applies(status)
            && !agent.is_tracked_resource(&resource)
        {
            notes.push(
                match crate::objects::delete_all(&agent.client, &agent.namespace, &resource).await {
                    Ok(()) => format!("{resource}: deleted the objects of a finished execution"),
                    Err(e) => format!(
                        "{resource}: cannot delete the objects of a finished execution: {e}"
                    ),
                },
            );
        }
    }
    notes
}

/// The `TestWorkflowExecution` that started `execution`, from its tags.
pub(crate) fn owner_of(execution: &testwerk_store::Execution) -> Option<OwnerCr> {
    match (
        execution.tags.get(kinds::OWNER_TAG),
        execution.tags.get(kinds::OWNER_NAME_TAG),
    ) {
        (Some(uid), Some(name)) => Some(OwnerCr {
            name: name.clone(),
            uid: uid.clone(),
        }),
        _ => None,
    }
}

/// Whether every Secret of a queued execution is in the cluster (they are created when it is
/// queued; an agent killed in between has none).
async fn secrets_exist(agent: &Agent, blueprint: &Blueprint) -> bool {
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(agent.client.clone(), &agent.namespace);
    for name in &blueprint.secrets {
        if !matches!(api.get_opt(name).await, Ok(Some(_))) {
            return false;
        }
    }
    true
}

/// Settles an execution whose Job is gone: open steps aborted (the first) or skipped. The
/// status is written last, so a store that refuses part of it leaves the execution open for
/// the next start.
fn settle_vanished(
    agent: &Agent,
    steps: &[testwerk_store::StepResult],
    id: &str,
    reason: &str,
) -> Result<(), testwerk_store::StoreError> {
    let mut first = true;
    for step in steps.iter().filter(|s| !s.status.is_final()) {
        let mut s = step.clone();
        if first {
            s.status = StepStatus::Aborted;
            s.error = Some(format!("The execution has been aborted. ({reason})"));
            first = false;
        } else {
            s.status = StepStatus::Skipped;
            s.error = Some(format!("The execution has been aborted before. ({reason})"));
        }
        agent.store.upsert_step(id, &s)?;
    }
    agent
        .store
        .set_status(id, ExecutionStatus::Aborted, Some(reason))
}
