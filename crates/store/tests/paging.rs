//! Reading a long history a page at a time, as the web UI does: keyset paging, counts, time
//! windows, log search, and the figures `/metrics` reads.

mod common;

use common::{TestStore, new_execution};
use testwerk_store::{ExecutionFilter, ExecutionStatus, LogLine, Timestamp};

on_both_databases!(
    pages_follow_one_another_without_gaps_or_repeats_while_new_executions_arrive,
    a_time_window_selects_by_creation,
    log_search_ignores_case_and_stays_within_its_limit,
    stats_count_every_status_and_the_durations_of_finished_executions
);

fn pages_follow_one_another_without_gaps_or_repeats_while_new_executions_arrive(t: TestStore) {
    let store = t.store;
    let mut ids = Vec::new();
    for n in 0..7 {
        let e = store
            .create_execution(new_execution(if n % 2 == 0 { "even" } else { "odd" }))
            .unwrap_or_else(|e| panic!("{e}"));
        ids.push(e.id);
    }
    let mut filter = ExecutionFilter {
        limit: Some(3),
        ..Default::default()
    };
    let first = store
        .list_executions(&filter)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.len(), 3);
    // One arrives while the reader looks at the first page: the next page is unaffected.
    store
        .create_execution(new_execution("even"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut seen: Vec<String> = first.iter().map(|e| e.id.clone()).collect();
    filter.after = first.last().map(|e| e.id.clone());
    loop {
        let page = store
            .list_executions(&filter)
            .unwrap_or_else(|e| panic!("{e}"));
        if page.is_empty() {
            break;
        }
        filter.after = page.last().map(|e| e.id.clone());
        seen.extend(page.into_iter().map(|e| e.id));
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected, "newest first, each once");
    assert_eq!(
        store.count_executions(&filter).unwrap_or(0),
        8,
        "the count ignores the page"
    );

    let evens = ExecutionFilter {
        workflow: Some("even".into()),
        ..Default::default()
    };
    assert_eq!(store.count_executions(&evens).unwrap_or(0), 5);
    let unknown = ExecutionFilter {
        after: Some("no-such-id".into()),
        ..Default::default()
    };
    assert!(
        store
            .list_executions(&unknown)
            .unwrap_or_default()
            .is_empty()
    );
}

fn a_time_window_selects_by_creation(t: TestStore) {
    let store = t.store;
    let e = store
        .create_execution(new_execution("w"))
        .unwrap_or_else(|e| panic!("{e}"));
    let at = e.created_at;
    let window = |from: i64, until: i64| ExecutionFilter {
        created_from: Some(Timestamp::from_unix_millis(at.unix_millis() + from)),
        created_until: Some(Timestamp::from_unix_millis(at.unix_millis() + until)),
        ..Default::default()
    };
    assert_eq!(store.count_executions(&window(0, 1)).unwrap_or(0), 1);
    assert_eq!(store.count_executions(&window(1, 1000)).unwrap_or(9), 0);
    assert_eq!(
        store.count_executions(&window(-1000, 0)).unwrap_or(9),
        0,
        "until is exclusive"
    );
}

fn log_search_ignores_case_and_stays_within_its_limit(t: TestStore) {
    let store = t.store;
    let e = store
        .create_execution(new_execution("w"))
        .unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<LogLine> = (0..100)
        .map(|n| {
            LogLine::new(
                Some("r1"),
                if n % 10 == 0 {
                    format!("ERROR at {n}")
                } else {
                    format!("fine {n}")
                },
            )
        })
        .collect();
    store
        .append_logs(&e.id, &lines)
        .unwrap_or_else(|e| panic!("{e}"));
    let hits = store.search_logs(&e.id, "error", 1000).unwrap_or_default();
    assert_eq!(
        hits.iter().map(|l| l.seq).collect::<Vec<_>>(),
        (0..100).step_by(10).collect::<Vec<u64>>()
    );
    assert_eq!(
        store
            .search_logs(&e.id, "Error", 3)
            .unwrap_or_default()
            .len(),
        3
    );
    // `%` and `_` are text, not patterns.
    assert!(
        store
            .search_logs(&e.id, "%", 10)
            .unwrap_or_default()
            .is_empty()
    );
}

fn stats_count_every_status_and_the_durations_of_finished_executions(t: TestStore) {
    let store = t.store;
    let a = store
        .create_execution(new_execution("w"))
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .create_execution(new_execution("w"))
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .set_status(&a.id, ExecutionStatus::Running, None)
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .set_status(&a.id, ExecutionStatus::Passed, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let stats = store.execution_stats().unwrap_or_else(|e| panic!("{e}"));
    let count = |s: ExecutionStatus| {
        stats
            .by_status
            .iter()
            .find(|(x, _)| *x == s)
            .map(|(_, n)| *n)
    };
    assert_eq!(count(ExecutionStatus::Passed), Some(1));
    assert_eq!(count(ExecutionStatus::Queued), Some(1));
    assert_eq!(
        count(ExecutionStatus::Aborted),
        Some(0),
        "every status is listed"
    );
    assert_eq!(stats.durations_ms.len(), 1);
    assert_eq!(store.error_count(), 0);
}
