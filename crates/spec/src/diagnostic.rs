//! The error type of this crate: one problem, located in a file, phrased for a person.

use std::fmt;

/// A 1-based position in a source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem found in an input file.
///
/// `Display` renders it like a compiler error:
///
/// ```text
/// error: unknown field `shel` in a step
///   --> workflows/smoke.yaml:12:7 at spec.steps[0].shel
///   = expected one of: id, name, condition, ...
///   = help: did you mean `shell`?
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: String,
    /// Where in the file; `None` when the whole file is at fault (unreadable, empty).
    pub location: Option<Location>,
    /// Field path inside the document, e.g. `spec.steps[0].shell`; empty for the document itself.
    pub path: String,
    pub message: String,
    /// What would have been accepted.
    pub expected: Option<String>,
    /// A likely fix.
    pub suggestion: Option<String>,
}

impl Diagnostic {
    /// A diagnostic about a whole file.
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.into(),
            location: None,
            path: String::new(),
            message: message.into(),
            expected: None,
            suggestion: None,
        }
    }

    pub fn with_expected(mut self, expected: impl Into<String>) -> Diagnostic {
        self.expected = Some(expected.into());
        self
    }

    pub fn with_suggestion(mut self, suggestion: impl Into<String>) -> Diagnostic {
        self.suggestion = Some(suggestion.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        write!(f, "  --> {}", self.file)?;
        if let Some(loc) = self.location {
            write!(f, ":{loc}")?;
        }
        if !self.path.is_empty() {
            write!(f, " at {}", self.path)?;
        }
        if let Some(expected) = &self.expected {
            write!(f, "\n  = expected {expected}")?;
        }
        if let Some(suggestion) = &self.suggestion {
            write!(f, "\n  = help: {suggestion}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}
