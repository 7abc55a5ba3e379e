//! The same executions, followed as each backend follows them, end with the same status: the
//! local runner and the agent settle open steps with [`heal::heal`] (each with its own cause)
//! and then ask [`testwerk_results::tracker_status`].

use testwerk_plan::SignatureNode;
use testwerk_protocol::line::{Event, StepStatus, encode};
use testwerk_results::heal::{self, Ending};
use testwerk_results::{Tracker, tracker_status};
use testwerk_store::ExecutionStatus;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn signature() -> Vec<SignatureNode> {
    serde_json::from_value(serde_json::json!([
        {"ref": "r1", "name": "first"},
        {"ref": "r2", "name": "optional", "optional": true},
        {"ref": "g", "name": "expected to fail", "negative": true,
         "children": [{"ref": "r3", "name": "inner"}]},
    ]))
    .expect("a signature")
}

fn start(r: &str) -> Event {
    Event::Start { r#ref: r.into() }
}

fn end(r: &str, status: StepStatus, code: i32) -> Event {
    Event::End {
        r#ref: r.into(),
        status,
        code,
        ms: 1,
    }
}

/// A tracker that read `events` from a container's output, as both backends feed it.
fn followed(events: &[Event]) -> Tracker {
    let sig = signature();
    let mut t = Tracker::new(&sig, &sig, TOKEN);
    let bytes: Vec<u8> = events.iter().flat_map(|e| encode(TOKEN, e)).collect();
    t.next_container();
    t.feed(&bytes, &mut |_| {});
    t.finish(&mut |_| {});
    t
}

/// What `testwerk run` does when its container stopped (`crates/cli/src/run/mod.rs`).
fn local(events: &[Event]) -> ExecutionStatus {
    settled(events, &Ending::aborted("aborted by the user"))
}

/// What the agent's monitor does (`crates/agent/src/monitor.rs`).
fn agent(events: &[Event], ending: &Ending) -> ExecutionStatus {
    settled(events, ending)
}

fn settled(events: &[Event], ending: &Ending) -> ExecutionStatus {
    let mut t = followed(events);
    if !t.all_finished() {
        heal::heal(&mut t, ending, &mut |_| {});
    }
    tracker_status(&t)
}

#[test]
fn both_backends_give_the_same_final_status() {
    use StepStatus::{Aborted, Failed, Passed, Skipped};
    let cases: Vec<(&str, Vec<Event>, ExecutionStatus)> = vec![
        (
            "everything passed; the optional step failed, the negative group's step failed",
            vec![
                start("r1"),
                end("r1", Passed, 0),
                start("r2"),
                end("r2", Failed, 1),
                start("g"),
                start("r3"),
                end("r3", Failed, 1),
                end("g", Passed, 0),
                end("root", Passed, 0),
            ],
            ExecutionStatus::Passed,
        ),
        (
            "the root was skipped by its condition",
            vec![
                end("r1", Skipped, 0),
                end("r2", Skipped, 0),
                end("r3", Skipped, 0),
                end("g", Skipped, 0),
                end("root", Skipped, 0),
            ],
            ExecutionStatus::Passed,
        ),
        (
            "a required step failed",
            vec![
                start("r1"),
                end("r1", Failed, 3),
                end("r2", Skipped, 0),
                end("r3", Skipped, 0),
                end("g", Skipped, 0),
                end("root", Failed, 0),
            ],
            ExecutionStatus::Failed,
        ),
        (
            "init was stopped (SIGTERM) and said so",
            vec![
                start("r1"),
                end("r1", Aborted, 137),
                end("r2", Skipped, 0),
                end("r3", Skipped, 0),
                end("g", Skipped, 0),
                end("root", Aborted, 137),
            ],
            ExecutionStatus::Aborted,
        ),
        (
            "the container was killed while a step ran",
            vec![start("r1"), end("r1", Passed, 0), start("r2")],
            ExecutionStatus::Aborted,
        ),
        (
            "the container was killed before any step started",
            vec![],
            ExecutionStatus::Aborted,
        ),
    ];
    for (name, events, want) in cases {
        assert_eq!(local(&events), want, "local: {name}");
        assert_eq!(
            agent(&events, &Ending::aborted("the Pod was deleted")),
            want,
            "agent: {name}"
        );
    }
}

#[test]
fn a_step_that_could_not_start_fails_the_execution_on_the_agent() {
    // An image that cannot be pulled: the agent's ending is `failed`.
    let status = agent(&[], &Ending::failed("ErrImagePull"));
    assert_eq!(status, ExecutionStatus::Failed);
    // An optional step may fail that way (spec §6.2: only required steps count).
    let status = agent(
        &[start("r1"), end("r1", StepStatus::Passed, 0)],
        &Ending::failed("ErrImagePull"),
    );
    assert_eq!(status, ExecutionStatus::Passed);
}
