//! The agent's end of an execution on a real full disk (a tmpfs): it retries while the store
//! refuses, and never records an execution as finished while lines are missing.

use testwerk_testinputs::tmpfs;

use std::time::Duration;

use testwerk_agent::live::Live;
use testwerk_agent::monitor::store_outcome;
use testwerk_results::{MAX_HELD_LINES, Recorder, Tracker, Update};
use testwerk_store::{ExecutionStatus, NewExecution, Store};

fn log(n: usize) -> Update {
    Update::Log {
        r#ref: None,
        line: format!("line {n} {}", "x".repeat(1000)),
    }
}

/// A running execution's store on a tmpfs of `size`, then filled up: (the tmpfs, the store,
/// the execution, its live state, the file to remove for room again). `None`: skipped.
fn full_store(size: &str) -> Option<(tmpfs::Tmpfs, Store, String, Live, std::path::PathBuf)> {
    let fs = tmpfs::Tmpfs::mount(size)?;
    let store = Store::open(fs.dir.join("agent.db")).unwrap_or_else(|e| panic!("{e}"));
    let e = store
        .create_execution(NewExecution::new("full", "", serde_json::json!({})))
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .set_status(&e.id, ExecutionStatus::Running, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let live = Live::new(
        e.id.clone(),
        e.name,
        "r".into(),
        vec![],
        vec![],
        None,
        "t".into(),
    );
    let filler = fs.fill_up();
    Some((fs, store, e.id, live, filler))
}

#[tokio::test]
async fn the_end_is_written_once_the_store_takes_it_again() {
    let Some((_fs, store, id, live, filler)) = full_store("16m") else {
        return;
    };
    let tracker = Tracker::new(&[], &[], "t");
    let mut recorder = Recorder::new(&store, &id);
    for n in 0..2000 {
        recorder.record(&tracker, &log(n)).ok();
    }
    assert!(
        !recorder.unsaved().is_empty(),
        "the full disk refused lines"
    );
    // Room again while the agent retries.
    let freeing = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("{e}"));
    });
    let stored = store_outcome(&mut recorder, &store, &live, ExecutionStatus::Passed, None)
        .await
        .is_ok();
    freeing
        .join()
        .unwrap_or_else(|_| panic!("freeing the disk"));
    assert!(stored, "written after a retry");
    assert_eq!(store.log_count(&id).unwrap_or_else(|e| panic!("{e}")), 2000);
    let detail = store
        .execution(&id)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the execution"));
    assert_eq!(detail.execution.status, ExecutionStatus::Passed);
}

#[tokio::test]
async fn an_execution_with_lines_lost_stays_unfinished() {
    let Some((fs, store, id, live, filler)) = full_store("2m") else {
        return;
    };
    let tracker = Tracker::new(&[], &[], "t");
    let mut recorder = Recorder::new(&store, &id);
    for n in 0..MAX_HELD_LINES + 100 {
        recorder.record(&tracker, &log(n)).ok();
    }
    std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("{e}"));
    let not_stored = store_outcome(&mut recorder, &store, &live, ExecutionStatus::Passed, None)
        .await
        .expect_err("lines were lost: only reading the logs again can complete it");
    // It says what is missing and why: the store's file and its full disk.
    let message = not_stored.to_string();
    assert!(
        message.contains("of 20,100 log lines")
            && message.contains(&format!(
                "the disk holding the results store {} is full",
                fs.dir.join("agent.db").display()
            )),
        "{message}"
    );
    let detail = store
        .execution(&id)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the execution"));
    assert_eq!(
        detail.execution.status,
        ExecutionStatus::Running,
        "never finished-with-holes"
    );
}
