//! How long the web UI's server side takes on a big store (run with `--release`):
//!
//! - the executions list's first page (50 rows and the total) of a store of 10,000
//!   executions, unfiltered and filtered by a tag, and a page deep in the list;
//! - an execution page whose log has 100,000 lines (the page shows its last 1,000), and a
//!   search over that log.
//!
//! Each is read from the store and rendered to HTML, as a request would be; the median of
//! repeated runs is printed next to the targets (100 ms and 300 ms).
//!
//! `cargo run --release -p testwerk-web --example ui_bench`

use std::time::{Duration, Instant};

use testwerk_store::{ExecutionStatus, LogLine, NewExecution, StepResult, StepStatus, Store};
use testwerk_web::{execution, list};

const EXECUTIONS: usize = 10_000;
const LOG_LINES: usize = 100_000;

fn median(mut f: impl FnMut() -> usize, runs: usize) -> (Duration, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let started = Instant::now();
        size = f();
        times.push(started.elapsed());
    }
    times.sort();
    (times[runs / 2], size)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("bench.db"))?;

    let started = Instant::now();
    let mut last = String::new();
    for n in 0..EXECUTIONS {
        let workflow = format!("workflow-{}", n % 40);
        let mut new = NewExecution::new(&workflow, "kind: TestWorkflow\n", serde_json::json!({}));
        new.tags.insert(
            "team".into(),
            ["payments", "search", "checkout"][n % 3].into(),
        );
        let e = store.create_execution(new)?;
        store.set_status(&e.id, ExecutionStatus::Running, None)?;
        let status = if n % 7 == 0 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        };
        store.set_status(&e.id, status, None)?;
        if n == EXECUTIONS / 2 {
            last = e.id;
        }
    }
    println!(
        "filled a store with {EXECUTIONS} executions in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let shared = &store;
    let page = |query: &str| {
        let store = shared;
        let q = list::ListQuery::parse(Some(query)).unwrap_or_else(|e| panic!("{e}"));
        move || {
            let read = list::read(store, &q).unwrap_or_else(|e| panic!("{e}"));
            list::render("bench", &q, &read).len()
        }
    };
    let (t, bytes) = median(page(""), 21);
    println!(
        "executions list, first page of {EXECUTIONS}: {:.2} ms ({bytes} bytes of HTML); target < 100 ms",
        ms(t)
    );
    let (t, _) = median(page("tag=team%3Dsearch"), 21);
    println!(
        "executions list filtered by a tag: {:.2} ms; target < 100 ms",
        ms(t)
    );
    let (t, _) = median(page("workflow=workflow-7&status=failed"), 21);
    println!(
        "executions list filtered by workflow and status: {:.2} ms",
        ms(t)
    );
    let (t, _) = median(page(&format!("after={last}")), 21);
    println!(
        "executions list, a page from the middle (keyset): {:.2} ms",
        ms(t)
    );

    let e = store.create_execution(NewExecution::new(
        "long-log",
        "kind: TestWorkflow\n",
        serde_json::json!({}),
    ))?;
    store.set_status(&e.id, ExecutionStatus::Running, None)?;
    for (n, step) in ["r1", "r2"].iter().enumerate() {
        let mut s = StepResult::new(*step, StepStatus::Passed);
        s.name = Some(format!("Step {n}"));
        store.upsert_step(&e.id, &s)?;
    }
    let started = Instant::now();
    for chunk in 0..LOG_LINES / 10_000 {
        let lines: Vec<LogLine> = (0..10_000)
            .map(|i| {
                let n = chunk * 10_000 + i;
                let step = if n < LOG_LINES / 2 { "r1" } else { "r2" };
                LogLine::new(
                    Some(step),
                    format!(
                        "\u{1b}[32mINFO\u{1b}[0m line {n}: request handled in {} ms",
                        n % 97
                    ),
                )
            })
            .collect();
        store.append_logs(&e.id, &lines)?;
    }
    store.set_status(&e.id, ExecutionStatus::Passed, None)?;
    println!(
        "stored a {LOG_LINES}-line log in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (t, bytes) = median(
        || {
            let loaded = execution::load(&store, &e.id, None, None)
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("no execution"));
            execution::render(&loaded, None).len()
        },
        11,
    );
    println!(
        "execution page with a {LOG_LINES}-line log: {:.2} ms ({bytes} bytes of HTML); target < 300 ms",
        ms(t)
    );
    let (t, _) = median(
        || {
            let loaded = execution::load(&store, &e.id, None, Some("line 99999"))
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("no execution"));
            execution::render(&loaded, Some("line 99999")).len()
        },
        11,
    );
    println!("the same page searching its log: {:.2} ms", ms(t));
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
