//! # testwerk-children: what a step may ask its backend to start
//!
//! A `parallel` step, a step's `services` and an `execute` step start child executions: the
//! toolkit inside the execution works out each child and asks the backend (the local runner,
//! the agent) to start it ([`testwerk_protocol::children`]). This crate is the one rule for
//! what those children are, derived from the step's spec alone:
//!
//! - [`parallel`]: one worker document per instance, with the inline step first and the
//!   files of `transfer` and `fetch` ([`transfer`]);
//! - [`services`]: one document per instance of each service, running the service as its step;
//! - [`execute`]: one named workflow per instance of each entry, with its config.
//!
//! The toolkit builds its requests with it; the backend checks every request with it
//! ([`check`]) against the plan it compiled for the parent. The toolkit runs next to the test
//! code, which can read the execution's token, so a request is only honoured when the
//! parent's own plan would have made it: test code cannot start a Pod its workflow does not
//! declare (a privileged one, one mounting the namespace's Secrets).

pub mod check;
pub mod execute;
pub mod parallel;
pub mod services;
pub mod transfer;

use serde_json::{Map, Value};
use testwerk_protocol::children::ChildRequest;
use testwerk_strategy::Instance;

/// One child to start.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// How it is shown: `worker 2/5`, `smoke 1/3`.
    pub label: String,
    pub request: ChildRequest,
}

/// Why the children of a spec cannot be worked out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The spec is not what the compiler passes (a hand-made toolkit call).
    #[error("{0}")]
    Usage(String),
    /// The spec is understood but cannot be run (a strategy that does not evaluate, a field
    /// testwerk does not support yet).
    #[error("{0}")]
    Failed(String),
}

/// The keys of a strategy (`shared/spec` §5.2).
pub const STRATEGY: [&str; 4] = ["matrix", "count", "maxCount", "shards"];

/// The toolkit operations that start children, as the compiler names them.
pub const OPERATIONS: [&str; 3] = ["parallel", "services", "execute"];

/// `--base64 <payload>`: a step's spec, as the compiler passed it.
pub fn decode(encoded: &str, op: &str) -> Result<Value, SpecError> {
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
        .map_err(|e| SpecError::Usage(format!("{op}: --base64 is not base64: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| SpecError::Usage(format!("{op}: --base64 is not a JSON spec: {e}")))
}

/// The instances of the block `fields` (a parallel step, a service), named `field` in errors.
/// Only the block's own values count (no environment), so the toolkit and the backend get
/// the same instances.
pub fn instances(fields: &Map<String, Value>, field: &str) -> Result<Vec<Instance>, SpecError> {
    let strategy: testwerk_spec::Strategy = serde_json::from_value(Value::Object(
        fields
            .iter()
            .filter(|(k, _)| STRATEGY.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
    .map_err(|e| SpecError::Usage(format!("{field}: {e}")))?;
    testwerk_strategy::instances(
        &strategy,
        &testwerk_expr::NoMachine,
        testwerk_strategy::DEFAULT_LIMIT,
    )
    .map_err(|e| SpecError::Failed(format!("{field}.{e}")))
}

/// The instance a child document names (`<prefix>-<n>`, `n` from 1), if it has that form.
fn instance_of_name(doc: &Value, prefix: &str) -> Option<usize> {
    let name = doc["metadata"]["name"].as_str()?;
    let n: usize = name.strip_prefix(prefix)?.strip_prefix('-')?.parse().ok()?;
    n.checked_sub(1)
}
