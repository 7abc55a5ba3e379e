//! What a report holds: [`TestCase`]s with a [`CaseStatus`], read from a report [`Format`].

use serde::Serialize;

/// The report formats this crate reads, told apart by the root element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JUnit XML (`<testsuites>` or `<testsuite>`): Maven surefire, Gradle, pytest
    /// `--junitxml`, Jest, k6, newman and most others.
    Junit,
    /// xUnit.net v2 XML (`<assemblies>` or `<assembly>`).
    Xunit,
}

impl Format {
    /// The format whose root element is `name` (without namespace prefix), if any.
    pub fn from_root(name: &[u8]) -> Option<Format> {
        match name {
            b"testsuites" | b"testsuite" => Some(Format::Junit),
            b"assemblies" | b"assembly" => Some(Format::Xunit),
            _ => None,
        }
    }

    /// `junit` or `xunit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Junit => "junit",
            Format::Xunit => "xunit",
        }
    }
}

/// The outcome of one test case. When a case carries several outcomes (a JUnit `<failure/>`
/// and an `<error/>` both, which some tools write), the most severe wins:
/// error, then failed, then skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    /// No failure, error or skip recorded.
    Passed,
    /// Skipped (JUnit `<skipped>`, xUnit `Skip` or `NotRun`).
    Skipped,
    /// An assertion failed (JUnit `<failure>`, xUnit `Fail`).
    Failed,
    /// The test could not run to its end (JUnit `<error>`).
    Error,
}

impl CaseStatus {
    /// `passed`, `failed`, `error` or `skipped`: the words the store and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Passed => "passed",
            CaseStatus::Skipped => "skipped",
            CaseStatus::Failed => "failed",
            CaseStatus::Error => "error",
        }
    }
}

impl std::fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that names no [`CaseStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a test case status (passed, failed, error, skipped)")]
pub struct UnknownCaseStatus(pub String);

impl std::str::FromStr for CaseStatus {
    type Err = UnknownCaseStatus;

    fn from_str(s: &str) -> Result<CaseStatus, UnknownCaseStatus> {
        match s {
            "passed" => Ok(CaseStatus::Passed),
            "skipped" => Ok(CaseStatus::Skipped),
            "failed" => Ok(CaseStatus::Failed),
            "error" => Ok(CaseStatus::Error),
            other => Err(UnknownCaseStatus(other.to_owned())),
        }
    }
}

/// One test case read from a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestCase {
    /// The innermost enclosing suite's name (JUnit `testsuite`, xUnit `collection` or, without
    /// one, the assembly's file name); empty when there is none.
    pub suite: String,
    /// JUnit `classname`, xUnit `type`.
    pub class: Option<String>,
    /// The test's name.
    pub name: String,
    /// How long it ran, when the report says.
    pub time_ms: Option<u64>,
    /// Its outcome.
    pub status: CaseStatus,
    /// For failures, errors and skips: the `message` attribute, then the element's text (a
    /// stack trace, say), at most [`MAX_MESSAGE_BYTES`](crate::MAX_MESSAGE_BYTES), ending with
    /// a note of how much was cut.
    pub message: Option<String>,
}
