//! Our custom resources, seen through `kube`'s dynamic API (their typed model lives in
//! `testwerk-spec`, which reads YAML; here we only move them between the cluster and it).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};

use crate::live::OwnerCr;

pub const GROUP: &str = "testworkflows.testkube.io";
pub const VERSION: &str = "v1";
pub const WORKFLOW: &str = "TestWorkflow";
pub const TEMPLATE: &str = "TestWorkflowTemplate";
pub const EXECUTION: &str = "TestWorkflowExecution";

/// The store tag naming the TestWorkflowExecution (by uid) an execution was started for.
pub const OWNER_TAG: &str = "testwerk.io/twe-uid";
/// The store tag with that object's name.
pub const OWNER_NAME_TAG: &str = "testwerk.io/twe-name";

pub fn resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(GROUP, VERSION, kind))
}

pub fn api(client: &Client, namespace: &str, kind: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &resource(kind))
}

/// The object as the YAML a user would have written (no server-side metadata).
pub fn to_yaml(object: &DynamicObject, kind: &str) -> String {
    let mut doc = serde_json::json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": kind,
        "metadata": {"name": object.metadata.name, "namespace": object.metadata.namespace},
    });
    if let Some(labels) = &object.metadata.labels {
        doc["metadata"]["labels"] = serde_json::json!(labels);
    }
    if let Some(spec) = object.data.get("spec") {
        doc["spec"] = spec.clone();
    }
    testwerk_pipeline::to_yaml(&doc).unwrap_or_default()
}

pub fn owner_reference(owner: &OwnerCr) -> OwnerReference {
    OwnerReference {
        api_version: format!("{GROUP}/{VERSION}"),
        kind: EXECUTION.to_owned(),
        name: owner.name.clone(),
        uid: owner.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(false),
    }
}
