//! [`Blueprint`]: what the agent keeps of a compiled execution in the results store, so that
//! after a restart it can follow the execution again — or create its objects, when it stopped
//! before it could — without compiling anything.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use serde::{Deserialize, Serialize};
use testwerk_bundle::Bundle;
use testwerk_plan::{Action, Plan, SignatureNode};
use testwerk_protocol::paths::SETUP_REF;

/// One container of the execution's Pod, in the order the kubelet runs them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPlan {
    pub name: String,
    pub image: String,
    /// The refs this container's termination message reports, in order.
    pub end_refs: Vec<String>,
    /// The refs of the steps this container runs, in order (to attribute its failures).
    pub steps: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blueprint {
    /// The name of the Job and the prefix of every object (the execution's resource id).
    pub resource: String,
    pub signature: Vec<SignatureNode>,
    pub full_signature: Vec<SignatureNode>,
    pub containers: Vec<ContainerPlan>,
    /// The objects, Secrets excepted (their values never reach the store).
    pub config_maps: Vec<ConfigMap>,
    pub pvcs: Vec<PersistentVolumeClaim>,
    pub job: Job,
    /// Names of the compiler's Secrets (sensitive config).
    pub secrets: Vec<String>,
    /// The plan as `init` reads it, for people reading the store.
    pub plan: serde_json::Value,
    /// The workflow's `spec.concurrency` limit, which the queue applies
    /// ([`crate::queue`]); absent in executions stored before there was a queue.
    #[serde(default)]
    pub limit: Option<crate::queue::GroupLimit>,
}

impl Blueprint {
    pub fn new(plan: &Plan, bundle: &Bundle) -> Blueprint {
        let spec = bundle
            .job
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref());
        let names: Vec<(String, String)> = spec
            .map(|s| {
                s.init_containers
                    .iter()
                    .flatten()
                    .chain(s.containers.iter())
                    .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let containers = names
            .into_iter()
            .enumerate()
            .map(|(i, (name, image))| {
                let group = plan.groups.get(i).map(Vec::as_slice).unwrap_or_default();
                ContainerPlan {
                    name,
                    image,
                    end_refs: end_refs(group),
                    steps: group
                        .iter()
                        .filter_map(|a| match a {
                            Action::Start(r) if !r.is_empty() => Some(r.clone()),
                            _ => None,
                        })
                        .collect(),
                }
            })
            .collect();
        Blueprint {
            resource: plan.resource_id.clone(),
            signature: plan.signature.clone(),
            full_signature: plan.full_signature.clone(),
            containers,
            config_maps: bundle.config_maps.clone(),
            pvcs: bundle.pvcs.clone(),
            job: bundle.job.clone(),
            secrets: bundle
                .secrets
                .iter()
                .filter_map(|s| s.metadata.name.clone())
                .collect(),
            plan: serde_json::to_value(plan.wire()).unwrap_or_default(),
            limit: None,
        }
    }

    /// Whether a step (by ref) may fail without failing the execution.
    pub fn is_optional(&self, r: &str) -> bool {
        fn find<'a>(nodes: &'a [SignatureNode], r: &str) -> Option<&'a SignatureNode> {
            nodes
                .iter()
                .find_map(|n| (n.r#ref == r).then_some(n).or_else(|| find(&n.children, r)))
        }
        find(&self.full_signature, r).is_some_and(|n| n.optional)
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub fn from_value(value: &serde_json::Value) -> Result<Blueprint, String> {
        serde_json::from_value(value.clone())
            .map_err(|e| format!("the stored execution is not one this agent wrote: {e}"))
    }
}

/// What a container's termination message lists: the setup (when the group runs it), then
/// each ended step.
fn end_refs(group: &[Action]) -> Vec<String> {
    group
        .iter()
        .filter_map(|a| match a {
            Action::Setup(_) => Some(SETUP_REF.to_owned()),
            Action::End(r) if !r.is_empty() => Some(r.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use testwerk_spec::AnyDocument;

    fn compile(yaml: &str) -> Blueprint {
        compiled(yaml, "bp-1")
    }

    /// The blueprint of the workflow in `yaml`, compiled for Kubernetes as execution `resource`.
    pub(crate) fn compiled(yaml: &str, resource: &str) -> Blueprint {
        let docs = testwerk_spec::load_str("t.yaml", yaml).expect("valid YAML");
        let Some(AnyDocument::Workflow(doc)) = docs.into_iter().next() else {
            panic!("a workflow");
        };
        let settings = testwerk_pipeline::CompileSettings {
            namespace: "ns".into(),
            images: testwerk_pipeline::default_images(),
            image_source: &testwerk_plan::NoImages,
            execution_id: Some(resource.into()),
            execution: None,
            config: Default::default(),
            target: testwerk_pipeline::Target::Kubernetes,
            toolkit: None,
        };
        let compiled =
            testwerk_pipeline::compile(&doc, &testwerk_resolve::TemplateSet::new(), &settings)
                .expect("it compiles");
        Blueprint::new(&compiled.plan, &compiled.bundle)
    }

    #[test]
    fn containers_list_what_their_termination_messages_report() {
        let bp = compile(
            r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: bp}
spec:
  container: {image: "alpine:3.22.0", workingDir: /}
  steps:
  - name: a
    run: {command: [/bin/true]}
  - name: b
    optional: true
    container: {image: "busybox:1.37", workingDir: /}
    run: {command: [/bin/false]}
"#,
        );
        assert_eq!(bp.resource, "bp-1");
        // Our setup container first: it reports the setup.
        let first = bp.containers.first().expect("containers");
        assert_eq!(first.end_refs.first().map(String::as_str), Some(SETUP_REF));
        // Every step ends in exactly one container, in order.
        let ended: Vec<&String> = bp
            .containers
            .iter()
            .flat_map(|c| &c.end_refs)
            .filter(|r| r.starts_with('r'))
            .collect();
        assert!(ended.len() >= 2, "{:?}", bp.containers);
        let names: Vec<&str> = bp.containers.iter().map(|c| c.name.as_str()).collect();
        let job_names: Vec<String> = bp
            .job
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .map(|p| {
                p.init_containers
                    .iter()
                    .flatten()
                    .chain(p.containers.iter())
                    .map(|c| c.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(names, job_names);
        let b = bp
            .full_signature
            .iter()
            .find(|n| n.name.as_deref() == Some("b"))
            .expect("step b");
        assert!(bp.is_optional(&b.r#ref));
        let a = bp
            .full_signature
            .iter()
            .find(|n| n.name.as_deref() == Some("a"))
            .expect("step a");
        assert!(!bp.is_optional(&a.r#ref));
        // What the store keeps reads back.
        let again = Blueprint::from_value(&bp.to_value()).expect("round trip");
        assert_eq!(again.containers, bp.containers);
    }

    #[test]
    fn a_plan_of_another_program_is_refused_with_a_reason() {
        let e = Blueprint::from_value(&serde_json::json!({"v": 1})).expect_err("not ours");
        assert!(e.contains("not one this agent wrote"), "{e}");
    }
}
