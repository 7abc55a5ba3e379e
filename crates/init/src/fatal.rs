//! The errors that end `testwerk-init` itself (as opposed to failing a step), with the exit code
//! the container reports.

use std::fmt;

/// Every step ran (some may have failed: results travel in the log and termination message).
pub const EXIT_DONE: i32 = 0;
/// We were told to stop (SIGTERM/SIGINT): the running step is `aborted`.
pub const EXIT_ABORTED: i32 = 137;
/// Our input is wrong: arguments, plan, token, setup.
pub const EXIT_INPUT: i32 = 155;
/// Something that should not fail did: state file I/O and the like.
pub const EXIT_INTERNAL: i32 = 190;

/// An error that ends the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal {
    pub code: i32,
    pub message: String,
}

impl Fatal {
    /// Wrong input (exit 155).
    pub fn input(message: impl Into<String>) -> Fatal {
        Fatal {
            code: EXIT_INPUT,
            message: message.into(),
        }
    }

    /// Internal failure (exit 190).
    pub fn internal(message: impl Into<String>) -> Fatal {
        Fatal {
            code: EXIT_INTERNAL,
            message: message.into(),
        }
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
