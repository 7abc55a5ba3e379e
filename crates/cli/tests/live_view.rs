//! The live view on a scripted run: protocol events as `init` prints them go through the
//! tracker and the translator into the human reporter (no colour, durations fixed by the
//! script), and the output is a snapshot reviewed by hand.

use std::time::Duration;

use testwerk_cli::run::report::{Event, Reporter, Translator};
use testwerk_cli::run::view::HumanReporter;
use testwerk_plan::SignatureNode;
use testwerk_protocol::line::{Event as Wire, StepStatus, encode};
use testwerk_results::Tracker;
use testwerk_store::ExecutionStatus;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn signature() -> Vec<SignatureNode> {
    serde_json::from_value(serde_json::json!([
        {"ref": "r1", "name": "Build"},
        {"ref": "r2", "name": "Lint", "optional": true},
        {"ref": "r3", "name": "Expect a failure", "negative": true},
        {"ref": "g", "name": "Tests", "children": [
            {"ref": "r4", "name": "Flaky"},
            {"ref": "r5", "name": "Slow"},
        ]},
        {"ref": "r6", "name": "Deploy"},
    ]))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn start(r: &str) -> Vec<u8> {
    encode(TOKEN, &Wire::Start { r#ref: r.into() })
}

fn end(r: &str, status: StepStatus, code: i32, ms: u64) -> Vec<u8> {
    encode(
        TOKEN,
        &Wire::End {
            r#ref: r.into(),
            status,
            code,
            ms,
        },
    )
}

/// What `init` prints, chunk by chunk (each chunk is one read of the container's output).
fn script() -> Vec<Vec<u8>> {
    use StepStatus::*;
    let text = |t: &str| t.as_bytes().to_vec();
    vec![
        text("Configuring init process... skipped\nConfiguring toolkit... skipped\n"),
        [start("r1"), text("compiling\n\nwarning: unused\n")].concat(),
        end("r1", Passed, 0, 1234),
        [start("r2"), text("style!\n"), end("r2", Failed, 1, 50)].concat(),
        [start("r3"), end("r3", Passed, 2, 10)].concat(),
        [start("g"), start("r4"), text("try\n")].concat(),
        [
            text("\nExit code: 1 • Retrying: attempt #1 (of 2):\n"),
            encode(
                TOKEN,
                &Wire::Iteration {
                    r#ref: "r4".into(),
                    attempt: 1,
                    of: 2,
                },
            ),
            text("try\n"),
        ]
        .concat(),
        end("r4", Passed, 0, 300),
        [start("r5"), text("waiting\n")].concat(),
        end("r5", Timeout, 137, 5000),
        end("g", Timeout, 0, 5300),
        // Skipped at once: shown once, as skipped, with no duration.
        [start("r6"), end("r6", Skipped, 0, 0)].concat(),
        end("root", Timeout, 0, 6600),
    ]
}

#[test]
fn the_human_view_of_a_scripted_run() {
    let sig = signature();
    let mut tracker = Tracker::new(&sig, &sig, TOKEN);
    let mut translator = Translator::new(Some("resume it with `testwerk resume demo-1`".into()));
    let mut events = vec![
        Event::Note("images are not pulled: this machine's own tools run the steps".into()),
        Translator::started(&tracker, "demo-1", 2),
    ];
    tracker.next_container();
    for chunk in script() {
        let mut updates = Vec::new();
        tracker.feed(&chunk, &mut |u| updates.push(u));
        events.extend(translator.translate(&tracker, &updates));
    }
    let mut updates = Vec::new();
    tracker.finish(&mut |u| updates.push(u));
    events.extend(translator.translate(&tracker, &updates));
    let status = testwerk_results::tracker_status(&tracker);
    assert_eq!(status, ExecutionStatus::Failed);
    events.extend(translator.summary(
        &tracker,
        "demo-1",
        status,
        Duration::from_millis(6789),
        Some("a step timed out".into()),
        serde_json::Value::Null,
    ));

    let mut view = HumanReporter::plain(Vec::new());
    for e in &events {
        view.report(e);
    }
    let text = String::from_utf8(view.into_inner()).unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!("live_view_scripted_run", text);
}

#[test]
fn an_aborted_run_says_aborted_as_the_store_does() {
    let sig = signature();
    let mut tracker = Tracker::new(&sig, &sig, TOKEN);
    tracker.next_container();
    let mut updates = Vec::new();
    tracker.feed(
        &[start("r1"), end("r1", StepStatus::Aborted, 137, 20)].concat(),
        &mut |u| updates.push(u),
    );
    let mut translator = Translator::default();
    let mut events = translator.translate(&tracker, &updates);
    events.extend(translator.summary(
        &tracker,
        "demo-2",
        ExecutionStatus::Aborted,
        Duration::from_millis(100),
        Some("aborted by the user".into()),
        serde_json::Value::Null,
    ));
    let mut view = HumanReporter::plain(Vec::new());
    for e in &events {
        view.report(e);
    }
    let text = String::from_utf8(view.into_inner()).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("ABORTED demo-2"), "{text}");
    assert!(!text.contains("FAILED"), "{text}");
    assert!(text.contains("   note aborted by the user"), "{text}");
}
