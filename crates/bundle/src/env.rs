//! The environment contract between the bundle and `init`.
//!
//! Every variable `init` reads is namespaced by a prefix `_<group>[C][S]_`, so user variables
//! can never collide with ours and each container transition gets only its own:
//!
//! | group | holds |
//! |---|---|
//! | `00` | Pod facts for the setup step (node, Pod name, namespace, service account) |
//! | `01` | the plan (only in the first container) |
//! | `02` | values of `secret()` calls, in every container |
//! | `03` | execution config and signature |
//! | `04` | the container's own CPU and memory requests and limits |
//! | `05` | the container's name |
//! | `0`, `1`, … | the user's variables of the k-th container transition in this container |
//!
//! `C` marks a value that is a template for `init` to compute; `S` a value to mask in logs.

use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, ObjectFieldSelector, ResourceFieldSelector,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

pub const NODE_NAME: &str = "_00_TW_NODE";
pub const POD_NAME: &str = "_00_TW_POD";
pub const NAMESPACE: &str = "_00_TW_NAMESPACE";
pub const SERVICE_ACCOUNT: &str = "_00_TW_SERVICE_ACCOUNT";
pub const PLAN: &str = "_01_TW_PLAN";
pub const CONFIG: &str = "_03_TW_CONFIG";
pub const SIGNATURE: &str = "_03_TW_SIGNATURE";
pub const CPU_REQUEST: &str = "_04_TW_CPU_REQUEST";
pub const CPU_LIMIT: &str = "_04_TW_CPU_LIMIT";
pub const MEMORY_REQUEST: &str = "_04_TW_MEMORY_REQUEST";
pub const MEMORY_LIMIT: &str = "_04_TW_MEMORY_LIMIT";
pub const CONTAINER_NAME: &str = "_05_TW_CONTAINER";

/// The prefix of a user variable of transition `k`.
pub fn user_prefix(k: usize, computed: bool, sensitive: bool) -> String {
    format!(
        "_{k}{}{}_",
        if computed { "C" } else { "" },
        if sensitive { "S" } else { "" }
    )
}

fn field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What the setup step needs to know about the Pod.
pub fn setup_vars() -> Vec<EnvVar> {
    vec![
        field(NODE_NAME, "spec.nodeName"),
        field(POD_NAME, "metadata.name"),
        field(NAMESPACE, "metadata.namespace"),
        field(SERVICE_ACCOUNT, "spec.serviceAccountName"),
        field(
            PLAN,
            &format!("metadata.annotations['{}']", crate::labels::PLAN),
        ),
        field(
            CONFIG,
            &format!("metadata.annotations['{}']", crate::labels::CONFIG),
        ),
        field(
            SIGNATURE,
            &format!("metadata.annotations['{}']", crate::labels::SIGNATURE),
        ),
    ]
}

/// The container's own resources and name.
pub fn container_vars(container: &str) -> Vec<EnvVar> {
    let resource = |name: &str, what: &str, divisor: &str| EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            resource_field_ref: Some(ResourceFieldSelector {
                container_name: Some(container.into()),
                resource: what.into(),
                divisor: Some(Quantity(divisor.into())),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    vec![
        resource(CPU_REQUEST, "requests.cpu", "1m"),
        resource(CPU_LIMIT, "limits.cpu", "1m"),
        resource(MEMORY_REQUEST, "requests.memory", "1"),
        resource(MEMORY_LIMIT, "limits.memory", "1"),
        EnvVar {
            name: CONTAINER_NAME.into(),
            value: Some(container.into()),
            ..Default::default()
        },
    ]
}
