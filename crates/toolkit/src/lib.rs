//! # testwerk-toolkit
//!
//! The operations a workflow asks of the toolkit, each a subcommand of the `testwerk` binary
//! run inside the execution's containers (as `/.testwerk/toolkit <operation> <args…>`, the
//! binary copied there by the setup step, or `/toolkit` in the toolkit image):
//!
//! | operation | does | module |
//! |---|---|---|
//! | `clone` | `content.git`: fetches a repository with `git`, sparse when `paths` are given | [`clone`] |
//! | `tarball` | `content.tarball`: downloads and unpacks archives | [`tarball`] |
//! | `artifacts` | `artifacts`: finds files by glob and uploads them to the backend | [`artifacts`] |
//! | `parallel` | `parallel`: one worker execution per instance, followed to the end | [`children::parallel`] |
//! | `execute` | `execute`: other workflows by name or selector, as child executions | [`children::execute`] |
//! | `services`, `kill` | a step's `services`: started, probed until ready, stopped when the step ends | [`children::services`] |
//!
//! What the backend tells the toolkit (Git mirrors, where artifacts go) arrives as
//! [`ToolkitSettings`] in [`env::TOOLKIT`]. The toolkit holds no storage credentials: artifacts
//! go to the backend, with a token good for this one execution.
//!
//! Exit codes: 0 done, 1 the operation failed (the message says what was missing), 2 bad
//! arguments.

pub mod artifacts;
pub mod children;
pub mod clone;
mod error;
pub mod tarball;

pub use error::ToolkitError;

use std::process::ExitCode;

use testwerk_protocol::env;
use testwerk_protocol::toolkit::ToolkitSettings;

/// Runs `args` (`<operation> <args…>`), prints any error on stderr, and returns the exit code.
pub fn main(args: Vec<String>) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("toolkit: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// Runs one operation.
pub fn run(args: Vec<String>) -> Result<(), ToolkitError> {
    let mut args = args.into_iter();
    let operation = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match operation.as_str() {
        "clone" => clone::run(rest, &settings()?),
        "tarball" => tarball::run(rest, &settings()?),
        "artifacts" => artifacts::run(rest, &settings()?),
        "parallel" => children::parallel::run(rest, &settings()?),
        "execute" => children::execute::run(rest, &settings()?),
        "services" => children::services::run(rest, &settings()?),
        "kill" => children::services::kill(rest, &settings()?),
        other => Err(ToolkitError::Usage(format!(
            "unknown operation `{other}`; expected one of: clone, tarball, artifacts, parallel, execute, services, kill"
        ))),
    }
}

/// The backend's settings from [`env::TOOLKIT`]; defaults when it set none.
pub fn settings() -> Result<ToolkitSettings, ToolkitError> {
    match std::env::var(env::TOOLKIT) {
        Ok(json) if !json.is_empty() => serde_json::from_str(&json)
            .map_err(|e| ToolkitError::Usage(format!("{}: not valid settings: {e}", env::TOOLKIT))),
        _ => Ok(ToolkitSettings::default()),
    }
}
