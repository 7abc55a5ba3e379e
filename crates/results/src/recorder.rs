//! [`Recorder`]: writes a tracker's updates to the results store as they happen, and keeps
//! account of whatever the store refused ([`Unsaved`]).
//!
//! A write that fails is never forgotten: step results and outputs are kept and written
//! again on the next flush (both are idempotent), log lines are kept in memory up to
//! [`MAX_HELD_LINES`] and retried in order. Beyond that the lines are counted as lost and no
//! later line is written either, so the stored log is always a gap-free prefix of what the
//! containers printed: a backend that re-reads the output (the agent after a restart) skips
//! exactly the lines the store holds and fills in the rest.

use std::collections::{BTreeMap, HashMap};

use testwerk_protocol::line::StepStatus;
use testwerk_store::{LogLine, StepResult, Store, StoreError, Timestamp};

use crate::tracker::{Tracker, Update};

/// Lines kept in memory before they are written in one transaction.
const BATCH: usize = 200;

/// Log lines held in memory while the store refuses them; beyond this they are lost (and
/// counted), so a broken disk cannot make a backend grow without bound.
pub const MAX_HELD_LINES: usize = 20_000;

/// A write to the results store failed.
#[derive(Debug, thiserror::Error)]
#[error("the results store refused a write of execution {id}: {source}")]
pub struct RecordError {
    /// The execution.
    pub id: String,
    /// What the store said.
    #[source]
    pub source: StoreError,
}

/// What the store does not hold (yet) of what the recorder was given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unsaved {
    /// Log lines not stored: waiting in memory after a failed write, or lost.
    pub log_lines: u64,
    /// Every log line the recorder was given (replayed ones it skipped not counted).
    pub log_lines_seen: u64,
    /// Steps whose latest result is not stored, by ref, with their names when known.
    pub steps: BTreeMap<String, Option<String>>,
    /// Outputs not stored.
    pub outputs: u64,
    /// The latest error of the store.
    pub error: Option<String>,
}

impl Unsaved {
    /// Whether the store holds everything.
    pub fn is_empty(&self) -> bool {
        self.log_lines == 0 && self.steps.is_empty() && self.outputs == 0
    }
}

impl std::fmt::Display for Unsaved {
    /// `12,000 of 200,004 log lines, the results of steps `a` and `b`, 1 output`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.log_lines > 0 {
            parts.push(format!(
                "{} of {} log lines",
                thousands(self.log_lines),
                thousands(self.log_lines_seen)
            ));
        }
        if !self.steps.is_empty() {
            let names: Vec<String> = self
                .steps
                .iter()
                .map(|(r, name)| match name {
                    Some(n) if !n.is_empty() => format!("`{n}` ({r})"),
                    _ => format!("`{r}`"),
                })
                .collect();
            let what = if names.len() == 1 { "step" } else { "steps" };
            parts.push(format!("the results of {what} {}", names.join(", ")));
        }
        if self.outputs > 0 {
            let what = if self.outputs == 1 {
                "output"
            } else {
                "outputs"
            };
            parts.push(format!("{} {what}", self.outputs));
        }
        if parts.is_empty() {
            return f.write_str("nothing");
        }
        f.write_str(&parts.join(", "))
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Writes step results and logs to the store as they happen (logs in small batches).
///
/// A backend that re-reads output it already recorded (the agent, attaching again after a
/// restart) says how many log lines the store holds ([`Recorder::resume`]): the replayed
/// updates bring the tracker back to where it was, and only what is new is written.
///
/// Every write returns a [`RecordError`] when the store refuses it; what is not stored is in
/// [`Recorder::unsaved`], and the next [`Recorder::flush`] tries it again. Call `flush` before
/// dropping a recorder: lines still in memory then are not written.
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
    /// Step results the store refused, by ref: written again on the next flush.
    dirty_steps: BTreeMap<String, StepResult>,
    /// Outputs the store refused: `(step, name, value)`.
    dirty_outputs: Vec<(String, String, serde_json::Value)>,
    /// Log lines lost for good: beyond [`MAX_HELD_LINES`] while the store refused them.
    lost_logs: u64,
    seen_logs: u64,
    last_error: Option<String>,
}

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
            dirty_steps: BTreeMap::new(),
            dirty_outputs: Vec::new(),
            lost_logs: 0,
            seen_logs: 0,
            last_error: None,
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

    /// Records one update. `Err` when the store refused a write (this one, or earlier ones
    /// tried again): the update is kept for the next [`Recorder::flush`] where it can be.
    pub fn record(&mut self, tracker: &Tracker, update: &Update) -> Result<(), RecordError> {
        match update {
            Update::Started(r) => {
                let flushed = self.flush();
                if self.settled.contains_key(r) {
                    return flushed;
                }
                let now = self.now();
                let started = *self.started_at.entry(r.clone()).or_insert(now);
                let mut step = self.step(tracker, r, testwerk_store::StepStatus::Running);
                step.started_at = Some(started);
                flushed.and(self.write_step(step))
            }
            Update::Log { r#ref, line } => {
                if self.skip_logs > 0 {
                    self.skip_logs -= 1;
                    return Ok(());
                }
                self.seen_logs += 1;
                if self.lost_logs > 0 {
                    // A line is missing before this one: storing it would leave a hole.
                    self.lost_logs += 1;
                    return Ok(());
                }
                let mut log = LogLine::new(r#ref.as_deref(), line.clone());
                log.time = self.now();
                self.pending.push(log);
                self.pending_since
                    .get_or_insert_with(std::time::Instant::now);
                // While the store refuses lines, try again once per batch, not per line.
                if self.pending.len().is_multiple_of(BATCH) {
                    return self.flush();
                }
                Ok(())
            }
            Update::Finished {
                r#ref,
                status,
                code,
                message,
                ..
            } => {
                let flushed = self.flush();
                if self.settled.contains_key(r#ref) {
                    return flushed;
                }
                let status = store_status(*status);
                let mut step = self.step(tracker, r#ref, status);
                step.exit_code = Some(*code);
                step.started_at = self.started_at.get(r#ref).copied();
                step.finished_at = Some(self.now());
                step.error = message.clone();
                self.written.insert(r#ref.clone(), step.clone());
                self.settled.insert(r#ref.clone(), status);
                flushed.and(self.write_step(step))
            }
            Update::Output { r#ref, name, value } => {
                match self.store.set_output(self.id, r#ref, name, value) {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        self.dirty_outputs
                            .push((r#ref.clone(), name.clone(), value.clone()));
                        Err(self.failed(e))
                    }
                }
            }
            Update::Paused(r) | Update::Resumed(r) => {
                let flushed = self.flush();
                if self.settled.contains_key(r) {
                    return flushed;
                }
                let status = if matches!(update, Update::Paused(_)) {
                    testwerk_store::StepStatus::Paused
                } else {
                    testwerk_store::StepStatus::Running
                };
                let mut step = self.step(tracker, r, status);
                step.started_at = self.started_at.get(r).copied();
                flushed.and(self.write_step(step))
            }
            Update::Retry { .. } | Update::Warning { .. } => Ok(()),
        }
    }

    /// Adds the cause of a step's end that only the backend knows (e.g. the container ran
    /// out of memory) to a result already written.
    pub fn annotate(&mut self, r: &str, message: &str) -> Result<(), RecordError> {
        let Some(step) = self.written.get_mut(r) else {
            return Ok(());
        };
        step.error = Some(match step.error.take() {
            Some(e) => format!("{e}; {message}"),
            None => message.to_owned(),
        });
        let step = step.clone();
        self.write_step(step)
    }

    /// Writes a step result; one the store refuses is kept for the next flush.
    fn write_step(&mut self, step: StepResult) -> Result<(), RecordError> {
        match self.store.upsert_step(self.id, &step) {
            Ok(()) => {
                self.dirty_steps.remove(&step.step_ref);
                Ok(())
            }
            Err(e) => {
                self.dirty_steps.insert(step.step_ref.clone(), step);
                Err(self.failed(e))
            }
        }
    }

    fn failed(&mut self, source: StoreError) -> RecordError {
        self.last_error = Some(source.to_string());
        RecordError {
            id: self.id.to_owned(),
            source,
        }
    }

    fn step(&self, tracker: &Tracker, r: &str, status: testwerk_store::StepStatus) -> StepResult {
        step_result(tracker, r, status)
    }

    /// Writes the lines kept in memory if the oldest has waited `age`: a backend that
    /// streams calls this after each chunk, so readers of the store lag by at most `age`.
    pub fn flush_if_older(&mut self, age: std::time::Duration) -> Result<(), RecordError> {
        if self.pending_since.is_some_and(|t| t.elapsed() >= age) {
            return self.flush();
        }
        Ok(())
    }

    /// Whether log lines wait in memory.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes everything kept in memory: log lines, and the step results and outputs the
    /// store refused before. `Err` with the first refusal; what is still not stored is in
    /// [`Recorder::unsaved`].
    pub fn flush(&mut self) -> Result<(), RecordError> {
        let mut first: Option<RecordError> = None;
        let steps: Vec<StepResult> = self.dirty_steps.values().cloned().collect();
        for step in steps {
            if let Err(e) = self.write_step(step) {
                first.get_or_insert(e);
            }
        }
        let outputs = std::mem::take(&mut self.dirty_outputs);
        for (r, name, value) in outputs {
            if let Err(e) = self.store.set_output(self.id, &r, &name, &value) {
                self.dirty_outputs.push((r, name, value));
                let e = self.failed(e);
                first.get_or_insert(e);
            }
        }
        if !self.pending.is_empty() {
            match self.store.append_logs(self.id, &self.pending) {
                Ok(()) => {
                    self.pending.clear();
                    self.pending_since = None;
                }
                Err(e) => {
                    if self.pending.len() >= MAX_HELD_LINES {
                        self.lost_logs += self.pending.len() as u64;
                        self.pending.clear();
                        self.pending_since = None;
                    }
                    let e = self.failed(e);
                    first.get_or_insert(e);
                }
            }
        } else {
            self.pending_since = None;
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// What the store does not hold of what this recorder was given. Empty after a flush
    /// that succeeded, unless lines were lost for good ([`Recorder::lost_logs`]).
    pub fn unsaved(&self) -> Unsaved {
        Unsaved {
            log_lines: self.lost_logs + self.pending.len() as u64,
            log_lines_seen: self.seen_logs,
            steps: self
                .dirty_steps
                .iter()
                .map(|(r, s)| (r.clone(), s.name.clone()))
                .collect(),
            outputs: self.dirty_outputs.len() as u64,
            error: self.last_error.clone(),
        }
    }

    /// Whether log lines were lost for good: the store's log of this execution can only be
    /// completed by reading the output again from where the store's log ends.
    pub fn lost_logs(&self) -> bool {
        self.lost_logs > 0
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
