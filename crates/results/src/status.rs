//! The one rule for an execution's final status (spec §6.2), used by every backend.
//!
//! Upstream predicts the status from the step results: `aborted` if any step was aborted,
//! else `failed` if a step that may not fail failed, else `passed` if every such step passed
//! or was skipped, else (a step never finished) `aborted`. When `init` reported the root's own
//! end, that result already accounts for `optional` and `negative` groups, so it decides
//! between passed and failed; a skipped root (the whole workflow's condition was false) passed,
//! as a skipped step counts as a success everywhere else.

use testwerk_protocol::line::StepStatus;
use testwerk_store::ExecutionStatus;

use crate::tracker::Tracker;

/// One step's result, as far as the execution's status is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepEnd {
    /// `None`: the step never finished.
    pub status: Option<StepStatus>,
    /// Its failure does not fail the execution: the step, or a group around it, is
    /// `optional`, or a group around it is `negative` (the group's own result decides).
    pub tolerated: bool,
}

/// The final status of an execution from the root's result (when `init` reported it) and
/// every step's.
pub fn execution_status(
    root: Option<StepStatus>,
    steps: impl IntoIterator<Item = StepEnd>,
) -> ExecutionStatus {
    let steps: Vec<StepEnd> = steps.into_iter().collect();
    let aborted = root == Some(StepStatus::Aborted)
        || steps.iter().any(|s| s.status == Some(StepStatus::Aborted));
    if aborted {
        return ExecutionStatus::Aborted;
    }
    match root {
        Some(StepStatus::Passed | StepStatus::Skipped) => ExecutionStatus::Passed,
        Some(StepStatus::Failed | StepStatus::Timeout) => ExecutionStatus::Failed,
        Some(StepStatus::Aborted) | None => {
            let failed = steps.iter().any(|s| {
                !s.tolerated && matches!(s.status, Some(StepStatus::Failed | StepStatus::Timeout))
            });
            if failed {
                ExecutionStatus::Failed
            } else if steps.iter().any(|s| s.status.is_none()) {
                ExecutionStatus::Aborted
            } else {
                ExecutionStatus::Passed
            }
        }
    }
}

/// [`execution_status`] of what a tracker followed: what both backends call at the end.
pub fn tracker_status(tracker: &Tracker) -> ExecutionStatus {
    execution_status(
        tracker.root.map(|(status, _)| status),
        tracker.steps.values().map(|s| StepEnd {
            status: s.status,
            tolerated: s.tolerated,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use StepStatus::{Aborted, Failed, Passed, Skipped, Timeout};

    fn step(status: Option<StepStatus>) -> StepEnd {
        StepEnd {
            status,
            tolerated: false,
        }
    }

    fn tolerated(status: Option<StepStatus>) -> StepEnd {
        StepEnd {
            status,
            tolerated: true,
        }
    }

    /// The cases of the issue and of spec §6.2, each with the status it must give.
    pub(crate) fn cases() -> Vec<(
        &'static str,
        Option<StepStatus>,
        Vec<StepEnd>,
        ExecutionStatus,
    )> {
        vec![
            (
                "all passed",
                Some(Passed),
                vec![step(Some(Passed))],
                ExecutionStatus::Passed,
            ),
            (
                "root skipped by its condition",
                Some(Skipped),
                vec![step(Some(Skipped)), step(Some(Skipped))],
                ExecutionStatus::Passed,
            ),
            (
                "root aborted",
                Some(Aborted),
                vec![step(Some(Passed)), step(Some(Aborted))],
                ExecutionStatus::Aborted,
            ),
            (
                "a step aborted, root never reported",
                None,
                vec![step(Some(Passed)), step(Some(Aborted)), step(Some(Skipped))],
                ExecutionStatus::Aborted,
            ),
            (
                "aborted wins over failed",
                None,
                vec![step(Some(Failed)), step(Some(Aborted))],
                ExecutionStatus::Aborted,
            ),
            (
                "root failed",
                Some(Failed),
                vec![step(Some(Failed))],
                ExecutionStatus::Failed,
            ),
            (
                "root timed out",
                Some(Timeout),
                vec![step(Some(Timeout))],
                ExecutionStatus::Failed,
            ),
            (
                "an optional step failed",
                Some(Passed),
                vec![tolerated(Some(Failed)), step(Some(Passed))],
                ExecutionStatus::Passed,
            ),
            (
                "an optional step failed, root unknown",
                None,
                vec![tolerated(Some(Failed)), step(Some(Passed))],
                ExecutionStatus::Passed,
            ),
            (
                "a step failed, root unknown",
                None,
                vec![step(Some(Timeout)), step(Some(Skipped))],
                ExecutionStatus::Failed,
            ),
            (
                "failed wins over unfinished",
                None,
                vec![step(Some(Failed)), step(None)],
                ExecutionStatus::Failed,
            ),
            (
                "a step never finished",
                None,
                vec![step(Some(Passed)), step(None)],
                ExecutionStatus::Aborted,
            ),
            (
                "nothing reported at all",
                None,
                vec![step(None)],
                ExecutionStatus::Aborted,
            ),
            (
                "skipped steps count as success",
                None,
                vec![step(Some(Skipped)), step(Some(Passed))],
                ExecutionStatus::Passed,
            ),
        ]
    }

    #[test]
    fn each_case_gives_the_upstream_status() {
        for (name, root, steps, want) in cases() {
            assert_eq!(execution_status(root, steps), want, "{name}");
        }
    }
}
