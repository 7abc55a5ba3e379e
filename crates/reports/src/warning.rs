//! [`Warning`]: why a report was read only in part.

use serde::Serialize;

/// A report could not be read to its end: malformed or truncated XML, a tag over
/// [`MAX_EVENT_BYTES`](crate::MAX_EVENT_BYTES), nesting over [`MAX_DEPTH`](crate::MAX_DEPTH).
/// The cases before it were read and kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The report's name as given to the reader (its artifact path).
    pub report: String,
    /// The byte offset in the report where reading stopped.
    pub position: u64,
    /// What was wrong.
    pub problem: String,
    /// How many test cases were read before it.
    pub cases_read: u64,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "test report {}: {} at byte {}; kept the {} test case{} read before it (fix the tool that wrote the report, or check that it finished writing)",
            self.report,
            self.problem,
            self.position,
            self.cases_read,
            if self.cases_read == 1 { "" } else { "s" }
        )
    }
}
