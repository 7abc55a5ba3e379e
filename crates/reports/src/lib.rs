//! # testwerk-reports
//!
//! Test reports found among a step's artifacts, read into test cases: suite, class, name,
//! time, status (`passed`, `failed`, `error`, `skipped`) and, for failures, errors and skips,
//! the message.
//!
//! Two formats, told apart by the root element:
//!
//! - **JUnit XML** (`<testsuites>` or `<testsuite>` at the root; `testsuite`s may nest;
//!   `testcase` with `failure`, `error`, `skipped`): what Maven surefire, Gradle, pytest
//!   `--junitxml`, Jest (`jest-junit`), k6's JUnit summary and newman's `junit` reporter write.
//! - **xUnit.net v2 XML** (`<assemblies>` or `<assembly>`; `collection`s of `test`s with a
//!   `result` of `Pass`, `Fail`, `Skip`, `NotRun`, and `failure/message`, `stack-trace`,
//!   `reason`).
//!
//! Anything else — another root element, not XML at all — is *not a report*: no case, no
//! warning. An artifact is a report when its name ends in `.xml` and its root element is one
//! of the above ([`report_format`]).
//!
//! ## Bounded memory
//!
//! The reader is a pull parser over a buffered file (quick-xml), never a tree: cases come out
//! one at a time ([`ReportReader`] is an [`Iterator`]; [`read_report_file`] hands each to a
//! callback), so a caller stores them in batches. Whatever the input, memory stays bounded:
//!
//! - a message keeps [`MAX_MESSAGE_BYTES`], names [`MAX_NAME_BYTES`]; what is cut is counted
//!   and noted at the end (`… [52331 more bytes cut]`);
//! - a text or CDATA section longer than [`MAX_EVENT_BYTES`] is cut before it reaches the
//!   parser's buffer (a 90 MB `<system-out>` costs 1 MiB); a longer tag stops the parse;
//! - elements nest at most [`MAX_DEPTH`] deep.
//!
//! ## Malformed reports
//!
//! Malformed or truncated XML never panics: the cases read before the problem are kept and a
//! [`Warning`] names the report, the byte position and the problem.
//!
//! ```
//! use testwerk_reports::{CaseStatus, Format, ReportReader};
//!
//! let xml = r#"<testsuites><testsuite name="math">
//!   <testcase classname="t.Add" name="adds" time="0.5"/>
//!   <testcase classname="t.Add" name="overflows"><failure message="expected 0">trace</failure></testcase>
//! </testsuite></testsuites>"#;
//! let mut reader = ReportReader::new(xml.as_bytes(), "report.xml");
//! assert_eq!(reader.format(), Some(Format::Junit));
//! let cases: Vec<_> = reader.by_ref().collect();
//! assert_eq!(cases[0].time_ms, Some(500));
//! assert_eq!(cases[1].status, CaseStatus::Failed);
//! assert_eq!(cases[1].message.as_deref(), Some("expected 0\ntrace"));
//! assert!(reader.warnings().is_empty());
//! ```

mod bounded_input;
mod capped;
mod case;
mod detect;
mod reader;
#[doc(hidden)]
pub mod sample;
mod warning;

pub use case::{CaseStatus, Format, TestCase, UnknownCaseStatus};
pub use detect::{
    ReadReportError, ReportSummary, has_report_name, read_report, read_report_file, report_format,
};
pub use reader::{MAX_DEPTH, MAX_EVENT_BYTES, MAX_MESSAGE_BYTES, MAX_NAME_BYTES, ReportReader};
pub use warning::Warning;
