//! Kubernetes env vars that carry the contract of `testwerk_protocol::env` into the Pod.

use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, ObjectFieldSelector, ResourceFieldSelector,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

pub use testwerk_protocol::env::*;

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

/// A variable holding one of the Pod's annotations.
pub fn annotation_var(name: &str, annotation: &str) -> EnvVar {
    field(name, &format!("metadata.annotations['{annotation}']"))
}

/// What the setup step needs to know about the Pod, with the plan as `delivery` says.
pub fn setup_vars(delivery: &crate::delivery::Delivery) -> Vec<EnvVar> {
    let mut vars = vec![
        field(NODE_NAME, "spec.nodeName"),
        field(POD_NAME, "metadata.name"),
        field(NAMESPACE, "metadata.namespace"),
        field(SERVICE_ACCOUNT, "spec.serviceAccountName"),
    ];
    let mut plan_vars = delivery.vars().into_iter();
    // Order as before: plan, config, signature.
    vars.extend(plan_vars.next());
    vars.push(annotation_var(CONFIG, crate::labels::CONFIG));
    vars.extend(plan_vars);
    vars
}

/// The key of the toolkit settings in their Secret.
pub const TOOLKIT_SECRET_KEY: &str = "settings";

/// The backend's toolkit settings ([`TOOLKIT`]) from the execution's toolkit Secret.
pub fn toolkit_var(secret: &str) -> EnvVar {
    EnvVar {
        name: TOOLKIT.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(k8s_openapi::api::core::v1::SecretKeySelector {
                name: secret.into(),
                key: TOOLKIT_SECRET_KEY.into(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
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
