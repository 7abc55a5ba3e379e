//! # testwerk-local
//!
//! The embedded default backend: runs a compiled workflow on this machine with no cluster.
//! Each container of the Pod becomes one `testwerk-init` process, started in order, inside a
//! private mount namespace where `/data`, `/tmp`, `/testkube` and `/.testwerk` are the
//! execution's own folders and the rest of the machine is read-only. Images are not pulled: the
//! host's tools run the steps.

pub mod control;
pub mod env;
pub mod layout;
pub mod runner;
pub mod sandbox;

use std::fmt;
use std::path::Path;

pub use layout::Programs;
pub use runner::{LocalOptions, RunEvent, RunOutcome, run};

/// Why a workflow cannot run locally, or what went wrong around it.
#[derive(Debug)]
pub enum LocalError {
    /// The workflow needs something the local runner does not provide.
    Unsupported(String),
    Io {
        path: String,
        error: std::io::Error,
    },
    Internal(String),
}

impl LocalError {
    pub fn io(path: &Path, error: std::io::Error) -> Self {
        LocalError::Io {
            path: path.display().to_string(),
            error,
        }
    }
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalError::Unsupported(m) => write!(f, "not supported by the local runner: {m}"),
            LocalError::Io { path, error } => write!(f, "{path}: {error}"),
            LocalError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for LocalError {}
