//! [`Recorder`]: writes a tracker's updates to the results store as they happen.

use std::collections::HashMap;

use testwerk_protocol::line::StepStatus;
use testwerk_store::{LogLine, StepResult, Store, Timestamp};

use crate::tracker::{Tracker, Update};

/// Writes step results and logs to the store as they happen (logs in small batches).
///
/// A backend that re-reads output it already recorded (the agent, attaching again after a
/// restart) says how many log lines the store holds ([`Recorder::resume`]): the replayed
/// updates bring the tracker back to where it was, and only what is new is written.
pub struct Recorder<'a> {
    store: &'a Store,
    id: &'a str,
    pending: Vec<LogLine>,
    /// When the oldest line in `pending` arrived.
    pending_since: Option<std::time::Instant>,
    started_at: HashMap<String, Timestamp>,
    /// The time of the output being recorded, when the backend knows it; otherwise now.
    time: Option<Timestamp>,
    /// Log lines still to skip: the store has them from before.
    skip_logs: usize,
    /// Steps whose final result the store has already: never overwritten by a replay.
    settled: HashMap<String, testwerk_store::StepStatus>,
    /// The last result written per step, to add to it later ([`Recorder::annotate`]).
    written: HashMap<String, StepResult>,
}

/// Lines kept in memory before they are written in one transaction.
const BATCH: usize = 200;

impl<'a> Recorder<'a> {
    pub fn new(store: &'a Store, id: &'a str) -> Recorder<'a> {
        Recorder {
            store,
            id,
            pending: Vec::new(),
            pending_since: None,
            started_at: HashMap::new(),
            time: None,
            skip_logs: 0,
            settled: HashMap::new(),
            written: HashMap::new(),
        }
    }

    /// Continues an execution the store has partly recorded: the first `logs_stored` log
    /// lines and the results of finished steps are not written again.
    pub fn resume(&mut self, logs_stored: usize, steps: &[StepResult]) {
        self.skip_logs = logs_stored;
        for s in steps {
            if let Some(t) = s.started_at {
                self.started_at.insert(s.step_ref.clone(), t);
            }
            if s.status.is_final() {
                self.settled.insert(s.step_ref.clone(), s.status);
            }
        }
    }

    /// The time of the updates that follow (e.g. the timestamp Kubernetes gave a log line).
    pub fn set_time(&mut self, time: Option<Timestamp>) {
        self.time = time;
    }

    fn now(&self) -> Timestamp {
        self.time.unwrap_or_else(Timestamp::now)
    }

    pub fn record(&mut self, tracker: &Tracker, update: &Update) {
        match update {
            Update::Started(r) => {
                self.flush();
                if self.settled.contains_key(r) {
                    return;
                }
                let now = self.now();
                let started = *self.started_at.entry(r.clone()).or_insert(now);
                let mut step = self.step(tracker, r, testwerk_store::StepStatus::Running);
                step.started_at = Some(started);
                let _ = self.store.upsert_step(self.id, &step);
            }
            Update::Log { r#ref, line } => {
                if self.skip_logs > 0 {
                    self.skip_logs -= 1;
                    return;
                }
                let mut log = LogLine::new(r#ref.as_deref(), line.clone());
                log.time = self.now();
                self.pending.push(log);
                self.pending_since
                    .get_or_insert_with(std::time::Instant::now);
                if self.pending.len() >= BATCH {
                    self.flush();
                }
            }
            Update::Finished {
                r#ref,
                status,
                code,
                message,
                ..
            } => {
                self.flush();
                if self.settled.contains_key(r#ref) {
                    return;
                }
                let status = store_status(*status);
                let mut step = self.step(tracker, r#ref, status);
                step.exit_code = Some(*code);
                step.started_at = self.started_at.get(r#ref).copied();
                step.finished_at = Some(self.now());
                step.error = message.clone();
                let _ = self.store.upsert_step(self.id, &step);
                self.written.insert(r#ref.clone(), step);
                self.settled.insert(r#ref.clone(), status);
            }
            Update::Output { r#ref, name, value } => {
                let _ = self.store.set_output(self.id, r#ref, name, value);
            }
            Update::Paused(r) | Update::Resumed(r) => {
                self.flush();
                if self.settled.contains_key(r) {
                    return;
                }
                let status = if matches!(update, Update::Paused(_)) {
                    testwerk_store::StepStatus::Paused
                } else {
                    testwerk_store::StepStatus::Running
                };
                let mut step = self.step(tracker, r, status);
                step.started_at = self.started_at.get(r).copied();
                let _ = self.store.upsert_step(self.id, &step);
            }
            Update::Retry { .. } | Update::Warning { .. } => {}
        }
    }

    /// Adds the cause of a step's end that only the backend knows (e.g. the container ran
    /// out of memory) to a result already written.
    pub fn annotate(&mut self, r: &str, message: &str) {
        if let Some(step) = self.written.get_mut(r) {
            step.error = Some(match step.error.take() {
                Some(e) => format!("{e}; {message}"),
                None => message.to_owned(),
            });
            let _ = self.store.upsert_step(self.id, step);
        }
    }

    fn step(&self, tracker: &Tracker, r: &str, status: testwerk_store::StepStatus) -> StepResult {
        step_result(tracker, r, status)
    }

    /// Writes the lines kept in memory if the oldest has waited `age`: a backend that
    /// streams calls this after each chunk, so readers of the store lag by at most `age`.
    pub fn flush_if_older(&mut self, age: std::time::Duration) {
        if self.pending_since.is_some_and(|t| t.elapsed() >= age) {
            self.flush();
        }
    }

    /// Whether log lines wait in memory.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes the lines kept in memory.
    pub fn flush(&mut self) {
        self.pending_since = None;
        if !self.pending.is_empty() {
            let _ = self.store.append_logs(self.id, &self.pending);
            self.pending.clear();
        }
    }
}

impl Drop for Recorder<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A step's result as the store keeps it, with what the tracker knows of the step (its name
/// and the group it is in); a backend records every step `queued` this way before it runs.
pub fn step_result(tracker: &Tracker, r: &str, status: testwerk_store::StepStatus) -> StepResult {
    let mut step = StepResult::new(r, status);
    if let Some(s) = tracker.steps.get(r) {
        step.name = Some(s.name.clone());
        step.parent_ref = s.parent.clone();
    }
    step
}

/// The store's name for a protocol status.
pub fn store_status(s: StepStatus) -> testwerk_store::StepStatus {
    match s {
        StepStatus::Passed => testwerk_store::StepStatus::Passed,
        StepStatus::Failed => testwerk_store::StepStatus::Failed,
        StepStatus::Timeout => testwerk_store::StepStatus::Timeout,
        StepStatus::Aborted => testwerk_store::StepStatus::Aborted,
        StepStatus::Skipped => testwerk_store::StepStatus::Skipped,
    }
}

/// The protocol status of a stored one that is final; `None` while it is queued, running or
/// paused.
pub fn final_status(s: testwerk_store::StepStatus) -> Option<StepStatus> {
    match s {
        testwerk_store::StepStatus::Passed => Some(StepStatus::Passed),
        testwerk_store::StepStatus::Failed => Some(StepStatus::Failed),
        testwerk_store::StepStatus::Timeout => Some(StepStatus::Timeout),
        testwerk_store::StepStatus::Aborted => Some(StepStatus::Aborted),
        testwerk_store::StepStatus::Skipped => Some(StepStatus::Skipped),
        testwerk_store::StepStatus::Queued
        | testwerk_store::StepStatus::Running
        | testwerk_store::StepStatus::Paused => None,
    }
}
