//! Problems found while resolving, before they are placed in a file.

use testwerk_spec::{Diagnostic, Source};

/// One problem, at a field path of the document being resolved.
///
/// A problem found inside a template is re-anchored, on its way out, at the reference that
/// brought the template in (`spec.use[0]`, `spec.steps[2].template`), with the template's name,
/// file and inner field path folded into the message: the reference is what the author of the
/// workflow can change, the rest tells them why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
    pub suggestion: Option<String>,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
            suggestion: None,
        }
    }

    pub fn with_suggestion(mut self, suggestion: Option<String>) -> Self {
        self.suggestion = suggestion;
        self
    }

    /// Moves a problem found inside template `name` (loaded from `source`) to the reference at
    /// `at` in the including document.
    pub fn inside_template(self, name: &str, source: &Source, at: &str) -> Problem {
        let inner = source.diagnostic(&self.path, "");
        let mut place = inner.file;
        if let Some(loc) = inner.location {
            place = format!("{place}:{loc}");
        }
        if !self.path.is_empty() {
            place = format!("{place} at {}", self.path);
        }
        Problem {
            path: at.to_owned(),
            message: format!("resolving template \"{name}\" ({place}): {}", self.message),
            suggestion: self.suggestion,
        }
    }

    pub fn into_diagnostic(self, source: &Source) -> Diagnostic {
        let d = source.diagnostic(&self.path, self.message);
        match self.suggestion {
            Some(s) => d.with_suggestion(s),
            None => d,
        }
    }
}
