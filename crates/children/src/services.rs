//! The instances of a step's services: each one runs the service's container as its one step.

use serde_json::{Map, Value, json};
use testwerk_protocol::children::{ChildKind, ChildRequest, ChildWorkflow};

use crate::SpecError;

/// Keys of a service that are not its container.
const NOT_CONTAINER: [&str; 11] = [
    "use",
    "shell",
    "description",
    "logs",
    "timeout",
    "transfer",
    "content",
    "pod",
    "restartPolicy",
    "readinessProbe",
    "pvcs",
];

/// One instance of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceInstance {
    /// From 0: `services.<name>.<index>`.
    pub index: usize,
    pub request: ChildRequest,
}

/// The instances of service `name` (its spec `service`), started by the step group `group`
/// from the `services` step `step`, whose artifacts go to `sink` (for `transfer`).
pub fn instances(
    group: &str,
    name: &str,
    service: &Value,
    step: &str,
    sink: Option<&str>,
) -> Result<Vec<ServiceInstance>, SpecError> {
    let field = format!("services.{name}");
    let Some(fields) = service.as_object() else {
        return Err(SpecError::Usage(format!("{field}: not a map")));
    };
    let mut document = workflow(name, fields);
    crate::transfer::add_tarballs(
        &mut document["spec"],
        &transfers(name, service)?,
        sink,
        step,
    )?;
    crate::instances(fields, &field)?
        .iter()
        .map(|instance| {
            let mut doc = document.clone();
            doc["metadata"]["name"] = format!("{name}-{}", instance.index + 1).into();
            testwerk_strategy::substitute(&mut doc, &instance.machine())
                .map_err(|e| SpecError::Failed(format!("{field}: {e}")))?;
            Ok(ServiceInstance {
                index: instance.index,
                request: ChildRequest {
                    kind: ChildKind::Service,
                    parent_ref: group.to_owned(),
                    workflow: ChildWorkflow::Document(doc),
                    config: Default::default(),
                },
            })
        })
        .collect()
}

/// The `transfer` entries of service `name`, which its `services` step packs.
pub fn transfers(name: &str, service: &Value) -> Result<Vec<crate::transfer::Transfer>, SpecError> {
    crate::transfer::transfers_of(
        service,
        &format!("services.{name}.transfer"),
        &format!("{name}-"),
    )
}

/// Whether `request` is an instance of one of `services` (the map the `services` step `step`
/// got; its artifacts go to `sink`).
pub fn contains(services: &Value, step: &str, sink: Option<&str>, request: &ChildRequest) -> bool {
    let ChildWorkflow::Document(doc) = &request.workflow else {
        return false;
    };
    let Some(services) = services.as_object() else {
        return false;
    };
    services.iter().any(|(name, service)| {
        crate::instance_of_name(doc, name).is_some_and(|index| {
            instances(&request.parent_ref, name, service, step, sink).is_ok_and(|all| {
                all.get(index)
                    .is_some_and(|instance| &instance.request == request)
            })
        })
    })
}

/// The workflow of one service: its container, content and Pod, and one step running it.
fn workflow(name: &str, fields: &Map<String, Value>) -> Value {
    let container: Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| {
            !NOT_CONTAINER.contains(&k.as_str()) && !crate::STRATEGY.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let step = match fields.get("shell") {
        Some(shell) => json!({"name": name, "shell": shell}),
        None => json!({"name": name, "run": {}}),
    };
    let mut spec = Map::new();
    spec.insert("container".into(), Value::Object(container));
    for key in ["content", "pod", "pvcs", "use"] {
        if let Some(v) = fields.get(key) {
            spec.insert(key.into(), v.clone());
        }
    }
    spec.insert("steps".into(), json!([step]));
    json!({
        "apiVersion": "testworkflows.testkube.io/v1",
        "kind": "TestWorkflow",
        "metadata": {},
        "spec": spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_instance_runs_the_service_with_its_own_values() {
        let service = json!({
            "count": 2,
            "image": "busybox:1.36",
            "shell": "httpd -f -p {{ 8000 + index }}",
            "readinessProbe": {"tcpSocket": {"port": 8000}},
            "pod": {"labels": {"a": "b"}},
        });
        let all = instances("g1", "web", &service, "r2", None).expect("instances");
        assert_eq!(all.len(), 2);
        let ChildWorkflow::Document(doc) = &all[1].request.workflow else {
            panic!("a document")
        };
        assert_eq!(doc["metadata"]["name"], "web-2");
        assert_eq!(doc["spec"]["steps"][0]["shell"], "httpd -f -p 8001");
        assert_eq!(doc["spec"]["container"]["image"], "busybox:1.36");
        assert!(doc["spec"]["container"].get("readinessProbe").is_none());
        assert_eq!(doc["spec"]["pod"]["labels"]["a"], "b");

        let services = json!({"web": service});
        assert!(contains(&services, "r2", None, &all[1].request));
        let mut secret = all[0].request.clone();
        if let ChildWorkflow::Document(doc) = &mut secret.workflow {
            doc["spec"]["container"]["envFrom"] = json!([{"secretRef": {"name": "admin"}}]);
        }
        assert!(!contains(&services, "r2", None, &secret));
    }

    #[test]
    fn a_service_gets_the_files_its_step_transfers() {
        let service = json!({
            "image": "busybox:1.36",
            "shell": "httpd -f -h /www",
            "transfer": [{"from": "/data/site", "to": "/www"}],
        });
        let sink = "http://10.219.0.1:9/api/v1/executions/p/artifacts";
        let all = instances("g1", "web", &service, "r3", Some(sink)).expect("instances");
        let ChildWorkflow::Document(doc) = &all[0].request.workflow else {
            panic!("a document")
        };
        assert_eq!(
            doc["spec"]["content"]["tarball"][0],
            json!({"url": format!("{sink}/r3/tw-transfer-web-0.tar.gz"), "path": "/www"})
        );
        assert!(doc["spec"]["container"].get("transfer").is_none());
        let packed = transfers("web", &service).expect("transfers");
        assert_eq!(packed[0].pack.archive, "tw-transfer-web-0.tar.gz");
        assert!(instances("g1", "web", &service, "r3", None).is_err());
    }
}
