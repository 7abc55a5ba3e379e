//! # testwerk-store
//!
//! The results store: where `testwerk run` (and later the Kubernetes agent) records what
//! happened in each execution of a workflow — its status, the result and outputs of every
//! step, and its logs — so that they can be listed and read back afterwards.
//!
//! By default it is one SQLite database file, embedded (no server):
//! `$XDG_DATA_HOME/testwerk/testwerk.db`, or `~/.local/share/testwerk/testwerk.db` without
//! `XDG_DATA_HOME` ([`Store::open_default`]), or any path ([`Store::open`], for `--store`).
//!
//! Given a `postgres://USER:PASSWORD@HOST:PORT/DATABASE` URL instead of a path,
//! [`Store::open`] uses that PostgreSQL database: several agents (replicas) then share one
//! store. Everything below holds for both; the differences:
//!
//! - The URL's password never shows: [`Store::path`] (in every message) is the URL without
//!   it. [`Store::location`] is the URL as given, for handing to another testwerk process.
//! - Reads run in `REPEATABLE READ` (one snapshot, like SQLite's); writes lock the
//!   execution's row, so writers of one execution take turns and writers of different
//!   executions do not wait for each other.
//! - PostgreSQL text cannot hold NUL: a NUL in a log line is stored as `␀` (U+2400).
//! - A connection the server closed is opened again on the next call; the call that found it
//!   closed fails with [`StoreError::Unreachable`].
//! - The schema is versioned in the table `testwerk_schema` ([`POSTGRES_SCHEMA_VERSION`]);
//!   agents starting together migrate under an advisory lock, once. A database with an
//!   `executions` table but no `testwerk_schema` is refused as another application's.
//! - Files that belong with the store (local artifacts, the artifact token key) live beside
//!   [`Store::files_beside`]: the default store path, as PostgreSQL has no file here.
//! - Connections are plain TCP (no TLS yet): keep the server on a trusted network.
//!
//! The SQL is written once, for both ([`db`](self) module `db`); each database has its own
//! schema, with the same tables.
//!
//! ## Example
//!
//! ```
//! use testwerk_store::{ExecutionStatus, LogLine, NewExecution, StepResult, StepStatus, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path().join("testwerk.db"))?;
//!
//! let mut new = NewExecution::new("smoke", "kind: TestWorkflow\n…", serde_json::json!({}));
//! new.secrets.push("hunter22".into());
//! let execution = store.create_execution(new)?;
//! assert_eq!(execution.name, "smoke-1");
//!
//! let id = &execution.id;
//! store.set_status(id, ExecutionStatus::Running, None)?;
//! store.upsert_step(id, &StepResult::new("r1", StepStatus::Running))?;
//! store.append_logs(id, &[LogLine::new(Some("r1"), "logging in with hunter22")])?;
//! store.set_output(id, "r1", "answer", &serde_json::json!(42))?;
//! store.set_status(id, ExecutionStatus::Passed, None)?;
//!
//! let detail = store.execution("smoke-1")?.expect("just created");
//! assert_eq!(detail.execution.status, ExecutionStatus::Passed);
//! assert_eq!(store.logs("smoke-1", Some("r1"))?[0].text, "logging in with ****22");
//! # Ok(())
//! # }
//! ```
//!
//! ## What is stored
//!
//! - An [`Execution`] of a workflow: a unique [`id`](Execution::id) (24 hex digits, like
//!   Testkube's) and a [`name`](Execution::name) `<workflow>-<number>` numbered per workflow;
//!   the workflow's YAML source and resolved plan; an [`ExecutionStatus`]; creation, start and
//!   finish times; a reason; the [`RunnerIdentity`] of the process running it; tags.
//! - A [`StepResult`] per step ref: status ([`StepStatus`]), exit code, times, error.
//! - [`StepOutput`]s: per step, name → JSON value.
//! - Logs: numbered lines ([`StoredLogLine`]), each from one step or from the execution as a
//!   whole, appended in batches ([`Store::append_logs`]). Lines longer than
//!   [`MAX_LOG_LINE_BYTES`] are cut with a marker, and the cut is recorded.
//! - [`ClusterEvent`]s: what Kubernetes said about the execution's Job and Pod, each event
//!   once however often a backend reports it ([`Store::record_events`]).
//! - [`TestCase`]s read from the JUnit/xUnit reports among a step's artifacts, numbered in
//!   recording order ([`Store::record_test_cases`]), listed failures first
//!   ([`Store::test_cases`]) and counted per status ([`Store::test_case_counts`]).
//! - [`ArtifactRecord`]s: the files `artifacts` steps kept, per step, with size and content
//!   type; the bytes live in artifact storage (`testwerk-artifacts`).
//!
//! Times are [`Timestamp`]s: UTC, RFC 3339 with milliseconds.
//!
//! ## Looking executions up
//!
//! Reads ([`Store::execution`], [`Store::logs`]) accept the unique id, the name
//! (`smoke-12`) or a prefix of the id that matches one execution only. Writes take the
//! unique id that [`Store::create_execution`] returned.
//!
//! ## Crashes
//!
//! Every write is its own transaction, committed before the call returns; a batch of log lines
//! is one transaction. A runner killed at any moment leaves a consistent database holding
//! everything it wrote up to its last completed call. The database runs in WAL mode with
//! `synchronous = NORMAL`: committed data survives the death of the process; a power loss may
//! roll back the last few transactions but never leaves a damaged database.
//!
//! A runner that dies leaves its execution `running`. [`Store::recover_abandoned`] finds such
//! executions whose runner (same host, process gone or pid reused) no longer runs and aborts
//! them, with the reason `runner <host>:<pid> stopped before the execution finished`.
//!
//! ## Several processes
//!
//! Any number of processes may open the same store: readers see committed data and never
//! wait; writers take turns, waiting up to [`DEFAULT_BUSY_TIMEOUT`] for each other before
//! failing with [`StoreError::Locked`]. Inside a process, share one [`Store`] (it is `Sync`).
//!
//! ## Secrets
//!
//! Register the sensitive values of an execution ([`NewExecution::secrets`],
//! [`Store::register_secrets`]) and the store masks them — `****` followed by their last two
//! characters — in everything it writes for that execution: source, plan, tags, reasons, step
//! errors, outputs and logs. It is a second line of defence: the runner masks first.
//!
//! ## Schema
//!
//! On SQLite the schema is versioned with `PRAGMA user_version` ([`SCHEMA_VERSION`]) and marked as a
//! testwerk store with `PRAGMA application_id`. Opening a store written by an older testwerk
//! migrates it, one committed step per version; a store from a newer testwerk is refused
//! ([`StoreError::NewerSchema`]), as is a file that is not a testwerk store.
//!
//! | table | holds |
//! | --- | --- |
//! | `executions` | one row per execution; `status`, `created_at`… as text |
//! | `execution_tags` | `(execution, key) → value` |
//! | `workflow_counters` | the last number given to each workflow's executions |
//! | `steps` | `(execution, ref) →` step result, in first-recorded order |
//! | `outputs` | `(execution, step_ref, name) →` JSON value |
//! | `logs` | `(execution, seq) →` step ref, time, text, bytes cut |
//! | `events` | `(execution, uid, count) →` Kubernetes event |
//! | `artifacts` | `(execution, step_ref, name) →` size, content type, storage key ([`Store::record_artifact`]) |
//! | `test_cases` | `(execution, seq) →` step ref, report, suite, class, name, time, status, message |
//! | `schedule_ticks` | `(key, tick) →` when it was claimed ([`Store::claim_tick`]) |
//!
//! Inspect it with `sqlite3 ~/.local/share/testwerk/testwerk.db`.

mod artifacts;
mod db;
mod error;
mod events;
mod id;
mod logs;
mod mask;
mod model;
mod query;
mod recover;
mod runner;
mod schedule;
mod store;
pub mod tags;
mod test_cases;
mod time;

pub use artifacts::{ArtifactRecord, NewArtifact};
pub use db::postgres_schema::POSTGRES_SCHEMA_VERSION;
pub use db::sqlite_schema::SCHEMA_VERSION;
pub use error::StoreError;
pub use id::new_execution_id;
pub use logs::{MAX_LOG_LINE_BYTES, lines_as_text};
pub use mask::MIN_SECRET_CHARS;
pub use model::{
    ClusterEvent, Execution, ExecutionDetail, ExecutionFilter, ExecutionStatus, LogLine,
    NewExecution, StepOutput, StepResult, StepStatus, StoredLogLine, UnknownStatus,
};
pub use query::ExecutionStats;
pub use runner::RunnerIdentity;
pub use store::{DEFAULT_BUSY_TIMEOUT, Store};
pub use test_cases::{StoredTestCase, TestCaseCounts, TestCaseReport};
pub use testwerk_reports::{
    CaseStatus, ReadReportError, ReportSummary, TestCase, Warning as ReportWarning,
};
pub use time::{ParseTimestampError, Timestamp};
