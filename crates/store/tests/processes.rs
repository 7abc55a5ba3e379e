//! The store across processes and threads: a writer killed mid-write, recovery of executions
//! whose runner died, and readers running while a writer appends.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{TestStore, new_execution, raw, temp_store};
use testwerk_store::{ExecutionStatus, LogLine, RunnerIdentity, StepResult, StepStatus, Store};

on_both_databases!(
    readers_see_whole_batches_while_a_writer_appends,
    recovers_executions_whose_runner_is_gone_and_only_those,
    recovers_an_execution_whose_pid_now_belongs_to_another_process
);

/// Set in the child process of [`a_writer_killed_mid_write_leaves_every_committed_line`] to the
/// store's path.
const CHILD_STORE: &str = "TESTWERK_STORE_TEST_CHILD_STORE";
const CHILD_BATCH: usize = 200;

/// Not a test: the child process of
/// [`a_writer_killed_mid_write_leaves_every_committed_line`]. It appends batches of log lines
/// as fast as it can and reports each committed batch on stdout until it is killed.
#[test]
#[ignore = "run as a child process by a_writer_killed_mid_write_leaves_every_committed_line"]
fn child_writer_appending_until_killed() {
    let Some(path) = std::env::var_os(CHILD_STORE) else {
        return;
    };
    let store = Store::open(&path).unwrap();
    let id = store.create_execution(new_execution("crash")).unwrap().id;
    store
        .set_status(&id, ExecutionStatus::Running, None)
        .unwrap();
    store
        .upsert_step(&id, &StepResult::new("r1", StepStatus::Running))
        .unwrap();
    store
        .upsert_step(&id, &StepResult::new("r2", StepStatus::Queued))
        .unwrap();
    println!("execution {id}");
    for batch in 0usize.. {
        let lines: Vec<LogLine> = (0..CHILD_BATCH)
            .map(|i| LogLine::new(Some("r1"), expected_line(batch * CHILD_BATCH + i)))
            .collect();
        store.append_logs(&id, &lines).unwrap();
        println!("committed {}", batch + 1);
    }
}

fn expected_line(n: usize) -> String {
    format!("line {n} {}", "·".repeat(n % 50))
}

#[test]
fn a_writer_killed_mid_write_leaves_every_committed_line() {
    // Kill at different moments, unrelated to the child's progress reports, so that the kill
    // lands inside a transaction at least some of the time.
    for delay_ms in [3, 11, 29] {
        kill_writer_and_check(Duration::from_millis(delay_ms));
    }
}

fn kill_writer_and_check(delay: Duration) {
    let (_dir, path, store) = temp_store();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_writer_appending_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_STORE, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let child_pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut id = None;
    let mut reported = 0usize;
    let mut killed = false;
    for line in stdout.by_ref() {
        let line = line.unwrap();
        // libtest writes `test <name> ... ` before the child's first line.
        if let Some((_, rest)) = line.split_once("execution ") {
            id = Some(rest.to_owned());
        } else if let Some(n) = line.strip_prefix("committed ") {
            reported = n.parse().unwrap();
            if reported >= 5 {
                std::thread::sleep(delay);
                child.kill().unwrap(); // SIGKILL: no destructors, no rollback, no checkpoint
                killed = true;
                break;
            }
        }
    }
    // Batches reported before the kill took effect were committed too.
    for line in stdout {
        if let Some(n) = line.unwrap().strip_prefix("committed ") {
            reported = n.parse().unwrap();
        }
    }
    let status = child.wait().unwrap();
    assert!(killed, "the child stopped by itself: {status}");
    let id = id.unwrap();

    let lines = store.logs(&id, None).unwrap();
    let batches = lines.len() / CHILD_BATCH;
    println!(
        "child {child_pid} killed {delay:?} after its 5th batch, having reported {reported}; \
         {batches} stored ({} lines)",
        lines.len()
    );
    assert_eq!(lines.len() % CHILD_BATCH, 0, "a batch was stored in part");
    assert!(
        batches == reported || batches == reported + 1,
        "{batches} batches stored, {reported} reported committed"
    );
    for (n, line) in lines.iter().enumerate() {
        assert_eq!(line.seq, n as u64);
        assert_eq!(line.text, expected_line(n));
    }
    let check: String = raw(&path)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");

    // The dead runner's execution is recovered, and only once.
    assert_eq!(
        store.recover_abandoned().unwrap(),
        std::slice::from_ref(&id)
    );
    assert_eq!(store.recover_abandoned().unwrap(), Vec::<String>::new());
    let detail = store.execution(&id).unwrap().unwrap();
    assert_eq!(detail.execution.status, ExecutionStatus::Aborted);
    assert_eq!(detail.execution.runner.pid, child_pid);
    let host = RunnerIdentity::current().hostname;
    assert_eq!(
        detail.execution.reason.unwrap(),
        format!("runner {host}:{child_pid} stopped before the execution finished")
    );
    let steps: Vec<_> = detail.steps.iter().map(|s| s.status).collect();
    assert_eq!(steps, [StepStatus::Aborted, StepStatus::Skipped]);

    // The store takes new writes after the crash.
    let next = store.create_execution(new_execution("crash")).unwrap();
    assert_eq!(next.name, "crash-2");
}

/// A process that has exited: its pid no longer runs anything.
fn exited_pid() -> u32 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "no such test", "--quiet"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn recovers_executions_whose_runner_is_gone_and_only_those(t: TestStore) {
    let store = t.store;
    let me = RunnerIdentity::current();
    let start = |runner: RunnerIdentity, status: ExecutionStatus| {
        let mut new = new_execution("w");
        new.runner = runner;
        let id = store.create_execution(new).unwrap().id;
        if status != ExecutionStatus::Queued {
            store.set_status(&id, status, None).unwrap();
        }
        id
    };
    let dead = RunnerIdentity {
        pid: exited_pid(),
        process_start: None,
        ..me.clone()
    };
    let dead_running = start(dead.clone(), ExecutionStatus::Running);
    let dead_queued = start(dead.clone(), ExecutionStatus::Queued);
    let dead_finished = start(dead.clone(), ExecutionStatus::Passed);
    let alive = start(me.clone(), ExecutionStatus::Running);
    let elsewhere = start(
        RunnerIdentity {
            hostname: format!("{}-elsewhere", me.hostname),
            pid: 1,
            process_start: None,
        },
        ExecutionStatus::Running,
    );

    let t0 = testwerk_store::Timestamp::from_unix_millis(1_700_000_000_000);
    for (step_ref, status) in [
        ("r1", StepStatus::Passed),
        ("r2", StepStatus::Running),
        ("r3", StepStatus::Paused),
        ("r4", StepStatus::Queued),
    ] {
        let step = StepResult {
            started_at: (status != StepStatus::Queued).then_some(t0),
            ..StepResult::new(step_ref, status)
        };
        store.upsert_step(&dead_running, &step).unwrap();
        store.upsert_step(&alive, &step).unwrap();
    }

    let mut recovered = store.recover_abandoned().unwrap();
    recovered.sort();
    let mut expected = vec![dead_running.clone(), dead_queued.clone()];
    expected.sort();
    assert_eq!(recovered, expected);

    let status = |id: &str| store.execution(id).unwrap().unwrap().execution.status;
    assert_eq!(status(&dead_running), ExecutionStatus::Aborted);
    assert_eq!(status(&dead_queued), ExecutionStatus::Aborted);
    assert_eq!(status(&dead_finished), ExecutionStatus::Passed);
    assert_eq!(status(&alive), ExecutionStatus::Running);
    assert_eq!(status(&elsewhere), ExecutionStatus::Running);

    let detail = store.execution(&dead_running).unwrap().unwrap();
    assert_eq!(
        detail.execution.reason.as_deref(),
        Some(format!("runner {dead} stopped before the execution finished").as_str())
    );
    assert!(detail.execution.finished_at.is_some());
    let steps: Vec<_> = detail
        .steps
        .iter()
        .map(|s| (s.step_ref.as_str(), s.status, s.finished_at.is_some()))
        .collect();
    assert_eq!(
        steps,
        [
            ("r1", StepStatus::Passed, false),
            ("r2", StepStatus::Aborted, true),
            ("r3", StepStatus::Aborted, true),
            ("r4", StepStatus::Skipped, false),
        ]
    );
    assert!(detail.steps[1].duration_ms().unwrap() > 0);
    let alive_steps: Vec<_> = store.execution(&alive).unwrap().unwrap().steps;
    assert_eq!(alive_steps[1].status, StepStatus::Running);

    // A runner's final word after it was declared dead is refused.
    assert!(
        store
            .set_status(&dead_running, ExecutionStatus::Passed, None)
            .is_err()
    );
}

#[cfg(target_os = "linux")]
fn recovers_an_execution_whose_pid_now_belongs_to_another_process(t: TestStore) {
    let store = t.store;
    let mut new = new_execution("w");
    // This process's pid, but a start time that is not this process's.
    new.runner.process_start = Some("an-earlier-boot:12345".into());
    let id = store.create_execution(new).unwrap().id;
    store
        .set_status(&id, ExecutionStatus::Running, None)
        .unwrap();
    assert_eq!(store.recover_abandoned().unwrap(), [id]);
}

fn readers_see_whole_batches_while_a_writer_appends(t: TestStore) {
    const BATCHES: usize = 150;
    const BATCH: usize = 40;
    let (path, store) = (t.location.clone(), t.store);
    let id = store.create_execution(new_execution("busy")).unwrap().id;
    store
        .set_status(&id, ExecutionStatus::Running, None)
        .unwrap();
    let shared = Arc::new(Store::open(&path).unwrap());
    let done = Arc::new(AtomicBool::new(false));

    let writer = {
        let (id, done) = (id.clone(), done.clone());
        std::thread::spawn(move || {
            for batch in 0..BATCHES {
                let lines: Vec<LogLine> = (0..BATCH)
                    .map(|i| {
                        LogLine::new(
                            Some(["a", "b"][batch % 2]),
                            format!("{}", batch * BATCH + i),
                        )
                    })
                    .collect();
                store.append_logs(&id, &lines).unwrap();
                store
                    .upsert_step(
                        &id,
                        &StepResult::new(format!("s{batch}"), StepStatus::Passed),
                    )
                    .unwrap();
            }
            store
                .set_status(&id, ExecutionStatus::Passed, None)
                .unwrap();
            done.store(true, Ordering::SeqCst);
        })
    };
    // Two readers with stores of their own (as other processes would have), two sharing one.
    let readers: Vec<_> = (0..4)
        .map(|n| {
            let (id, done, path) = (id.clone(), done.clone(), path.clone());
            let shared = shared.clone();
            std::thread::spawn(move || {
                let own = (n < 2).then(|| Store::open(&path).unwrap());
                let store = own.as_ref().unwrap_or(&shared);
                let (mut reads, mut partial, mut last) = (0, 0, 0);
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let lines = store.logs(&id, None).unwrap();
                    assert_eq!(lines.len() % BATCH, 0, "a batch was seen in part");
                    assert!(lines.len() >= last, "lines disappeared");
                    for (i, line) in lines.iter().enumerate() {
                        assert_eq!(
                            (line.seq, line.text.as_str()),
                            (i as u64, i.to_string().as_str())
                        );
                    }
                    let detail = store.execution(&id).unwrap().unwrap();
                    assert!(detail.steps.len() * BATCH >= lines.len() - BATCH.min(lines.len()));
                    last = lines.len();
                    reads += 1;
                    if last > 0 && last < BATCHES * BATCH {
                        partial += 1;
                    }
                    if finished || Instant::now() > deadline {
                        break;
                    }
                }
                assert_eq!(last, BATCHES * BATCH);
                (reads, partial)
            })
        })
        .collect();
    writer.join().unwrap();
    let mut partial_reads = 0;
    for reader in readers {
        let (reads, partial) = reader.join().unwrap();
        assert!(reads > 0);
        partial_reads += partial;
    }
    println!("readers saw the log mid-way {partial_reads} times");
    let detail = shared.execution(&id).unwrap().unwrap();
    assert_eq!(detail.execution.status, ExecutionStatus::Passed);
    assert_eq!(detail.steps.len(), BATCHES);
}

/// Runs started together on a store that does not exist yet (ten `testwerk run` at once) all
/// open it: none is told it is locked while another creates it.
#[test]
fn a_new_store_opened_by_many_at_once_opens_for_each() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("fresh-{round}/db"));
        let opened: Vec<Result<Store, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..10)
                .map(|_| s.spawn(|| Store::open(&path).map_err(|e| e.to_string())))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
                .collect()
        });
        for store in &opened {
            assert!(store.is_ok(), "round {round}: {:?}", store.as_ref().err());
        }
    }
}
