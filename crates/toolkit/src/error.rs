//! The toolkit's errors: bad arguments, or an operation that failed.

/// Why a toolkit operation did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ToolkitError {
    /// The arguments or settings are wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The operation failed; the message names what was missing (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl ToolkitError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ToolkitError::Usage(_) => 2,
            ToolkitError::Failed(_) => 1,
        }
    }
}

impl From<testwerk_children::SpecError> for ToolkitError {
    fn from(e: testwerk_children::SpecError) -> ToolkitError {
        match e {
            testwerk_children::SpecError::Usage(m) => ToolkitError::Usage(m),
            testwerk_children::SpecError::Failed(m) => ToolkitError::Failed(m),
        }
    }
}
