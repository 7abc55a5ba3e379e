//! `parallel --base64 <StepParallel>`: the same nested workflow run once per instance, each
//! as a worker execution of its own.

use serde_json::{Map, Value, json};
use testwerk_protocol::children::{ChildKind, ChildRequest, ChildWorkflow};
use testwerk_protocol::toolkit::ToolkitSettings;
use testwerk_strategy::Instance;

use super::backend::Backend;
use super::files;
use super::follow::{self, Options, Planned};
use crate::ToolkitError;

/// Workers running at once when `parallelism` is not given (Testkube's default).
const DEFAULT_PARALLELISM: usize = 1000;

/// Keys about the parallel step itself.
const OWN: [&str; 6] = [
    "parallelism",
    "failFast",
    "description",
    "logs",
    "transfer",
    "fetch",
];
/// Keys of an inline step: they become the worker's first step.
const INLINE_CONTROL: [&str; 6] = [
    "negative", "optional", "paused", "retry", "timeout", "delay",
];
const INLINE_OPERATIONS: [&str; 5] = ["shell", "run", "execute", "artifacts", "template"];

pub fn run(args: Vec<String>, settings: &ToolkitSettings) -> Result<(), ToolkitError> {
    let mut spec = super::payload(&args, "parallel")?;
    let parent_ref = super::parent_ref();
    let fetches = files::fetches(&spec)?;
    // Files sent to the workers, and the step that sends back what they fetch.
    let tarballs = files::send(&spec, settings, &parent_ref)?;
    files::add_to_workers(&mut spec, tarballs, &fetches);
    let workers = plan(&spec, &parent_ref)?;
    if workers.is_empty() {
        println!("parallel: no instances, nothing to run");
        return Ok(());
    }
    let backend = Backend::from_settings(settings, "`parallel`")?;
    let options = Options {
        parallelism: super::parallelism(spec["parallelism"].as_i64(), DEFAULT_PARALLELISM),
        fail_fast: spec["failFast"].as_bool().unwrap_or(false),
        wait: true,
    };
    println!(
        "parallel: {} worker(s), {} at a time{}",
        workers.len(),
        options.parallelism.min(workers.len()),
        if options.fail_fast { ", failFast" } else { "" }
    );
    let ended = follow::run_all(&backend, workers, &options, &mut std::io::stdout())?;
    files::receive(&backend, &ended, &fetches, &mut std::io::stdout())?;
    super::verdict("workers", &ended)
}

/// The workers of `spec`, the `parallel` step `parent_ref`.
pub fn plan(spec: &Value, parent_ref: &str) -> Result<Vec<Planned>, ToolkitError> {
    let Some(fields) = spec.as_object() else {
        return Err(ToolkitError::Usage(
            "parallel: the spec is not a map".into(),
        ));
    };
    let instances = super::instances(fields, "parallel")?;
    let body = worker_spec(fields);
    instances
        .iter()
        .map(|instance| {
            // The backend puts the parent's workflow name in front.
            let name = format!("{parent_ref}-{}", instance.index + 1);
            let mut document = json!({
                "apiVersion": "testworkflows.testkube.io/v1",
                "kind": "TestWorkflow",
                "metadata": {"name": name},
                "spec": body,
            });
            testwerk_strategy::substitute(&mut document, &instance.machine()).map_err(|e| {
                ToolkitError::Failed(format!(
                    "parallel: worker {} of {}: {e}",
                    instance.index + 1,
                    instance.count
                ))
            })?;
            Ok(Planned {
                label: label(instance),
                request: ChildRequest {
                    kind: ChildKind::Worker,
                    parent_ref: parent_ref.to_owned(),
                    workflow: ChildWorkflow::Document(document),
                    config: Default::default(),
                },
            })
        })
        .collect()
}

/// What every worker runs: the nested workflow, with an inline step first.
fn worker_spec(fields: &Map<String, Value>) -> Value {
    let mut spec = Map::new();
    let mut inline = Map::new();
    for (key, value) in fields {
        let key_str = key.as_str();
        // The strategy decides the instances and is not part of a worker.
        if super::STRATEGY.contains(&key_str) || OWN.contains(&key_str) {
            continue;
        }
        if INLINE_CONTROL.contains(&key_str) || INLINE_OPERATIONS.contains(&key_str) {
            inline.insert(key.clone(), value.clone());
        } else {
            spec.insert(key.clone(), value.clone());
        }
    }
    if !inline.is_empty() {
        let steps = spec.remove("steps").unwrap_or_else(|| json!([]));
        let has_operation = INLINE_OPERATIONS.iter().any(|k| inline.contains_key(*k));
        let steps = if has_operation {
            // The inline operation runs first, then the nested steps.
            let mut all = vec![Value::Object(inline)];
            all.extend(steps.as_array().cloned().unwrap_or_default());
            all
        } else {
            // Control alone (`paused`, `timeout`…) applies to the nested steps as a group.
            inline.insert("steps".into(), steps);
            vec![Value::Object(inline)]
        };
        spec.insert("steps".into(), Value::Array(steps));
    }
    Value::Object(spec)
}

fn label(instance: &Instance) -> String {
    format!("worker {}/{}", instance.index + 1, instance.count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_get_their_instance_and_the_inline_step_first() {
        let spec = json!({
            "count": 2,
            "matrix": {"os": ["linux"]},
            "parallelism": 1,
            "shell": "echo {{ index }} of {{ count }} on {{ matrix.os }}",
            "container": {"image": "busybox:1.36"},
            "steps": [{"shell": "echo after {{ env.X }}"}],
        });
        let workers = plan(&spec, "r3").expect("plan");
        assert_eq!(workers.len(), 2);
        assert_eq!(workers[1].label, "worker 2/2");
        let ChildWorkflow::Document(doc) = &workers[1].request.workflow else {
            panic!("a document")
        };
        assert_eq!(doc["metadata"]["name"], "r3-2");
        assert_eq!(doc["spec"]["steps"][0]["shell"], "echo 1 of 2 on linux");
        assert_eq!(doc["spec"]["steps"][1]["shell"], "echo after {{env.X}}");
        assert_eq!(doc["spec"]["container"]["image"], "busybox:1.36");
        assert!(doc["spec"].get("parallelism").is_none());
        assert!(doc["spec"].get("count").is_none());
    }

    #[test]
    fn control_alone_wraps_the_nested_steps() {
        let spec = json!({"paused": true, "steps": [{"shell": "true"}]});
        let workers = plan(&spec, "r1").expect("plan");
        let ChildWorkflow::Document(doc) = &workers[0].request.workflow else {
            panic!("a document")
        };
        assert_eq!(doc["spec"]["steps"][0]["paused"], true);
        assert_eq!(doc["spec"]["steps"][0]["steps"][0]["shell"], "true");
    }

    #[test]
    fn bad_strategies_and_transfers_are_named() {
        let err = plan(&json!({"count": "nope.nope"}), "r1")
            .err()
            .expect("error");
        assert!(err.to_string().contains("parallel.count"), "{err}");
    }
}
