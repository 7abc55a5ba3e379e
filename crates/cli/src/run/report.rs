//! The reporter seam of the live view (after cargo-nextest's): what happens during a run
//! becomes a stream of [`Event`]s, which a [`Reporter`] turns into output. The local run and
//! `run --server` produce the same events from their trackers ([`Translator`]), so both look
//! the same, and a reporter can be tested on a scripted stream.

use std::time::Duration;

use testwerk_protocol::line::StepStatus;
use testwerk_store::ExecutionStatus;

use super::tracker::{StepView, Tracker, Update};

/// One thing a person may want to see.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Note(String),
    Warning(String),
    RunStarted {
        id: String,
        steps: usize,
        containers: usize,
    },
    GroupStarted {
        name: String,
        depth: usize,
    },
    /// A step starts: its position among the run's steps (`index` of `of`, from 1).
    StepStarted {
        name: String,
        index: usize,
        of: usize,
        depth: usize,
    },
    /// A line a step printed.
    Log {
        depth: usize,
        line: String,
    },
    Output {
        step: String,
        name: String,
        value: String,
    },
    /// A step failed and runs again: attempt `attempt` of `of` retries, and why.
    Retry {
        name: String,
        depth: usize,
        attempt: u32,
        of: u32,
        why: Option<String>,
    },
    Paused {
        name: String,
        depth: usize,
        /// How to resume it.
        hint: Option<String>,
    },
    Resumed {
        name: String,
        depth: usize,
    },
    StepFinished(Finished),
    RunFinished(Summary),
}

/// How a step (or a named group) ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    pub name: String,
    pub depth: usize,
    pub group: bool,
    pub status: StepStatus,
    /// `None` for a skipped step: it never ran.
    pub duration: Option<Duration>,
    /// The exit code, when not 0 (and not a group's).
    pub code: Option<i32>,
    /// An `optional` step that failed: it does not fail the run.
    pub ignored: bool,
    /// Why a `negative` step's outcome is the opposite of its exit code.
    pub negative: Option<String>,
    /// Why it ended this way, when the step itself could not say.
    pub message: Option<String>,
}

/// The end of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub id: String,
    /// The execution's final status, as recorded (and as `testwerk executions` shows it).
    pub status: ExecutionStatus,
    pub elapsed: Duration,
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
    pub skipped: usize,
    /// Steps that did not pass and were not allowed to fail, with their status.
    pub failures: Vec<(String, StepStatus)>,
    /// Why the execution ended as it did, when it did not pass.
    pub reason: Option<String>,
    /// The execution as the store holds it, for machine-readable reporters.
    pub record: serde_json::Value,
}

/// Turns events into output.
pub trait Reporter {
    fn report(&mut self, event: &Event);
}

/// Collects events (for tests, or a caller that decides later).
impl Reporter for Vec<Event> {
    fn report(&mut self, event: &Event) {
        self.push(event.clone());
    }
}

/// `run --output json`: the execution as recorded, once it is over; nothing while it runs.
pub struct JsonReporter<W: std::io::Write> {
    pub out: W,
}

impl<W: std::io::Write> Reporter for JsonReporter<W> {
    fn report(&mut self, event: &Event) {
        if let Event::RunFinished(s) = event {
            let doc = serde_json::json!({
                "execution": s.record,
                "passed": s.status == ExecutionStatus::Passed,
            });
            // A reader that went away is not the run's failure.
            let _ = writeln!(
                self.out,
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            );
        }
    }
}

/// The lines `init` prints around steps that a person need not see as step output.
fn is_setup_noise(line: &str) -> bool {
    // `Configuring init process... done`; an `... error` stays visible.
    line.starts_with("Configuring ")
        && (line.ends_with("... done") || line.ends_with("... skipped"))
}

/// `Exit code: 1 • Retrying: attempt #1 (of 2):` (what upstream prints before a retry): the
/// reason, when `line` is that banner.
fn retry_banner(line: &str) -> Option<&str> {
    let (why, rest) = line.split_once(" • Retrying: attempt #")?;
    rest.ends_with("):").then_some(why)
}

/// Makes [`Event`]s of a tracker's [`Update`]s.
#[derive(Default)]
pub struct Translator {
    /// An empty line held back: it may open a retry banner, which the view replaces.
    held_blank: Option<usize>,
    /// Why the next retry happens, from the banner.
    retry_why: Option<String>,
    /// What to tell a person whose run paused.
    pub resume_hint: Option<String>,
}

impl Translator {
    pub fn new(resume_hint: Option<String>) -> Translator {
        Translator {
            resume_hint,
            ..Translator::default()
        }
    }

    /// The run's header.
    pub fn started(tracker: &Tracker, id: &str, containers: usize) -> Event {
        Event::RunStarted {
            id: id.to_owned(),
            steps: tracker.shown_count(),
            containers,
        }
    }

    /// Events for a batch of updates the tracker has applied (one chunk of output): a step
    /// that starts and is skipped in the same batch is shown once, as skipped.
    pub fn translate(&mut self, tracker: &Tracker, updates: &[Update]) -> Vec<Event> {
        let mut out = Vec::new();
        for (i, update) in updates.iter().enumerate() {
            if let Update::Log { r#ref, line } = update {
                let depth = r#ref
                    .as_ref()
                    .and_then(|r| tracker.steps.get(r))
                    .map_or(0, |s| s.depth);
                self.log(r#ref.is_none(), depth, line, &mut out);
                continue;
            }
            self.flush(&mut out);
            match update {
                Update::Started(r) => {
                    let Some(s) = tracker.steps.get(r).filter(|s| s.shown) else {
                        continue;
                    };
                    if s.is_group {
                        out.push(Event::GroupStarted {
                            name: s.name.clone(),
                            depth: s.depth,
                        });
                        continue;
                    }
                    let skipped_at_once = updates[i + 1..].iter().any(|u| {
                        matches!(u, Update::Finished { r#ref, status: StepStatus::Skipped, .. } if r#ref == r)
                    });
                    if skipped_at_once {
                        continue;
                    }
                    out.push(Event::StepStarted {
                        name: s.name.clone(),
                        index: tracker.shown_position(r).unwrap_or(0),
                        of: tracker.shown_count(),
                        depth: s.depth,
                    });
                }
                Update::Finished {
                    r#ref,
                    status,
                    ms,
                    code,
                    message,
                } => {
                    if let Some(s) = tracker.steps.get(r#ref).filter(|s| s.shown) {
                        out.push(Event::StepFinished(finished(
                            s, *status, *ms, *code, message,
                        )));
                    }
                }
                Update::Output { r#ref, name, value } => out.push(Event::Output {
                    step: tracker
                        .steps
                        .get(r#ref)
                        .map_or_else(|| r#ref.clone(), |s| s.name.clone()),
                    name: name.clone(),
                    value: value.to_string(),
                }),
                Update::Retry { r#ref, attempt, of } => {
                    let s = tracker.steps.get(r#ref);
                    out.push(Event::Retry {
                        name: s.map_or_else(|| r#ref.clone(), |s| s.name.clone()),
                        depth: s.map_or(0, |s| s.depth),
                        attempt: *attempt,
                        of: *of,
                        why: self.retry_why.take(),
                    });
                }
                Update::Paused(r) | Update::Resumed(r) => {
                    let Some(s) = tracker.steps.get(r).filter(|s| s.shown && !s.is_group) else {
                        continue;
                    };
                    out.push(if matches!(update, Update::Paused(_)) {
                        Event::Paused {
                            name: s.name.clone(),
                            depth: s.depth,
                            hint: self.resume_hint.clone(),
                        }
                    } else {
                        Event::Resumed {
                            name: s.name.clone(),
                            depth: s.depth,
                        }
                    });
                }
                Update::Warning { message } => out.push(Event::Warning(message.clone())),
                Update::Log { .. } => {}
            }
        }
        out
    }

    fn log(&mut self, outside_steps: bool, depth: usize, line: &str, out: &mut Vec<Event>) {
        if outside_steps && is_setup_noise(line) {
            return;
        }
        if let Some(why) = retry_banner(line) {
            // The banner and the empty line before it become the retry's own line.
            self.held_blank = None;
            self.retry_why = Some(why.to_lowercase().replace("code: ", "code "));
            return;
        }
        self.flush(out);
        if line.is_empty() {
            self.held_blank = Some(depth);
            return;
        }
        out.push(Event::Log {
            depth,
            line: line.to_owned(),
        });
    }

    /// Emits an empty line held back, now known to be output.
    fn flush(&mut self, out: &mut Vec<Event>) {
        if let Some(depth) = self.held_blank.take() {
            out.push(Event::Log {
                depth,
                line: String::new(),
            });
        }
    }

    /// The run's end: counts agree with the execution's recorded status.
    pub fn summary(
        &mut self,
        tracker: &Tracker,
        id: &str,
        status: ExecutionStatus,
        elapsed: Duration,
        reason: Option<String>,
        record: serde_json::Value,
    ) -> Vec<Event> {
        let mut out = Vec::new();
        self.flush(&mut out);
        let steps = shown_steps(tracker);
        let mut summary = Summary {
            id: id.to_owned(),
            status,
            elapsed,
            passed: 0,
            failed: 0,
            ignored: 0,
            skipped: 0,
            failures: Vec::new(),
            reason: reason.filter(|_| status != ExecutionStatus::Passed),
            record,
        };
        for s in steps {
            match s.status {
                Some(StepStatus::Passed) => summary.passed += 1,
                Some(StepStatus::Skipped) => summary.skipped += 1,
                Some(StepStatus::Failed | StepStatus::Timeout) if s.tolerated => {
                    summary.ignored += 1;
                }
                other => {
                    summary.failed += 1;
                    summary
                        .failures
                        .push((s.name.clone(), other.unwrap_or(StepStatus::Aborted)));
                }
            }
        }
        out.push(Event::RunFinished(summary));
        out
    }
}

/// The steps a person sees counted: shown leaves, in tree order.
fn shown_steps(tracker: &Tracker) -> Vec<&StepView> {
    tracker
        .order
        .iter()
        .filter_map(|r| tracker.steps.get(r))
        .filter(|s| s.shown && !s.is_group)
        .collect()
}

fn finished(
    s: &StepView,
    status: StepStatus,
    ms: u64,
    code: i32,
    message: &Option<String>,
) -> Finished {
    let negative = match status {
        _ if !s.negative || s.is_group => None,
        StepStatus::Passed if code != 0 => Some(format!(
            "negative: exit code {code} was the expected failure, so the step passed"
        )),
        StepStatus::Failed if code == 0 => {
            Some("negative: the step was expected to fail, but its command succeeded".to_owned())
        }
        _ => None,
    };
    Finished {
        name: s.name.clone(),
        depth: s.depth,
        group: s.is_group,
        status,
        duration: (status != StepStatus::Skipped).then(|| Duration::from_millis(ms)),
        code: (code != 0 && !s.is_group).then_some(code),
        ignored: s.optional && matches!(status, StepStatus::Failed | StepStatus::Timeout),
        negative,
        message: message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_banners_are_recognised_and_nothing_else() {
        assert!(is_setup_noise("Configuring init process... skipped"));
        assert!(is_setup_noise("Configuring shell... done"));
        assert!(!is_setup_noise("Configuring shell... error"));
        assert!(!is_setup_noise("Configuring my app"));
        assert_eq!(
            retry_banner("Exit code: 1 • Retrying: attempt #2 (of 3):"),
            Some("Exit code: 1")
        );
        assert_eq!(
            retry_banner("Timed out • Retrying: attempt #1 (of 1):"),
            Some("Timed out")
        );
        assert_eq!(retry_banner("Retrying soon"), None);
    }
}
