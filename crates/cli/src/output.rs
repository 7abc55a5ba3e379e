//! Ending a command that writes to stdout: a reader that went away (`testwerk logs | head`)
//! is a quiet, successful end, not a panic.

use std::io;

/// Why a command that prints could not finish.
#[derive(Debug)]
pub enum Failure {
    /// The request cannot be answered (no such execution, an unreadable store): exit 2.
    Input(String),
    /// Writing the answer failed.
    Write(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Write(e)
    }
}

/// The exit code of a printing command, after saying what went wrong.
pub fn finish(result: Result<(), Failure>) -> u8 {
    match result {
        Ok(()) => 0,
        // The reader has what it wanted.
        Err(Failure::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(Failure::Write(e)) => {
            eprintln!("error: cannot write the output: {e}");
            1
        }
        Err(Failure::Input(m)) => {
            eprintln!("error: {m}");
            2
        }
    }
}

/// Writes `text` to stdout, as [`finish`] ends it.
pub fn print(text: &str) -> u8 {
    use io::Write;
    let mut out = io::stdout().lock();
    finish(
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(Failure::from),
    )
}
