//! The `TestWorkflowExecution` controller: creating such an object (`kubectl create -f`)
//! starts an execution of the workflow it names; its `status` mirrors the execution's.
//!
//! Reconciled when `metadata.generation` differs from `status.generation`, as upstream does.
//! The execution is tagged with the object's uid in the store, so an agent that stopped
//! between starting the execution and writing the status finds it instead of starting a
//! second one.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use serde_json::{Value, json};
use testwerk_store::{ExecutionFilter, StoreError};

use crate::Agent;
use crate::kinds;
use crate::live::{Live, Outcome, OwnerCr};
use crate::submit::{self, Submission};

/// How long after a failed reconcile it runs again (the store or the API server refused).
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why a reconcile must run again: nothing the user got wrong (that goes into the status).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("reading the results store: {0}")]
    Store(#[from] StoreError),
    #[error("updating the status of TestWorkflowExecution {name}: {source}")]
    Status {
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// Runs the controller until the watch ends. kube's [`Controller`] gives one reconcile per
/// object at a time (a second event for an object waits for the first to finish, so one
/// object never starts two executions), backs off its watch, and requeues what failed.
pub async fn run(agent: Arc<Agent>) {
    let api = kinds::api(&agent.client, &agent.namespace, kinds::EXECUTION);
    Controller::new_with(
        api,
        watcher::Config::default(),
        kinds::resource(kinds::EXECUTION),
    )
    .run(reconcile, error_policy, agent)
    .for_each(|result| async move {
        match result {
            Ok(_) => {}
            Err(kube::runtime::controller::Error::ReconcilerFailed(..)) => {} // error_policy logged it
            Err(e) => tracing::warn!(error = %e, "TestWorkflowExecution controller"),
        }
    })
    .await;
}

fn error_policy(object: Arc<DynamicObject>, error: &ReconcileError, _: Arc<Agent>) -> Action {
    tracing::warn!(
        object = object.metadata.name.as_deref().unwrap_or_default(),
        error = %error,
        "reconciling a TestWorkflowExecution failed; retrying in {} s",
        RETRY_AFTER.as_secs()
    );
    Action::requeue(RETRY_AFTER)
}

fn needs_reconcile(object: &DynamicObject) -> bool {
    let generation = object.metadata.generation.unwrap_or(0);
    let done = object
        .data
        .pointer("/status/generation")
        .and_then(Value::as_i64);
    done != Some(generation)
}

async fn reconcile(
    object: Arc<DynamicObject>,
    agent: Arc<Agent>,
) -> Result<Action, ReconcileError> {
    if !needs_reconcile(&object) {
        return Ok(Action::await_change());
    }
    let name = object.metadata.name.clone().unwrap_or_default();
    let uid = object.metadata.uid.clone().unwrap_or_default();
    let generation = object.metadata.generation.unwrap_or(0);
    let owner = OwnerCr {
        name: name.clone(),
        uid: uid.clone(),
    };
    // Started before (the status write was lost, or the agent restarted in between)? A
    // store that cannot say must not lead to a second execution: retry instead.
    let mut filter = ExecutionFilter::default();
    filter.tags.insert(kinds::OWNER_TAG.to_owned(), uid);
    filter.limit = Some(1);
    if let Some(e) = agent.store.list_executions(&filter)?.first() {
        let status = json!({"generation": generation, "executionId": e.id,
            "executionName": e.name, "phase": e.status.as_str(), "error": null});
        patch_status(&agent, &name, status).await?;
        return Ok(Action::await_change());
    }
    let status = match start(&agent, &object, owner).await {
        Ok(e) => json!({"generation": generation, "executionId": e.id,
            "executionName": e.name, "phase": "running", "error": null}),
        Err(message) => json!({"generation": generation, "error": message, "phase": "failed"}),
    };
    patch_status(&agent, &name, status).await?;
    Ok(Action::await_change())
}

async fn start(
    agent: &Arc<Agent>,
    object: &DynamicObject,
    owner: OwnerCr,
) -> Result<testwerk_store::Execution, String> {
    let spec = object.data.get("spec").cloned().unwrap_or(Value::Null);
    let workflow = spec
        .pointer("/testWorkflow/name")
        .and_then(Value::as_str)
        .ok_or("spec.testWorkflow.name is missing")?
        .to_owned();
    let found = agent
        .catalog
        .workflow(&workflow)
        .await
        .map_err(|e| format!("reading TestWorkflow {workflow}: {e}"))?
        .ok_or_else(|| {
            format!(
                "TestWorkflow {workflow} does not exist in namespace {}",
                agent.namespace
            )
        })?;
    let config = spec
        .pointer("/executionRequest/config")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    let submission = Submission {
        source: kinds::to_yaml(&found, kinds::WORKFLOW),
        file: format!("TestWorkflow {workflow} (namespace {})", agent.namespace),
        workflow: Some(workflow),
        config,
        owner: Some(owner),
        tags: Default::default(),
        links: Default::default(),
    };
    submit::submit(agent, submission)
        .await
        .map_err(|e| e.to_string())
}

async fn patch_status(agent: &Agent, name: &str, status: Value) -> Result<(), ReconcileError> {
    let api = kinds::api(&agent.client, &agent.namespace, kinds::EXECUTION);
    let patch = json!({ "status": status });
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|source| ReconcileError::Status {
            name: name.to_owned(),
            source,
        })
}

/// Mirrors a followed execution into its TestWorkflowExecution's status, if it has one.
pub async fn mirror(agent: &Agent, live: &Live, outcome: Option<&Outcome>) {
    let Some(owner) = &live.owner else {
        return;
    };
    let steps: Vec<Value> = agent
        .store
        .execution(&live.id)
        .ok()
        .flatten()
        .map(|d| {
            d.steps
                .iter()
                .map(|s| json!({"ref": s.step_ref, "name": s.name, "status": s.status.as_str(), "error": s.error}))
                .collect()
        })
        .unwrap_or_default();
    let status = json!({
        "executionId": live.id,
        "executionName": live.name,
        "phase": outcome.map_or("running", |o| o.status.as_str()),
        "reason": outcome.and_then(|o| o.reason.clone()),
        "steps": steps,
    });
    // A mirror that fails is caught up by the next one (or the controller).
    if let Err(e) = patch_status(agent, &owner.name, status).await {
        tracing::warn!(error = %e, "mirroring the execution's status");
    }
}
