//! The store through its public API, in one process: schema, lifecycle, lookups, listing,
//! logs, masking, migration and errors.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{TestStore, new_execution, raw, temp_store, user_version};
use serde_json::json;
use testwerk_store::{
    ExecutionFilter, ExecutionStatus, LogLine, MAX_LOG_LINE_BYTES, SCHEMA_VERSION, StepResult,
    StepStatus, Store, StoreError, Timestamp,
};

on_both_databases!(
    steps_are_upserted_in_first_recorded_order_and_outputs_replaced,
    log_sequence_continues_across_stores_and_lines_are_bounded,
    numbers_executions_per_workflow,
    statuses_move_forward_and_record_times,
    looks_executions_up_by_id_name_and_unique_prefix,
    lists_executions_newest_first_with_filters,
    appends_100k_log_lines_and_reads_them_back
);

#[test]
fn creates_the_schema_in_new_directories_and_reopens_with_everything_kept() {
    let (_dir, path, store) = temp_store();
    assert!(path.exists());
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    let mode: String = raw(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");

    let mut new = new_execution("smoke");
    new.tags.insert("team".into(), "qa".into());
    let created = store.create_execution(new).unwrap();
    let id = created.id.clone();
    store
        .set_status(&id, ExecutionStatus::Running, None)
        .unwrap();
    store
        .upsert_step(&id, &StepResult::new("r1", StepStatus::Passed))
        .unwrap();
    store
        .set_output(&id, "r1", "answer", &json!({"n": 42}))
        .unwrap();
    store
        .append_logs(&id, &[LogLine::new(Some("r1"), "hello")])
        .unwrap();
    drop(store);

    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    let detail = store.execution(&id).unwrap().unwrap();
    assert_eq!(detail.execution.id, id);
    assert_eq!(detail.execution.name, "smoke-1");
    assert_eq!(detail.execution.status, ExecutionStatus::Running);
    assert_eq!(detail.execution.tags["team"], "qa");
    assert_eq!(detail.execution.created_at, created.created_at);
    assert_eq!(
        detail.source,
        "kind: TestWorkflow\nmetadata:\n  name: smoke\n"
    );
    assert_eq!(detail.plan["steps"][0]["ref"], "r1");
    assert_eq!(detail.steps.len(), 1);
    assert_eq!(detail.outputs[0].value, json!({"n": 42}));
    assert_eq!(store.logs(&id, None).unwrap()[0].text, "hello");
    // Numbering goes on after reopening.
    assert_eq!(store.next_execution_number("smoke").unwrap(), 2);
    let second = store.create_execution(new_execution("smoke")).unwrap();
    assert_eq!((second.number, second.name.as_str()), (2, "smoke-2"));
}

fn numbers_executions_per_workflow(t: TestStore) {
    let store = t.store;
    assert_eq!(store.next_execution_number("a").unwrap(), 1);
    let names: Vec<String> = ["a", "b", "a", "a", "b"]
        .iter()
        .map(|w| store.create_execution(new_execution(w)).unwrap().name)
        .collect();
    assert_eq!(names, ["a-1", "b-1", "a-2", "a-3", "b-2"]);
    assert_eq!(store.next_execution_number("a").unwrap(), 4);
    assert_eq!(store.next_execution_number("c").unwrap(), 1);
}

fn statuses_move_forward_and_record_times(t: TestStore) {
    let store = t.store;
    let id = store.create_execution(new_execution("w")).unwrap().id;
    let get = |id: &str| store.execution(id).unwrap().unwrap().execution;

    let queued = get(&id);
    assert_eq!(queued.status, ExecutionStatus::Queued);
    assert_eq!((queued.started_at, queued.finished_at), (None, None));

    store
        .set_status(&id, ExecutionStatus::Running, None)
        .unwrap();
    let running = get(&id);
    let started = running.started_at.unwrap();
    assert!(started >= queued.created_at);
    assert_eq!(running.finished_at, None);

    std::thread::sleep(Duration::from_millis(5));
    store
        .set_status(&id, ExecutionStatus::Running, None)
        .unwrap();
    assert_eq!(get(&id).started_at, Some(started), "start time is kept");

    store
        .set_status(&id, ExecutionStatus::Failed, Some("step r2 failed"))
        .unwrap();
    let failed = get(&id);
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.reason.as_deref(), Some("step r2 failed"));
    assert!(failed.finished_at.unwrap() >= started);

    // The same final status again keeps the reason unless a new one is given.
    store
        .set_status(&id, ExecutionStatus::Failed, None)
        .unwrap();
    assert_eq!(get(&id).reason.as_deref(), Some("step r2 failed"));

    for next in [
        ExecutionStatus::Passed,
        ExecutionStatus::Running,
        ExecutionStatus::Queued,
    ] {
        let err = store.set_status(&id, next, None).unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidTransition { from: ExecutionStatus::Failed, to, .. } if to == next),
            "{err}"
        );
    }
    assert_eq!(get(&id).status, ExecutionStatus::Failed);

    // Queued may go straight to canceled; running may not go back to queued.
    let other = store.create_execution(new_execution("w")).unwrap().id;
    store
        .set_status(&other, ExecutionStatus::Canceled, Some("by user"))
        .unwrap();
    let canceled = get(&other);
    assert_eq!(canceled.started_at, None);
    assert!(canceled.finished_at.is_some());
    let third = store.create_execution(new_execution("w")).unwrap().id;
    store
        .set_status(&third, ExecutionStatus::Running, None)
        .unwrap();
    assert!(
        store
            .set_status(&third, ExecutionStatus::Queued, None)
            .is_err()
    );

    let err = store
        .set_status("no-such-id", ExecutionStatus::Running, None)
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

fn steps_are_upserted_in_first_recorded_order_and_outputs_replaced(t: TestStore) {
    let store = &t.store;
    let id = store.create_execution(new_execution("w")).unwrap().id;
    let t0 = Timestamp::from_unix_millis(1_700_000_000_000);
    let t1 = Timestamp::from_unix_millis(1_700_000_001_250);

    store
        .upsert_step(&id, &StepResult::new("root", StepStatus::Running))
        .unwrap();
    let child = StepResult {
        step_ref: "r1".into(),
        id: Some("build".into()),
        name: Some("Build it".into()),
        parent_ref: Some("root".into()),
        status: StepStatus::Running,
        started_at: Some(t0),
        ..StepResult::default()
    };
    store.upsert_step(&id, &child).unwrap();
    let finished = StepResult {
        status: StepStatus::Failed,
        exit_code: Some(2),
        finished_at: Some(t1),
        error: Some("exit code 2".into()),
        ..child.clone()
    };
    store.upsert_step(&id, &finished).unwrap();
    store
        .upsert_step(&id, &StepResult::new("root", StepStatus::Failed))
        .unwrap();

    store.set_output(&id, "r1", "count", &json!(1)).unwrap();
    store
        .set_output(&id, "r1", "list", &json!([1, "two"]))
        .unwrap();
    store.set_output(&id, "r1", "count", &json!(2)).unwrap();

    let detail = store.execution(&id).unwrap().unwrap();
    let refs: Vec<_> = detail.steps.iter().map(|s| s.step_ref.as_str()).collect();
    assert_eq!(refs, ["root", "r1"]);
    assert_eq!(detail.steps[0].status, StepStatus::Failed);
    assert_eq!(detail.steps[1], finished);
    assert_eq!(detail.steps[1].duration_ms(), Some(1250));
    let duration = t.scalar("SELECT duration_ms FROM steps WHERE ref = 'r1'");
    assert_eq!(duration, "1250");
    let outputs: Vec<_> = detail
        .outputs
        .iter()
        .map(|o| (o.step_ref.as_str(), o.name.as_str(), o.value.clone()))
        .collect();
    assert_eq!(
        outputs,
        [("r1", "count", json!(2)), ("r1", "list", json!([1, "two"]))]
    );

    assert!(matches!(
        store.upsert_step(&id, &StepResult::new("", StepStatus::Queued)),
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store.set_output("nope", "r1", "x", &json!(1)),
        Err(StoreError::NotFound { .. })
    ));
}

fn looks_executions_up_by_id_name_and_unique_prefix(t: TestStore) {
    let store = t.store;
    let ids: Vec<String> = (0..3)
        .map(|_| store.create_execution(new_execution("smoke")).unwrap().id)
        .collect();
    let load = store.create_execution(new_execution("load")).unwrap();

    let found = |query: &str| store.execution(query).unwrap().map(|d| d.execution.id);
    assert_eq!(found(&ids[1]), Some(ids[1].clone()));
    assert_eq!(found("smoke-2"), Some(ids[1].clone()));
    assert_eq!(found("load-1"), Some(load.id.clone()));
    assert_eq!(found("smoke-4"), None);
    assert_eq!(store.resolve_id("smoke-3").unwrap(), Some(ids[2].clone()));
    assert_eq!(store.resolve_id("smoke-4").unwrap(), None);
    assert_eq!(found("ffffffffffffffffffffffffff"), None);

    // The shortest prefix of each id that no other id shares finds it.
    for id in &ids {
        let unique = (1..=id.len())
            .map(|n| &id[..n])
            .find(|p| {
                ids.iter()
                    .chain([&load.id])
                    .filter(|o| o.starts_with(p))
                    .count()
                    == 1
            })
            .unwrap();
        assert_eq!(found(unique), Some(id.clone()), "prefix {unique}");
        assert_eq!(store.logs(unique, None).unwrap().len(), 0);
    }

    // A prefix that several ids share is refused, naming them.
    let common: String = ids[0]
        .chars()
        .zip(ids[1].chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    assert!(!common.is_empty());
    let err = store.execution(&common).unwrap_err();
    let StoreError::Ambiguous { candidates, .. } = &err else {
        panic!("expected an ambiguity, got {err}");
    };
    assert!(candidates.contains(&ids[0]) && candidates.contains(&ids[1]));
    assert!(err.to_string().contains("give more of the id"), "{err}");

    assert!(matches!(
        store.logs("smoke-9", None),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.execution(""),
        Err(StoreError::InvalidInput(_))
    ));
}

fn lists_executions_newest_first_with_filters(t: TestStore) {
    let store = t.store;
    let mut ids = Vec::new();
    for (workflow, team) in [("a", "qa"), ("b", "dev"), ("a", "dev"), ("a", "qa")] {
        let mut new = new_execution(workflow);
        new.tags.insert("team".into(), team.into());
        new.tags.insert("ci".into(), "true".into());
        ids.push(store.create_execution(new).unwrap().id);
    }
    store
        .set_status(&ids[0], ExecutionStatus::Running, None)
        .unwrap();
    store
        .set_status(&ids[3], ExecutionStatus::Passed, None)
        .unwrap();

    let list = |filter: ExecutionFilter| -> Vec<String> {
        store
            .list_executions(&filter)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect()
    };
    assert_eq!(
        list(ExecutionFilter::default()),
        ["a-3", "a-2", "b-1", "a-1"]
    );
    assert_eq!(
        list(ExecutionFilter {
            workflow: Some("a".into()),
            limit: Some(2),
            ..Default::default()
        }),
        ["a-3", "a-2"]
    );
    assert_eq!(
        list(ExecutionFilter {
            statuses: vec![ExecutionStatus::Queued, ExecutionStatus::Running],
            ..Default::default()
        }),
        ["a-2", "b-1", "a-1"]
    );
    assert_eq!(
        list(ExecutionFilter {
            tags: BTreeMap::from([("team".into(), "qa".into()), ("ci".into(), "true".into())]),
            ..Default::default()
        }),
        ["a-3", "a-1"]
    );
    assert_eq!(
        list(ExecutionFilter {
            workflow: Some("b".into()),
            statuses: vec![ExecutionStatus::Passed],
            ..Default::default()
        }),
        Vec::<String>::new()
    );
    let listed = store.list_executions(&ExecutionFilter::default()).unwrap();
    assert_eq!(listed[0].tags["team"], "qa");
    assert_eq!(listed[0].status, ExecutionStatus::Passed);
}

fn appends_100k_log_lines_and_reads_them_back(t: TestStore) {
    let store = t.store;
    let id = store.create_execution(new_execution("big")).unwrap().id;
    let steps = ["r1", "r2", "r3", "r4"];
    let started = Instant::now();
    for batch in 0..100 {
        let lines: Vec<LogLine> = (0..1000)
            .map(|i| {
                let n = batch * 1000 + i;
                LogLine::new(
                    Some(steps[n % 4]),
                    format!("line {n}: the quick brown fox jumps over the lazy dog"),
                )
            })
            .collect();
        store.append_logs(&id, &lines).unwrap();
    }
    let appended = started.elapsed();
    let started = Instant::now();
    let all = store.logs(&id, None).unwrap();
    let read = started.elapsed();
    let started = Instant::now();
    let r3 = store.logs(&id, Some("r3")).unwrap();
    let read_step = started.elapsed();
    println!(
        "100k log lines: appended in {appended:?} (100 batches of 1000), read all in {read:?}, \
         read one step's 25k in {read_step:?}"
    );

    assert_eq!(all.len(), 100_000);
    for (n, line) in all.iter().enumerate() {
        assert_eq!(line.seq, n as u64);
        assert_eq!(line.step_ref.as_deref(), Some(steps[n % 4]));
        assert_eq!(
            line.text,
            format!("line {n}: the quick brown fox jumps over the lazy dog")
        );
        assert_eq!(line.truncated_bytes, None);
    }
    assert!(all.windows(2).all(|w| w[0].time <= w[1].time));
    assert_eq!(r3.len(), 25_000);
    assert!(r3.iter().all(|l| l.step_ref.as_deref() == Some("r3")));
    assert_eq!(r3[1].seq, 6);
}

fn log_sequence_continues_across_stores_and_lines_are_bounded(t: TestStore) {
    let (path, store) = (t.location.clone(), t.store);
    let id = store.create_execution(new_execution("w")).unwrap().id;
    store
        .append_logs(&id, &[LogLine::new(None, "one"), LogLine::new(None, "two")])
        .unwrap();
    store.append_logs(&id, &[]).unwrap();
    let other = Store::open(&path).unwrap();
    let long = "é".repeat(MAX_LOG_LINE_BYTES); // twice the limit in bytes
    other
        .append_logs(&id, &[LogLine::new(Some("r1"), long.clone())])
        .unwrap();
    store
        .append_logs(&id, &[LogLine::new(None, "four")])
        .unwrap();

    let lines = store.logs(&id, None).unwrap();
    let seqs: Vec<u64> = lines.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
    let cut = &lines[2];
    let kept = MAX_LOG_LINE_BYTES;
    assert_eq!(cut.truncated_bytes, Some((long.len() - kept) as u64));
    assert!(cut.text.starts_with(&long[..kept]));
    assert!(
        cut.text
            .ends_with(&format!(" [… {} bytes truncated]", long.len() - kept))
    );
    assert!(cut.text.len() < kept + 64);
    assert_eq!(lines[3].text, "four");
    assert_eq!(store.log_count(&id).unwrap(), 4);
    assert!(matches!(
        store.append_logs("nope", &[LogLine::new(None, "x")]),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.log_count("nope"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn masks_registered_secrets_before_they_reach_the_database() {
    let (dir, path, store) = temp_store();
    let token = "tok-9f8e7d6c5b4a";
    let password = "correct-horse-battery";
    let mut new = new_execution("masked");
    new.source = format!("env:\n  TOKEN: {token}\n");
    new.plan = json!({"env": {"TOKEN": token}});
    new.tags.insert("auth".into(), format!("bearer {token}"));
    new.secrets = vec![token.into(), "abc".into()];
    let id = store.create_execution(new).unwrap().id;
    assert_eq!(
        store.execution(&id).unwrap().unwrap().execution.tags["auth"],
        "bearer ****4a"
    );
    store.register_secrets(&id, [password]);
    // Another execution's secrets do not apply here, nor this one's there.
    let other = store.create_execution(new_execution("masked")).unwrap().id;

    store
        .append_logs(
            &id,
            &[
                LogLine::new(Some("r1"), format!("login {password} token={token} abc")),
                LogLine::new(
                    Some("r1"),
                    format!("{}{token}", "x".repeat(MAX_LOG_LINE_BYTES - 10)),
                ),
            ],
        )
        .unwrap();
    store
        .set_output(
            &id,
            "r1",
            "creds",
            &json!({"password": password, "n": [token]}),
        )
        .unwrap();
    store
        .upsert_step(
            &id,
            &StepResult {
                error: Some(format!("denied for {password}")),
                ..StepResult::new("r1", StepStatus::Failed)
            },
        )
        .unwrap();
    store
        .set_status(
            &id,
            ExecutionStatus::Failed,
            Some(&format!("bad token {token}")),
        )
        .unwrap();
    store
        .append_logs(
            &other,
            &[LogLine::new(None, format!("unmasked {password}"))],
        )
        .unwrap();

    let detail = store.execution(&id).unwrap().unwrap();
    assert_eq!(detail.source, "env:\n  TOKEN: ****4a\n");
    assert_eq!(detail.plan, json!({"env": {"TOKEN": "****4a"}}));
    assert_eq!(detail.execution.reason.as_deref(), Some("bad token ****4a"));
    assert_eq!(detail.steps[0].error.as_deref(), Some("denied for ****ry"));
    assert_eq!(
        detail.outputs[0].value,
        json!({"password": "****ry", "n": ["****4a"]})
    );
    let logs = store.logs(&id, None).unwrap();
    assert_eq!(logs[0].text, "login ****ry token=****4a abc");
    // The secret straddled the length limit: it is masked before the line is cut.
    assert!(
        logs[1].text.ends_with("x****4a"),
        "{}",
        &logs[1].text[MAX_LOG_LINE_BYTES - 20..]
    );
    assert_eq!(logs[1].truncated_bytes, None);
    assert_eq!(
        store.logs(&other, None).unwrap()[0].text,
        format!("unmasked {password}")
    );
    drop(store);

    // Nothing of the masked values is in the files, the write-ahead log included.
    let mut files = 0;
    for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!contains(token));
        assert!(!contains("9f8e7d6c5b"));
    }
    assert!(files >= 1);
    drop(dir);
}

#[test]
fn migrates_a_version_1_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    // What testwerk wrote with schema version 1, frozen here: do not update it.
    raw(&path)
        .execute_batch(
            r#"
            PRAGMA journal_mode = wal;
            CREATE TABLE executions (
                pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, workflow TEXT NOT NULL,
                number INTEGER NOT NULL CHECK (number > 0), name TEXT NOT NULL UNIQUE,
                status TEXT NOT NULL CHECK (status IN
                    ('queued', 'running', 'passed', 'failed', 'aborted', 'canceled')),
                reason TEXT, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
                runner_host TEXT NOT NULL, runner_pid INTEGER NOT NULL, runner_start TEXT,
                source TEXT NOT NULL, plan TEXT NOT NULL CHECK (json_valid(plan)),
                UNIQUE (workflow, number));
            CREATE INDEX executions_by_created ON executions (created_at);
            CREATE INDEX executions_by_status ON executions (status);
            CREATE TABLE workflow_counters (workflow TEXT PRIMARY KEY,
                last_number INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE steps (
                execution INTEGER NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
                ref TEXT NOT NULL, step_id TEXT, name TEXT, parent_ref TEXT,
                status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'paused', 'passed',
                    'failed', 'timeout', 'skipped', 'aborted')),
                exit_code INTEGER, started_at TEXT, finished_at TEXT, duration_ms INTEGER,
                error TEXT, UNIQUE (execution, ref));
            CREATE TABLE outputs (
                execution INTEGER NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
                step_ref TEXT NOT NULL, name TEXT NOT NULL,
                value TEXT NOT NULL CHECK (json_valid(value)), UNIQUE (execution, step_ref, name));
            CREATE TABLE logs (
                execution INTEGER NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
                seq INTEGER NOT NULL, step_ref TEXT, time TEXT NOT NULL, text TEXT NOT NULL,
                truncated_bytes INTEGER, PRIMARY KEY (execution, seq));
            PRAGMA application_id = 1415008851;
            PRAGMA user_version = 1;

            INSERT INTO workflow_counters VALUES ('old', 7);
            INSERT INTO executions (id, workflow, number, name, status, reason, created_at,
                started_at, finished_at, runner_host, runner_pid, runner_start, source, plan)
            VALUES ('65f0c0de00112233445566aa', 'old', 7, 'old-7', 'passed', NULL,
                '2024-03-12T20:00:30.123Z', '2024-03-12T20:00:31.000Z',
                '2024-03-12T20:00:35.500Z', 'ci-host', 4242, 'boot:1', 'kind: TestWorkflow',
                '{"v":1}');
            INSERT INTO steps (execution, ref, status, exit_code) VALUES (1, 'r1', 'passed', 0);
            INSERT INTO outputs VALUES (1, 'r1', 'n', '3');
            INSERT INTO logs VALUES (1, 0, 'r1', '2024-03-12T20:00:32.000Z', 'old line', NULL);
            "#,
        )
        .unwrap();
    assert_eq!(user_version(&path), 1);

    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    let detail = store.execution("old-7").unwrap().unwrap();
    assert_eq!(detail.execution.id, "65f0c0de00112233445566aa");
    assert_eq!(detail.execution.status, ExecutionStatus::Passed);
    assert_eq!(
        detail.execution.finished_at.unwrap().to_string(),
        "2024-03-12T20:00:35.500Z"
    );
    assert_eq!(detail.execution.runner.to_string(), "ci-host:4242");
    assert!(detail.execution.tags.is_empty());
    assert_eq!(detail.plan, json!({"v": 1}));
    assert_eq!(detail.steps[0].exit_code, Some(0));
    assert_eq!(detail.outputs[0].value, json!(3));
    assert_eq!(
        store.logs("65f0c0de", Some("r1")).unwrap()[0].text,
        "old line"
    );

    // What version 2 added works on the migrated store.
    let mut new = new_execution("old");
    new.tags.insert("k".into(), "v".into());
    let created = store.create_execution(new).unwrap();
    assert_eq!(created.name, "old-8");
    let tagged = store
        .list_executions(&ExecutionFilter {
            tags: BTreeMap::from([("k".into(), "v".into())]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(tagged.len(), 1);
    let index: i64 = raw(&path)
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'logs_by_step'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 1);
}

#[test]
fn refuses_a_store_from_a_newer_testwerk() {
    let (_dir, path, store) = temp_store();
    drop(store);
    raw(&path)
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found, supported, .. }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("upgrade testwerk"), "{message}");
    // The file was not touched.
    assert_eq!(user_version(&path), SCHEMA_VERSION + 1);
}

#[test]
fn refuses_files_that_are_not_testwerk_stores() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "these are my notes, not a database, ".repeat(100)).unwrap();
    let err = Store::open(&text).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    assert!(err.to_string().contains("notes.txt"), "{err}");

    let other = dir.path().join("other.db");
    raw(&other)
        .execute_batch("CREATE TABLE mine (x); INSERT INTO mine VALUES (1);")
        .unwrap();
    let err = Store::open(&other).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    let tables: i64 = raw(&other)
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1, "nothing was added to the foreign database");
}

#[test]
fn a_write_waiting_too_long_for_another_process_says_the_store_is_locked() {
    let (_dir, path, store) = temp_store();
    let id = store.create_execution(new_execution("w")).unwrap().id;
    store.set_busy_timeout(Duration::from_millis(100)).unwrap();
    let holder = raw(&path);
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();

    let started = Instant::now();
    let err = store
        .append_logs(&id, &[LogLine::new(None, "waiting")])
        .unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(90));
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("locked by another process"), "{message}");
    // Reads go on meanwhile.
    assert!(store.execution(&id).unwrap().is_some());

    holder.execute_batch("COMMIT").unwrap();
    store
        .append_logs(&id, &[LogLine::new(None, "done")])
        .unwrap();
    assert_eq!(store.logs(&id, None).unwrap().len(), 1);
}

/// Set in the child of [`a_read_only_store_is_reported_with_its_path`] to the store's path.
const READ_ONLY_CHILD: &str = "TESTWERK_STORE_TEST_READ_ONLY_CHILD";

/// Not a test: the child process of [`a_read_only_store_is_reported_with_its_path`], run as
/// `nobody` when the test itself runs as root (who may write any file).
#[cfg(unix)]
#[test]
#[ignore = "run as a child process by a_read_only_store_is_reported_with_its_path"]
fn child_opening_a_read_only_store() {
    let Some(path) = std::env::var_os(READ_ONLY_CHILD) else {
        return;
    };
    assert_reported_read_only(Store::open(&path), std::path::Path::new(&path));
}

fn assert_reported_read_only(result: Result<Store, StoreError>, path: &std::path::Path) {
    let Err(err) = result else {
        panic!("{} opened for writing", path.display());
    };
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn a_read_only_store_is_reported_with_its_path() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, path, store) = temp_store();
    drop(store);
    let db_dir = path.parent().unwrap().to_owned();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&db_dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let privileged = std::fs::OpenOptions::new().write(true).open(&path).is_ok();
    if privileged {
        // Root may write read-only files: the kernel is asked again as `nobody`, in a child
        // process (this test binary, running only the child test above).
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let setpriv = testwerk_testinputs::available(
            testwerk_testinputs::which("setpriv"),
            "setpriv (to run this check as an unprivileged user)",
            "apt-get install -y util-linux",
        );
        if let Some(setpriv) = setpriv {
            let output = std::process::Command::new(setpriv)
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(std::env::current_exe().unwrap())
                .args(["--exact", "child_opening_a_read_only_store", "--ignored"])
                .env(READ_ONLY_CHILD, &path)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("1 passed"),
                "{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    } else {
        assert_reported_read_only(Store::open(&path), &path);
    }
    std::fs::set_permissions(&db_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(dir);
}

#[test]
fn a_value_this_build_cannot_read_is_reported_as_damage() {
    let (_dir, path, store) = temp_store();
    let id = store.create_execution(new_execution("w")).unwrap().id;
    raw(&path)
        .execute("UPDATE executions SET created_at = 'yesterday'", [])
        .unwrap();
    let err = store.execution(&id).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("yesterday"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}
