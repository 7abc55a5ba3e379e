//! `testwerk run <file> --server <url>`: the agent runs the workflow on its cluster; this
//! shows the same live view as a local run, from the agent's stream of updates, and follows
//! it through a restart of the agent: each log line is shown once, and the exit code is the
//! workflow's (4 when the agent stays away longer than `--reconnect-timeout`; 3 when the
//! agent's results store refuses the execution's results that long).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testwerk_plan::SignatureNode;

use testwerk_store::ExecutionStatus;

use super::report::Translator;
use super::tracker::{Tracker, Update};
use super::{LiveView, RunError, RunRequest, input};

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
        "tags": req.tags,
    });
    let started = Instant::now();
    let mut answer = agent
        .post(&format!("{server}/v1/executions"))
        .send_json(&body)
        .map_err(|e| RunError::AgentLost(format!("cannot reach the agent at {server}: {e}")))?;
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
    let mut view = super::reporter(req.json);
    view.translator.resume_hint = Some(format!(
        "resume it with `testwerk resume {id} --server {server}`"
    ));
    let mut follow = Follow {
        req,
        server,
        id: id.clone(),
        name: doc["name"].as_str().unwrap_or(&id).to_owned(),
        view,
        tracker: None,
        seen: Seen::default(),
        logs_shown: 0,
        started,
    };
    // The agent may restart (or the connection break) at any time: follow again from the
    // lines shown, with backoff, for up to `--reconnect-timeout`.
    // Since when, the latest reason, and whether that was the agent's store refusing.
    let mut lost: Option<(Instant, String, bool)> = None;
    let mut delay = RECONNECT_FIRST;
    loop {
        let progress = match follow.attempt(&agent) {
            Attempt::Ended(passed) => return Ok(passed),
            Attempt::Fatal(e) => return Err(e),
            Attempt::Broke {
                progress,
                why,
                store_refused,
            } => {
                if progress {
                    lost = None;
                    delay = RECONNECT_FIRST;
                }
                if lost.is_none() {
                    // The agent is there, but its store is not: saying "lost the agent" would
                    // send the user looking in the wrong place.
                    follow.view.warn(&if store_refused {
                        format!(
                            "the agent at {server} cannot store the results yet ({why}); waiting for up to {} s",
                            req.reconnect_timeout.as_secs()
                        )
                    } else {
                        format!(
                            "lost the agent at {server} ({why}); reconnecting for up to {} s",
                            req.reconnect_timeout.as_secs()
                        )
                    });
                }
                match &mut lost {
                    Some((_, last, refused)) => {
                        *last = why;
                        *refused = store_refused;
                    }
                    None => lost = Some((Instant::now(), why, store_refused)),
                }
                progress
            }
        };
        let Some((since, why, store_refused)) = &lost else {
            continue;
        };
        if since.elapsed() >= req.reconnect_timeout && *store_refused {
            return Err(RunError::Store(format!(
                "the agent at {server} did not store the results of execution {} ({}) within {} s: {why}; it completes the execution once its store takes them: see `curl {server}/v1/executions/{}`",
                follow.name,
                id,
                req.reconnect_timeout.as_secs(),
                id
            )));
        }
        if since.elapsed() >= req.reconnect_timeout {
            return Err(RunError::AgentLost(format!(
                "lost the agent at {server} and could not reach it again within {} s (last: {why}); execution {} ({}) may still be running there: see `curl {server}/v1/executions/{}`",
                req.reconnect_timeout.as_secs(),
                follow.name,
                id,
                id
            )));
        }
        if !progress {
            std::thread::sleep(delay);
            delay = (delay * 2).min(RECONNECT_MAX);
        }
    }
}

/// The first wait before following again, doubled after each failed attempt up to
/// [`RECONNECT_MAX`].
const RECONNECT_FIRST: Duration = Duration::from_millis(200);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// How one attempt to follow ended.
enum Attempt {
    /// The agent sent the end: whether the workflow passed.
    Ended(bool),
    /// The stream broke (or could not be opened); `progress` when it delivered anything;
    /// `store_refused` when the agent stopped following because its results store refuses
    /// the execution's results (`why` says what the store said).
    Broke {
        progress: bool,
        why: String,
        store_refused: bool,
    },
    /// Nothing to retry.
    Fatal(RunError),
}

/// A `--server` run being followed, across reconnections.
struct Follow<'a> {
    req: &'a RunRequest,
    server: &'a str,
    id: String,
    name: String,
    view: LiveView,
    tracker: Option<Tracker>,
    seen: Seen,
    /// Log lines shown so far: a new stream starts after them (`?from=`).
    logs_shown: u64,
    started: Instant,
}

impl Follow<'_> {
    fn attempt(&mut self, agent: &ureq::Agent) -> Attempt {
        let (server, id) = (self.server, &self.id);
        let url = format!(
            "{server}/v1/executions/{id}/follow?from={}",
            self.logs_shown
        );
        let mut stream = match agent.get(&url).call() {
            Ok(s) => s,
            Err(e) => {
                return Attempt::Broke {
                    progress: false,
                    why: e.to_string(),
                    store_refused: false,
                };
            }
        };
        let status = stream.status().as_u16();
        if status != 200 {
            let doc: Value = stream.body_mut().read_json().unwrap_or(Value::Null);
            let why = format!(
                "{status}: {}",
                doc["error"].as_str().unwrap_or("no reason given")
            );
            // An agent that does not know the execution will not learn it by waiting.
            if status == 404 {
                return Attempt::Fatal(RunError::Failed(format!("following {id}: {why}")));
            }
            return Attempt::Broke {
                progress: false,
                why,
                store_refused: false,
            };
        }
        let reader = BufReader::new(stream.body_mut().as_reader());
        let mut progress = false;
        for line in reader.lines() {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    return Attempt::Broke {
                        progress,
                        why: e.to_string(),
                        store_refused: false,
                    };
                }
            };
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            match event["kind"].as_str() {
                // A header alone is no progress: an agent that is not following the
                // execution right now sends one and ends the stream.
                Some("header") => self.header(&event),
                Some("update") => {
                    progress = true;
                    if let Ok(update) = serde_json::from_value::<Update>(event["update"].clone()) {
                        self.update(update);
                    }
                }
                Some("end") => return Attempt::Ended(self.end(agent, &event)),
                _ => {}
            }
        }
        // The agent stopped following for now: restarting, or its store refused the results.
        match self.store_error(agent) {
            Some(why) => Attempt::Broke {
                progress,
                why,
                store_refused: true,
            },
            None => Attempt::Broke {
                progress,
                why: "the agent ended the stream early".to_owned(),
                store_refused: false,
            },
        }
    }

    /// Why the agent's results store refuses this execution's results, when it does (the
    /// agent says so with the execution).
    fn store_error(&self, agent: &ureq::Agent) -> Option<String> {
        let doc: Value = agent
            .get(&format!("{}/v1/executions/{}", self.server, self.id))
            .call()
            .ok()?
            .body_mut()
            .read_json()
            .ok()?;
        doc["storeError"].as_str().map(str::to_owned)
    }

    fn header(&mut self, event: &Value) {
        if self.tracker.is_some() {
            return; // followed again: the view is up already
        }
        let signature: Vec<SignatureNode> =
            serde_json::from_value(event["signature"].clone()).unwrap_or_default();
        let full: Vec<SignatureNode> =
            serde_json::from_value(event["fullSignature"].clone()).unwrap_or_default();
        self.name = event["name"].as_str().unwrap_or(&self.name).to_owned();
        let t = Tracker::new(&full, &signature, "");
        self.view
            .note(format!("running on the agent at {}", self.server));
        let header = Translator::started(
            &t,
            &self.name,
            event["containers"].as_u64().unwrap_or(0) as usize,
        );
        self.view.report_all(&[header]);
        self.tracker = Some(t);
    }

    fn update(&mut self, update: Update) {
        let Some(t) = self.tracker.as_mut() else {
            return;
        };
        if matches!(update, Update::Log { .. }) {
            // The agent sends each line once from `?from=` on.
            self.logs_shown += 1;
        } else if !self.seen.is_new(t, &update) {
            return;
        }
        t.apply(&update);
        self.view.updates(t, &[update]);
    }

    fn end(&mut self, agent: &ureq::Agent, event: &Value) -> bool {
        let status = event["status"]
            .as_str()
            .and_then(|s| s.parse::<ExecutionStatus>().ok())
            .unwrap_or(ExecutionStatus::Failed);
        // Over before we followed it: the agent sends the stored results instead.
        for update in stored_results(&event["steps"]) {
            self.update(update);
        }
        let Some(t) = &self.tracker else {
            return status == ExecutionStatus::Passed;
        };
        let record: Value = if self.req.json {
            agent
                .get(&format!("{}/v1/executions/{}", self.server, self.id))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json().ok())
                .unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let end = self.view.translator.summary(
            t,
            &self.name,
            status,
            self.started.elapsed(),
            event["reason"].as_str().map(str::to_owned),
            record,
        );
        self.view.report_all(&end);
        status == ExecutionStatus::Passed
    }
}

/// Which step updates were shown: a stream followed again repeats them, and each is shown
/// once.
#[derive(Default)]
struct Seen {
    started: HashSet<String>,
    finished: HashSet<String>,
    outputs: HashSet<(String, String)>,
    retries: HashSet<(String, u32)>,
    paused: HashMap<String, bool>,
    warnings: HashSet<String>,
}

impl Seen {
    fn is_new(&mut self, tracker: &Tracker, update: &Update) -> bool {
        match update {
            Update::Started(r) => {
                tracker.steps.get(r).is_none_or(|s| s.status.is_none())
                    && self.started.insert(r.clone())
            }
            Update::Finished { r#ref, .. } => self.finished.insert(r#ref.clone()),
            Update::Output { r#ref, name, .. } => {
                self.outputs.insert((r#ref.clone(), name.clone()))
            }
            Update::Retry { r#ref, attempt, .. } => {
                // A new attempt starts the step again.
                self.started.remove(r#ref);
                self.finished.remove(r#ref);
                self.retries.insert((r#ref.clone(), *attempt))
            }
            Update::Paused(r) => self.paused.insert(r.clone(), true) != Some(true),
            Update::Resumed(r) => self.paused.insert(r.clone(), false) == Some(true),
            Update::Warning { message } => self.warnings.insert(message.clone()),
            Update::Log { .. } => true,
        }
    }
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

    #[test]
    fn a_stream_followed_again_shows_each_step_update_once() {
        let mut tracker = Tracker::new(&[], &[], "");
        let mut seen = Seen::default();
        let finished = Update::Finished {
            r#ref: "r1".into(),
            status: StepStatus::Passed,
            code: 0,
            ms: 3,
            message: None,
        };
        let output = Update::Output {
            r#ref: "r1".into(),
            name: "n".into(),
            value: json!(1),
        };
        let warning = Update::Warning {
            message: "Pod/x: pulling".into(),
        };
        for u in [&Update::Started("r1".into()), &output, &warning, &finished] {
            assert!(seen.is_new(&tracker, u), "{u:?} is new the first time");
            tracker.apply(u);
        }
        // The agent restarted: the new stream replays the step updates.
        for u in [&Update::Started("r1".into()), &output, &warning, &finished] {
            assert!(!seen.is_new(&tracker, u), "{u:?} is shown once");
        }
        assert!(seen.is_new(&tracker, &Update::Paused("r2".into())));
        assert!(!seen.is_new(&tracker, &Update::Paused("r2".into())));
        assert!(seen.is_new(&tracker, &Update::Resumed("r2".into())));
        assert!(!seen.is_new(&tracker, &Update::Resumed("r2".into())));
        // A retry starts the step again: its next start and end are new.
        let retry = Update::Retry {
            r#ref: "r1".into(),
            attempt: 2,
            of: 3,
        };
        assert!(seen.is_new(&tracker, &retry));
        assert!(!seen.is_new(&tracker, &retry));
        assert!(seen.is_new(&tracker, &finished));
    }
}
