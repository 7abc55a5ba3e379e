//! `parallel`, `services` (with `kill`) and `execute`: child executions, asked of the backend and followed to their end.
//!
//! The toolkit works out the instances ([`testwerk_strategy`]) and what each runs; the backend
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
    let encoded = match args {
        [flag, value] if flag == "--base64" => value,
        _ => {
            return Err(ToolkitError::Usage(format!(
                "usage: {op} --base64 <spec as base64 JSON>"
            )));
        }
    };
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
        .map_err(|e| ToolkitError::Usage(format!("{op}: --base64 is not base64: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ToolkitError::Usage(format!("{op}: --base64 is not a JSON spec: {e}")))
}

/// The step of this execution that runs the operation (`TW_REF`, set by the compiler).
fn parent_ref() -> String {
    std::env::var("TW_REF").unwrap_or_default()
}

/// The keys of a strategy (`shared/spec` §5.2).
const STRATEGY: [&str; 4] = ["matrix", "count", "maxCount", "shards"];

/// The instances of the block `fields` (a parallel step, a service), named `field` in errors.
fn instances(
    fields: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<Vec<testwerk_strategy::Instance>, ToolkitError> {
    let strategy: testwerk_spec::Strategy = serde_json::from_value(serde_json::Value::Object(
        fields
            .iter()
            .filter(|(k, _)| STRATEGY.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
    .map_err(|e| ToolkitError::Usage(format!("{field}: {e}")))?;
    testwerk_strategy::instances(
        &strategy,
        &testwerk_expr::NoMachine,
        testwerk_strategy::DEFAULT_LIMIT,
    )
    .map_err(|e| ToolkitError::Failed(format!("{field}.{e}")))
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
