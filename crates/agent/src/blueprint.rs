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
