//! Compile errors, located by field path in the workflow so the caller can name the line.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// Field path in the resolved workflow, e.g. `spec.steps[1].run`.
    pub path: String,
    pub message: String,
    /// How to fix it, when we know.
    pub help: Option<String>,
}

impl PlanError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Moves a trailing ` (help: …)` of the message into `help`.
    pub fn with_known_help(mut self) -> Self {
        if let Some((message, help)) = self.message.split_once(" (help: ")
            && let Some(help) = help.strip_suffix(')')
        {
            self.help = Some(help.to_owned());
            self.message = message.to_owned();
        }
        self
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)?;
        } else {
            write!(f, "{}: {}", self.path, self.message)?;
        }
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

impl std::error::Error for PlanError {}

pub type Result<T, E = PlanError> = std::result::Result<T, E>;
