//! The `TestWorkflowExecution` controller: creating such an object (`kubectl create -f`)
//! starts an execution of the workflow it names; its `status` mirrors the execution's.
//!
//! Reconciled when `metadata.generation` differs from `status.generation`, as upstream does.
//! The execution is tagged with the object's uid in the store, so an agent that stopped
//! between starting the execution and writing the status finds it instead of starting a
//! second one.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use serde_json::{Value, json};
use testwerk_store::ExecutionFilter;

use crate::Agent;
use crate::kinds;
use crate::live::{Live, Outcome, OwnerCr};
use crate::submit::{self, Submission};

pub async fn run(agent: Arc<Agent>) {
    let api = kinds::api(&agent.client, &agent.namespace, kinds::EXECUTION);
    let mut stream = watcher(api, watcher::Config::default())
        .applied_objects()
        .boxed();
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    while let Some(event) = stream.next().await {
        match event {
            Ok(object) => {
                let Some(uid) = object.metadata.uid.clone() else {
                    continue;
                };
                if !needs_reconcile(&object) {
                    continue;
                }
                if let Ok(mut set) = in_flight.lock()
                    && !set.insert(uid.clone())
                {
                    continue;
                }
                let agent = agent.clone();
                let in_flight = in_flight.clone();
                tokio::spawn(async move {
                    reconcile(&agent, object).await;
                    if let Ok(mut set) = in_flight.lock() {
                        set.remove(&uid);
                    }
                });
            }
            Err(e) => {
                eprintln!("testwerk-agent: watching TestWorkflowExecutions (retrying): {e}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

fn needs_reconcile(object: &DynamicObject) -> bool {
    let generation = object.metadata.generation.unwrap_or(0);
    let done = object
        .data
        .pointer("/status/generation")
        .and_then(Value::as_i64);
    done != Some(generation)
}

async fn reconcile(agent: &Arc<Agent>, object: DynamicObject) {
    let name = object.metadata.name.clone().unwrap_or_default();
    let uid = object.metadata.uid.clone().unwrap_or_default();
    let generation = object.metadata.generation.unwrap_or(0);
    let owner = OwnerCr {
        name: name.clone(),
        uid: uid.clone(),
    };
    let mut filter = ExecutionFilter::default();
    filter.tags.insert(kinds::OWNER_TAG.to_owned(), uid);
    filter.limit = Some(1);
    if let Ok(found) = agent.store.list_executions(&filter)
        && let Some(e) = found.first()
    {
        let status = json!({"generation": generation, "executionId": e.id,
            "executionName": e.name, "phase": e.status.as_str(), "error": null});
        patch_status(agent, &name, status).await;
        return;
    }
    let status = match start(agent, &object, owner).await {
        Ok(e) => json!({"generation": generation, "executionId": e.id,
            "executionName": e.name, "phase": "running", "error": null}),
        Err(message) => json!({"generation": generation, "error": message, "phase": "failed"}),
    };
    patch_status(agent, &name, status).await;
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
    };
    submit::submit(agent, submission)
        .await
        .map_err(|e| e.to_string())
}

async fn patch_status(agent: &Agent, name: &str, status: Value) {
    let api = kinds::api(&agent.client, &agent.namespace, kinds::EXECUTION);
    let patch = json!({ "status": status });
    if let Err(e) = api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        eprintln!("testwerk-agent: updating the status of TestWorkflowExecution {name}: {e}");
    }
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
    patch_status(agent, &owner.name, status).await;
}
