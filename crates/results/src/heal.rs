//! Results for steps a container could not report: read from the container's termination
//! message, or settled when the execution ends with steps still open (spec §6.3, fixtures
//! 54, 55 and 58).

use testwerk_protocol::line::StepStatus;

use crate::tracker::{Tracker, Update};

/// One entry of a termination message: `<status letter>,<exit code>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    pub status: StepStatus,
    pub code: i32,
}

/// Parses a termination message (`p,0/f,2/a,137`), stopping at the first entry that is not
/// `<letter>,<code>`: `init` writes `aborted,137` for a step it never finished, so what
/// follows it is unknown.
pub fn parse_termination(message: &str) -> Vec<Ended> {
    let mut out = Vec::new();
    for entry in message.trim().split('/') {
        let Some((letter, code)) = entry.split_once(',') else {
            break;
        };
        let status = match letter {
            "p" => StepStatus::Passed,
            "f" => StepStatus::Failed,
            "t" => StepStatus::Timeout,
            "a" => StepStatus::Aborted,
            "s" => StepStatus::Skipped,
            _ => break,
        };
        let Ok(code) = code.parse::<i32>() else {
            break;
        };
        out.push(Ended { status, code });
    }
    out
}

/// Fills the results of a container's steps from its termination message. `end_refs` are the
/// refs the container's action group ends, in order (with the setup ref first when the
/// container runs the setup): the message has one entry per ref. Steps that already have a
/// result keep it.
pub fn apply_termination(
    tracker: &mut Tracker,
    end_refs: &[String],
    message: &str,
    out: &mut dyn FnMut(Update),
) {
    for (r, ended) in end_refs.iter().zip(parse_termination(message)) {
        tracker.finish_step(r, ended.status, ended.code, None, out);
    }
}

/// Why an execution ended with steps still open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ending {
    /// What the first unfinished step becomes: `aborted` (killed, deleted, timed out) or
    /// `failed` (its container could not start, ran out of memory).
    pub status: StepStatus,
    /// The cause, for people: `Job timed out after 5 seconds`, `the Pod was deleted`.
    pub reason: String,
}

impl Ending {
    pub fn aborted(reason: impl Into<String>) -> Ending {
        Ending {
            status: StepStatus::Aborted,
            reason: reason.into(),
        }
    }

    pub fn failed(reason: impl Into<String>) -> Ending {
        Ending {
            status: StepStatus::Failed,
            reason: reason.into(),
        }
    }
}

/// Settles every open step: the first open leaf step (in execution order) takes the ending's
/// status and a message naming its cause; later open steps are skipped, saying why; open
/// groups take the worst status of their children.
pub fn heal(tracker: &mut Tracker, ending: &Ending, out: &mut dyn FnMut(Update)) {
    let verb = match ending.status {
        StepStatus::Failed => "failed",
        _ => "been aborted",
    };
    // A step the cause already stopped (its container reported it aborted) is the one that
    // takes it; every open step after it was merely never reached.
    let mut first = !tracker.order.iter().any(|r| {
        let is_leaf = tracker.children.get(r).is_none_or(Vec::is_empty);
        is_leaf
            && tracker
                .steps
                .get(r)
                .is_some_and(|s| s.status == Some(StepStatus::Aborted))
    });
    for r in tracker.order.clone() {
        let is_leaf = tracker.children.get(&r).is_none_or(Vec::is_empty);
        let open = tracker.steps.get(&r).is_some_and(|s| s.status.is_none());
        if !is_leaf || !open {
            continue;
        }
        if first {
            first = false;
            let code = if ending.status == StepStatus::Aborted {
                137
            } else {
                1
            };
            let message = format!("The execution has {verb}. ({})", ending.reason);
            tracker.finish_step(&r, ending.status, code, Some(message), out);
        } else {
            let message = format!("The execution has {verb} before. ({})", ending.reason);
            tracker.finish_step(&r, StepStatus::Skipped, 0, Some(message), out);
        }
    }
    // Groups after their children: deepest first, so nested groups settle before parents.
    let mut groups: Vec<String> = tracker
        .order
        .iter()
        .filter(|r| tracker.children.get(*r).is_some_and(|c| !c.is_empty()))
        .cloned()
        .collect();
    groups.reverse();
    for g in groups {
        if tracker.steps.get(&g).is_some_and(|s| s.status.is_some()) {
            continue;
        }
        let status = tracker
            .children
            .get(&g)
            .into_iter()
            .flatten()
            .filter_map(|c| tracker.steps.get(c).and_then(|s| s.status))
            .max_by_key(|s| severity(*s))
            .unwrap_or(StepStatus::Skipped);
        tracker.finish_step(&g, status, 0, None, out);
    }
}

fn severity(s: StepStatus) -> u8 {
    match s {
        StepStatus::Skipped => 0,
        StepStatus::Passed => 1,
        StepStatus::Failed => 2,
        StepStatus::Timeout => 3,
        StepStatus::Aborted => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testwerk_plan::SignatureNode;

    fn node(r: &str, children: Vec<SignatureNode>) -> SignatureNode {
        serde_json::from_value(serde_json::json!({"ref": r, "name": r}))
            .map(|mut n: SignatureNode| {
                n.children = children;
                n
            })
            .expect("a signature node")
    }

    fn tracker() -> Tracker {
        let sig = vec![
            node("r1", vec![]),
            node("g", vec![node("r2", vec![]), node("r3", vec![])]),
            node("r4", vec![]),
        ];
        Tracker::new(&sig, &sig, "t0ken")
    }

    fn statuses(t: &Tracker) -> Vec<(String, Option<StepStatus>)> {
        t.order
            .iter()
            .map(|r| (r.clone(), t.steps[r].status))
            .collect()
    }

    /// Fixture 54.
    #[test]
    fn termination_message_stops_at_the_first_unfinished_entry() {
        let parsed = parse_termination("p,0/f,2/a,137/aborted,137/p,0");
        assert_eq!(
            parsed,
            vec![
                Ended {
                    status: StepStatus::Passed,
                    code: 0
                },
                Ended {
                    status: StepStatus::Failed,
                    code: 2
                },
                Ended {
                    status: StepStatus::Aborted,
                    code: 137
                },
            ]
        );
        assert!(parse_termination("").is_empty());
        assert!(parse_termination("garbage").is_empty());
    }

    #[test]
    fn termination_message_fills_only_open_steps() {
        let mut t = tracker();
        let mut updates = Vec::new();
        t.finish_step("r1", StepStatus::Passed, 0, None, &mut |u| updates.push(u));
        let refs = vec!["r1".to_owned(), "r2".to_owned(), "r3".to_owned()];
        apply_termination(&mut t, &refs, "f,9/f,2/aborted,137", &mut |u| {
            updates.push(u)
        });
        assert_eq!(t.steps["r1"].status, Some(StepStatus::Passed));
        assert_eq!(t.steps["r2"].status, Some(StepStatus::Failed));
        assert_eq!(t.steps["r2"].code, Some(2));
        assert_eq!(t.steps["r3"].status, None);
    }

    /// Fixtures 55 and 58: the first open step takes the cause, later ones are skipped,
    /// groups follow their children.
    #[test]
    fn healing_aborts_the_first_open_step_and_skips_the_rest() {
        let mut t = tracker();
        let mut updates = Vec::new();
        t.finish_step("r1", StepStatus::Passed, 0, None, &mut |u| updates.push(u));
        updates.clear();
        heal(
            &mut t,
            &Ending::aborted("Job timed out after 5 seconds"),
            &mut |u| updates.push(u),
        );
        assert_eq!(
            statuses(&t),
            vec![
                ("r1".into(), Some(StepStatus::Passed)),
                ("g".into(), Some(StepStatus::Aborted)),
                ("r2".into(), Some(StepStatus::Aborted)),
                ("r3".into(), Some(StepStatus::Skipped)),
                ("r4".into(), Some(StepStatus::Skipped)),
            ]
        );
        let message = |r: &str| {
            updates.iter().find_map(|u| match u {
                Update::Finished { r#ref, message, .. } if r#ref == r => message.clone(),
                _ => None,
            })
        };
        assert_eq!(
            message("r2").as_deref(),
            Some("The execution has been aborted. (Job timed out after 5 seconds)")
        );
        assert_eq!(
            message("r4").as_deref(),
            Some("The execution has been aborted before. (Job timed out after 5 seconds)")
        );
        assert!(t.all_finished());
    }

    #[test]
    fn after_a_step_that_was_aborted_every_open_step_is_skipped() {
        let mut t = tracker();
        t.finish_step("r1", StepStatus::Aborted, 137, None, &mut |_| {});
        heal(&mut t, &Ending::aborted("the Pod was deleted"), &mut |_| {});
        assert_eq!(t.steps["r2"].status, Some(StepStatus::Skipped));
        assert_eq!(t.steps["r4"].status, Some(StepStatus::Skipped));
    }

    #[test]
    fn a_failed_ending_fails_the_first_open_step() {
        let mut t = tracker();
        heal(&mut t, &Ending::failed("OOMKilled"), &mut |_| {});
        assert_eq!(t.steps["r1"].status, Some(StepStatus::Failed));
        assert_eq!(t.steps["g"].status, Some(StepStatus::Skipped));
    }

    /// Fixture 56.
    #[test]
    fn optional_failures_do_not_fail_the_execution() {
        let mut r4 = node("r4", vec![]);
        r4.optional = true;
        let sig = vec![node("r1", vec![]), r4];
        let mut t = Tracker::new(&sig, &sig, "t0ken");
        t.finish_step("r1", StepStatus::Passed, 0, None, &mut |_| {});
        t.finish_step("r4", StepStatus::Failed, 1, None, &mut |_| {});
        assert_eq!(
            crate::tracker_status(&t),
            testwerk_store::ExecutionStatus::Passed
        );
        let sig = vec![node("r1", vec![]), node("r4", vec![])];
        let mut t = Tracker::new(&sig, &sig, "t0ken");
        t.finish_step("r1", StepStatus::Passed, 0, None, &mut |_| {});
        t.finish_step("r4", StepStatus::Failed, 1, None, &mut |_| {});
        assert_eq!(
            crate::tracker_status(&t),
            testwerk_store::ExecutionStatus::Failed
        );
    }
}
