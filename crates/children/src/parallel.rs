//! The workers of a `parallel` step: the same nested workflow once per instance.

use serde_json::{Map, Value, json};
use testwerk_protocol::children::{ChildKind, ChildRequest, ChildWorkflow};
use testwerk_strategy::Instance;

use crate::{Planned, SpecError, transfer};

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

/// A parallel spec, ready to make its workers.
pub struct Workers {
    instances: Vec<Instance>,
    body: Value,
    parent_ref: String,
}

impl Workers {
    /// The workers of `spec`, the `parallel` step `parent_ref`, whose artifacts go to `sink`
    /// (the parent's artifact URL, for `transfer`).
    pub fn new(spec: &Value, parent_ref: &str, sink: Option<&str>) -> Result<Workers, SpecError> {
        let Some(fields) = spec.as_object() else {
            return Err(SpecError::Usage("parallel: the spec is not a map".into()));
        };
        let instances = crate::instances(fields, "parallel")?;
        let mut body = worker_spec(fields);
        transfer::add_to_workers(&mut body, spec, sink, parent_ref)?;
        Ok(Workers {
            instances,
            body,
            parent_ref: parent_ref.to_owned(),
        })
    }

    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// Every worker, in order.
    pub fn all(&self) -> Result<Vec<Planned>, SpecError> {
        (0..self.len()).map(|i| self.worker(i)).collect()
    }

    /// Worker `index` (from 0).
    pub fn worker(&self, index: usize) -> Result<Planned, SpecError> {
        let Some(instance) = self.instances.get(index) else {
            return Err(SpecError::Usage(format!(
                "parallel: there is no worker {} of {}",
                index + 1,
                self.len()
            )));
        };
        // The backend puts the parent's workflow name in front.
        let name = format!("{}-{}", self.parent_ref, instance.index + 1);
        let mut document = json!({
            "apiVersion": "testworkflows.testkube.io/v1",
            "kind": "TestWorkflow",
            "metadata": {"name": name},
            "spec": self.body,
        });
        testwerk_strategy::substitute(&mut document, &instance.machine()).map_err(|e| {
            SpecError::Failed(format!(
                "parallel: worker {} of {}: {e}",
                instance.index + 1,
                instance.count
            ))
        })?;
        Ok(Planned {
            label: label(instance),
            request: ChildRequest {
                kind: ChildKind::Worker,
                parent_ref: self.parent_ref.clone(),
                workflow: ChildWorkflow::Document(document),
                config: Default::default(),
            },
        })
    }

    /// Whether `request` is one of these workers.
    pub fn contains(&self, request: &ChildRequest) -> bool {
        let ChildWorkflow::Document(doc) = &request.workflow else {
            return false;
        };
        crate::instance_of_name(doc, &self.parent_ref)
            .and_then(|i| self.worker(i).ok())
            .is_some_and(|planned| &planned.request == request)
    }
}

/// What every worker runs: the nested workflow, with an inline step first.
fn worker_spec(fields: &Map<String, Value>) -> Value {
    let mut spec = Map::new();
    let mut inline = Map::new();
    for (key, value) in fields {
        let key_str = key.as_str();
        // The strategy decides the instances and is not part of a worker.
        if crate::STRATEGY.contains(&key_str) || OWN.contains(&key_str) {
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

    fn document(planned: &Planned) -> &Value {
        match &planned.request.workflow {
            ChildWorkflow::Document(doc) => doc,
            ChildWorkflow::Named(name) => panic!("a document, not {name}"),
        }
    }

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
        let workers = Workers::new(&spec, "r3", None)
            .expect("plan")
            .all()
            .expect("all");
        assert_eq!(workers.len(), 2);
        assert_eq!(workers[1].label, "worker 2/2");
        let doc = document(&workers[1]);
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
        let workers = Workers::new(&spec, "r1", None)
            .expect("plan")
            .all()
            .expect("all");
        let doc = document(&workers[0]);
        assert_eq!(doc["spec"]["steps"][0]["paused"], true);
        assert_eq!(doc["spec"]["steps"][0]["steps"][0]["shell"], "true");
    }

    #[test]
    fn transfer_and_fetch_reach_every_worker() {
        let spec = json!({
            "count": 2,
            "transfer": [{"from": "/data", "to": "/in"}],
            "fetch": [{"from": "/out", "files": ["*.xml"]}],
            "shell": "true",
        });
        let sink = "http://127.0.0.1:9/api/v1/executions/p/artifacts";
        let workers = Workers::new(&spec, "r2", Some(sink)).expect("plan");
        let doc = document(&workers.worker(1).expect("worker")).clone();
        assert_eq!(
            doc["spec"]["content"]["tarball"][0]["url"],
            format!("{sink}/r2/tw-transfer-0.tar.gz")
        );
        assert_eq!(doc["spec"]["content"]["tarball"][0]["path"], "/in");
        let after = &doc["spec"]["after"][0];
        assert_eq!(after["condition"], "always");
        assert_eq!(after["artifacts"]["compress"]["name"], "tw-fetch-0.tar.gz");
        assert_eq!(after["artifacts"]["paths"], json!(["*.xml"]));
        assert!(doc["spec"].get("transfer").is_none());

        let err = Workers::new(&spec, "r2", None).err().expect("no sink");
        assert!(err.to_string().contains("keeps no artifacts"), "{err}");
    }

    #[test]
    fn only_the_workers_of_the_spec_are_contained() {
        let spec = json!({"count": 3, "shell": "echo {{ index }}"});
        let workers = Workers::new(&spec, "r4", None).expect("plan");
        let mut request = workers.worker(2).expect("worker").request;
        assert!(workers.contains(&request));
        // Another ref, another instance number, another body: not a worker of this step.
        let mut other_ref = request.clone();
        other_ref.parent_ref = "r5".into();
        assert!(!workers.contains(&other_ref));
        if let ChildWorkflow::Document(doc) = &mut request.workflow {
            doc["metadata"]["name"] = "r4-4".into();
        }
        assert!(!workers.contains(&request));
        let mut privileged = workers.worker(0).expect("worker").request;
        if let ChildWorkflow::Document(doc) = &mut privileged.workflow {
            doc["spec"]["pod"] = json!({"hostPID": true});
        }
        assert!(!workers.contains(&privileged));
    }

    #[test]
    fn bad_strategies_are_named() {
        let err = Workers::new(&json!({"count": "nope.nope"}), "r1", None)
            .err()
            .expect("error");
        assert!(err.to_string().contains("parallel.count"), "{err}");
    }
}
