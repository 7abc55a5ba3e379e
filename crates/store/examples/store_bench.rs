//! The results store on its two databases, side by side: SQLite (a file) against PostgreSQL
//! (Debian's, started on 127.0.0.1 by `testwerk-testpostgres`, `fsync` off as in the tests).
//!
//! `cargo run --release -p testwerk-store --example store_bench`
//!
//! Measures, for each: creating 1,000 executions (each with a step and a status change),
//! appending 100,000 log lines in batches of 500 (as the recorders batch them), reading the
//! whole log back, and listing the newest 100 executions (median of 21). It prints each figure
//! for both; neither is an assertion.

use std::time::{Duration, Instant};

use testwerk_store::{
    ExecutionFilter, ExecutionStatus, LogLine, NewExecution, StepResult, StepStatus, Store,
};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn bench(name: &str, store: &Store) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut last = String::new();
    for _ in 0..1000 {
        let e = store.create_execution(NewExecution::new(
            "bench",
            "kind: TestWorkflow",
            serde_json::json!({}),
        ))?;
        store.set_status(&e.id, ExecutionStatus::Running, None)?;
        store.upsert_step(&e.id, &StepResult::new("r1", StepStatus::Passed))?;
        last = e.id;
    }
    let create = started.elapsed();

    let started = Instant::now();
    for batch in 0..200 {
        let lines: Vec<LogLine> = (0..500)
            .map(|i| {
                LogLine::new(
                    Some("r1"),
                    format!("line {} of the benchmark's log", batch * 500 + i),
                )
            })
            .collect();
        store.append_logs(&last, &lines)?;
    }
    let append = started.elapsed();

    let started = Instant::now();
    let read = store.logs(&last, None)?.len();
    let read_time = started.elapsed();
    assert_eq!(read, 100_000);

    let filter = ExecutionFilter {
        limit: Some(100),
        ..Default::default()
    };
    let list = median(
        (0..21)
            .map(|_| {
                let t = Instant::now();
                let _ = store.list_executions(&filter);
                t.elapsed()
            })
            .collect(),
    );
    println!(
        "{name:>10}: 1,000 executions created in {:.2} s ({:.2} ms each); 100,000 log lines appended in {:.2} s ({:.0} lines/s); read back in {:.0} ms; newest 100 listed in {:.2} ms",
        create.as_secs_f64(),
        create.as_secs_f64(),
        append.as_secs_f64(),
        100_000.0 / append.as_secs_f64(),
        read_time.as_secs_f64() * 1000.0,
        list.as_secs_f64() * 1000.0,
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let sqlite = Store::open(dir.path().join("bench.db"))?;
    bench("SQLite", &sqlite)?;
    match testwerk_testpostgres::server() {
        Some(server) => bench("PostgreSQL", &Store::open(server.database().url)?)?,
        None => println!("PostgreSQL: not installed (apt-get install -y postgresql); not measured"),
    }
    Ok(())
}
