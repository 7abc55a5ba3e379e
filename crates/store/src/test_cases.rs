//! Test cases read from the JUnit/xUnit reports among an execution's artifacts
//! (`testwerk-reports`): recorded in batches, listed failures first, counted per status.

use std::fmt;

use serde::Serialize;
use testwerk_reports::{CaseStatus, ReadReportError, ReportSummary, TestCase, read_report};

use crate::db::Tx;
use crate::error::StoreError;
use crate::store::{Store, to_i64, to_u64};

/// A test case as stored: which step's which report it came from, and its place in the
/// execution's order of recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredTestCase {
    /// Its number in the execution, from 0, in the order cases were recorded.
    pub seq: u64,
    /// The step whose artifacts held the report.
    pub step_ref: String,
    /// The report's artifact name (its path under the step's artifacts).
    pub report: String,
    /// The case.
    #[serde(flatten)]
    pub case: TestCase,
}

/// How many of an execution's test cases ended with each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TestCaseCounts {
    /// Passed cases.
    pub passed: u64,
    /// Failed cases.
    pub failed: u64,
    /// Cases that ended in an error.
    pub error: u64,
    /// Skipped cases.
    pub skipped: u64,
}

impl TestCaseCounts {
    /// All cases.
    pub fn total(&self) -> u64 {
        self.passed + self.failed + self.error + self.skipped
    }

    fn add(&mut self, status: CaseStatus, n: u64) {
        match status {
            CaseStatus::Passed => self.passed += n,
            CaseStatus::Failed => self.failed += n,
            CaseStatus::Error => self.error += n,
            CaseStatus::Skipped => self.skipped += n,
        }
    }
}

/// `12 passed, 2 failed, 1 skipped` (statuses without cases left out), or `no test cases`.
impl fmt::Display for TestCaseCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [
            (self.passed, "passed"),
            (self.failed, "failed"),
            (self.error, if self.error == 1 { "error" } else { "errors" }),
            (self.skipped, "skipped"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}"))
        .collect();
        if parts.is_empty() {
            f.write_str("no test cases")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// An execution's test cases with their counts, as `testwerk tests --output json` prints them
/// and the agent's API serves them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestCaseReport {
    /// The execution's unique id.
    pub execution: String,
    /// How many cases ended with each status.
    pub counts: TestCaseCounts,
    /// The cases, failures first (see [`Store::test_cases`]).
    pub cases: Vec<StoredTestCase>,
}

/// Cases recorded per transaction by [`Store::record_report_file`].
const REPORT_BATCH: usize = 2000;

/// The list order: failures, then errors, then skips, then passes; in recording order within.
const FAILURES_FIRST: &str = "CASE status WHEN 'failed' THEN 0 WHEN 'error' THEN 1
                              WHEN 'skipped' THEN 2 ELSE 3 END, seq";

impl Store {
    /// Records `cases` of execution `id` (the full unique id), read from the report `report`
    /// among step `step_ref`'s artifacts, in one transaction, numbered on from the last
    /// recorded case. Names and messages are masked like log lines (an assertion message may
    /// quote a secret).
    ///
    /// A report's cases come out of the reader one at a time: record them in batches of a few
    /// thousand, so that a huge report needs neither all its cases in memory nor a
    /// transaction per case.
    pub fn record_test_cases(
        &self,
        id: &str,
        step_ref: &str,
        report: &str,
        cases: &[TestCase],
    ) -> Result<(), StoreError> {
        if cases.is_empty() {
            return Ok(());
        }
        let masker = self.masker(id);
        let mask = |text: &str| masker.mask(text).into_owned();
        let report = mask(report);
        self.write(|tx| {
            let (pk, _) = self.execution_pk(tx, id)?;
            let next: i64 = tx.query_one(
                "SELECT coalesce(max(seq) + 1, 0) FROM test_cases WHERE execution = ?1",
                &[pk.into()],
                |r| r.get(0),
            )?;
            for (seq, case) in (next..).zip(cases) {
                tx.execute(
                    "INSERT INTO test_cases
                         (execution, seq, step_ref, report, suite, class, name, time_ms, status,
                          message)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    &[
                        pk.into(),
                        seq.into(),
                        step_ref.into(),
                        (&report).into(),
                        mask(&case.suite).into(),
                        case.class.as_deref().map(mask).into(),
                        mask(&case.name).into(),
                        case.time_ms.map(to_i64).into(),
                        case.status.as_str().into(),
                        case.message.as_deref().map(mask).into(),
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// Reads the report file at `path` (artifact `report` of step `step_ref`) and records its
    /// test cases for execution `id`, [`REPORT_BATCH`] per transaction, never holding more in
    /// memory. A file that is not a JUnit/xUnit report records nothing
    /// ([`ReportSummary::format`] is `None`); a malformed one records the cases before the
    /// problem and returns its warning, for the caller to show and log.
    pub fn record_report_file(
        &self,
        id: &str,
        step_ref: &str,
        report: &str,
        path: &std::path::Path,
    ) -> Result<ReportSummary, ReadReportError<StoreError>> {
        let file = std::fs::File::open(path).map_err(|source| ReadReportError::Open {
            path: path.to_owned(),
            source,
        })?;
        let input = std::io::BufReader::with_capacity(64 * 1024, file);
        self.record_report(id, step_ref, report, input)
    }

    /// As [`Store::record_report_file`], from any reader (an artifact read back from storage).
    pub fn record_report<R: std::io::BufRead>(
        &self,
        id: &str,
        step_ref: &str,
        report: &str,
        input: R,
    ) -> Result<ReportSummary, ReadReportError<StoreError>> {
        let mut batch = Vec::with_capacity(REPORT_BATCH);
        let summary = read_report(input, report, |case| {
            batch.push(case);
            if batch.len() == REPORT_BATCH {
                self.record_test_cases(id, step_ref, report, &batch)?;
                batch.clear();
            }
            Ok(())
        })?;
        self.record_test_cases(id, step_ref, report, &batch)
            .map_err(ReadReportError::Stopped)?;
        Ok(summary)
    }

    /// The execution `query` names with its test cases and their counts, read together.
    pub fn test_case_report(&self, query: &str) -> Result<TestCaseReport, StoreError> {
        self.read(|tx| {
            let pk = self.resolve_existing(tx, query)?;
            let execution = tx.query_one(
                "SELECT id FROM executions WHERE pk = ?1",
                &[pk.into()],
                |r| r.get(0),
            )?;
            Ok(TestCaseReport {
                execution,
                counts: self.counts_of(tx, pk)?,
                cases: self.cases_of(tx, pk)?,
            })
        })
    }

    /// The test cases of the execution `query` names (see [`Store::execution`]): failures,
    /// then errors, then skips, then passes, each in recording order. Fails with
    /// [`StoreError::NotFound`] if there is no such execution.
    pub fn test_cases(&self, query: &str) -> Result<Vec<StoredTestCase>, StoreError> {
        self.read(|tx| {
            let pk = self.resolve_existing(tx, query)?;
            self.cases_of(tx, pk)
        })
    }

    /// How many test cases of the execution `query` names ended with each status.
    pub fn test_case_counts(&self, query: &str) -> Result<TestCaseCounts, StoreError> {
        self.read(|tx| {
            let pk = self.resolve_existing(tx, query)?;
            self.counts_of(tx, pk)
        })
    }

    fn cases_of(&self, tx: &mut Tx<'_>, pk: i64) -> Result<Vec<StoredTestCase>, StoreError> {
        tx.query(
            &format!(
                "SELECT seq, step_ref, report, suite, class, name, time_ms, status, message
                 FROM test_cases WHERE execution = ?1 ORDER BY {FAILURES_FIRST}"
            ),
            &[pk.into()],
            |row| {
                Ok(StoredTestCase {
                    seq: to_u64(row.get(0)?),
                    step_ref: row.get(1)?,
                    report: row.get(2)?,
                    case: TestCase {
                        suite: row.get(3)?,
                        class: row.get(4)?,
                        name: row.get(5)?,
                        time_ms: row.get::<Option<i64>>(6)?.map(to_u64),
                        status: row.parse(7)?,
                        message: row.get(8)?,
                    },
                })
            },
        )
    }

    fn counts_of(&self, tx: &mut Tx<'_>, pk: i64) -> Result<TestCaseCounts, StoreError> {
        let rows: Vec<(Option<CaseStatus>, i64)> = tx.query(
            "SELECT status, count(*) FROM test_cases WHERE execution = ?1 GROUP BY status",
            &[pk.into()],
            |row| Ok((row.parse_opt(0)?, row.get(1)?)),
        )?;
        let mut counts = TestCaseCounts::default();
        for (status, n) in rows {
            if let Some(status) = status {
                counts.add(status, to_u64(n));
            }
        }
        Ok(counts)
    }
}
