//! `testwerk run <file> --server <url>`: the agent runs the workflow on its cluster; this
//! shows the same live view as a local run, from the agent's stream of updates.

use std::io::{BufRead, BufReader};
use std::time::Instant;

use serde_json::{Value, json};
use testwerk_plan::SignatureNode;
use testwerk_store::ExecutionStatus;

use super::report::Translator;
use super::tracker::{Tracker, Update};
use super::{RunError, RunRequest, input};

pub(super) fn run_remote(req: &RunRequest, server: &str) -> Result<bool, RunError> {
    let source = std::fs::read_to_string(&req.file)
        .map_err(|e| input(format!("{}: {e}", req.file.display())))?;
    let server = server.trim_end_matches('/');
    let agent = crate::remote::client();
    let body = json!({
        "source": source,
        "file": req.file.display().to_string(),
        "workflow": req.workflow,
        "config": req.config,
    });
    let started = Instant::now();
    let mut answer = agent
        .post(&format!("{server}/v1/executions"))
        .send_json(&body)
        .map_err(|e| RunError::Failed(format!("cannot reach the agent at {server}: {e}")))?;
    let status = answer.status().as_u16();
    let doc: Value = answer
        .body_mut()
        .read_json()
        .map_err(|e| RunError::Failed(format!("the agent answered {status} without JSON: {e}")))?;
    match status {
        201 => {}
        422 => {
            let details = doc["details"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .filter_map(|m| m.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            return Err(RunError::Input(details));
        }
        _ => {
            return Err(RunError::Failed(format!(
                "the agent refused the execution ({status}): {}",
                doc["error"].as_str().unwrap_or("no reason given")
            )));
        }
    }
    let id = doc["id"].as_str().unwrap_or_default().to_owned();
    let mut stream = agent
        .get(&format!("{server}/v1/executions/{id}/follow"))
        .call()
        .map_err(|e| RunError::Failed(format!("following {id}: {e}")))?;
    let reader = BufReader::new(stream.body_mut().as_reader());
    let mut view = super::reporter(req.json);
    view.translator.resume_hint = Some(format!(
        "resume it with `testwerk resume {id} --server {server}`"
    ));
    let mut tracker: Option<Tracker> = None;
    let mut passed = false;
    let mut name = doc["name"].as_str().unwrap_or(&id).to_owned();
    for line in reader.lines() {
        let line =
            line.map_err(|e| RunError::Failed(format!("the stream from the agent broke: {e}")))?;
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match event["kind"].as_str() {
            Some("header") => {
                let signature: Vec<SignatureNode> =
                    serde_json::from_value(event["signature"].clone()).unwrap_or_default();
                let full: Vec<SignatureNode> =
                    serde_json::from_value(event["fullSignature"].clone()).unwrap_or_default();
                name = event["name"].as_str().unwrap_or(&name).to_owned();
                let t = Tracker::new(&full, &signature, "");
                view.note(format!("running on the agent at {server}"));
                let header = Translator::started(
                    &t,
                    &name,
                    event["containers"].as_u64().unwrap_or(0) as usize,
                );
                view.report_all(&[header]);
                tracker = Some(t);
            }
            Some("update") => {
                let (Some(t), Ok(update)) = (
                    tracker.as_mut(),
                    serde_json::from_value::<Update>(event["update"].clone()),
                ) else {
                    continue;
                };
                t.apply(&update);
                view.updates(t, &[update]);
            }
            Some("end") => {
                let status = event["status"]
                    .as_str()
                    .and_then(|s| s.parse::<ExecutionStatus>().ok())
                    .unwrap_or(ExecutionStatus::Failed);
                passed = status == ExecutionStatus::Passed;
                let Some(t) = tracker.as_mut() else {
                    break;
                };
                // Over before we followed it: the agent sends the stored results instead.
                let stored = stored_results(&event["steps"]);
                for update in &stored {
                    t.apply(update);
                }
                view.updates(t, &stored);
                let record: Value = if req.json {
                    agent
                        .get(&format!("{server}/v1/executions/{id}"))
                        .call()
                        .ok()
                        .and_then(|mut r| r.body_mut().read_json().ok())
                        .unwrap_or(Value::Null)
                } else {
                    Value::Null
                };
                let end = view.translator.summary(
                    t,
                    &name,
                    status,
                    started.elapsed(),
                    event["reason"].as_str().map(str::to_owned),
                    record,
                );
                view.report_all(&end);
                break;
            }
            _ => {}
        }
    }
    Ok(passed)
}

/// The stored step results an `end` event carries, as the updates that would have shown them
/// live; steps that never finished are left out.
fn stored_results(steps: &Value) -> Vec<Update> {
    let Some(steps) = steps.as_array() else {
        return Vec::new();
    };
    steps
        .iter()
        .filter_map(|s| {
            let step: testwerk_store::StepResult = serde_json::from_value(s.clone()).ok()?;
            let status = testwerk_results::final_status(step.status)?;
            Some(Update::Finished {
                ms: step.duration_ms().unwrap_or(0),
                r#ref: step.step_ref,
                status,
                code: step.exit_code.unwrap_or(0),
                message: step.error,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use testwerk_protocol::line::StepStatus;

    #[test]
    fn stored_results_become_the_updates_a_live_view_would_have_shown() {
        let steps = json!([
            {"ref": "r1", "name": "a", "status": "passed", "exit_code": 0,
             "started_at": "2026-01-01T00:00:00.000Z", "finished_at": "2026-01-01T00:00:01.500Z"},
            {"ref": "r2", "name": "b", "status": "failed", "exit_code": 3, "error": "boom"},
            {"ref": "r3", "name": "c", "status": "running"},
        ]);
        assert_eq!(
            stored_results(&steps),
            vec![
                Update::Finished {
                    r#ref: "r1".into(),
                    status: StepStatus::Passed,
                    code: 0,
                    ms: 1500,
                    message: None,
                },
                Update::Finished {
                    r#ref: "r2".into(),
                    status: StepStatus::Failed,
                    code: 3,
                    ms: 0,
                    message: Some("boom".into()),
                },
            ]
        );
        assert!(stored_results(&Value::Null).is_empty());
    }
}
