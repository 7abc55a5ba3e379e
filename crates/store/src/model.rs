//! The records the store keeps: executions, step results, outputs and log lines.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::runner::RunnerIdentity;
use crate::time::Timestamp;

/// Defines a status enum with its lowercase text form (used in the database and in JSON).
macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every status, in lifecycle order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The lowercase name, as stored and as shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(text: &str) -> Result<$name, UnknownStatus> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownStatus {
                        text: text.to_owned(),
                        expected: $name::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                    }),
                }
            }
        }
    };
}

/// A text that names no status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{text}`; expected one of: {expected}")]
pub struct UnknownStatus {
    text: String,
    expected: String,
}

status_enum! {
    /// Where an execution is in its life.
    ///
    /// `queued → running → passed | failed | aborted | canceled`; an execution may also go from
    /// `queued` straight to a final status. Final statuses never change.
    ExecutionStatus {
        /// Created, not started yet.
        Queued = "queued",
        /// A runner is executing it.
        Running = "running",
        /// Every step passed (or was allowed to fail).
        Passed = "passed",
        /// A step failed.
        Failed = "failed",
        /// Stopped before the end: by a user, a timeout, or because its runner died.
        Aborted = "aborted",
        /// Withdrawn before it started.
        Canceled = "canceled",
    }
}

impl ExecutionStatus {
    /// Whether the execution is over; a final status never changes.
    pub fn is_final(self) -> bool {
        !matches!(self, ExecutionStatus::Queued | ExecutionStatus::Running)
    }

    /// Whether an execution in status `self` may be set to `next`.
    ///
    /// Statuses only move forward: `queued` to anything but `queued`, `running` to a final
    /// status. Setting the current status again is allowed (and changes nothing but the
    /// reason); a final status is never replaced by another.
    pub fn can_become(self, next: ExecutionStatus) -> bool {
        self == next
            || match self {
                ExecutionStatus::Queued => true,
                ExecutionStatus::Running => next.is_final(),
                _ => false,
            }
    }
}

status_enum! {
    /// Where a step is in its life.
    #[derive(Default)]
    StepStatus {
        /// Not started yet.
        #[default]
        Queued = "queued",
        /// Executing.
        Running = "running",
        /// Paused by a user or a debugger.
        Paused = "paused",
        /// Finished successfully.
        Passed = "passed",
        /// Finished unsuccessfully.
        Failed = "failed",
        /// Ran out of time.
        Timeout = "timeout",
        /// Not executed: its condition was false or an earlier step stopped the execution.
        Skipped = "skipped",
        /// Stopped before it finished.
        Aborted = "aborted",
    }
}

impl StepStatus {
    /// Whether the step is over.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            StepStatus::Queued | StepStatus::Running | StepStatus::Paused
        )
    }
}

/// What [`Store::create_execution`](crate::Store::create_execution) needs to record a new
/// execution. The store adds the ids, the number and the creation time.
#[derive(Clone)]
pub struct NewExecution {
    /// The workflow's name (`metadata.name`): non-empty, without whitespace or control
    /// characters.
    pub workflow: String,
    /// The workflow as the user wrote it (YAML).
    pub source: String,
    /// The resolved plan.
    pub plan: serde_json::Value,
    /// The process that executes it; [`RunnerIdentity::current`] for the calling process.
    pub runner: RunnerIdentity,
    /// Free-form labels.
    pub tags: BTreeMap<String, String>,
    /// Values never to be written to the database: they are masked everywhere the store writes
    /// text for this execution, starting with the source and plan above. See
    /// [`Store::register_secrets`](crate::Store::register_secrets).
    pub secrets: Vec<String>,
    /// The id to record it under, for a caller that needs it before recording (the local run
    /// compiles the workflow with it, for `execution.id`); `None` makes a new one. It must come
    /// from [`new_execution_id`](crate::new_execution_id).
    pub id: Option<String>,
}

impl NewExecution {
    /// A new execution of `workflow` run by this process, without tags or secrets.
    pub fn new(
        workflow: impl Into<String>,
        source: impl Into<String>,
        plan: serde_json::Value,
    ) -> NewExecution {
        NewExecution {
            workflow: workflow.into(),
            source: source.into(),
            plan,
            runner: RunnerIdentity::current(),
            tags: BTreeMap::new(),
            secrets: Vec::new(),
            id: None,
        }
    }
}

impl fmt::Debug for NewExecution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewExecution")
            .field("workflow", &self.workflow)
            .field("source", &format_args!("<{} bytes>", self.source.len()))
            .field("plan", &format_args!("<json>"))
            .field("runner", &self.runner)
            .field("tags", &self.tags)
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .finish()
    }
}

/// An execution as listed: everything but its source, plan, steps, outputs and logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// The unique id: 24 hexadecimal digits (a MongoDB ObjectId, as Testkube uses), which
    /// start with the creation time so that ids sort by age.
    pub id: String,
    /// `<workflow>-<number>`, unique too.
    pub name: String,
    /// The workflow's name.
    pub workflow: String,
    /// The execution's number among the workflow's executions, from 1.
    pub number: u64,
    /// Where it is in its life.
    pub status: ExecutionStatus,
    /// Why it ended as it did (an error message, or who aborted it), if known.
    pub reason: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it first became `running`.
    pub started_at: Option<Timestamp>,
    /// When it reached a final status.
    pub finished_at: Option<Timestamp>,
    /// The process that executes it.
    pub runner: RunnerIdentity,
    /// Free-form labels.
    pub tags: BTreeMap<String, String>,
}

/// An execution with everything recorded about it except its logs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecutionDetail {
    /// The execution itself.
    #[serde(flatten)]
    pub execution: Execution,
    /// The workflow as the user wrote it (YAML).
    pub source: String,
    /// The resolved plan.
    pub plan: serde_json::Value,
    /// The steps, in the order they were first recorded.
    pub steps: Vec<StepResult>,
    /// The outputs, in the order they were first recorded.
    pub outputs: Vec<StepOutput>,
}

impl ExecutionDetail {
    /// A step of it (not the whole workflow's root group) has started.
    pub fn a_step_started(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.step_ref != "root" && s.started_at.is_some())
    }

    /// A step of it is paused.
    pub fn a_step_paused(&self) -> bool {
        self.steps.iter().any(|s| s.status == StepStatus::Paused)
    }
}

/// The result of one step, keyed by its `step_ref` within an execution.
///
/// Build one with `StepResult { step_ref: .., status: .., ..Default::default() }` and record
/// it with [`Store::upsert_step`](crate::Store::upsert_step) as often as it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// The step's reference in the plan, unique within the execution.
    #[serde(rename = "ref")]
    pub step_ref: String,
    /// The id the user gave the step, if any.
    pub id: Option<String>,
    /// The step's display name, if any.
    pub name: Option<String>,
    /// The enclosing step's reference; `None` for top-level steps.
    pub parent_ref: Option<String>,
    /// Where the step is in its life.
    pub status: StepStatus,
    /// The exit code of the step's process, once it exited.
    pub exit_code: Option<i32>,
    /// When the step started.
    pub started_at: Option<Timestamp>,
    /// When the step finished.
    pub finished_at: Option<Timestamp>,
    /// Why the step failed, if it did.
    pub error: Option<String>,
}

impl StepResult {
    /// A step result with only a reference and a status.
    pub fn new(step_ref: impl Into<String>, status: StepStatus) -> StepResult {
        StepResult {
            step_ref: step_ref.into(),
            status,
            ..StepResult::default()
        }
    }

    /// How long the step ran, once it has both a start and a finish time.
    pub fn duration_ms(&self) -> Option<u64> {
        self.finished_at?.millis_since(self.started_at?)
    }
}

/// One output value of a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepOutput {
    /// The step that produced it.
    #[serde(rename = "ref")]
    pub step_ref: String,
    /// The output's name, unique within the step.
    pub name: String,
    /// The value.
    pub value: serde_json::Value,
}

/// A log line to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// When the line was produced.
    pub time: Timestamp,
    /// The step that produced it; `None` for lines of the execution as a whole.
    pub step_ref: Option<String>,
    /// The text, without its line terminator.
    pub text: String,
}

impl LogLine {
    /// A line produced now.
    pub fn new(step_ref: Option<&str>, text: impl Into<String>) -> LogLine {
        LogLine {
            time: Timestamp::now(),
            step_ref: step_ref.map(str::to_owned),
            text: text.into(),
        }
    }
}

/// Something the cluster said about one of an execution's objects (a Kubernetes event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterEvent {
    /// The event object's uid: with `count`, what makes it the same event when seen again.
    pub uid: String,
    /// How often it happened so far (Kubernetes folds repeats into one event).
    pub count: u64,
    /// When it last happened.
    pub time: Timestamp,
    /// A `Warning` event, not a `Normal` one.
    pub warning: bool,
    /// What it is about, as `Kind/name`, with the container when it names one.
    pub object: String,
    /// Kubernetes' short reason, e.g. `FailedScheduling`.
    pub reason: String,
    /// The text (masked, cut short when very long).
    pub message: String,
}

/// A log line as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLogLine {
    /// The line's position in the execution's log: 0, 1, 2, … without gaps.
    pub seq: u64,
    /// When the line was produced.
    pub time: Timestamp,
    /// The step that produced it.
    #[serde(rename = "ref")]
    pub step_ref: Option<String>,
    /// The text (masked; cut short if it was longer than
    /// [`MAX_LOG_LINE_BYTES`](crate::MAX_LOG_LINE_BYTES)).
    pub text: String,
    /// How many bytes were cut off the end of the line, if any were.
    pub truncated_bytes: Option<u64>,
}

/// Which executions [`Store::list_executions`](crate::Store::list_executions) returns.
/// The default lists all of them, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    /// Only executions of this workflow.
    pub workflow: Option<String>,
    /// Only executions in one of these statuses; empty means any status.
    pub statuses: Vec<ExecutionStatus>,
    /// Only executions with all of these tags.
    pub tags: BTreeMap<String, String>,
    /// Only executions created at or after this instant.
    pub created_from: Option<Timestamp>,
    /// Only executions created before this instant.
    pub created_until: Option<Timestamp>,
    /// Only executions listed after this one (its unique id): the next page of a list.
    pub after: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<u32>,
}
