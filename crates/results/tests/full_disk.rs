//! The recorder on a real full disk (a tmpfs): nothing it was given is lost silently, what
//! the store refused is written once there is room again, and the stored log never has a
//! hole.

use testwerk_testinputs::tmpfs;

use testwerk_results::{MAX_HELD_LINES, Recorder, Tracker, Update};
use testwerk_store::{NewExecution, Store};

fn log(n: usize) -> Update {
    // Long lines, so the WAL cannot absorb them in space it already has.
    Update::Log {
        r#ref: Some("r1".into()),
        line: format!("line {n} {}", "x".repeat(1000)),
    }
}

/// A store with one execution on a tmpfs of `size`, then filled up: (the tmpfs, the store,
/// the execution, the file to remove for room again). `None`: the test is skipped.
fn full_store(size: &str) -> Option<(tmpfs::Tmpfs, Store, String, std::path::PathBuf)> {
    let fs = tmpfs::Tmpfs::mount(size)?;
    let store = Store::open(fs.dir.join("db")).unwrap_or_else(|e| panic!("{e}"));
    let execution = store
        .create_execution(NewExecution::new("full", "", serde_json::json!({})))
        .unwrap_or_else(|e| panic!("{e}"));
    let filler = fs.fill_up();
    Some((fs, store, execution.id, filler))
}

#[test]
fn refused_writes_are_reported_kept_and_written_once_there_is_room() {
    let Some((_fs, store, id, filler)) = full_store("16m") else {
        return;
    };
    let tracker = Tracker::new(&[], &[], "t");
    let mut recorder = Recorder::new(&store, &id);

    let mut refused = 0;
    for n in 0..3000 {
        if recorder.record(&tracker, &log(n)).is_err() {
            refused += 1;
        }
    }
    let finished = Update::Finished {
        r#ref: "r1".into(),
        status: testwerk_protocol::line::StepStatus::Passed,
        code: 0,
        ms: 5,
        message: None,
    };
    if recorder.record(&tracker, &finished).is_err() {
        refused += 1;
    }
    assert!(refused > 0, "a full disk refused no write");
    let error = recorder.flush().expect_err("the disk is still full");
    assert!(
        error.to_string().contains("is full"),
        "the error says the disk is full: {error}"
    );
    let unsaved = recorder.unsaved();
    assert!(!unsaved.is_empty());
    assert_eq!(unsaved.log_lines_seen, 3000);
    assert!(unsaved.log_lines > 0, "{unsaved:?}");
    assert!(unsaved.steps.contains_key("r1"), "{unsaved:?}");
    let stored = store.log_count(&id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        stored + unsaved.log_lines,
        3000,
        "every line is either stored or counted as not stored"
    );
    assert!(
        unsaved.to_string().contains("of 3,000 log lines"),
        "{unsaved}"
    );

    std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("{e}"));
    recorder
        .flush()
        .unwrap_or_else(|e| panic!("with room again: {e}"));
    assert!(recorder.unsaved().is_empty(), "{:?}", recorder.unsaved());
    let lines = store.logs(&id, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lines.len(), 3000);
    for (n, l) in lines.iter().enumerate() {
        assert!(
            l.text.starts_with(&format!("line {n} ")),
            "in order, once each"
        );
    }
    let detail = store
        .execution(&id)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the execution"));
    assert_eq!(
        detail
            .steps
            .iter()
            .find(|s| s.step_ref == "r1")
            .map(|s| s.status),
        Some(testwerk_store::StepStatus::Passed)
    );
}

#[test]
fn lines_beyond_what_memory_holds_are_lost_counted_and_never_leave_a_hole() {
    let Some((_fs, store, id, filler)) = full_store("2m") else {
        return;
    };
    let tracker = Tracker::new(&[], &[], "t");
    let mut recorder = Recorder::new(&store, &id);
    let total = MAX_HELD_LINES + 5000;
    for n in 0..total {
        // Errors are looked at below, through what is unsaved.
        recorder.record(&tracker, &log(n)).ok();
    }
    assert!(recorder.lost_logs());
    std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("{e}"));
    let stored_before = store.log_count(&id).unwrap_or_else(|e| panic!("{e}"));
    recorder.flush().unwrap_or_else(|e| panic!("{e}"));
    for n in total..total + 10 {
        recorder
            .record(&tracker, &log(n))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    recorder.flush().unwrap_or_else(|e| panic!("{e}"));
    let unsaved = recorder.unsaved();
    let stored = store.log_count(&id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        stored, stored_before,
        "nothing after the lost lines is stored"
    );
    assert_eq!(stored + unsaved.log_lines, (total + 10) as u64);
    let lines = store.logs(&id, None).unwrap_or_else(|e| panic!("{e}"));
    for (n, l) in lines.iter().enumerate() {
        assert!(
            l.text.starts_with(&format!("line {n} ")),
            "a prefix, no hole"
        );
    }
}
