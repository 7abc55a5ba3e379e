//! `parallel`, `services` (with `kill`) and `execute`: child executions, asked of the backend and followed to their end.
//!
//! The toolkit works out the instances and what each runs ([`testwerk_children`], the rule the
//! backend checks each request by); the backend
//! starts them, each an execution of its own linked to this one
//! ([`testwerk_protocol::children`]). The toolkit holds no rights to start anything itself.

pub mod backend;
pub mod execute;
pub mod files;
pub mod follow;
pub mod parallel;
pub mod services;

use crate::ToolkitError;

/// `--base64 <payload>`: the step's spec, as the compiler passed it.
fn payload(args: &[String], op: &str) -> Result<serde_json::Value, ToolkitError> {
    match args {
        [flag, value] if flag == "--base64" => Ok(testwerk_children::decode(value, op)?),
        _ => Err(ToolkitError::Usage(format!(
            "usage: {op} --base64 <spec as base64 JSON>"
        ))),
    }
}

/// The step of this execution that runs the operation (`TW_REF`, set by the compiler).
fn parent_ref() -> String {
    std::env::var("TW_REF").unwrap_or_default()
}

/// `parallelism` as given (`None` or below 1: the default).
fn parallelism(value: Option<i64>, default: usize) -> usize {
    value
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Exit as the children went: an error naming those that did not pass.
fn verdict(what: &str, ended: &[follow::Ended]) -> Result<(), ToolkitError> {
    let failed: Vec<String> = ended
        .iter()
        .filter(|e| !e.passed())
        .map(|e| match &e.state {
            Some(s) => format!("{} {}", e.label, s.status),
            None => format!("{} not started", e.label),
        })
        .collect();
    if failed.is_empty() {
        println!("{}: all {} passed", what, ended.len());
        Ok(())
    } else {
        Err(ToolkitError::Failed(format!(
            "{} of {} {what} did not pass: {}",
            failed.len(),
            ended.len(),
            failed.join(", ")
        )))
    }
}
